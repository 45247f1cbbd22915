/** The pipeline's Codec port on workerd's compression streams. */
import type { Codec } from "../../shared/pipeline/ports.js";
import { gunzipLimited, gzip } from "./gzip.js";

export const workerCodec: Codec = { gunzip: gunzipLimited, gzip };
