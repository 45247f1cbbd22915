/**
 * `--endpoint http(s)://...`: POST {endpoint}/v1/snapshots with the gzip body. The service answers
 * 201 `{key, sha256, status:"accepted"}` or 200 `{..., status:"duplicate"}`; errors are
 * `{error:{code,message,requestId}}`.
 */
import { z } from "zod";
import type { Uploader, UploadItem, UploadOutcome } from "./upload.js";

const Accepted = z.looseObject({
  key: z.string().optional(),
  sha256: z.string().optional(),
  status: z.string().optional(),
});
const ErrorBody = z.looseObject({
  error: z.looseObject({
    code: z.string().optional(),
    message: z.string().optional(),
    requestId: z.string().optional(),
  }),
});

/** Per-request timeout: a stalled connection must not hold the run. */
const REQUEST_TIMEOUT_MS = 60_000;

/** `Retry-After` as seconds or an HTTP date, in ms; undefined when absent or unreadable. */
export function retryAfterMs(header: string | null, now = Date.now()): number | undefined {
  if (header === null) return undefined;
  if (/^\d+$/.test(header.trim())) return Number(header.trim()) * 1000;
  const at = Date.parse(header);
  return Number.isNaN(at) ? undefined : Math.max(0, at - now);
}

/** The server's own words for a failed request: `CODE: message (request id)`, else the status text. */
async function serverMessage(res: Response): Promise<string> {
  const text = await res.text().catch(() => "");
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  const e = ErrorBody.safeParse(body);
  if (e.success) {
    const { code, message, requestId } = e.data.error;
    return `HTTP ${res.status} ${code ?? ""}: ${message ?? "(no message)"}${requestId ? ` (request ${requestId})` : ""}`;
  }
  const snippet = text.replace(/\s+/g, " ").trim().slice(0, 200);
  return `HTTP ${res.status} ${res.statusText}${snippet ? `: ${snippet}` : ""}`;
}

/** The cause of a fetch network failure (`ECONNREFUSED 127.0.0.1:8787`), which fetch wraps in "fetch failed". */
function networkMessage(e: unknown): string {
  if (!(e instanceof Error)) return String(e);
  const cause: unknown = e.cause;
  if (cause instanceof Error) {
    const code = "code" in cause && typeof cause.code === "string" ? `${cause.code} ` : "";
    return `${e.message}: ${code}${cause.message}`.trim();
  }
  return e.message;
}

/** The HTTP ingest uploader. */
export function httpUploader(args: { url: string; token: string }): Uploader {
  const target = `${args.url}/v1/snapshots`;
  return {
    target,
    async upload(item: UploadItem, signal: AbortSignal): Promise<UploadOutcome> {
      let res: Response;
      try {
        res = await fetch(target, {
          method: "POST",
          body: item.gzip,
          redirect: "manual",
          headers: {
            "content-type": "application/json",
            "content-encoding": "gzip",
            authorization: `Bearer ${args.token}`,
            "x-faultline-sha256": item.sha256,
            // Lets the ingest route file the bundle without unpacking it; the consumer checks both against the body.
            "x-faultline-host-id": encodeURIComponent(item.hostId),
            "x-faultline-captured-at": String(item.capturedAtMs),
          },
          signal: AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]),
        });
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        if (e instanceof DOMException && e.name === "TimeoutError") {
          return { status: "retryable", message: `no answer within ${REQUEST_TIMEOUT_MS / 1000} s` };
        }
        return { status: "retryable", message: networkMessage(e) };
      }
      if (res.status >= 200 && res.status < 300) {
        const body = Accepted.safeParse(await res.json().catch(() => undefined));
        const key = body.success ? (body.data.key ?? "") : "";
        const duplicate = body.success && body.data.status === "duplicate";
        return { status: duplicate ? "duplicate" : "accepted", key, detail: `HTTP ${res.status}` };
      }
      const message = await serverMessage(res);
      if (res.status === 408 || res.status === 429 || res.status >= 500) {
        const after = retryAfterMs(res.headers.get("retry-after"));
        return after === undefined
          ? { status: "retryable", message }
          : { status: "retryable", message, retryAfterMs: after };
      }
      if (res.status >= 300 && res.status < 400) {
        const to = res.headers.get("location") ?? "elsewhere";
        return {
          status: "refused",
          message: `HTTP ${res.status}: the endpoint redirects to ${to}; set --endpoint to the final URL`,
        };
      }
      if (res.status === 401 || res.status === 403) return { status: "refused", message };
      return { status: "rejected", message };
    },
  };
}
