/**
 * The snapshots-queue consumer's work for one object: read it, gunzip with a limit, validate, analyse,
 * store what changed, and record the snapshot's status. Non-retryable problems are recorded and
 * acknowledged (the raw object stays); storage failures throw so the queue retries.
 *
 * `processSnapshotBatch` does the same for a queue batch's snapshots of distinct hosts with two D1 round
 * trips in all (one read, one `db.batch` of every write) instead of five per snapshot.
 */

import { inArray } from "drizzle-orm";
import { CREATE_ACTIONS, type ObjectNotification } from "../contracts/queue.js";
import {
  parseSnapshotKey,
  SNAPSHOT_SCHEMA_VERSION,
  type SnapshotBundle,
  validateBundle,
} from "../contracts/snapshot.js";
import { episodesByHost, hostsEpisodesQuery } from "../db/episodes.js";
import { eventsForHost, type StoredEvent } from "../db/events.js";
import { upsertHostFromSnapshot } from "../db/hosts.js";
import { findHost, markSnapshot, recordIngestError, type SnapshotRow } from "../db/ingest.js";
import { hosts, snapshots } from "../db/schema.js";
import { runBatch } from "../db/statement.js";
import type { Db } from "../db/types.js";
import { analyzeSnapshot, type SnapshotAnalysis } from "./analyze.js";
import { type Correlation, correlateHost, correlationWindow } from "./correlate.js";
import { openObject, type ProcessOutcome } from "./intake.js";
import type { Codec, ObjectStore } from "./ports.js";

export type { ProcessOutcome } from "./intake.js";

/** Where a snapshot key starts: objects may sit under a prefix (`s3://bucket/prefix`). */
export function snapshotKeyOf(objectKey: string): ReturnType<typeof parseSnapshotKey> {
  const at = objectKey.startsWith("snapshots/") ? 0 : objectKey.indexOf("/snapshots/") + 1;
  return at < 0 ? null : parseSnapshotKey(objectKey.slice(at));
}

/** A snapshot read, validated and analysed, ready to be decided; or the outcome that ended it early. */
type Opened =
  | { readonly ready: false; readonly outcome: ProcessOutcome }
  | {
      readonly ready: true;
      readonly key: string;
      readonly bundle: SnapshotBundle;
      readonly analysis: SnapshotAnalysis;
    };

interface ProcessArgs {
  note: ObjectNotification;
  db: Db;
  store: ObjectStore;
  codec: Codec;
  nowMs: number;
  reprocess?: boolean;
  /** Re-run correlation over this (already parsed) snapshot because late events arrived. */
  redecide?: boolean;
}

/** Opens one snapshot object up to its analysis; rejections are recorded on the way. */
async function openSnapshot(args: ProcessArgs & { known?: SnapshotRow | null }): Promise<Opened> {
  const { note, db, store, codec, nowMs } = args;
  const key = note.object.key;
  if (!CREATE_ACTIONS.has(note.action))
    return { ready: false, outcome: { kind: "ignored", key, reason: `action ${note.action}` } };
  const id = snapshotKeyOf(key);
  if (!id) return { ready: false, outcome: { kind: "ignored", key, reason: "not a snapshot key" } };

  const intake = await openObject({
    key,
    id,
    source: "snapshot",
    db,
    store,
    codec,
    nowMs,
    reprocess: args.reprocess === true,
    ...(args.known !== undefined ? { known: args.known } : {}),
  });
  if (!intake.open) return { ready: false, outcome: intake.outcome };
  const { json, reject } = intake;
  const version = (json as { schemaVersion?: unknown } | null)?.schemaVersion;
  if (version !== SNAPSHOT_SCHEMA_VERSION) {
    return {
      ready: false,
      outcome: await reject(
        "unsupported_schema_version",
        `schemaVersion ${JSON.stringify(version)} is not supported (this service reads ${SNAPSHOT_SCHEMA_VERSION})`,
      ),
    };
  }
  const parsed = validateBundle(json);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((i) => `${i.path.join(".")}: ${i.message}`);
    return {
      ready: false,
      outcome: await reject("invalid_bundle", `bundle does not match schemaVersion 1: ${issues.join("; ")}`),
    };
  }
  const bundle = parsed.data;
  if (bundle.hostId !== id.hostId) {
    return {
      ready: false,
      outcome: await reject(
        "host_mismatch",
        `bundle hostId '${bundle.hostId}' differs from the key's '${id.hostId}'`,
      ),
    };
  }
  return { ready: true, key, bundle, analysis: analyzeSnapshot({ bundle, key }) };
}

/** The writes recording a decided snapshot: host row, snapshot status, episode changes. */
function snapshotWrites(args: {
  db: Db;
  opened: Extract<Opened, { ready: true }>;
  correlation: Correlation;
  nowMs: number;
  reprocess: boolean;
}) {
  const { db, opened, nowMs } = args;
  const { bundle, analysis, key } = opened;
  return [
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
      force: args.reprocess,
    }),
    ...args.correlation.statements,
  ] as const;
}

function detectorFailures(args: {
  db: Db;
  opened: Extract<Opened, { ready: true }>;
  correlation: Correlation;
  nowMs: number;
}) {
  return args.correlation.failures.map((f) =>
    recordIngestError(args.db, {
      kind: "snapshot",
      ref: args.opened.key,
      hostId: args.opened.bundle.hostId,
      code: "detector_failed",
      message: `${f.detector}: ${f.error}`,
      atMs: args.nowMs,
    }),
  );
}

