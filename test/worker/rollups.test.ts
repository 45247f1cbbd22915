/**
 * The trigger-kept rollups (daily_rollups, detector_days) against a from-scratch count over `episodes`,
 * after every kind of write the service makes: episodes opened, seen again on later days, seen
 * earlier (a late event), regressed, resolved, withdrawn (deleted), and aged out by retention.
 */
import type { D1Database } from "@cloudflare/workers-types";
import { drizzle } from "drizzle-orm/d1";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  patternBreakdown,
  patternBreakdownScan,
  patternHosts,
  patternHostsScan,
  patternSummary,
  patternSummaryScan,
  type Window,
} from "../../shared/db/episodes.js";
import { schema } from "../../shared/db/schema.js";
import type { Db } from "../../shared/db/types.js";
import { keptDays, keptLastSightings, recountDays, recountLastSightings } from "../support/rollups.js";
import { startTestService, type TestService } from "../support/service.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.dispose();
});

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 26, 12);
const DETECTORS = ["reattach-bdf-race", "orphan-globalmount", "trace-blind-spot"];

/**
 * The answers read from the day tables against a scan of the episodes, for starts on, just after and
 * between day boundaries, before every episode and after the last; for windows that end after every
 * episode began, and windows that end before a few began (a host clock running ahead, a window that
 * ends hours ago).
 */
async function expectWindowsMatchScan(db: Db) {
  const starts = [
    NOW - 40 * DAY,
    NOW - 7 * DAY,
    NOW - 7 * DAY + 1,
    NOW - 3 * DAY - 5 * 3_600_000,
    NOW - DAY / 2,
    NOW,
    NOW + DAY,
  ];
  const ends = [NOW + 2 * DAY, NOW - 2 * 3_600_000, NOW - 2 * DAY];
  const windows = starts.flatMap((sinceMs) =>
    ends.filter((untilMs) => untilMs >= sinceMs).map((untilMs): Window => ({ sinceMs, untilMs })),
  );
  expect(windows.length).toBeGreaterThan(15);
  for (const w of windows) {
    const byDetector = (rows: { detector: string }[]) =>
      [...rows].sort((a, b) => a.detector.localeCompare(b.detector));
    expect(byDetector(await patternSummary(db, w)), `summary ${JSON.stringify(w)}`).toEqual(
      byDetector(await patternSummaryScan(db, w)),
    );
    for (const detector of DETECTORS) {
      const all = await patternHostsScan(db, { ...w, detector, limit: 1000 });
      expect(await patternHosts(db, { ...w, detector, limit: 1000 }), `hosts ${detector}`).toEqual(all);
      // paged two at a time with the keyset cursor
      const paged = [];
      let after: { lastSeenMs: number; hostId: string } | undefined;
      for (;;) {
        const page = await patternHosts(db, { ...w, detector, limit: 2, after });
        paged.push(...page);
        const last = page.at(-1);
        if (page.length < 2 || !last) break;
        after = { lastSeenMs: last.lastSeenMs, hostId: last.hostId };
      }
      expect(paged).toEqual(all);
      for (const attribute of ["zone", "kernel"] as const) {
        const by = { ...w, detector, by: attribute };
        expect(await patternBreakdown(db, by), `breakdown by ${attribute}`).toEqual(
          await patternBreakdownScan(db, by),
        );
      }
    }
  }
}

