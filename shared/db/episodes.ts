/** Episode storage and the fleet-pattern queries behind /v1/patterns and /v1/incidents. */
import {
  and,
  between,
  desc,
  eq,
  gt,
  gte,
  inArray,
  lt,
  lte,
  max,
  or,
  type SQLWrapper,
  sql,
} from "drizzle-orm";
import type { EpisodeChange, EpisodeState } from "../detect/episodes.js";
import type { DetectorId, Verdict } from "../detect/types.js";
import { DAY_MS } from "../time.js";
import { detectorDays, detectorLastDays, episodes, hostDetectors, hosts } from "./schema.js";
import type { Db } from "./types.js";

export type EpisodeRow = typeof episodes.$inferSelect;

/** The evidence chain is capped so one runaway detector cannot fill a D1 row (docs/storage.md). */
export const MAX_EVIDENCE_JSON = 16 * 1024;

function evidenceJson(v: Verdict): string {
  const full = JSON.stringify(v.evidence);
  if (full.length <= MAX_EVIDENCE_JSON) return full;
  const kept: Verdict["evidence"][number][] = [];
  let size = 2;
  for (const e of v.evidence) {
    const s = JSON.stringify(e).length + 1;
    if (size + s > MAX_EVIDENCE_JSON - 200) break;
    kept.push(e);
    size += s;
  }
  return JSON.stringify([...kept, { kind: "truncated", omitted: v.evidence.length - kept.length }]);
}

/** A host's stored episodes (every status), the input of reconcileEpisodes. */
export async function loadHostEpisodes(db: Db, hostId: string): Promise<EpisodeState[]> {
  const rows = await db
    .select({
      id: episodes.id,
      detector: episodes.detector,
      subject: episodes.subject,
      status: episodes.status,
      firstSeenMs: episodes.firstSeenMs,
      lastSeenMs: episodes.lastSeenMs,
      firstSnapshotMs: episodes.firstSnapshotMs,
      resolvedAtMs: episodes.resolvedAtMs,
      regressions: episodes.regressions,
    })
    .from(episodes)
    .where(eq(episodes.hostId, hostId))
    .all();
  return rows.map((r) => ({ ...r, detector: r.detector as DetectorId }));
}

/** Statements applying episode changes (run them in one db.batch with the rest of the snapshot's writes). */
export function episodeStatements(
  db: Db,
  args: { hostId: string; changes: readonly EpisodeChange[]; snapshotMs: number; nowMs: number },
) {
  const out = [];
  for (const ch of args.changes) {
    switch (ch.kind) {
      case "open":
      case "seen": {
        const v = ch.verdict;
        out.push(
          db
            .insert(episodes)
            .values({
              id: ch.id,
              detector: v.detector,
              hostId: args.hostId,
              subject: v.subject,
              status: "open",
              confidence: v.confidence,
              firstSeenMs: ch.firstSeenMs,
              lastSeenMs: ch.lastSeenMs,
              firstSnapshotMs: args.snapshotMs,
              summary: v.summary,
              evidence: evidenceJson(v),
              blindSpots: JSON.stringify(v.blindSpots),
              updatedAtMs: args.nowMs,
            })
            .onConflictDoUpdate({
              target: episodes.id,
              set: {
                firstSeenMs: sql`min(${episodes.firstSeenMs}, excluded.first_seen_ms)`,
                lastSeenMs: sql`max(${episodes.lastSeenMs}, excluded.last_seen_ms)`,
                firstSnapshotMs: sql`min(${episodes.firstSnapshotMs}, excluded.first_snapshot_ms)`,
                confidence: sql`excluded.confidence`,
                summary: sql`excluded.summary`,
                evidence: sql`excluded.evidence`,
                blindSpots: sql`excluded.blind_spots`,
                updatedAtMs: sql`excluded.updated_at_ms`,
              },
            }),
        );
        break;
      }
      case "regressed":
        out.push(
          db
            .update(episodes)
            .set({
              status: "open",
              resolvedAtMs: null,
              regressions: sql`${episodes.regressions} + 1`,
              lastSeenMs: sql`max(${episodes.lastSeenMs}, ${ch.lastSeenMs})`,
              confidence: ch.verdict.confidence,
              summary: ch.verdict.summary,
              evidence: evidenceJson(ch.verdict),
              blindSpots: JSON.stringify(ch.verdict.blindSpots),
              updatedAtMs: args.nowMs,
            })
            .where(and(eq(episodes.id, ch.id), eq(episodes.status, "resolved"))),
        );
        break;
      case "resolved":
        out.push(
          db
            .update(episodes)
            .set({ status: "resolved", resolvedAtMs: ch.resolvedAtMs, updatedAtMs: args.nowMs })
            .where(and(eq(episodes.id, ch.id), eq(episodes.status, "open"))),
        );
        break;
      case "withdrawn":
        out.push(db.delete(episodes).where(eq(episodes.id, ch.id)));
        break;
    }
  }
  return out;
}

