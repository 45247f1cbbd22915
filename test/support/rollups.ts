/**
 * The trigger-kept rollup tables as stored, and as a from-scratch count over `episodes` says they should
 * be: every writer (and every migration's backfill) must leave the two equal.
 */
import type { D1Database } from "@cloudflare/workers-types";

const DAY = 86_400_000;

/** detector_days as the triggers keep it, and as a full recount of `episodes` says it should be. */
export async function keptDays(d1: D1Database) {
  return (
    await d1
      .prepare(
        "SELECT detector, day, hosts, active, started FROM detector_days WHERE hosts > 0 ORDER BY 1, 2",
      )
      .all()
  ).results;
}
export async function recountDays(d1: D1Database) {
  return (
    await d1
      .prepare(
        `WITH hd AS (
           SELECT e.host_id, e.detector, e.first_seen_ms / ${DAY} + o.n AS day, count(*) AS episodes, sum(o.n = 0) AS started
           FROM episodes e JOIN day_offsets o ON o.n <= e.last_seen_ms / ${DAY} - e.first_seen_ms / ${DAY}
           GROUP BY 1, 2, 3)
         SELECT detector, day, count(*) AS hosts, sum(episodes) AS active, sum(started) AS started
         FROM hd GROUP BY detector, day ORDER BY 1, 2`,
      )
      .all()
  ).results;
}

/**
 * host_detectors (with the host attributes copied into it) and detector_last_days as the triggers keep
 * them, and as a recount says they should be.
 */
export async function keptLastSightings(d1: D1Database) {
  const q = async (sql: string) => (await d1.prepare(sql).all()).results;
  return {
    hosts: await q(
      `SELECT detector, host_id, last_seen_ms, has_host, kernel_release, disk_drivers, zone, instance_type
       FROM host_detectors ORDER BY 1, 2`,
    ),
    days: await q(
      "SELECT detector, day, episodes, regressions, min_first_seen_ms, hosts FROM detector_last_days WHERE episodes > 0 OR hosts > 0 ORDER BY 1, 2",
    ),
  };
}
export async function recountLastSightings(d1: D1Database) {
  const q = async (sql: string) => (await d1.prepare(sql).all()).results;
  return {
    hosts: await q(
      `SELECT e.detector, e.host_id, max(e.last_seen_ms) AS last_seen_ms, h.host_id IS NOT NULL AS has_host,
              h.kernel_release, h.disk_drivers, h.zone, h.instance_type
       FROM episodes e LEFT JOIN hosts h ON h.host_id = e.host_id GROUP BY 1, 2 ORDER BY 1, 2`,
    ),
    days: await q(
      `WITH e AS (
         SELECT detector, last_seen_ms / ${DAY} AS day, count(*) AS episodes, sum(regressions) AS regressions,
                min(first_seen_ms) AS min_first_seen_ms
         FROM episodes GROUP BY 1, 2),
       h AS (
         SELECT detector, max(last_seen_ms) / ${DAY} AS day FROM episodes GROUP BY detector, host_id)
       SELECT e.detector, e.day, e.episodes, e.regressions, e.min_first_seen_ms,
              (SELECT count(*) FROM h WHERE h.detector = e.detector AND h.day = e.day) AS hosts
       FROM e ORDER BY 1, 2`,
    ),
  };
}