describe("rollups kept by triggers", () => {
  it("match a recount of the episodes after a random mix of writes", async () => {
    const d1 = (await svc.mf.getD1Database("DB")) as unknown as D1Database;
    const db = drizzle(d1 as never, { schema }) as unknown as Db;
    // The consumer's host upsert; i-4 has episodes before its hosts row exists.
    const upsertHost = (h: number, zone: string, kernel: string) =>
      d1
        .prepare(
          `INSERT INTO hosts (host_id, first_seen_ms, last_seen_ms, view_captured_at_ms, latest_snapshot_key, zone, kernel_release)
           VALUES (?, ?, ?, ?, 'k', ?, ?)
           ON CONFLICT (host_id) DO UPDATE SET zone = excluded.zone, kernel_release = excluded.kernel_release`,
        )
        .bind(`i-${h}`, NOW, NOW, NOW, zone, kernel);
    await d1.batch([0, 1, 2, 3].map((h) => upsertHost(h, `zone-${h % 2}`, "5.10.134")));
    let seed = 7;
    const rand = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const hostChanges: Record<number, () => Promise<unknown>> = {
      // a relabel and a kernel upgrade, a host row that arrives late, one that goes and comes back
      100: () => upsertHost(1, "zone-2", "5.10.134").run(),
      150: () => upsertHost(2, "zone-0", "6.6.71").run(),
      200: () => upsertHost(4, "zone-1", "6.6.71").run(),
      250: () => d1.prepare("DELETE FROM hosts WHERE host_id = 'i-3'").run(),
      300: () => upsertHost(3, "zone-2", "6.6.71").run(),
      350: () => upsertHost(1, "zone-2", "4.19.91").run(),
    };
    const live = new Map<string, { first: number; last: number }>();
    for (let step = 0; step < 400; step++) {
      await hostChanges[step]?.();
      const op = rand(10);
      const ids = [...live.keys()];
      const id = ids.length && op >= 3 ? (ids[rand(ids.length)] as string) : `ep_${step}`;
      const cur = live.get(id);
      if (!cur) {
        // open: the consumer's upsert, on a host and detector that often already have episodes
        const first = NOW - rand(20) * DAY - rand(DAY);
        const last = Math.min(NOW, first + rand(4) * DAY + rand(DAY));
        await d1
          .prepare(
            `INSERT INTO episodes (id, detector, host_id, subject, status, confidence, first_seen_ms, last_seen_ms, first_snapshot_ms, summary, evidence, updated_at_ms)
             VALUES (?, ?, ?, ?, 'open', 'high', ?, ?, ?, 's', '[]', ?)
             ON CONFLICT (id) DO UPDATE SET first_seen_ms = min(first_seen_ms, excluded.first_seen_ms), last_seen_ms = max(last_seen_ms, excluded.last_seen_ms)`,
          )
          .bind(id, DETECTORS[rand(3)], `i-${rand(5)}`, id, first, last, first, last)
          .run();
        live.set(id, { first, last });
      } else if (op < 6) {
        // seen again: later (the usual), or earlier (a late event moved first_seen back)
        const first = rand(4) === 0 ? cur.first - rand(3) * DAY : cur.first;
        const last = Math.max(cur.last, Math.min(NOW, cur.last + rand(3) * DAY));
        await d1
          .prepare(
            "UPDATE episodes SET first_seen_ms = min(first_seen_ms, ?), last_seen_ms = max(last_seen_ms, ?) WHERE id = ?",
          )
          .bind(first, last, id)
          .run();
        live.set(id, { first: Math.min(cur.first, first), last });
      } else if (op < 8) {
        // resolved, or regressed: status changes only, no span change
        await d1
          .prepare(
            "UPDATE episodes SET status = CASE status WHEN 'open' THEN 'resolved' ELSE 'open' END, regressions = regressions + (status = 'resolved') WHERE id = ?",
          )
          .bind(id)
          .run();
      } else {
        // withdrawn: a late event explained it away
        await d1.prepare("DELETE FROM episodes WHERE id = ?").bind(id).run();
        live.delete(id);
      }
    }
    expect(live.size).toBeGreaterThan(20);
    const counted = await recountDays(d1);
    expect(counted.length).toBeGreaterThan(10);
    expect(await keptDays(d1)).toEqual(counted);
    // Emptied host-days are removed, never left at zero.
    const zero = await d1.prepare("SELECT count(*) AS n FROM daily_rollups WHERE episodes <= 0").first("n");
    expect(zero).toBe(0);
    // The tables by day of last sighting, and every answer read from them.
    const sightings = await recountLastSightings(d1);
    expect(sightings.hosts.length).toBeGreaterThan(5);
    expect(await keptLastSightings(d1)).toEqual(sightings);
    await expectWindowsMatchScan(db);
  });

  it("keep the days of episodes that retention removes, and drop rollups past 400 days", async () => {
    const d1 = (await svc.mf.getD1Database("DB")) as unknown as D1Database;
    const old = NOW - 200 * DAY;
    const ancient = NOW - 401 * DAY;
    await d1.batch(
      [
        ["ep_aged", old],
        ["ep_ancient", ancient],
      ].map(([id, at]) =>
        d1
          .prepare(
            `INSERT INTO episodes (id, detector, host_id, subject, status, confidence, first_seen_ms, last_seen_ms, first_snapshot_ms, summary, evidence, updated_at_ms)
             VALUES (?, 'wrong-driver-bound', 'i-aged', ?, 'resolved', 'high', ?, ?, ?, 's', '[]', ?)`,
          )
          .bind(id, id, at, at, at, at),
      ),
    );
    const days = () =>
      d1
        .prepare(
          "SELECT day, hosts, active, started FROM detector_days WHERE detector = 'wrong-driver-bound' ORDER BY day",
        )
        .all()
        .then((r) => r.results);
    expect(await days()).toEqual([
      { day: Math.floor(ancient / DAY), hosts: 1, active: 1, started: 1 },
      { day: Math.floor(old / DAY), hosts: 1, active: 1, started: 1 },
    ]);
    const worker = await svc.mf.getWorker();
    await worker.scheduled({ cron: "0 * * * *", scheduledTime: new Date(NOW) });
    const left = await d1.prepare("SELECT count(*) AS n FROM episodes WHERE host_id = 'i-aged'").first("n");
    expect(left).toBe(0);
    expect(await days()).toEqual([{ day: Math.floor(old / DAY), hosts: 1, active: 1, started: 1 }]);
    // What answers windows follows the episodes stored: the aged-out host is gone from it.
    expect(await keptLastSightings(d1)).toEqual(await recountLastSightings(d1));
    // The hold is released: a withdrawal after retention updates the rollups again.
    expect(await d1.prepare("SELECT count(*) AS n FROM rollup_hold").first("n")).toBe(0);
  });
});
