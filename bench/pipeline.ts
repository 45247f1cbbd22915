/**
 * End-to-end pipeline throughput through the local service (miniflare: real R2, D1, Queues): POST
 * realistic snapshots with 16 concurrent clients and wait until the consumer has parsed, correlated and
 * stored every one. CPU-ms per snapshot is the workerd process's CPU time over the run divided by the
 * snapshots (ingest request + consumer), read from /proc. The Worker's own CPU comes from a V8 profile of
 * its isolate over a second, profiled run (bench/worker-profile.ts).
 */
import { createHash } from "node:crypto";
import { mkdtempSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";
import type { D1Database } from "@cloudflare/workers-types";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { localServiceOptions, startLocalService } from "../infra/node/local-service.js";
import { applyMigrations } from "../infra/node/migrations.js";
import { type SnapshotBundle, validateBundle } from "../shared/contracts/snapshot.js";
import { runDetectors } from "../shared/detect/registry.js";
import { analyzeSnapshot } from "../shared/pipeline/analyze.js";
import { collectBundle } from "../shipper/collect.js";
import { kubernetesNodeHost, writeHostTree } from "../test/support/host-tree.js";
import { profileWorker } from "./worker-profile.js";

const TOKEN = "fl_bench_admin_token";
const TICKS_PER_SEC = 100;

/** CPU seconds used so far by the workerd processes this process started. */
function workerdCpuSec(): number {
  let ticks = 0;
  for (const pid of readdirSync("/proc").filter((d) => /^\d+$/.test(d))) {
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
      const close = stat.lastIndexOf(")");
      const comm = stat.slice(stat.indexOf("(") + 1, close);
      const fields = stat.slice(close + 2).split(" ");
      if (comm === "workerd" && Number(fields[1]) === process.pid)
        ticks += Number(fields[11]) + Number(fields[12]);
    } catch {
      // exited while listing
    }
  }
  return ticks / TICKS_PER_SEC;
}

export interface PipelineResult {
  snapshotsPerSec: number;
  /** The whole workerd process: the Worker plus the local R2, D1 and Queues simulators. */
  cpuMsPerSnapshot: number;
  /**
   * The consumer's own computation (gunzip, JSON, validate, host view, detectors) on the same bundle,
   * median in Node's V8: a lower bound of the Worker's billed CPU, without the simulators.
   */
  workerCodeMsPerSnapshot: number;
  /**
   * The Worker's own CPU in workerd per snapshot (ingest request + consumer), without the simulators:
   * sampled by V8's profiler over the profiled run (bench/worker-profile.ts).
   */
  workerCpuMsPerSnapshot: number;
  /** The part of workerCpuMsPerSnapshot spent in garbage collection. */
  workerGcMsPerSnapshot: number;
  /** Where the Worker's CPU goes: the top functions by self and by inclusive time, ms per snapshot. */
  workerCpuTop: {
    selfMsPerSnapshot: [string, number][];
    inclusiveMsPerSnapshot: [string, number][];
    byFileMsPerSnapshot: [string, number][];
  };
  /**
   * The same load through the same local R2, D1 and Queues with a stand-in Worker that only makes the
   * binding calls (bench/storage-floor.worker.js): the most snapshots per second any Worker could reach
   * on this machine's simulators, and the workerd CPU they take per snapshot.
   */
  storageFloor: { snapshotsPerSec: number; cpuMsPerSnapshot: number };
  snapshots: number;
  profiledSnapshots: number;
  bundleBytesGz: number;
  bundleBytesJson: number;
  concurrency: number;
}

type Body = { gz: Buffer; hostId: string; capturedAtMs: number };

/**
 * POSTs `items` to the service at `url` with `concurrency` clients, the same request the shipper makes
 * (shipper/upload-http.ts), then waits until `doneAfter` snapshots are decided.
 */
