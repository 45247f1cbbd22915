/**
 * POST /v1/snapshots and POST /v1/hosts/{id}/evidence: store the body in object storage under the one key
 * layout and index it; parsing happens in the queue consumer. Bad input gets a clear error and is
 * still kept (under `rejected/`) with the reason recorded.
 */
import { z } from "zod";
import { mayWriteHost, type Principal, sha256Hex } from "../auth/tokens.js";
import { SNAPSHOT_LIMITS, SNAPSHOT_SCHEMA_VERSION, snapshotKey } from "../contracts/snapshot.js";
import { recordIngestError, recordReceived } from "../db/ingest.js";
import type { Db } from "../db/types.js";
import { ApiError } from "../errors.js";
import type { Codec, ObjectStore } from "./ports.js";

/** The few bundle fields the ingest route needs before the consumer validates the whole bundle. */
const BundleHead = z.object({
  schemaVersion: z.number(),
  hostId: z.string().min(1).max(256),
  capture: z.object({ startedAtMs: z.number().int().nonnegative() }),
});

export interface AcceptedSnapshot {
  key: string;
  sha256: string;
  status: "accepted" | "duplicate";
}

const isGzip = (b: Uint8Array) => b.length >= 2 && b[0] === 0x1f && b[1] === 0x8b;
const decoder = new TextDecoder();

/** Stores a shipped bundle and indexes it as `received`; the same bytes twice are one snapshot. */
export async function acceptSnapshot(args: {
  body: Uint8Array;
  claimedSha256?: string | undefined;
  /**
   * Host id and capture time as the shipper declares them in headers: the route files the bundle
   * without unpacking it, and the consumer rejects it (keeping it) if the body disagrees.
   */
  declared?: { hostId: string; capturedAtMs: number } | undefined;
  principal: Principal;
  db: Db;
  store: ObjectStore;
  codec: Codec;
  nowMs: number;
}): Promise<AcceptedSnapshot> {
  const { db, store, codec, nowMs } = args;
  if (args.body.byteLength === 0)
    throw new ApiError("invalid_request", "empty body: expected a gzip JSON snapshot bundle");
  const gz = isGzip(args.body) ? args.body : await codec.gzip(args.body);
  const sha256 = await sha256Hex(gz);
  if (args.claimedSha256 && args.claimedSha256.toLowerCase() !== sha256 && isGzip(args.body)) {
    throw new ApiError(
      "invalid_request",
      `body sha256 ${sha256} does not match X-Faultline-Sha256 (corrupted upload?)`,
    );
  }

  const head: Head =
    args.declared && isGzip(args.body) && args.claimedSha256
      ? { ok: true, ...args.declared }
      : await readHead({ gz, codec });
  if (!head.ok) {
    const key = `rejected/${new Date(nowMs).toISOString().slice(0, 10)}/${sha256}.bin`;
    await store.put(key, args.body, {
      contentType: "application/octet-stream",
      custom: { reason: head.code },
    });
    await recordIngestError(db, {
      kind: "snapshot",
      ref: key,
      code: head.code,
      message: head.message,
      atMs: nowMs,
    });
    throw new ApiError(head.code === "too_large" ? "payload_too_large" : "invalid_request", head.message, {
      storedAs: key,
    });
  }
  const { hostId, capturedAtMs } = head;
  if (!mayWriteHost(args.principal, hostId)) {
    throw new ApiError("forbidden", `this token may not write snapshots for host '${hostId}'`);
  }

  const key = snapshotKey({ hostId, capturedAtMs, sha256 });
  // The key is content-addressed, so putting the same bytes again is harmless: store first, then index.
  // A crash between the two leaves an object the next upload (or its notification) indexes; the
  // reverse order could index an object that was never stored.
  await store.put(key, gz, {
    contentType: "application/json",
    contentEncoding: "gzip",
    custom: { hostId, tokenId: args.principal.tokenId },
  });
  const inserted = await recordReceived(db, {
    key,
    hostId,
    sha256,
    capturedAtMs,
    receivedAtMs: nowMs,
    bytes: gz.byteLength,
    source: "snapshot",
  });
  return { key, sha256, status: inserted ? "accepted" : "duplicate" };
}

type Head = { ok: true; hostId: string; capturedAtMs: number } | { ok: false; code: string; message: string };

async function readHead(args: { gz: Uint8Array; codec: Codec }): Promise<Head> {
  const raw = await args.codec.gunzip(args.gz, SNAPSHOT_LIMITS.maxDecompressedBytes);
  if (!raw.ok)
    return {
      ok: false,
      code: raw.reason === "too_large" ? "too_large" : "corrupt_gzip",
      message: raw.message,
    };
  let json: unknown;
  try {
    json = JSON.parse(decoder.decode(raw.bytes));
  } catch (err) {
    return { ok: false, code: "invalid_json", message: `bundle is not JSON: ${(err as Error).message}` };
  }
  const head = BundleHead.safeParse(json);
  if (!head.success) {
    const first = head.error.issues[0];
    return {
      ok: false,
      code: "invalid_bundle",
      message: `not a snapshot bundle: ${first ? `${first.path.join(".")}: ${first.message}` : "bad shape"}`,
    };
  }
  if (head.data.schemaVersion !== SNAPSHOT_SCHEMA_VERSION) {
    return {
      ok: false,
      code: "unsupported_schema_version",
      message: `schemaVersion ${head.data.schemaVersion} is not supported (this service reads ${SNAPSHOT_SCHEMA_VERSION})`,
    };
  }
  return { ok: true, hostId: head.data.hostId, capturedAtMs: head.data.capture.startedAtMs };
}
