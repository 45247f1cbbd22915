/** Episode storage and the fleet-pattern queries behind /v1/patterns and /v1/incidents. */
import { and, between, desc, eq, gte, inArray, lte, type SQL, type SQLChunk, sql } from "drizzle-orm";
import type { EpisodeChange, EpisodeState } from "../detect/episodes.js";
import type { DetectorId, Verdict } from "../detect/types.js";
import { DAY_MS } from "../time.js";
import { detectorDays, episodes, hosts } from "./schema.js";
import { compiled, type Statement, value } from "./statement.js";
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

const EPISODE_STATE = {
  id: episodes.id,
  hostId: episodes.hostId,
  detector: episodes.detector,
  subject: episodes.subject,
  status: episodes.status,
  firstSeenMs: episodes.firstSeenMs,
  lastSeenMs: episodes.lastSeenMs,
  firstSnapshotMs: episodes.firstSnapshotMs,
  resolvedAtMs: episodes.resolvedAtMs,
  regressions: episodes.regressions,
};
type EpisodeStateRow = Omit<EpisodeState, "detector"> & { hostId: string; detector: string };

function toState({ hostId: _, ...r }: EpisodeStateRow): EpisodeState {
  return { ...r, detector: r.detector as DetectorId };
}

/** A host's stored episodes (every status), the input of reconcileEpisodes. */
export async function loadHostEpisodes(db: Db, hostId: string): Promise<EpisodeState[]> {
  const rows = await db.select(EPISODE_STATE).from(episodes).where(eq(episodes.hostId, hostId)).all();
  return rows.map(toState);
}

/**
 * Several hosts' stored episodes: the query (for a `db.batch` with other reads; at most 100 hosts,
 * D1's bound-parameter limit) and how to split its rows by host.
 */
export function hostsEpisodesQuery(db: Db, hostIds: readonly string[]) {
  return db
    .select(EPISODE_STATE)
    .from(episodes)
    .where(inArray(episodes.hostId, [...hostIds]));
}
export function episodesByHost(rows: readonly EpisodeStateRow[]): Map<string, EpisodeState[]> {
  const out = new Map<string, EpisodeState[]>();
  for (const r of rows) {
    const list = out.get(r.hostId);
    if (list) list.push(toState(r));
    else out.set(r.hostId, [toState(r)]);
  }
  return out;
}