async function driveSnapshots(args: {
  url: URL;
  d1: D1Database;
  items: readonly Body[];
  doneAfter: number;
  concurrency: number;
}): Promise<void> {
  const url = new URL("/v1/snapshots", args.url);
  let next = 0;
  await Promise.all(
    Array.from({ length: args.concurrency }, async () => {
      for (let i = next++; i < args.items.length; i = next++) {
        const item = args.items[i] as Body;
        const res = await fetch(url, {
          method: "POST",
          body: new Uint8Array(item.gz),
          headers: {
            authorization: `Bearer ${TOKEN}`,
            "content-type": "application/json",
            "content-encoding": "gzip",
            "x-faultline-sha256": createHash("sha256").update(item.gz).digest("hex"),
            "x-faultline-host-id": encodeURIComponent(item.hostId),
            "x-faultline-captured-at": String(item.capturedAtMs),
          },
        });
        if (res.status !== 201) throw new Error(`ingest answered ${res.status}: ${await res.text()}`);
      }
    }),
  );
  for (;;) {
    const row = await args.d1
      .prepare("SELECT count(*) AS n FROM snapshots WHERE status IN ('parsed','rejected')")
      .first<{ n: number }>();
    if ((row?.n ?? 0) >= args.doneAfter) break;
    await new Promise((r) => setTimeout(r, 20));
  }
}

/**
 * The storage floor: `items` through the local service's own bindings (same wrangler.toml, same
 * migrations, state on disk as in the timed run) with bench/storage-floor.worker.js in place of the Worker.
 */
async function runStorageFloor(items: readonly Body[], concurrency: number) {
  const stateDir = mkdtempSync(join(tmpdir(), "fl-bench-floor-"));
  const mf = new Miniflare({
    ...localServiceOptions({ stateDir, quiet: true, queueBatchTimeout: 0 }),
    scriptPath: fileURLToPath(new URL("./storage-floor.worker.js", import.meta.url)),
  } as MiniflareOptions);
  try {
    const url = await mf.ready;
    const d1 = await mf.getD1Database("DB");
    await applyMigrations(d1, resolve("infra/migrations"));
    const cpu0 = workerdCpuSec();
    const t0 = performance.now();
    await driveSnapshots({ url, d1, items, doneAfter: items.length, concurrency });
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = workerdCpuSec() - cpu0;
    return {
      snapshotsPerSec: Math.round(items.length / elapsed),
      cpuMsPerSnapshot: Math.round((cpu * 1000 * 100) / items.length) / 100,
    };
  } finally {
    await mf.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  }
}

