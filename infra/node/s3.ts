/**
 * The S3 client for Node-side writers (the shipper's `s3://` endpoint): AWS S3, Cloudflare R2, MinIO,
 * OSS. The SDK is imported lazily so commands that never touch S3 do not pay for loading it.
 */
import type { S3Client } from "@aws-sdk/client-s3";

export interface S3ClientOptions {
  /** Overrides env `AWS_ENDPOINT_URL_S3` (an S3-compatible endpoint such as R2, MinIO or s3rver). */
  endpoint?: string;
  /** Overrides env `AWS_REGION` / `AWS_DEFAULT_REGION`; `us-east-1` when an endpoint is set and none is. */
  region?: string;
  env?: NodeJS.ProcessEnv;
  /** Fixed credentials instead of the standard provider chain (local stores in tests). */
  credentials?: { accessKeyId: string; secretAccessKey: string };
}

/**
 * Builds an S3 client from the environment and the standard credential chain. With an endpoint URL it
 * uses path-style addressing (local and most S3-compatible stores have no per-bucket DNS), and it
 * computes checksums only when an operation requires them: s3rver stores a streamed upload with its
 * aws-chunked framing otherwise (STACK.md), and some S3-compatible stores reject the new headers.
 * One attempt per call: callers retry with their own backoff (the shipper spools between runs).
 */
export async function createS3Client(opts: S3ClientOptions = {}): Promise<S3Client> {
  const env = opts.env ?? process.env;
  const { S3Client } = await import("@aws-sdk/client-s3");
  const endpoint = opts.endpoint ?? env.AWS_ENDPOINT_URL_S3 ?? env.AWS_ENDPOINT_URL;
  const region =
    opts.region ??
    env.AWS_REGION ??
    env.AWS_DEFAULT_REGION ??
    (endpoint === undefined ? undefined : "us-east-1");
  return new S3Client({
    ...(region === undefined ? {} : { region }),
    ...(endpoint === undefined ? {} : { endpoint, forcePathStyle: true }),
    ...(opts.credentials === undefined ? {} : { credentials: opts.credentials }),
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    maxAttempts: 1,
  });
}
