/**
 * The opening steps every stored object goes through in the consumer, whatever it holds: skip what was
 * already decided, fetch it, index it if it came straight to object storage, and unpack it within the
 * size limits. A problem found here is recorded as a rejection and the raw object stays.
 */
import { SNAPSHOT_LIMITS } from "../contracts/snapshot.js";
import {
  findSnapshot,
  markSnapshot,
  recordIngestError,
  recordReceived,
  type SnapshotRow,
} from "../db/ingest.js";
import { runBatch } from "../db/statement.js";
import type { Db } from "../db/types.js";
import type { Codec, ObjectStore, StoredObject } from "./ports.js";

export type ProcessOutcome =
  | {
      kind: "parsed";
      key: string;
      hostId: string;
      issueCount: number;
      alerts: import("../alerts/webhook.js").AlertMessage[];
      episodeChanges: number;
    }
  | { kind: "duplicate"; key: string }
  | { kind: "rejected"; key: string; code: string; message: string }
  | { kind: "ignored"; key: string; reason: string };

const decoder = new TextDecoder();

/** gunzip + JSON with the bundle size limits; a reason on failure. */
export async function readJsonObject(args: {
  bytes: Uint8Array;
  codec: Codec;
}): Promise<{ ok: true; json: unknown } | { ok: false; code: string; message: string }> {
  if (args.bytes.byteLength > SNAPSHOT_LIMITS.maxCompressedBytes) {
    return {
      ok: false,
      code: "too_large",
      message: `object is ${args.bytes.byteLength} bytes; the limit is ${SNAPSHOT_LIMITS.maxCompressedBytes}`,
    };
  }
  const raw = await args.codec.gunzip(args.bytes, SNAPSHOT_LIMITS.maxDecompressedBytes);
  if (!raw.ok)
    return {
      ok: false,
      code: raw.reason === "too_large" ? "too_large" : "corrupt_gzip",
      message: raw.message,
    };
  try {
    return { ok: true, json: JSON.parse(decoder.decode(raw.bytes)) };
  } catch (err) {
    return { ok: false, code: "invalid_json", message: `not JSON: ${(err as Error).message}` };
  }
}

export type Intake =
  | { readonly open: false; readonly outcome: ProcessOutcome }
  | {
      readonly open: true;
      readonly obj: StoredObject;
      readonly json: unknown;
      /** Records a rejection (status and ingest error) and returns its outcome. */
      reject(code: string, message: string): Promise<ProcessOutcome>;
    };

/** Opens one stored object for processing; idempotent by key unless `reprocess`. */
export async function openObject(args: {
  key: string;
  id: { hostId: string; sha256: string; capturedAtMs: number };
  source: "snapshot" | "evidence";
  db: Db;
  store: ObjectStore;
  codec: Codec;
  nowMs: number;
  reprocess: boolean;
  /** The key's index row (null: none), when the caller read it with others in one round trip. */
  known?: SnapshotRow | null;
}): Promise<Intake> {
  const { key, id, db, nowMs } = args;
  // Both reads at once: a redelivered message wastes one object read, every new one saves a round trip.
  const [known, obj] = await Promise.all([
    args.known !== undefined ? args.known : findSnapshot(db, key),
    args.store.get(key),
  ]);
  if (known && !args.reprocess && (known.status === "parsed" || known.status === "rejected")) {
    return { open: false, outcome: { kind: "duplicate", key } };
  }
  if (!obj) {
    // Deleted after the notification (or a notification for another bucket): nothing to keep.
    await recordIngestError(db, {
      kind: args.source,
      ref: key,
      hostId: id.hostId,
      code: "object_missing",
      message: "the object named by the notification does not exist",
      atMs: nowMs,
    });
    return { open: false, outcome: { kind: "ignored", key, reason: "object missing" } };
  }
  if (!known) {
    // Uploaded straight to object storage (S3 path): the notification is the first we hear of it.
    await recordReceived(db, {
      key,
      hostId: id.hostId,
      sha256: id.sha256,
      capturedAtMs: id.capturedAtMs,
      receivedAtMs: nowMs,
      bytes: obj.bytes.byteLength,
      source: args.source,
      command: obj.custom.command ?? null,
    });
  }
  const reject = async (code: string, message: string): Promise<ProcessOutcome> => {
    await runBatch(db, [
      markSnapshot(db, {
        key,
        status: "rejected",
        nowMs,
        reasonCode: code,
        reason: message,
        force: args.reprocess,
      }),
      recordIngestError(db, { kind: args.source, ref: key, hostId: id.hostId, code, message, atMs: nowMs }),
    ]);
    return { kind: "rejected", key, code, message };
  };
  const doc = await readJsonObject({ bytes: obj.bytes, codec: args.codec });
  if (!doc.ok) return { open: false, outcome: await reject(doc.code, doc.message) };
  return { open: true, obj, json: doc.json, reject };
}
