/** Queries for the snapshot index, hosts and ingest errors. */
import { and, desc, eq, inArray, lt, or, sql } from "drizzle-orm";
import { hosts, ingestErrors, type SnapshotStatus, snapshots } from "./schema.js";
import { compiled, type Statement, value } from "./statement.js";
import type { Db } from "./types.js";

export type SnapshotRow = typeof snapshots.$inferSelect;
export type HostRow = typeof hosts.$inferSelect;

/** The snapshot index row for a key, or null. */
export async function findSnapshot(db: Db, key: string): Promise<SnapshotRow | null> {
  return (await db.select().from(snapshots).where(eq(snapshots.key, key)).get()) ?? null;
}

/** A stored object as it is first indexed. */
export interface ReceivedRow {
  key: string;
  hostId: string;
  sha256: string;
  capturedAtMs: number;
  receivedAtMs: number;
  bytes: number;
  source: "snapshot" | "evidence";
  /** The command a hand-captured evidence file came from. */
  command?: string | null;
}

const insertReceived = compiled<Required<ReceivedRow>>((db) =>
  db
    .insert(snapshots)
    .values({
      key: value("key"),
      hostId: value("hostId"),
      sha256: value("sha256"),
      capturedAtMs: value("capturedAtMs"),
      receivedAtMs: value("receivedAtMs"),
      bytes: value("bytes"),
      source: value("source"),
      command: value("command"),
      status: "received",
    })
    .onConflictDoNothing(),
);

/** Records a received snapshot; a second insert of the same key changes nothing (and returns false). */
export async function recordReceived(db: Db, row: ReceivedRow): Promise<boolean> {
  const res = await insertReceived(db, {
    key: row.key,
    hostId: row.hostId,
    sha256: row.sha256,
    capturedAtMs: row.capturedAtMs,
    receivedAtMs: row.receivedAtMs,
    bytes: row.bytes,
    source: row.source,
    command: row.command ?? null,
  });
  return (res.meta.changes ?? 0) > 0;
}

const markSnapshotAs = (force: boolean) =>
  compiled<{
    key: string;
    status: SnapshotStatus;
    reasonCode: string | null;
    reason: string | null;
    issueCount: number;
    nowMs: number;
  }>((db) =>
    db
      .update(snapshots)
      .set({
        status: value("status"),
        reasonCode: value("reasonCode"),
        reason: value("reason"),
        issueCount: value("issueCount"),
        processedAtMs: value("nowMs"),
        attempts: sql`${snapshots.attempts} + 1`,
      })
      .where(
        force
          ? eq(snapshots.key, value("key"))
          : and(eq(snapshots.key, value("key")), inArray(snapshots.status, ["received", "failed"])),
      ),
  );
const markGuarded = markSnapshotAs(false);
const markForced = markSnapshotAs(true);

/**
 * Moves a snapshot to a final status. Only from `received` or `failed` (or any status when
 * `force`, for reprocessing), so a redelivered message cannot undo a decision.
 */
export function markSnapshot(
  db: Db,
  args: {
    key: string;
    status: SnapshotStatus;
    nowMs: number;
    reasonCode?: string | null;
    reason?: string | null;
    issueCount?: number;
    force?: boolean;
  },
): Statement {
  return (args.force ? markForced : markGuarded)(db, {
    key: args.key,
    status: args.status,
    reasonCode: args.reasonCode ?? null,
    reason: args.reason ?? null,
    issueCount: args.issueCount ?? 0,
    nowMs: args.nowMs,
  });
}

const insertIngestError = compiled<{
  kind: string;
  ref: string;
  hostId: string | null;
  code: string;
  message: string;
  atMs: number;
}>((db) =>
  db.insert(ingestErrors).values({
    kind: value("kind"),
    ref: value("ref"),
    hostId: value("hostId"),
    code: value("code"),
    message: value("message"),
    atMs: value("atMs"),
  }),
);

/** Records a rejection (snapshot, event, evidence or queue message) so GET /v1/ingest/errors shows it. */
export function recordIngestError(
  db: Db,
  row: {
    kind: "snapshot" | "event" | "evidence" | "queue";
    ref: string;
    hostId?: string | null;
    code: string;
    message: string;
    atMs: number;
  },
): Statement {
  return insertIngestError(db, {
    kind: row.kind,
    ref: row.ref,
    hostId: row.hostId ?? null,
    code: row.code,
    message: row.message.slice(0, 2000),
    atMs: row.atMs,
  });
}

/** Ingest errors newest first, keyset-paginated on id. */
export async function listIngestErrors(
  db: Db,
  args: { kind?: string; sinceMs?: number; beforeId?: number; limit: number },
) {
  const conds = [];
  if (args.kind) conds.push(eq(ingestErrors.kind, args.kind));
  if (args.sinceMs !== undefined) conds.push(sql`${ingestErrors.atMs} >= ${args.sinceMs}`);
  if (args.beforeId !== undefined) conds.push(lt(ingestErrors.id, args.beforeId));
  return db
    .select()
    .from(ingestErrors)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(ingestErrors.id))
    .limit(args.limit)
    .all();
}

/** A host's row, or null before it has shipped. */
export async function findHost(db: Db, hostId: string): Promise<HostRow | null> {
  return (await db.select().from(hosts).where(eq(hosts.hostId, hostId)).get()) ?? null;
}

/** A host's snapshots newest first. */
export function listHostSnapshots(db: Db, args: { hostId: string; limit: number }) {
  return db
    .select({
      key: snapshots.key,
      capturedAtMs: snapshots.capturedAtMs,
      status: snapshots.status,
      source: snapshots.source,
      command: snapshots.command,
      reasonCode: snapshots.reasonCode,
      issueCount: snapshots.issueCount,
    })
    .from(snapshots)
    .where(eq(snapshots.hostId, args.hostId))
    .orderBy(desc(snapshots.capturedAtMs))
    .limit(args.limit)
    .all();
}

/** Rejected and failed snapshots are also ingest errors; listed by status, newest first. */
export function listRejectedSnapshots(db: Db, args: { limit: number }) {
  return db
    .select()
    .from(snapshots)
    .where(or(eq(snapshots.status, "rejected"), eq(snapshots.status, "failed")))
    .orderBy(desc(snapshots.receivedAtMs))
    .limit(args.limit)
    .all();
}