/** An episode opened or seen again: inserted, or its sighting range and verdict updated. */
const upsertEpisode = compiled<{
  id: string;
  detector: string;
  hostId: string;
  subject: string;
  confidence: string;
  firstSeenMs: number;
  lastSeenMs: number;
  snapshotMs: number;
  summary: string;
  evidence: string;
  blindSpots: string;
  nowMs: number;
}>((db) =>
  db
    .insert(episodes)
    .values({
      id: value("id"),
      detector: value("detector"),
      hostId: value("hostId"),
      subject: value("subject"),
      status: "open",
      confidence: value("confidence"),
      firstSeenMs: value("firstSeenMs"),
      lastSeenMs: value("lastSeenMs"),
      firstSnapshotMs: value("snapshotMs"),
      summary: value("summary"),
      evidence: value("evidence"),
      blindSpots: value("blindSpots"),
      updatedAtMs: value("nowMs"),
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

/** A resolved episode seen again: open once more, one more regression. */
const regressEpisode = compiled<{
  id: string;
  lastSeenMs: number;
  confidence: string;
  summary: string;
  evidence: string;
  blindSpots: string;
  nowMs: number;
}>((db) =>
  db
    .update(episodes)
    .set({
      status: "open",
      resolvedAtMs: null,
      regressions: sql`${episodes.regressions} + 1`,
      lastSeenMs: sql`max(${episodes.lastSeenMs}, ${value("lastSeenMs")})`,
      confidence: value("confidence"),
      summary: value("summary"),
      evidence: value("evidence"),
      blindSpots: value("blindSpots"),
      updatedAtMs: value("nowMs"),
    })
    .where(and(eq(episodes.id, value("id")), eq(episodes.status, "resolved"))),
);

const resolveEpisode = compiled<{ id: string; resolvedAtMs: number; nowMs: number }>((db) =>
  db
    .update(episodes)
    .set({ status: "resolved", resolvedAtMs: value("resolvedAtMs"), updatedAtMs: value("nowMs") })
    .where(and(eq(episodes.id, value("id")), eq(episodes.status, "open"))),
);

const withdrawEpisode = compiled<{ id: string }>((db) =>
  db.delete(episodes).where(eq(episodes.id, value("id"))),
);

/** Statements applying episode changes (run them in one batch with the rest of the snapshot's writes). */
export function episodeStatements(
  db: Db,
  args: { hostId: string; changes: readonly EpisodeChange[]; snapshotMs: number; nowMs: number },
): Statement[] {
  const out: Statement[] = [];
  for (const ch of args.changes) {
    switch (ch.kind) {
      case "open":
      case "seen": {
        const v = ch.verdict;
        out.push(
          upsertEpisode(db, {
            id: ch.id,
            detector: v.detector,
            hostId: args.hostId,
            subject: v.subject,
            confidence: v.confidence,
            firstSeenMs: ch.firstSeenMs,
            lastSeenMs: ch.lastSeenMs,
            snapshotMs: args.snapshotMs,
            summary: v.summary,
            evidence: evidenceJson(v),
            blindSpots: JSON.stringify(v.blindSpots),
            nowMs: args.nowMs,
          }),
        );
        break;
      }
      case "regressed":
        out.push(
          regressEpisode(db, {
            id: ch.id,
            lastSeenMs: ch.lastSeenMs,
            confidence: ch.verdict.confidence,
            summary: ch.verdict.summary,
            evidence: evidenceJson(ch.verdict),
            blindSpots: JSON.stringify(ch.verdict.blindSpots),
            nowMs: args.nowMs,
          }),
        );
        break;
      case "resolved":
        out.push(resolveEpisode(db, { id: ch.id, resolvedAtMs: ch.resolvedAtMs, nowMs: args.nowMs }));
        break;
      case "withdrawn":
        out.push(withdrawEpisode(db, { id: ch.id }));
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
 * The fast answers rest on one fact: an episode first seen by the end of the window is in it exactly
 * when it was last seen at or after `since`. So they count what the triggers keep by day of *last*
 * sighting (`detector_last_days`, `host_detectors`), and then take back out the episodes first seen after
 * the window ends (their last sighting is after `since` too, so they were counted). A window that ends
 * now has none or a few (hosts whose clocks run ahead); one that ends in the past can have most of the
 * table, and above this many it is answered by a scan instead.
 */
const MAX_STARTS_AFTER = 1000;

/**
 * (detector, host) of the hosts whose only episodes of a detector in the window began after it ends:
 * counted as affected by the tables kept by last sighting, and not affected in the window.
 */
function onlyStartedAfter(since: number, until: number): SQL {
  return sql`
    SELECT f.detector, f.host_id FROM episodes f INDEXED BY episodes_first_seen
    WHERE f.first_seen_ms > ${until} AND NOT EXISTS (
      SELECT 1 FROM episodes e WHERE e.host_id = f.host_id AND e.detector = f.detector
        AND e.last_seen_ms >= ${since} AND e.first_seen_ms <= ${until})`;
}

/** Episodes first seen after the window ends, counted up to one past MAX_STARTS_AFTER. */
async function startsAfter(db: Db, w: Window): Promise<number> {
  // a range of episodes_first_seen, stopped at the limit
  const [row] = await db.all<{ n: number }>(
    sql`SELECT count(*) AS n FROM (SELECT 1 FROM episodes WHERE first_seen_ms > ${w.untilMs} LIMIT ${MAX_STARTS_AFTER + 1})`,
  );
  return row?.n ?? 0;
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
  if ((await startsAfter(db, w)) > MAX_STARTS_AFTER) return patternSummaryScan(db, w);
  const { sinceMs: since, untilMs: until } = w;
  const day = Math.floor(since / DAY_MS);
  const dayEnd = (day + 1) * DAY_MS - 1;
  // The episodes taken out are read through episodes_first_seen (pinned: SQLite otherwise scanned a
  // whole index to group by detector). The earliest first sighting needs no correction: one in the
  // window is at most `until`, below any taken out. The latest sighting walks episodes_detector_last
  // down past those taken out.
  return db.all<PatternSummaryRow>(sql`
    WITH parts (detector, hosts, occurrences, first_seen_ms) AS (
      -- every whole day after since's own: one row per detector and day
      SELECT detector, hosts, episodes + regressions, min_first_seen_ms FROM detector_last_days
      WHERE day > ${day}
      UNION ALL
      -- since's day from since on, exactly
      SELECT detector, 0, count(*) + sum(regressions), min(first_seen_ms) FROM episodes
      WHERE last_seen_ms BETWEEN ${since} AND ${dayEnd} GROUP BY detector
      UNION ALL
      SELECT detector, count(*), 0, NULL FROM host_detectors
      WHERE detector IN (SELECT detector FROM detector_last_days WHERE day = ${day} AND hosts > 0)
        AND last_seen_ms BETWEEN ${since} AND ${dayEnd}
      GROUP BY detector
      UNION ALL
      -- taken back out: episodes first seen after the window
      SELECT detector, 0, -(count(*) + sum(regressions)), NULL FROM episodes INDEXED BY episodes_first_seen
      WHERE first_seen_ms > ${until} GROUP BY detector
      UNION ALL
      -- and hosts whose only episodes in the window are those
      SELECT detector, -count(DISTINCT host_id), 0, NULL FROM (${onlyStartedAfter(since, until)})
      GROUP BY detector
    )
    SELECT detector, sum(hosts) AS hosts, sum(occurrences) AS occurrences, min(first_seen_ms) AS firstSeenMs,
      (SELECT e.last_seen_ms FROM episodes e INDEXED BY episodes_detector_last
       WHERE e.detector = parts.detector AND e.first_seen_ms <= ${until}
       ORDER BY e.last_seen_ms DESC LIMIT 1) AS lastSeenMs
    FROM parts GROUP BY detector
    HAVING sum(occurrences) > 0`);
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
  if ((await startsAfter(db, args)) > MAX_STARTS_AFTER) return patternHostsScan(db, args);
  const { detector, sinceMs: since, untilMs: until, limit, after } = args;
  const beforeCursor = after
    ? sql`AND last_seen_ms <= ${after.lastSeenMs} AND (last_seen_ms < ${after.lastSeenMs} OR host_id < ${after.hostId})`
    : sql``;
  // A host's latest sighting is host_detectors' unless it has episodes first seen after the window
  // (`late`): those few hosts get theirs from their own episodes in the window. One page of each, newest
  // first, then the page's episodes in the window. The plan is pinned (INDEXED BY, CROSS JOIN for the
  // page as the outer loop): left to itself, SQLite drove the join from every episode of the detector.
  return db.all<PatternHostRow>(sql`
    WITH late (host_id) AS (
      SELECT DISTINCT host_id FROM episodes INDEXED BY episodes_first_seen
      WHERE first_seen_ms > ${until} AND detector = ${detector}
    ),
    page (host_id, last_seen_ms) AS (
      SELECT * FROM (
        SELECT host_id, last_seen_ms FROM host_detectors
        WHERE detector = ${detector} AND last_seen_ms >= ${since} AND host_id NOT IN late ${beforeCursor}
        ORDER BY last_seen_ms DESC, host_id DESC LIMIT ${limit})
      UNION ALL
      SELECT * FROM (
        SELECT host_id, (
          SELECT max(e.last_seen_ms) FROM episodes e WHERE e.host_id = late.host_id AND e.detector = ${detector}
            AND e.last_seen_ms >= ${since} AND e.first_seen_ms <= ${until}) AS last_seen_ms
        FROM late)
      WHERE last_seen_ms IS NOT NULL ${beforeCursor}
      ORDER BY last_seen_ms DESC, host_id DESC LIMIT ${limit}
    )
    SELECT page.host_id AS hostId, count(*) + sum(e.regressions) AS occurrences,
      min(e.first_seen_ms) AS firstSeenMs, page.last_seen_ms AS lastSeenMs
    FROM page CROSS JOIN episodes e INDEXED BY episodes_host_detector_last
    WHERE e.host_id = page.host_id AND e.detector = ${detector}
      AND e.last_seen_ms >= ${since} AND e.first_seen_ms <= ${until}
    GROUP BY page.host_id
    ORDER BY page.last_seen_ms DESC, page.host_id DESC`);
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

/** Each attribute a breakdown can group by: its column on `hosts`, and the index that counts the fleet by it. */
export const BREAKDOWN_ATTRIBUTES = {
  kernel: { column: hosts.kernelRelease, index: "hosts_kernel" },
  driver: { column: hosts.diskDrivers, index: "hosts_disk_drivers" },
  zone: { column: hosts.zone, index: "hosts_zone" },
  instanceType: { column: hosts.instanceType, index: "hosts_instance_type" },
} as const;
export type BreakdownAttribute = keyof typeof BREAKDOWN_ATTRIBUTES;

/**
 * Affected hosts by attribute value against the whole fleet: `share` of affected hosts with the value,
 * and `lift` = share among affected / share in the fleet (above 1: over-represented).
 */
export async function patternBreakdown(db: Db, args: BreakdownArgs) {
  const late = await startsAfter(db, args);
  if (late > MAX_STARTS_AFTER) return patternBreakdownScan(db, args);
  const { detector, sinceMs: since, untilMs: until } = args;
  const lateOnly =
    late === 0
      ? sql``
      : sql`AND host_id NOT IN (SELECT host_id FROM (${onlyStartedAfter(since, until)}) WHERE detector = ${detector})`;
  // The affected hosts' attributes are copied into host_detectors (0004): one range of its index.
  return breakdownOf(db, args, (col) =>
    db.all<BreakdownGroup>(sql`
      SELECT ${col} AS value, count(*) AS hosts FROM host_detectors INDEXED BY host_detectors_last
      WHERE detector = ${detector} AND last_seen_ms >= ${since} AND has_host = 1 ${lateOnly}
      GROUP BY 1`),
  );
}

/** patternBreakdown for any window, from a scan of the detector's episodes active in it. */
export function patternBreakdownScan(db: Db, args: BreakdownArgs) {
  const affectedHosts = db
    .selectDistinct({ hostId: episodes.hostId })
    .from(episodes)
    .where(and(eq(episodes.detector, args.detector), overlaps(args)));
  // the affected hosts' attributes through hosts_attributes, not the rows with their view summaries
  return breakdownOf(db, args, (col) =>
    db.all<BreakdownGroup>(sql`
      SELECT ${col} AS value, count(*) AS hosts FROM hosts INDEXED BY hosts_attributes
      WHERE host_id IN ${affectedHosts} GROUP BY 1`),
  );
}

type BreakdownArgs = Window & { detector: string; by: BreakdownAttribute };
type BreakdownGroup = { value: string | null; hosts: number };

/**
 * Share and lift of the affected hosts' groups (`affectedBy` counts them by the attribute's column)
 * against the fleet's, counted by the attribute's own index.
 */
async function breakdownOf(
  db: Db,
  args: BreakdownArgs,
  affectedBy: (col: SQLChunk) => Promise<BreakdownGroup[]>,
) {
  const attribute = BREAKDOWN_ATTRIBUTES[args.by];
  const col = sql.identifier(attribute.column.name);
  const [affected, fleet] = await Promise.all([
    affectedBy(col),
    db.all<BreakdownGroup>(
      sql`SELECT ${col} AS value, count(*) AS hosts FROM hosts INDEXED BY ${sql.identifier(attribute.index)} GROUP BY 1`,
    ),
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