/** Runs the pipeline benchmark with `count` snapshots from `hosts` distinct hosts. */
export async function runPipelineBench(opts: {
  count: number;
  /** Snapshots sent after the timed run with the Worker's CPU profiler on. */
  profileCount: number;
  hosts: number;
  concurrency: number;
  /** Keep the raw V8 profile (open it in DevTools' Performance panel). */
  saveProfileTo?: string;
}): Promise<PipelineResult> {
  // A busy Kubernetes node (about 50 KB gzipped), collected by the real shipper from a synthetic tree:
  // this machine's own bundle is a third of that and has no pods, CSI disks or kernel traces.
  const tree = mkdtempSync(join(tmpdir(), "fl-bench-host-"));
  let base: SnapshotBundle;
  try {
    await writeHostTree(tree, kubernetesNodeHost());
    ({ bundle: base } = await collectBundle({
      root: tree,
      hostId: "i-bench",
      nsenter: null,
      version: "bench",
    }));
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
  const bodies: Body[] = [];
  let jsonBytes = 0;
  for (let i = 0; i < opts.count + opts.profileCount; i++) {
    const b: SnapshotBundle = {
      ...base,
      hostId: `i-bench-${String(i % opts.hosts).padStart(5, "0")}`,
      labels: { zone: `zone-${i % 3}`, instanceType: i % 2 ? "ecs.g7.2xlarge" : "ecs.ebmg7.32xlarge" },
      capture: {
        ...base.capture,
        startedAtMs: base.capture.startedAtMs + i * 1000,
        finishedAtMs: base.capture.finishedAtMs + i * 1000,
      },
    };
    const json = Buffer.from(JSON.stringify(b));
    jsonBytes += json.length;
    bodies.push({ gz: gzipSync(json), hostId: b.hostId, capturedAtMs: b.capture.startedAtMs });
  }
  const codeMs: number[] = [];
  const sample = bodies[0]?.gz ?? Buffer.alloc(0);
  // The first 100 runs warm the JIT up (their median read 8.5 ms where a warm run takes about 6); the
  // next 100 are measured.
  for (let i = 0; i < 200; i++) {
    const t0 = performance.now();
    const checked = validateBundle(JSON.parse(gunzipSync(sample, { maxOutputLength: 64 << 20 }).toString()));
    if (!checked.success) throw new Error("bench bundle does not validate");
    const analysis = analyzeSnapshot({ bundle: checked.data, key: "k" });
    runDetectors({ view: analysis.view, events: [] });
    if (i >= 100) codeMs.push(performance.now() - t0);
  }
  codeMs.sort((a, b) => a - b);
  const stateDir = mkdtempSync(join(tmpdir(), "fl-bench-pipeline-"));
  const svc = await startLocalService({
    stateDir,
    quiet: true,
    queueBatchTimeout: 0,
    vars: { FAULTLINE_ADMIN_TOKEN: TOKEN },
    inspectorPort: 0,
  });
  const timed = bodies.slice(0, opts.count);
  let result: Omit<PipelineResult, "storageFloor">;
  try {
    const d1 = await svc.mf.getD1Database("DB");
    const drive = (items: Body[], doneAfter: number) =>
      driveSnapshots({ url: svc.url, d1, items, doneAfter, concurrency: opts.concurrency });
    // Timed run without the profiler; then a shorter profiled run over the same hosts.
    const profiled = bodies.slice(opts.count);
    const cpu0 = workerdCpuSec();
    const t0 = performance.now();
    await drive(timed, timed.length);
    const elapsed = (performance.now() - t0) / 1000;
    const cpu = workerdCpuSec() - cpu0;
    const worker = await profileWorker({
      inspector: await svc.mf.getInspectorURL(),
      workerName: "faultline",
      sourceMapPath: resolve("dist/worker.mjs.map"),
      ...(opts.saveProfileTo ? { saveTo: opts.saveProfileTo } : {}),
      work: () => drive(profiled, bodies.length),
    });
    const rejected = await d1
      .prepare("SELECT count(*) AS n FROM snapshots WHERE status = 'rejected'")
      .first<{ n: number }>();
    if (rejected?.n) throw new Error(`${rejected.n} snapshots were rejected`);
    const perSnapshot = (ms: number) => Math.round((ms * 100) / profiled.length) / 100;
    result = {
      snapshotsPerSec: Math.round(timed.length / elapsed),
      cpuMsPerSnapshot: Math.round((cpu * 1000 * 100) / timed.length) / 100,
      workerCpuMsPerSnapshot: perSnapshot(worker.busyMs),
      workerGcMsPerSnapshot: perSnapshot(worker.gcMs),
      workerCodeMsPerSnapshot: Math.round((codeMs[50] ?? 0) * 100) / 100,
      workerCpuTop: {
        selfMsPerSnapshot: worker.selfMs.map(([k, v]) => [k, perSnapshot(v)]),
        inclusiveMsPerSnapshot: worker.inclusiveMs.map(([k, v]) => [k, perSnapshot(v)]),
        byFileMsPerSnapshot: worker.byFileMs.map(([k, v]) => [k, perSnapshot(v)]),
      },
      snapshots: timed.length,
      profiledSnapshots: profiled.length,
      bundleBytesGz: Math.round(timed.reduce((s, b) => s + b.gz.length, 0) / timed.length),
      bundleBytesJson: Math.round(jsonBytes / bodies.length),
      concurrency: opts.concurrency,
    };
  } finally {
    await svc.dispose();
    rmSync(stateDir, { recursive: true, force: true });
  }
  // After the service has stopped, so the two workerd processes never share the machine.
  return { ...result, storageFloor: await runStorageFloor(timed, opts.concurrency) };
}