export interface Window {
  sinceMs: number;
  untilMs: number;
}

/** Episodes active in the window: last seen after it starts and first seen before it ends. */
const overlaps = (w: Window) =>
  and(gte(episodes.lastSeenMs, w.sinceMs), lte(episodes.firstSeenMs, w.untilMs));

/**
 * Whether the window ends at or after every stored episode's first sighting, as the usual question
 * ("since T", up to now) does. Then an episode is in the window exactly when it was last seen at or after
 * `since`, and the answers come from the tables that triggers keep by day of last sighting
 * (`detector_last_days`, `host_detectors`) instead of a scan of every episode in the window.
 */
async function endsAfterEveryStart(db: Db, w: Window): Promise<boolean> {
  // max() over the leading column of episodes_first_seen: one index probe
  const [row] = await db
    .select({ latest: max(episodes.firstSeenMs) })
    .from(episodes)
    .all();
  return row?.latest == null || w.untilMs >= row.latest;
}

/** The window's first UTC day and its last millisecond: the part read from the indexes, not the day tables. */
function firstDayOf(w: Window) {
  const day = Math.floor(w.sinceMs / DAY_MS);
  return { day, endMs: (day + 1) * DAY_MS - 1 };
}

export interface PatternSummaryRow {
  detector: string;
  hosts: number;
  occurrences: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

/** Per detector: affected hosts, occurrences (episodes plus their regressions), first and last seen. */
export async function patternSummary(db: Db, w: Window): Promise<PatternSummaryRow[]> {
  if (!(await endsAfterEveryStart(db, w))) return patternSummaryScan(db, w);
  const first = firstDayOf(w);
  const startDay = and(gte(episodes.lastSeenMs, w.sinceMs), lte(episodes.lastSeenMs, first.endMs));
  const [days, startEpisodes, startHosts] = await db.batch([
    // every whole day after the first: one row per detector and day
    db
      .select({
        detector: detectorLastDays.detector,
        hosts: sql<number>`sum(${detectorLastDays.hosts})`,
        occurrences: sql<number>`sum(${detectorLastDays.episodes} + ${detectorLastDays.regressions})`,
        firstSeenMs: sql<number | null>`min(${detectorLastDays.minFirstSeenMs})`,
        // the detector's latest sighting: the last entry of its episodes_detector_last range
        lastSeenMs: sql<
          number | null
        >`(SELECT e.last_seen_ms FROM episodes e WHERE e.detector = ${detectorLastDays.detector} ORDER BY e.last_seen_ms DESC LIMIT 1)`,
      })
      .from(detectorLastDays)
      .where(gt(detectorLastDays.day, first.day))
      .groupBy(detectorLastDays.detector),
    // the first day from `since` on, exactly
    db
      .select({
        detector: episodes.detector,
        occurrences: sql<number>`count(*) + sum(${episodes.regressions})`,
        firstSeenMs: sql<number>`min(${episodes.firstSeenMs})`,
        lastSeenMs: sql<number>`max(${episodes.lastSeenMs})`,
      })
      .from(episodes)
      .where(startDay)
      .groupBy(episodes.detector),
    db
      .select({ detector: hostDetectors.detector, hosts: sql<number>`count(*)` })
      .from(hostDetectors)
      .where(
        and(
          inArray(
            hostDetectors.detector,
            db
              .select({ d: detectorLastDays.detector })
              .from(detectorLastDays)
              .where(and(eq(detectorLastDays.day, first.day), gt(detectorLastDays.hosts, 0))),
          ),
          gte(hostDetectors.lastSeenMs, w.sinceMs),
          lte(hostDetectors.lastSeenMs, first.endMs),
        ),
      )
      .groupBy(hostDetectors.detector),
  ]);
  const out = new Map<string, PatternSummaryRow>();
  const row = (detector: string) => {
    let r = out.get(detector);
    if (!r) {
      r = { detector, hosts: 0, occurrences: 0, firstSeenMs: Infinity, lastSeenMs: -Infinity };
      out.set(detector, r);
    }
    return r;
  };
  for (const d of days) {
    const r = row(d.detector);
    r.hosts += d.hosts;
    r.occurrences += d.occurrences;
    r.firstSeenMs = Math.min(r.firstSeenMs, d.firstSeenMs ?? Infinity);
    r.lastSeenMs = Math.max(r.lastSeenMs, d.lastSeenMs ?? -Infinity);
  }
  for (const e of startEpisodes) {
    const r = row(e.detector);
    r.occurrences += e.occurrences;
    r.firstSeenMs = Math.min(r.firstSeenMs, e.firstSeenMs);
    r.lastSeenMs = Math.max(r.lastSeenMs, e.lastSeenMs);
  }
  for (const h of startHosts) row(h.detector).hosts += h.hosts;
  // Days whose episodes all went (withdrawn, aged out) keep a row of zeros; a detector with an
  // occurrence has both of its sightings.
  return [...out.values()].filter((r) => r.occurrences > 0);
}

/** patternSummary for any window, by a scan of every episode active in it (windows that end in the past). */
export function patternSummaryScan(db: Db, w: Window): Promise<PatternSummaryRow[]> {
  return db
    .select({
      detector: episodes.detector,
      hosts: sql<number>`count(distinct ${episodes.hostId})`,
      occurrences: sql<number>`count(*) + sum(${episodes.regressions})`,
      firstSeenMs: sql<number>`min(${episodes.firstSeenMs})`,
      lastSeenMs: sql<number>`max(${episodes.lastSeenMs})`,
    })
    .from(episodes)
    .where(overlaps(w))
    .groupBy(episodes.detector)
    .all();
}

export interface PatternHostsArgs extends Window {
  detector: string;
  limit: number;
  after?: { lastSeenMs: number; hostId: string } | undefined;
}

export interface PatternHostRow {
  hostId: string;
  occurrences: number;
  firstSeenMs: number;
  lastSeenMs: number;
}

/** Hosts hit by one detector in the window, most recently seen first; keyset cursor on (lastSeen, hostId). */
export async function patternHosts(db: Db, args: PatternHostsArgs): Promise<PatternHostRow[]> {
  if (!(await endsAfterEveryStart(db, args))) return patternHostsScan(db, args);
  // One page of host_detectors_last, newest first, then those hosts' episodes in the window.
  const page = db
    .select({ hostId: hostDetectors.hostId, lastSeenMs: hostDetectors.lastSeenMs })
    .from(hostDetectors)
    .where(
      and(
        eq(hostDetectors.detector, args.detector),
        gte(hostDetectors.lastSeenMs, args.sinceMs),
        args.after
          ? and(
              lte(hostDetectors.lastSeenMs, args.after.lastSeenMs),
              or(
                lt(hostDetectors.lastSeenMs, args.after.lastSeenMs),
                lt(hostDetectors.hostId, args.after.hostId),
              ),
            )
          : undefined,
      ),
    )
    .orderBy(desc(hostDetectors.lastSeenMs), desc(hostDetectors.hostId))
    .limit(args.limit)
    .as("page");
  return db
    .select({
      hostId: page.hostId,
      occurrences: sql<number>`count(*) + sum(${episodes.regressions})`,
      firstSeenMs: sql<number>`min(${episodes.firstSeenMs})`,
      lastSeenMs: page.lastSeenMs,
    })
    .from(page)
    .innerJoin(
      episodes,
      and(
        eq(episodes.hostId, page.hostId),
        eq(episodes.detector, args.detector),
        gte(episodes.lastSeenMs, args.sinceMs),
      ),
    )
    .groupBy(page.hostId)
    .orderBy(desc(page.lastSeenMs), desc(page.hostId))
    .all();
}

/** patternHosts for any window, by a scan of the detector's episodes active in it. */
export function patternHostsScan(db: Db, args: PatternHostsArgs): Promise<PatternHostRow[]> {
  const last = sql<number>`max(${episodes.lastSeenMs})`;
  return db
    .select({
      hostId: episodes.hostId,
      occurrences: sql<number>`count(*) + sum(${episodes.regressions})`,
      firstSeenMs: sql<number>`min(${episodes.firstSeenMs})`,
      lastSeenMs: last,
    })
    .from(episodes)
    .where(and(eq(episodes.detector, args.detector), overlaps(args)))
    .groupBy(episodes.hostId)
    .having(
      args.after
        ? sql`(${last}, ${episodes.hostId}) < (${args.after.lastSeenMs}, ${args.after.hostId})`
        : undefined,
    )
    .orderBy(desc(last), desc(episodes.hostId))
    .limit(args.limit)
    .all();
}

export const BREAKDOWN_ATTRIBUTES = {
  kernel: hosts.kernelRelease,
  driver: hosts.diskDrivers,
  zone: hosts.zone,
  instanceType: hosts.instanceType,
} as const;
export type BreakdownAttribute = keyof typeof BREAKDOWN_ATTRIBUTES;

/**
 * Affected hosts by attribute value against the whole fleet: `share` of affected hosts with the value,
 * and `lift` = share among affected / share in the fleet (above 1: over-represented).
 */
export async function patternBreakdown(db: Db, args: BreakdownArgs) {
  if (!(await endsAfterEveryStart(db, args))) return patternBreakdownScan(db, args);
  const affectedHosts = db
    .select({ hostId: hostDetectors.hostId })
    .from(hostDetectors)
    .where(and(eq(hostDetectors.detector, args.detector), gte(hostDetectors.lastSeenMs, args.sinceMs)));
  return breakdownOf(db, args, affectedHosts);
}

/** patternBreakdown for any window, from a scan of the detector's episodes active in it. */
export function patternBreakdownScan(db: Db, args: BreakdownArgs) {
  const affectedHosts = db
    .selectDistinct({ hostId: episodes.hostId })
    .from(episodes)
    .where(and(eq(episodes.detector, args.detector), overlaps(args)));
  return breakdownOf(db, args, affectedHosts);
}

type BreakdownArgs = Window & { detector: string; by: BreakdownAttribute };

async function breakdownOf(db: Db, args: BreakdownArgs, affectedHosts: SQLWrapper) {
  const col = BREAKDOWN_ATTRIBUTES[args.by];
  const [affected, fleet] = await Promise.all([
    db
      .select({ value: col, hosts: sql<number>`count(*)` })
      .from(hosts)
      .where(inArray(hosts.hostId, affectedHosts))
      .groupBy(col)
      .all(),
    db.select({ value: col, hosts: sql<number>`count(*)` }).from(hosts).groupBy(col).all(),
  ]);
  const affectedTotal = affected.reduce((s, r) => s + r.hosts, 0);
  const fleetTotal = fleet.reduce((s, r) => s + r.hosts, 0);
  const fleetBy = new Map(fleet.map((r) => [r.value, r.hosts]));
  return {
    affectedHosts: affectedTotal,
    fleetHosts: fleetTotal,
    groups: affected
      .map((r) => {
        const fleetHosts = fleetBy.get(r.value) ?? 0;
        const share = affectedTotal ? r.hosts / affectedTotal : 0;
        const fleetShare = fleetTotal ? fleetHosts / fleetTotal : 0;
        return {
          value: r.value ?? "unknown",
          affectedHosts: r.hosts,
          fleetHosts,
          share: round(share),
          fleetShare: round(fleetShare),
          lift: fleetShare > 0 ? round(share / fleetShare) : null,
          rate: fleetHosts ? round(r.hosts / fleetHosts) : null,
        };
      })
      .sort((a, b) => b.affectedHosts - a.affectedHosts || String(a.value).localeCompare(String(b.value))),
  };
}

/**
 * Per UTC day from the day of `since` to the day of `until` (whole days): hosts with an episode active
 * that day, episodes active, and episodes that began. Read from `detector_days`, which triggers keep
 * (infra/migrations/0001_rollups.sql), so the cost is one row per day whatever the fleet's size.
 */
export async function patternTimeline(db: Db, args: Window & { detector: string }) {
  const first = Math.floor(args.sinceMs / DAY_MS);
  const last = Math.floor(args.untilMs / DAY_MS);
  const rows = await db
    .select({
      day: detectorDays.day,
      hosts: detectorDays.hosts,
      active: detectorDays.active,
      started: detectorDays.started,
    })
    .from(detectorDays)
    .where(and(eq(detectorDays.detector, args.detector), between(detectorDays.day, first, last)))
    .all();
  const byDay = new Map(rows.map((r) => [r.day, r]));
  const buckets = [];
  for (let d = first; d <= last; d++) {
    const r = byDay.get(d);
    buckets.push({
      day: new Date(d * DAY_MS).toISOString().slice(0, 10),
      hosts: r?.hosts ?? 0,
      active: r?.active ?? 0,
      started: r?.started ?? 0,
    });
  }
  return buckets;
}

/** Incidents (episodes) newest first with filters; keyset cursor on (firstSeen, id). */
export function listEpisodes(
  db: Db,
  args: {
    detector?: string;
    hostId?: string;
    status?: "open" | "resolved";
    sinceMs?: number;
    untilMs?: number;
    limit: number;
    after?: { firstSeenMs: number; id: string };
  },
) {
  const conds = [];
  if (args.detector) conds.push(eq(episodes.detector, args.detector));
  if (args.hostId) conds.push(eq(episodes.hostId, args.hostId));
  if (args.status) conds.push(eq(episodes.status, args.status));
  if (args.sinceMs !== undefined) conds.push(gte(episodes.lastSeenMs, args.sinceMs));
  if (args.untilMs !== undefined) conds.push(lte(episodes.firstSeenMs, args.untilMs));
  if (args.after)
    conds.push(
      sql`(${episodes.firstSeenMs}, ${episodes.id}) < (${args.after.firstSeenMs}, ${args.after.id})`,
    );
  return db
    .select({
      id: episodes.id,
      detector: episodes.detector,
      hostId: episodes.hostId,
      subject: episodes.subject,
      status: episodes.status,
      confidence: episodes.confidence,
      firstSeenMs: episodes.firstSeenMs,
      lastSeenMs: episodes.lastSeenMs,
      resolvedAtMs: episodes.resolvedAtMs,
      regressions: episodes.regressions,
      summary: episodes.summary,
    })
    .from(episodes)
    .where(conds.length ? and(...conds) : undefined)
    .orderBy(desc(episodes.firstSeenMs), desc(episodes.id))
    .limit(args.limit)
    .all();
}

/** One episode with its evidence chain, or null. */
export async function getEpisode(db: Db, id: string): Promise<EpisodeRow | null> {
  return (await db.select().from(episodes).where(eq(episodes.id, id)).get()) ?? null;
}

function round(n: number): number {
  return Math.round(n * 1000) / 1000;
}
