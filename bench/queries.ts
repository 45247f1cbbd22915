/**
 * Query latency at fleet scale: a D1 database (miniflare, persisted to disk) seeded with 100,000 hosts,
 * 1,000,000 episodes over 90 days and the 72 h of control-plane events docs/storage.md keeps (3 M),
 * queried through the local service by concurrent clients (autocannon, in its own process).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { promisify } from "node:util";
import { startLocalService } from "../infra/node/local-service.js";
import { DETECTOR_IDS } from "../shared/detect/types.js";

const TOKEN = "fl_bench_admin_token";
const DAY = 86_400_000;
const run = promisify(execFile);
const AUTOCANNON = join(
  dirname(createRequire(import.meta.url).resolve("autocannon/package.json")),
  "autocannon.js",
);

/** The parts of autocannon's `-j` report used here (latencies in ms, whole milliseconds). */
interface AutocannonResult {
  latency: { p50: number; p99: number };
  requests: { total: number };
  duration: number;
  non2xx: number;
  errors: number;
  timeouts: number;
}

/**
 * Seeds the fleet inside SQLite: each statement generates up to 100,000 rows from a recursive series,
 * so a million episodes take seconds instead of millions of bound parameters crossing into workerd.
 * Values come from a deterministic integer hash of the row number (the same fleet every run), skewed
 * like a real fleet: a few detectors and a few hosts carry most of the episodes.
 */
export async function seedFleet(
  exec: (sql: string) => Promise<unknown>,
  opts: { hosts: number; episodes: number; events: number; days: number; now: number },
): Promise<void> {
  const CHUNK = 100_000;
  // u(salt): a uniform value in [0, 1) from the row number, by a multiplicative hash modulo the prime
  // 2^31 - 1 with its own multiplier per salt. (One multiplier with a per-salt offset made every value a
  // shift of the others: the busiest host also had the busiest detector and the newest episodes.)
  const MULTIPLIERS = [
    1_103_515_245, 2_654_435_761, 2_246_822_519, 3_266_489_917, 668_265_263, 374_761_393, 2_870_177_450,
  ];
  // salts are 1..7
  const u = (salt: number) => `(((n * ${MULTIPLIERS[salt - 1]} + 12345) % 2147483647) / 2147483647.0)`;
  const series = (from: number, to: number) =>
    `WITH RECURSIVE s(n) AS (SELECT ${from} UNION ALL SELECT n + 1 FROM s WHERE n < ${to - 1})`;
  const hostId = (expr: string) => `'i-' || printf('%07d', ${expr})`;
  const kernels = `CASE n % 4 WHEN 0 THEN '5.10.134-16.al8.x86_64' WHEN 1 THEN '5.10.134-17.2.al8.x86_64' WHEN 2 THEN '6.6.71-3.al8.x86_64' ELSE '4.19.91-27.al7.x86_64' END`;
  for (let from = 0; from < opts.hosts; from += CHUNK) {
    const to = Math.min(opts.hosts, from + CHUNK);
    await exec(`${series(from, to)}
      INSERT INTO hosts (host_id, first_seen_ms, last_seen_ms, view_captured_at_ms, latest_snapshot_key,
                         kernel_release, labels, zone, instance_type, disk_drivers, view_summary)
      SELECT ${hostId("n")}, ${opts.now - opts.days * DAY}, ${opts.now}, ${opts.now},
             'snapshots/' || ${hostId("n")} || '/latest', ${kernels}, '{}', 'zone-' || (n % 6),
             CASE n % 5 WHEN 0 THEN 'ecs.g7se.4xlarge' ELSE 'ecs.g7.2xlarge' END,
             CASE n % 3 WHEN 0 THEN 'nvme,vfio-pci' ELSE 'nvme' END, '{}'
      FROM s`);
  }
  const detectors = DETECTOR_IDS.map((d, i) => `WHEN ${i} THEN '${d}'`).join(" ");
  for (let from = 0; from < opts.episodes; from += CHUNK) {
    const to = Math.min(opts.episodes, from + CHUNK);
    // first: uniform over the window; last: within two days of first; 5% still open.
    await exec(`${series(from, to)}, e AS (
        SELECT n,
               CASE CAST(${u(1)} * ${u(1)} * ${DETECTOR_IDS.length} AS INTEGER) ${detectors} END AS detector,
               ${hostId(`CAST(${u(2)} * ${u(2)} * ${u(2)} * ${opts.hosts} AS INTEGER)`)} AS host_id,
               ${opts.now} - CAST(${u(3)} * ${opts.days * DAY} AS INTEGER) AS first
        FROM s)
      INSERT INTO episodes (id, detector, host_id, subject, status, confidence, first_seen_ms, last_seen_ms,
                            first_snapshot_ms, resolved_at_ms, regressions, summary, evidence, updated_at_ms)
      SELECT 'ep_' || n, detector, host_id, 'subject-' || n,
             CASE WHEN ${u(5)} < 0.05 THEN 'open' ELSE 'resolved' END, 'high',
             first, min(${opts.now}, first + CAST(${u(4)} * ${2 * DAY} AS INTEGER)), first,
             CASE WHEN ${u(5)} < 0.05 THEN NULL ELSE min(${opts.now}, first + CAST(${u(4)} * ${2 * DAY} AS INTEGER)) END,
             CASE WHEN ${u(6)} < 0.02 THEN 1 ELSE 0 END,
             detector || ' on ' || host_id, '[]', first
      FROM e`);
  }
  // Control-plane events for the 72 h correlation window docs/storage.md keeps (10 per host a day).
  for (let from = 0; from < opts.events; from += CHUNK) {
    const to = Math.min(opts.events, from + CHUNK);
    await exec(`${series(from, to)}, e AS (
        SELECT n, ${hostId(`n % ${opts.hosts}`)} AS host_id,
               ${opts.now} - CAST(${u(7)} * ${3 * DAY} AS INTEGER) AS at,
               CASE n % 2 WHEN 0 THEN 'attach' ELSE 'detach' END AS type,
               'd-' || printf('%012x', n / 2) AS disk,
               printf('0000:%02x:%02x.%d', 16 + n % 64, n % 32, n % 8) AS bdf
        FROM s)
      INSERT INTO control_plane_events (id, instance_id, type, outcome, disk_id, bdf, serial, mode, at_ms,
                                        received_at_ms, via, raw)
      SELECT 'ev-' || n, host_id, type, 'succeeded', disk, bdf, 'SN' || n, 'host', at, at + 1500, 'sqs',
             json_object('id', 'ev-' || n, 'type', type, 'diskId', disk, 'instanceId', host_id, 'bdf', bdf,
                         'serial', 'SN' || n, 'mode', 'host', 'at', strftime('%Y-%m-%dT%H:%M:%fZ', at / 1000.0, 'unixepoch'))
      FROM e`);
  }
}

