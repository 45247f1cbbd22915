/**
 * Migrations applied to a database that already holds episodes: each rollup migration's backfill must
 * leave its tables exactly as its triggers would have kept them, and the triggers take over from there.
 */
import { cpSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { D1Database } from "@cloudflare/workers-types";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { applyMigrations } from "../../infra/node/migrations.js";
import { startBareD1 } from "../support/bare-d1.js";
import { keptDays, keptLastSightings, recountDays, recountLastSightings } from "../support/rollups.js";

const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 26, 12);
const DIR = "infra/migrations";

let mf: Miniflare;
let d1: D1Database;
let partial: string;

beforeAll(async () => {
  ({ mf, d1 } = await startBareD1());
  partial = mkdtempSync(join(tmpdir(), "fl-migrations-"));
});
afterAll(async () => {
  await mf?.dispose();
  rmSync(partial, { recursive: true, force: true });
});

/** Copies the migrations up to and including `last` into the scratch folder. */
function migrationsUpTo(last: string): string {
  for (const f of readdirSync(DIR).filter((f) => f.endsWith(".sql") && f <= last)) {
    cpSync(join(DIR, f), join(partial, f));
  }
  return partial;
}

/** Episodes over 30 days on 7 hosts and 4 detectors, some regressed, spans of up to 3 days. */
async function insertEpisodes(from: number, count: number) {
  const detectors = ["reattach-bdf-race", "orphan-globalmount", "trace-blind-spot", "driverless-bdf"];
  const rows = Array.from({ length: count }, (_, k) => {
    const i = from + k;
    const first = NOW - ((i * 7919) % 30) * DAY - ((i * 104_729) % DAY);
    const last = Math.min(NOW, first + ((i * 31) % 4) * DAY + ((i * 8191) % DAY));
    return d1
      .prepare(
        `INSERT INTO episodes (id, detector, host_id, subject, status, confidence, first_seen_ms, last_seen_ms,
                               first_snapshot_ms, regressions, summary, evidence, updated_at_ms)
         VALUES (?, ?, ?, ?, 'resolved', 'high', ?, ?, ?, ?, 's', '[]', ?)`,
      )
      .bind(
        `ep_${i}`,
        detectors[i % 4],
        `i-${(i * 13) % 7}`,
        `s${i}`,
        first,
        last,
        first,
        i % 9 === 0 ? 1 : 0,
        last,
      );
  });
  await d1.batch(rows);
}

describe("rollup migrations on a database with episodes", () => {
  it("backfill what the triggers would have kept, then keep it", async () => {
    expect(await applyMigrations(d1, migrationsUpTo("0000_zzz"))).toEqual(["0000_init.sql"]);
    await insertEpisodes(0, 300);
    // 0001 backfills the daily rollups
    expect(await applyMigrations(d1, migrationsUpTo("0001_zzz"))).toEqual(["0001_rollups.sql"]);
    const days = await recountDays(d1);
    expect(days.length).toBeGreaterThan(50);
    expect(await keptDays(d1)).toEqual(days);
    await insertEpisodes(300, 100);
    // three of the seven hosts have their hosts row: later backfills copy their attributes
    await d1.batch(
      [0, 1, 2].map((h) =>
        d1
          .prepare(
            `INSERT INTO hosts (host_id, first_seen_ms, last_seen_ms, view_captured_at_ms, latest_snapshot_key, zone, kernel_release)
             VALUES (?, ?, ?, ?, 'k', ?, '6.6.71')`,
          )
          .bind(`i-${h}`, NOW, NOW, NOW, `zone-${h}`),
      ),
    );
    // every later migration: the rest of the tables, backfilled from 400 episodes
    const rest = readdirSync(DIR).filter((f) => f.endsWith(".sql") && f > "0001_zzz");
    expect(rest.length).toBeGreaterThan(0);
    expect(await applyMigrations(d1, DIR)).toEqual(rest);
    const sightings = await recountLastSightings(d1);
    expect(sightings.hosts.length).toBe(28);
    expect(await keptLastSightings(d1)).toEqual(sightings);
    expect(sightings.hosts.filter((h) => h.has_host === 1).length).toBe(12);
    expect(await keptDays(d1)).toEqual(await recountDays(d1));
    // and the triggers carry on from the backfilled rows
    await insertEpisodes(400, 50);
    await d1.prepare("DELETE FROM episodes WHERE id IN ('ep_1', 'ep_2', 'ep_3')").run();
    await d1.prepare(`UPDATE episodes SET last_seen_ms = ${NOW} WHERE id = 'ep_10'`).run();
    expect(await keptLastSightings(d1)).toEqual(await recountLastSightings(d1));
    expect(await keptDays(d1)).toEqual(await recountDays(d1));
  });
});
