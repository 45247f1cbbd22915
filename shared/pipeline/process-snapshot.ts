/**
 * The snapshots-queue consumer's work for one object: read it, gunzip with a limit, validate, analyse,
 * store what changed, and record the snapshot's status. Non-retryable problems are recorded and
 * acknowledged (the raw object stays); storage failures throw so the queue retries.
 */

import { CREATE_ACTIONS, type ObjectNotification } from "../contracts/queue.js";
import { parseSnapshotKey, SNAPSHOT_SCHEMA_VERSION, validateBundle } from "../contracts/snapshot.js";
import { upsertHostFromSnapshot } from "../db/hosts.js";
import { findHost, markSnapshot, recordIngestError } from "../db/ingest.js";
import type { Db } from "../db/types.js";
import { analyzeSnapshot } from "./analyze.js";
import { correlateHost } from "./correlate.js";
import { openObject, type ProcessOutcome } from "./intake.js";
import type { Codec, ObjectStore } from "./ports.js";

export type { ProcessOutcome } from "./intake.js";

/** Where a snapshot key starts: objects may sit under a prefix (`s3://bucket/prefix`). */
export function snapshotKeyOf(objectKey: string): ReturnType<typeof parseSnapshotKey> {
  const at = objectKey.startsWith("snapshots/") ? 0 : objectKey.indexOf("/snapshots/") + 1;
  return at < 0 ? null : parseSnapshotKey(objectKey.slice(at));
}

/** Processes one object notification; idempotent by object key. */
export async function processSnapshotNotification(args: {
  note: ObjectNotification;
  db: Db;
  store: ObjectStore;
  codec: Codec;
  nowMs: number;
  reprocess?: boolean;
  /** Re-run correlation over this (already parsed) snapshot because late events arrived. */
  redecide?: boolean;
}): Promise<ProcessOutcome> {
  const { note, db, store, codec, nowMs } = args;
  const key = note.object.key;
  if (!CREATE_ACTIONS.has(note.action)) return { kind: "ignored", key, reason: `action ${note.action}` };
  const id = snapshotKeyOf(key);
  if (!id) return { kind: "ignored", key, reason: "not a snapshot key" };

  const intake = await openObject({
    key,
    id,
    source: "snapshot",
    db,
    store,
    codec,
    nowMs,
    reprocess: args.reprocess === true,
  });
  if (!intake.open) return intake.outcome;
  const { json, reject } = intake;
  const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== SNAPSHOT_SCHEMA_VERSION) {
    return reject(
      "unsupported_schema_version",
      `schemaVersion ${JSON.stringify(version)} is not supported (this service reads ${SNAPSHOT_SCHEMA_VERSION})`,
    );
  }
  const parsed = validateBundle(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`);
    return reject("invalid_bundle", `bundle does not match schemaVersion 1: ${issues.join("; ")}`);
  }
  const bundle = parsed.data;
  if (bundle.hostId !== id.hostId) {
    return reject("host_mismatch", `bundle hostId '${bundle.hostId}' differs from the key's '${id.hostId}'`);
  }

  const analysis = analyzeSnapshot({ bundle, key });
  const latestSnapshotMs = findHost(db, bundle.hostId).then((h) => h?.viewCapturedAtMs ?? null);
  const correlation = await correlateHost({
    db,
    view: analysis.view,
    latestSnapshotMs,
    redecide: args.redecide === true,
    nowMs,
  });
  for (const f of correlation.failures) {
    await recordIngestError(db, {
      kind: "snapshot",
      ref: key,
      hostId: bundle.hostId,
      code: "detector_failed",
      message: `${f.detector}: ${f.error}`,
      atMs: nowMs,
    });
  }
  await db.batch([
    upsertHostFromSnapshot(db, {
      hostId: bundle.hostId,
      capturedAtMs: bundle.capture.startedAtMs,
      snapshotKey: key,
      hostname: bundle.capture.hostname,
      kernelRelease: bundle.capture.kernelRelease,
      bootId: bundle.capture.bootId,
      labels: bundle.labels,
      diskDrivers: analysis.diskDrivers,
      viewSummary: analysis.summary,
    }),
    markSnapshot(db, {
      key,
      status: "parsed",
      nowMs,
      issueCount: analysis.issueCount,
      force: args.reprocess === true,
    }),
    ...correlation.statements,
  ]);
  return {
    kind: "parsed",
    key,
    hostId: bundle.hostId,
    issueCount: analysis.issueCount,
    alerts: correlation.alerts,
    episodeChanges: correlation.changes.length,
  };
}
