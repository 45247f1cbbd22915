/** Retention for D1 (docs/storage.md): what D1 keeps, for how long. Raw evidence stays in R2. */
import { and, eq, inArray, lt } from "drizzle-orm";
import { DAY_MS, HOUR_MS } from "../time.js";
import {
  controlPlaneEvents,
  dailyRollups,
  detectorDays,
  episodes,
  ingestErrors,
  rollupHold,
  snapshots,
} from "./schema.js";
import type { Db } from "./types.js";

export const RETENTION = {
  /** The correlation window (shared/pipeline/correlate.ts). */
  eventsMs: 72 * HOUR_MS,
  parsedSnapshotsMs: 3 * DAY_MS,
  rejectedSnapshotsMs: 30 * DAY_MS,
  resolvedEpisodesMs: 90 * DAY_MS,
  ingestErrorsMs: 30 * DAY_MS,
  /** Rollups outlive the episodes they count: the timeline answers "since when" for a year. */
  rollupDays: 400,
} as const;

/** Deletes what has aged out; returns the rows deleted per table. */
export async function applyRetention(db: Db, nowMs: number): Promise<Record<string, number>> {
  const oldestDay = Math.floor(nowMs / DAY_MS) - RETENTION.rollupDays;
  // One transaction: while rollup_hold has its row, deleting an aged-out episode keeps its days counted.
  const [, events, parsed, rejected, resolved, , errors, rollups] = await db.batch([
    db.insert(rollupHold).values({ id: 1 }).onConflictDoNothing(),
    db
      .delete(controlPlaneEvents)
      .where(lt(controlPlaneEvents.atMs, nowMs - RETENTION.eventsMs))
      .returning({ id: controlPlaneEvents.id }),
    db
      .delete(snapshots)
      .where(
        and(eq(snapshots.status, "parsed"), lt(snapshots.receivedAtMs, nowMs - RETENTION.parsedSnapshotsMs)),
      )
      .returning({ key: snapshots.key }),
    db
      .delete(snapshots)
      .where(
        and(
          inArray(snapshots.status, ["rejected", "failed"]),
          lt(snapshots.receivedAtMs, nowMs - RETENTION.rejectedSnapshotsMs),
        ),
      )
      .returning({ key: snapshots.key }),
    db
      .delete(episodes)
      .where(
        and(eq(episodes.status, "resolved"), lt(episodes.lastSeenMs, nowMs - RETENTION.resolvedEpisodesMs)),
      )
      .returning({ id: episodes.id }),
    db.delete(rollupHold),
    db
      .delete(ingestErrors)
      .where(lt(ingestErrors.atMs, nowMs - RETENTION.ingestErrorsMs))
      .returning({ id: ingestErrors.id }),
    db.delete(dailyRollups).where(lt(dailyRollups.day, oldestDay)).returning({ day: dailyRollups.day }),
    db.delete(detectorDays).where(lt(detectorDays.day, oldestDay)),
  ]);
  return {
    events: events.length,
    parsedSnapshots: parsed.length,
    rejectedSnapshots: rejected.length,
    resolvedEpisodes: resolved.length,
    ingestErrors: errors.length,
    rollupHostDays: rollups.length,
  };
}
