/** Control-plane event storage: idempotent by event id, chunked under D1's 100-parameter limit. */
import { and, asc, eq, gte, lte } from "drizzle-orm";
import type { ControlPlaneEvent } from "../contracts/events.js";
import { controlPlaneEvents } from "./schema.js";
import type { Db } from "./types.js";

const COLUMNS = 12;
/** D1 allows 100 bound parameters per statement. */
export const EVENT_ROWS_PER_INSERT = Math.floor(100 / COLUMNS);

export type StoredEvent = typeof controlPlaneEvents.$inferSelect;

/** Inserts events; returns the ids that were new (the others were already stored). */
export async function insertEvents(
  db: Db,
  args: { events: readonly ControlPlaneEvent[]; via: "http" | "sqs"; nowMs: number },
): Promise<Set<string>> {
  const rows = args.events.map((e) => ({
    id: e.id,
    instanceId: e.instanceId,
    type: e.type,
    outcome: e.outcome,
    diskId: e.diskId,
    bdf: e.bdf ?? null,
    serial: e.serial ?? null,
    mode: e.mode ?? null,
    atMs: e.atMs,
    receivedAtMs: args.nowMs,
    via: args.via,
    raw: JSON.stringify(stripNormalized(e)),
  }));
  const statements = [];
  for (let i = 0; i < rows.length; i += EVENT_ROWS_PER_INSERT) {
    statements.push(
      db
        .insert(controlPlaneEvents)
        .values(rows.slice(i, i + EVENT_ROWS_PER_INSERT))
        .onConflictDoNothing()
        .returning({ id: controlPlaneEvents.id }),
    );
  }
  const inserted = new Set<string>();
  const [first, ...rest] = statements;
  if (!first) return inserted;
  for (const res of await db.batch([first, ...rest])) for (const r of res) inserted.add(r.id);
  return inserted;
}

function stripNormalized(e: ControlPlaneEvent): Record<string, unknown> {
  const { atMs: _atMs, ...raw } = e;
  return raw;
}

/**
 * A host's events in a time window, oldest first (the correlation input). Returns the query, which can
 * be awaited or sent with other reads in one `db.batch`.
 */
export function eventsForHost(db: Db, args: { instanceId: string; fromMs: number; toMs: number }) {
  return db
    .select()
    .from(controlPlaneEvents)
    .where(
      and(
        eq(controlPlaneEvents.instanceId, args.instanceId),
        gte(controlPlaneEvents.atMs, args.fromMs),
        lte(controlPlaneEvents.atMs, args.toMs),
      ),
    )
    .orderBy(asc(controlPlaneEvents.atMs), asc(controlPlaneEvents.id));
}
