/**
 * `--endpoint s3://bucket[/prefix]`: PutObject at `[prefix/]snapshots/{hostId}/{day}/{ts}-{sha256}.json.gz`.
 * The key is a function of the bundle bytes, so a HeadObject that finds it means it is already stored.
 */

import { createHash } from "node:crypto";
import type { S3Client } from "@aws-sdk/client-s3";
import { createS3Client } from "../infra/node/s3.js";
import { snapshotKey } from "../shared/contracts/snapshot.js";
import type { Uploader, UploadItem, UploadOutcome } from "./upload.js";

const REQUEST_TIMEOUT_MS = 60_000;
/** S3 error names that mean the shipper's credentials or bucket are wrong, not the bundle. */
const REFUSED = new Set([
  "AccessDenied",
  "InvalidAccessKeyId",
  "SignatureDoesNotMatch",
  "NoSuchBucket",
  "ExpiredToken",
  "InvalidToken",
  "CredentialsProviderError",
  "PermanentRedirect",
]);
const RETRYABLE_NAMES = new Set([
  "SlowDown",
  "RequestTimeout",
  "InternalError",
  "ServiceUnavailable",
  "TimeoutError",
]);

/** The object key for a bundle under an optional prefix. */
export function s3KeyFor(
  prefix: string,
  item: Pick<UploadItem, "hostId" | "capturedAtMs" | "sha256">,
): string {
  const key = snapshotKey(item);
  return prefix === "" ? key : `${prefix}/${key}`;
}

function statusOf(e: unknown): number | undefined {
  if (typeof e !== "object" || e === null || !("$metadata" in e)) return undefined;
  const meta: unknown = e.$metadata;
  if (typeof meta !== "object" || meta === null || !("httpStatusCode" in meta)) return undefined;
  return typeof meta.httpStatusCode === "number" ? meta.httpStatusCode : undefined;
}

/** Sorts an SDK error into the shipper's outcome classes. */
export function classifyS3Error(e: unknown): UploadOutcome {
  const name = e instanceof Error ? e.name : "Error";
  const status = statusOf(e);
  const message = `${name}${status === undefined ? "" : ` (HTTP ${status})`}: ${e instanceof Error ? e.message : String(e)}`;
  if (REFUSED.has(name) || status === 401 || status === 403 || status === 301)
    return { status: "refused", message };
  if (
    RETRYABLE_NAMES.has(name) ||
    status === undefined ||
    status === 408 ||
    status === 429 ||
    status >= 500
  ) {
    return { status: "retryable", message };
  }
  return { status: "rejected", message };
}

/** The S3 uploader; the client is built on first use (the SDK loads lazily). */
export function s3Uploader(args: { bucket: string; prefix: string; client?: S3Client }): Uploader {
  let client: Promise<S3Client> | undefined = args.client ? Promise.resolve(args.client) : undefined;
  return {
    target: `s3://${args.bucket}${args.prefix === "" ? "" : `/${args.prefix}`}`,
    async upload(item: UploadItem, signal: AbortSignal): Promise<UploadOutcome> {
      const { HeadObjectCommand, PutObjectCommand } = await import("@aws-sdk/client-s3");
      client ??= createS3Client();
      const s3 = await client;
      const key = s3KeyFor(args.prefix, item);
      const abortSignal = AbortSignal.any([signal, AbortSignal.timeout(REQUEST_TIMEOUT_MS)]);
      try {
        await s3.send(new HeadObjectCommand({ Bucket: args.bucket, Key: key }), { abortSignal });
        return { status: "duplicate", key, detail: "already stored" };
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        const status = statusOf(e);
        // 404: not there yet. 403: no s3:GetObject (or no ListBucket, which turns 404 into 403): put anyway.
        if (status !== 404 && status !== 403 && (e instanceof Error ? e.name : "") !== "NotFound") {
          return classifyS3Error(e);
        }
      }
      try {
        const out = await s3.send(
          new PutObjectCommand({
            Bucket: args.bucket,
            Key: key,
            Body: item.gzip,
            ContentLength: item.gzip.length,
            ContentType: "application/json",
            ContentEncoding: "gzip",
            // The store checks the body against it (BadDigest otherwise): a confirmed put is the bytes we sent.
            ContentMD5: createHash("md5").update(item.gzip).digest("base64"),
            Metadata: { sha256: item.sha256 },
          }),
          { abortSignal },
        );
        return { status: "accepted", key, detail: `PutObject ${out.ETag ?? ""}`.trim() };
      } catch (e) {
        if (signal.aborted) throw signal.reason;
        return classifyS3Error(e);
      }
    },
  };
}
