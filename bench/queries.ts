/**
 * Query latency at fleet scale: a D1 database (miniflare, persisted to disk) seeded with 100,000 hosts
 * and 1,000,000 episodes over 90 days, queried through the local service by concurrent clients.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { startLocalService } from "../infra/node/local-service.js";
import { DETECTOR_IDS } from "../shared/detect/types.js";

const TOKEN = "fl_bench_admin_token";
const DAY = 86_400_000;

export interface LatencyResult {
  p50Ms: number;
  p99Ms: number;
  requests: number;
  perSec: number;
}

function percentile(sorted: number[], p: number): number {
  return (
    Math.round((sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? 0) * 10) / 10
  );
}

/** Seeds the fleet, then measures each endpoint with `concurrency` clients for `requests` requests. */
export async function runQueryBench(opts: {
  hosts: number;
  episodes: number;
  days: number;
  concurrency: number;
  requests: number;
}) {
  const stateDir = mkdtempSync(join(tmpdir(), "fl-bench-queries-"));
  const svc = await startLocalService({ stateDir, quiet: true, vars: { FAULTLINE_ADMIN_TOKEN: TOKEN } });
  try {
    const d1 = await svc.mf.getD1Database("DB");
    const now = Date.UTC(2026, 10, 26);
    const seedStarted = performance.now();
    // Hosts: 10 columns -> 10 rows per statement under the 100-parameter limit.
    const kernels = [
      "5.10.134-16.al8.x86_64",
      "5.10.134-17.2.al8.x86_64",
      "6.6.71-3.al8.x86_64",
      "4.19.91-27.al7.x86_64",
    ];
    let stmts = [];
    for (let i = 0; i < opts.hosts; i += 10) {
      const rows = Math.min(10, opts.hosts - i);
      const values = [];
      for (let r = 0; r < rows; r++) {
        const n = i + r;
        values.push(
          `i-${n.toString(36).padStart(6, "0")}`,
          now - 90 * DAY,
          now,
          now,
          `snapshots/k/${n}`,
          kernels[n % 4],
          "{}",
          `zone-${n % 6}`,
          n % 3 ? "nvme" : "nvme,vfio-pci",
          "{}",
        );
      }
      stmts.push(
        d1
          .prepare(
            `INSERT INTO hosts (host_id, first_seen_ms, last_seen_ms, view_captured_at_ms, latest_snapshot_key, kernel_release, labels, zone, disk_drivers, view_summary) VALUES ${Array(rows).fill("(?,?,?,?,?,?,?,?,?,?)").join(",")}`,
          )
          .bind(...values),
      );
      if (stmts.length >= 200) {
        await d1.batch(stmts);
        stmts = [];
      }
    }
    if (stmts.length) await d1.batch(stmts);
    // Episodes: skewed so some detectors and hosts dominate, as a real fleet would be; 12 columns -> 8 rows.
    let seed = 42;
    const rand = () => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed / 0x7fffffff;
    };
    stmts = [];
    for (let i = 0; i < opts.episodes; i += 8) {
      const rows = Math.min(8, opts.episodes - i);
      const values = [];
      for (let r = 0; r < rows; r++) {
        const n = i + r;
        const detector = DETECTOR_IDS[Math.floor(rand() ** 2 * DETECTOR_IDS.length)] as string;
        const host = `i-${Math.floor(rand() ** 3 * opts.hosts)
          .toString(36)
          .padStart(6, "0")}`;
        const first = now - Math.floor(rand() * opts.days * DAY);
        const last = Math.min(now, first + Math.floor(rand() * 2 * DAY));
        const open = last === now || rand() < 0.05;
        values.push(
          `ep_${n.toString(36)}`,
          detector,
          host,
          `subject-${n}`,
          open ? "open" : "resolved",
          "high",
          first,
          last,
          first,
          open ? null : last,
          `summary ${n}`,
          last,
        );
      }
      stmts.push(
        d1
          .prepare(
            `INSERT INTO episodes (id, detector, host_id, subject, status, confidence, first_seen_ms, last_seen_ms, first_snapshot_ms, resolved_at_ms, summary, updated_at_ms, evidence) VALUES ${Array(rows).fill("(?,?,?,?,?,?,?,?,?,?,?,?,'[]')").join(",")}`,
          )
          .bind(...values),
      );
      if (stmts.length >= 200) {
        await d1.batch(stmts);
        stmts = [];
      }
    }
    if (stmts.length) await d1.batch(stmts);
    await d1.prepare("ANALYZE").run();
    const seedSec = Math.round((performance.now() - seedStarted) / 100) / 10;

    const since = new Date(now - 7 * DAY).toISOString();
    const until = new Date(now).toISOString();
    const endpoints: Record<string, string> = {
      patterns: `/v1/patterns?since=${since}&until=${until}`,
      patterns90d: `/v1/patterns?since=${new Date(now - 90 * DAY).toISOString()}&until=${until}`,
      patternHosts: `/v1/patterns/reattach-bdf-race/hosts?since=${since}&until=${until}&limit=100`,
      breakdown: `/v1/patterns/reattach-bdf-race/breakdown?by=kernel&since=${since}&until=${until}`,
      timeline: `/v1/patterns/reattach-bdf-race/timeline?since=${since}&until=${until}`,
      incidents: `/v1/incidents?detector=reattach-bdf-race&status=open&limit=100`,
    };
    const results: Record<string, LatencyResult> = {};
    for (const [name, path] of Object.entries(endpoints)) {
      const url = new URL(path, svc.url);
      const lat: number[] = [];
      let sent = 0;
      const t0 = performance.now();
      await Promise.all(
        Array.from({ length: opts.concurrency }, async () => {
          while (sent++ < opts.requests) {
            const s = performance.now();
            const res = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
            await res.arrayBuffer();
            if (res.status !== 200) throw new Error(`${name}: ${res.status}`);
            lat.push(performance.now() - s);
          }
        }),
      );
      const elapsed = (performance.now() - t0) / 1000;
      lat.sort((a, b) => a - b);
      results[name] = {
        p50Ms: percentile(lat, 50),
        p99Ms: percentile(lat, 99),
        requests: lat.length,
        perSec: Math.round(lat.length / elapsed),
      };
    }
    return {
      seeded: { hosts: opts.hosts, episodes: opts.episodes, days: opts.days, seedSec },
      concurrency: opts.concurrency,
      endpoints: results,
    };
  } finally {
    await svc.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
