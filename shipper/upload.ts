/**
 * The upload port both endpoints implement, the outcome classes the shipper acts on, and the retry
 * loop with exponential backoff and jitter used within one run.
 */

/** One bundle to deliver. */
export interface UploadItem {
  gzip: Uint8Array;
  sha256: string;
  hostId: string;
  capturedAtMs: number;
}

/**
 * - `accepted` / `duplicate`: durably stored (2xx, or the S3 object is there).
 * - `retryable`: 408, 429, 5xx, network errors, timeouts: keep it in the spool and try later.
 * - `rejected`: the endpoint refused this bundle (other 4xx): keep it under `rejected/`, never retry.
 * - `refused`: the endpoint refused the shipper (401/403, wrong bucket, redirect): not the bundle's
 *   fault, so it stays in the spool for when the configuration is fixed.
 */
export type UploadOutcome =
  | { status: "accepted"; key: string; detail: string }
  | { status: "duplicate"; key: string; detail: string }
  | { status: "retryable"; message: string; retryAfterMs?: number }
  | { status: "rejected"; message: string }
  | { status: "refused"; message: string };

/** An outcome that stops delivery for now: the bundle stays in the spool. */
export type UploadBlocked = Extract<UploadOutcome, { status: "retryable" } | { status: "refused" }>;

export interface Uploader {
  /** Where bundles go, for log lines. */
  readonly target: string;
  /** One attempt. Throws only when `signal` aborted it. */
  upload(item: UploadItem, signal: AbortSignal): Promise<UploadOutcome>;
}

/** Resolves after `ms`, or rejects with the signal's reason when it aborts first. */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(t);
      reject(signal.reason);
    };
    const t = setTimeout(() => {
      signal.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal.addEventListener("abort", onAbort, { once: true });
  });
}

export const RETRY_BASE_MS = 1000;
export const RETRY_MAX_MS = 30_000;

/** Delay before retry `attempt` (0-based): exponential, with jitter over its upper half, at least Retry-After. */
export function backoffMs(attempt: number, retryAfterMs = 0, random: () => number = Math.random): number {
  const exp = Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** attempt);
  return Math.max(Math.min(retryAfterMs, 2 * RETRY_MAX_MS), exp / 2 + (random() * exp) / 2);
}

/** Uploads with up to `retries` retries on retryable outcomes; logs each retry. */
export async function uploadWithRetry(args: {
  uploader: Uploader;
  item: UploadItem;
  retries: number;
  signal: AbortSignal;
  log: (line: string) => void;
}): Promise<UploadOutcome> {
  for (let attempt = 0; ; attempt++) {
    const outcome = await args.uploader.upload(args.item, args.signal);
    if (outcome.status !== "retryable" || attempt >= args.retries) return outcome;
    const wait = backoffMs(attempt, outcome.retryAfterMs);
    args.log(
      `upload failed (${outcome.message}); retry ${attempt + 1}/${args.retries} in ${(wait / 1000).toFixed(1)} s`,
    );
    await sleep(wait, args.signal);
  }
}
