/**
 * A local S3 (s3rver, SigV4 checked) on loopback for shipper tests, started and stopped by the test
 * itself, with a bucket created up front. Credentials are s3rver's fixed pair.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

interface S3rverInstance {
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
}
interface S3rverOptions {
  address: string;
  port: number;
  silent: boolean;
  directory: string;
  configureBuckets: { name: string; configs: string[] }[];
}

// s3rver ships no types; this is the part of its API the tests use.
const S3rver: new (opts: S3rverOptions) => S3rverInstance = createRequire(import.meta.url)("s3rver");

export interface LocalS3 {
  /** `http://127.0.0.1:PORT`, for AWS_ENDPOINT_URL_S3. */
  endpoint: string;
  bucket: string;
  /** Env for a process that should talk to it (endpoint, region, s3rver's credentials). */
  env: Record<string, string>;
  /** s3rver's fixed credentials, for an in-process client. */
  credentials: { accessKeyId: string; secretAccessKey: string };
  stop(): Promise<void>;
}

/** Starts s3rver on a free loopback port with `bucket` created. */
export async function startLocalS3(bucket = "faultline-snapshots"): Promise<LocalS3> {
  const directory = mkdtempSync(join(tmpdir(), "faultline-s3rver-"));
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory,
    configureBuckets: [{ name: bucket, configs: [] }],
  });
  const addr = await server.run();
  const endpoint = `http://127.0.0.1:${addr.port}`;
  return {
    endpoint,
    bucket,
    env: {
      AWS_ENDPOINT_URL_S3: endpoint,
      AWS_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
    },
    credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
    stop: async () => {
      await server.close();
      rmSync(directory, { recursive: true, force: true });
    },
  };
}