function parsedOutcome(opened: Extract<Opened, { ready: true }>, correlation: Correlation): ProcessOutcome {
  return {
    kind: "parsed",
    key: opened.key,
    hostId: opened.bundle.hostId,
    issueCount: opened.analysis.issueCount,
    alerts: correlation.alerts,
    episodeChanges: correlation.changes.length,
  };
}

/** Processes one object notification; idempotent by object key. */
export async function processSnapshotNotification(args: ProcessArgs): Promise<ProcessOutcome> {
  const { db, nowMs } = args;
  const opened = await openSnapshot(args);
  if (!opened.ready) return opened.outcome;
  const { bundle } = opened;
  const latestSnapshotMs = findHost(db, bundle.hostId).then((h) => h?.viewCapturedAtMs ?? null);
  const correlation = await correlateHost({
    db,
    view: opened.analysis.view,
    latestSnapshotMs,
    redecide: args.redecide === true,
    nowMs,
  });
  for (const failure of detectorFailures({ db, opened, correlation, nowMs })) await failure;
  await runBatch(db, snapshotWrites({ db, opened, correlation, nowMs, reprocess: args.reprocess === true }));
  return parsedOutcome(opened, correlation);
}

/** Most keys (bound parameters) per `IN (...)` read: D1 allows 100 per statement. */
const MAX_KEYS_PER_READ = 90;

/** Snapshots opened at once: enough to overlap object reads with parsing, few enough to bound memory. */
const OPEN_CONCURRENCY = 4;

export type BatchResult = { ok: true; outcome: ProcessOutcome } | { ok: false; error: unknown };

/**
 * Processes new-snapshot notifications (snapshot keys; no reprocess or redecide, which go through
 * `processSnapshotNotification`) of distinct hosts together, with the same
 * outcome per snapshot as `processSnapshotNotification`: the index rows, host rows and each host's
 * events are read in one round trip, and every parsed snapshot's writes go in one `db.batch`, so one
 * failed write retries them all (each is idempotent). Rejections are recorded as they are found.
 * A result per note, in order.
 */
export async function processSnapshotBatch(args: {
  notes: readonly ObjectNotification[];
  db: Db;
  store: ObjectStore;
  codec: Codec;
  nowMs: number;
}): Promise<BatchResult[]> {
  const { db, nowMs } = args;
  if (args.notes.length > MAX_KEYS_PER_READ) {
    const head = await processSnapshotBatch({ ...args, notes: args.notes.slice(0, MAX_KEYS_PER_READ) });
    const tail = await processSnapshotBatch({ ...args, notes: args.notes.slice(MAX_KEYS_PER_READ) });
    return [...head, ...tail];
  }
  const items = args.notes.map((note) => {
    const id = snapshotKeyOf(note.object.key);
    if (!id) throw new Error(`processSnapshotBatch: not a snapshot key: ${note.object.key}`);
    return { note, id };
  });
  if (new Set(items.map((i) => i.id.hostId)).size !== items.length)
    throw new Error("processSnapshotBatch: one snapshot per host (a host's snapshots are decided in order)");
  if (items.length === 0) return [];
  const keys = items.map((i) => i.note.object.key);
  const hostIds = items.map((i) => i.id.hostId);

  // Everything the batch reads, in one round trip.
  const [known, hostRows, storedRows, ...events] = await db.batch([
    db.select().from(snapshots).where(inArray(snapshots.key, keys)),
    db
      .select({ hostId: hosts.hostId, viewCapturedAtMs: hosts.viewCapturedAtMs })
      .from(hosts)
      .where(inArray(hosts.hostId, hostIds)),
    hostsEpisodesQuery(db, hostIds),
    ...items.map((i) =>
      eventsForHost(db, { instanceId: i.id.hostId, ...correlationWindow(i.id.capturedAtMs) }),
    ),
  ]);
  const stored = episodesByHost(storedRows);
  const knownByKey = new Map(known.map((r) => [r.key, r]));
  const latestByHost = new Map(hostRows.map((r) => [r.hostId, r.viewCapturedAtMs]));

  const results: BatchResult[] = new Array(items.length);
  const writes: ReturnType<typeof snapshotWrites>[number][] = [];
  const failures: ReturnType<typeof detectorFailures> = [];
  const pending: number[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    for (let i = next++; i < items.length; i = next++) {
      const item = items[i] as (typeof items)[number];
      try {
        const opened = await openSnapshot({
          ...args,
          note: item.note,
          known: knownByKey.get(item.note.object.key) ?? null,
        });
        if (!opened.ready) {
          results[i] = { ok: true, outcome: opened.outcome };
          continue;
        }
        const view = opened.analysis.view;
        // The events were read for the key's capture time, which the shipper sets from the bundle's.
        const prefetched =
          view.capturedAtMs === item.id.capturedAtMs ? (events[i] as StoredEvent[]) : undefined;
        const correlation = await correlateHost({
          db,
          view,
          latestSnapshotMs: latestByHost.get(item.id.hostId) ?? null,
          redecide: false,
          nowMs,
          ...(prefetched ? { events: prefetched } : {}),
          stored: stored.get(item.id.hostId) ?? [],
        });
        failures.push(...detectorFailures({ db, opened, correlation, nowMs }));
        writes.push(...snapshotWrites({ db, opened, correlation, nowMs, reprocess: false }));
        results[i] = { ok: true, outcome: parsedOutcome(opened, correlation) };
        pending.push(i);
      } catch (error) {
        results[i] = { ok: false, error };
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(OPEN_CONCURRENCY, items.length) }, worker));

  try {
    await runBatch(db, [...failures, ...writes]);
  } catch (error) {
    for (const i of pending) results[i] = { ok: false, error };
  }
  return results;
}
