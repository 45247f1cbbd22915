/** Queries for the snapshot index, hosts and ingest errors. */
import { and, desc, eq, inArray, lt, or, sql } from "drizzle-orm";
import { hosts, ingestErrors, type SnapshotStatus, snapshots } from "./schema.js";
import type { Db } from "./types.js";

export type SnapshotRow = typeof snapshots.$inferSelect;
export type HostRow = typeof hosts.$inferSelect;

/** The snapshot index row for a key, or null. */
export async function findSnapshot(db: Db, key: string): Promise<SnapshotRow | null> {
  return (await db.select().from(snapshots).where(eq(snapshots.key, key)).get()) ?? null;
}

/** Records a received snapshot; a second insert of the same key changes nothing. */
export async function recordReceived(
  db: Db,
  row: {
    key: string;
    hostId: string;
    sha256: string;
    capturedAtMs: number;
    receivedAtMs: number;
    bytes: number;
    source: "snapshot" | "evidence";
    command?: string | null;
  },
): Promise<boolean> {
  const res = await db
    .insert(snapshots)
    .values({ ...row, command: row.command ?? null, status: "received" })
    .onConflictDoNothing()
    .returning({ key: snapshots.key });
  return res.length > 0;
}

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
) {
  const guard = args.force
    ? eq(snapshots.key, args.key)
    : and(eq(snapshots.key, args.key), inArray(snapshots.status, ["received", "failed"]));
  return db
    .update(snapshots)
    .set({
      status: args.status,
      reasonCode: args.reasonCode ?? null,
      reason: args.reason ?? null,
      issueCount: args.issueCount ?? 0,
      processedAtMs: args.nowMs,
      attempts: sql`${snapshots.attempts} + 1`,
    })
    .where(guard);
}

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
) {
  return db
    .insert(ingestErrors)
    .values({ ...row, hostId: row.hostId ?? null, message: row.message.slice(0, 2000) });
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