export interface LatencyResult {
  p50Ms: number;
  p99Ms: number;
  requests: number;
  perSec: number;
}

/** Seeds the fleet, then measures each endpoint with `concurrency` clients for `requests` requests. */
export async function runQueryBench(opts: {
  hosts: number;
  episodes: number;
  events: number;
  days: number;
  concurrency: number;
  requests: number;
  coldRequests: number;
}) {
  const stateDir = mkdtempSync(join(tmpdir(), "fl-bench-queries-"));
  const svc = await startLocalService({ stateDir, quiet: true, vars: { FAULTLINE_ADMIN_TOKEN: TOKEN } });
  try {
    const d1 = await svc.mf.getD1Database("DB");
    const now = Date.UTC(2026, 10, 26);
    const seedStarted = performance.now();
    await seedFleet((sql) => d1.prepare(sql).run(), { ...opts, now });
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
    // Each endpoint twice: as a dashboard sees it (the same question repeated; the isolate's answer
    // cache serves all but the first) and cold (`Cache-Control: no-cache`: every request runs the SQL).
    // Load comes from autocannon in its own process, so the client's work and pauses are not in this
    // process's event loop (a fetch loop here added up to 60 ms to the p99 of /healthz alone).
    const measure = async (
      path: string,
      headers: Record<string, string>,
      requests: number,
      concurrency = opts.concurrency,
    ): Promise<LatencyResult> => {
      const url = new URL(path, svc.url).href;
      const args = [AUTOCANNON, "-j", "-c", String(Math.min(concurrency, requests)), "-a", String(requests)];
      for (const [k, v] of Object.entries({ authorization: `Bearer ${TOKEN}`, ...headers }))
        args.push("-H", `${k}=${v}`);
      const { stdout } = await run(process.execPath, [...args, url], { maxBuffer: 1 << 26 });
      const r = JSON.parse(stdout) as AutocannonResult;
      if (r.non2xx || r.errors || r.timeouts) {
        throw new Error(`${path}: ${r.non2xx} non-2xx, ${r.errors} errors, ${r.timeouts} timeouts`);
      }
      return {
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        requests: r.requests.total,
        perSec: Math.round(r.requests.total / r.duration),
      };
    };
    const results: Record<
      string,
      LatencyResult & {
        byConcurrency: Record<string, LatencyResult>;
        cold: LatencyResult & { error?: string };
      }
    > = {};
    for (const [name, path] of Object.entries(endpoints)) {
      await measure(path, {}, 1); // the first asker pays the query; `cold` below measures that cost
      const hot = await measure(path, {}, opts.requests);
      // The same at lower concurrency: on 2 cores the load generator and workerd share the CPU, so the
      // tail at `concurrency` is mostly queueing, and these show the service time underneath it.
      const byConcurrency: Record<string, LatencyResult> = {};
      for (const c of [1, 4].filter((c) => c < opts.concurrency)) {
        byConcurrency[c] = await measure(path, {}, opts.requests, c);
      }
      // Cold is one SRE asking a new question: one client, so D1's single writer does not queue them.
      const cold = await measure(path, { "cache-control": "no-cache" }, opts.coldRequests, 1).catch(
        (err: unknown) => ({ p50Ms: -1, p99Ms: -1, requests: 0, perSec: 0, error: String(err) }),
      );
      results[name] = { ...hot, byConcurrency, cold };
    }
    return {
      seeded: { hosts: opts.hosts, episodes: opts.episodes, events: opts.events, days: opts.days, seedSec },
      concurrency: opts.concurrency,
      endpoints: results,
    };
  } finally {
    await svc.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  }
}
