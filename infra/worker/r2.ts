/** ObjectStore over an R2 bucket binding. */
import type { ObjectStore } from "../../shared/pipeline/ports.js";

/** Adapts the R2 binding to the pipeline's ObjectStore port. */
export function r2Store(bucket: R2Bucket): ObjectStore {
  return {
    async get(key) {
      const obj = await bucket.get(key);
      if (!obj) return null;
      return { bytes: new Uint8Array(await obj.arrayBuffer()), custom: obj.customMetadata ?? {} };
    },
    async exists(key) {
      return (await bucket.head(key)) !== null;
    },
    async put(key, body, meta) {
      await bucket.put(key, body, {
        httpMetadata: {
          contentType: meta.contentType,
          ...(meta.contentEncoding ? { contentEncoding: meta.contentEncoding } : {}),
        },
        ...(meta.custom ? { customMetadata: meta.custom } : {}),
      });
    },
    async list(prefix, opts) {
      const res = await bucket.list({
        prefix,
        limit: opts?.limit ?? 1000,
        ...(opts?.cursor ? { cursor: opts.cursor } : {}),
      });
      return { keys: res.objects.map((o) => o.key), ...(res.truncated ? { cursor: res.cursor } : {}) };
    },
  };
}
