/**
 * `npm run bench`: the performance harness. Prints a table and writes bench/results/latest.json.
 * Flags: `--only parsers,shipper,correlation,pipeline,queries` picks sections; `--parsers name,...` picks parser
 * benches; `--mb N` sets the parser input size; `--episodes N` / `--hosts N` / `--events N` size the query fleet.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { cpus } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { runCorrelationBench } from "./correlation.js";
import { costModel } from "./cost.js";
import { runParserBenches } from "./parsers.js";
import { runPipelineBench } from "./pipeline.js";
import { runQueryBench } from "./queries.js";
import { runShipperBench } from "./shipper.js";

const { values } = parseArgs({
  options: {
    only: { type: "string", default: "parsers,shipper,correlation,pipeline,queries" },
    parsers: { type: "string" },
    mb: { type: "string", default: "50" },
    runs: { type: "string", default: "3" },
    snapshots: { type: "string", default: "600" },
    hosts: { type: "string", default: "100000" },
    episodes: { type: "string", default: "1000000" },
    events: { type: "string", default: "3000000" },
  },
});
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
const sections = new Set((values.only ?? "").split(","));
const results: Record<string, unknown> = {
  machine: { node: process.version, cpus: cpus().length, at: new Date().toISOString() },
};

if (sections.has("parsers")) {
  const only = values.parsers?.split(",").filter(Boolean);
  const parsers = await runParserBenches({
    targetBytes: Number(values.mb) * 1024 * 1024,
    runs: Number(values.runs),
    ...(only ? { only } : {}),
  });
  results.parsers = parsers;
  console.table(
    Object.fromEntries(
      Object.entries(parsers).map(([k, v]) => [
        k,
        {
          "MB/s": v.mbPerSec,
          "baseline MB/s": v.baselineMbPerSec,
          ratio: v.baselineRatio,
          "parse-only MB/s": v.parseOnlyMbPerSec,
        },
      ]),
    ),
  );
}

let bundleBytes = 21_000;
if (sections.has("shipper")) {
  const shipper = await runShipperBench();
  results.shipper = shipper;
  bundleBytes = shipper.bundleBytes;
  console.table({
    "collect --root /": {
      ms: shipper.collectMs,
      "peak RSS MB": shipper.peakRssMb,
      "bundle bytes": shipper.bundleBytes,
    },
    "5,000 processes": {
      ms: shipper.syntheticHost5000.collectMs,
      "peak RSS MB": shipper.syntheticHost5000.peakRssMb,
      "bundle bytes": shipper.syntheticHost5000.bundleBytes,
    },
  });
}

if (sections.has("pipeline")) {
  const pipeline = await runPipelineBench({
    count: Number(values.snapshots),
    profileCount: Math.max(100, Math.round(Number(values.snapshots) / 3)),
    hosts: 200,
    concurrency: 16,
    saveProfileTo: fileURLToPath(new URL("./results/pipeline-worker.cpuprofile", import.meta.url)),
  });
  results.pipeline = pipeline;
  bundleBytes = pipeline.bundleBytesGz;
  console.table({
    pipeline: {
      "snapshots/s": pipeline.snapshotsPerSec,
      "workerd CPU-ms/snapshot (incl. simulators)": pipeline.cpuMsPerSnapshot,
      "Worker CPU-ms/snapshot (profiled)": pipeline.workerCpuMsPerSnapshot,
      "consumer code ms/snapshot (Node)": pipeline.workerCodeMsPerSnapshot,
      "bundle bytes gz": pipeline.bundleBytesGz,
      "bundle bytes raw": pipeline.bundleBytesJson,
    },
    "storage floor (no Worker code)": {
      "snapshots/s": pipeline.storageFloor.snapshotsPerSec,
      "workerd CPU-ms/snapshot (incl. simulators)": pipeline.storageFloor.cpuMsPerSnapshot,
    },
  });
  console.log("Worker CPU-ms per snapshot by function (self) and by source file:");
  const byFn = pipeline.workerCpuTop.selfMsPerSnapshot;
  const byFile = pipeline.workerCpuTop.byFileMsPerSnapshot;
  console.table(
    Array.from({ length: Math.min(12, Math.max(byFn.length, byFile.length)) }, (_, i) => ({
      function: byFn[i]?.[0] ?? "",
      ms: byFn[i]?.[1] ?? "",
      file: byFile[i]?.[0] ?? "",
      "file ms": byFile[i]?.[1] ?? "",
    })),
  );
  const cost = costModel({
    // Billed CPU is the Worker's own; the local simulators' share of workerd is not.
    cpuMsPerSnapshot: pipeline.workerCpuMsPerSnapshot,
    bundleBytes,
    uploadsPerHostDay: 15,
    retentionDays: 90,
    d1RowsWritten: 4,
    d1RowsRead: 12,
  });
  results.cost = cost;
  console.table({
    cost: {
      "$ per million snapshots": cost.dollarsPerMillionSnapshots,
      "$ per 1,000 hosts a month": cost.dollarsPer1000HostsMonth,
      "without change-only": cost.dollarsPer1000HostsMonthWithoutChangeOnly,
    },
  });
}

if (sections.has("correlation")) {
  const correlation = await runCorrelationBench();
  results.correlation = correlation;
  console.table(correlation.byHost);
  console.log(`correlation: ${correlation.msPerHost} ms per host view (median, view + detectors)`);
}

if (sections.has("queries")) {
  const q = await runQueryBench({
    hosts: Number(values.hosts),
    episodes: Number(values.episodes),
    events: Number(values.events),
    days: 90,
    concurrency: 8,
    requests: 400,
    coldRequests: 40,
  });
  results.queries = q.endpoints;
  results.queriesFleet = { ...q.seeded, concurrency: q.concurrency };
  console.table(
    Object.fromEntries(
      Object.entries(q.endpoints).map(([k, v]) => [
        k,
        {
          "c=1 p50/p99": `${v.byConcurrency[1]?.p50Ms} / ${v.byConcurrency[1]?.p99Ms}`,
          "c=4 p50/p99": `${v.byConcurrency[4]?.p50Ms} / ${v.byConcurrency[4]?.p99Ms}`,
          [`c=${q.concurrency} p50/p99`]: `${v.p50Ms} / ${v.p99Ms}`,
          "cold p50/p99": `${v.cold.p50Ms} / ${v.cold.p99Ms}`,
        },
      ]),
    ),
  );
  console.log(`seeded ${JSON.stringify(q.seeded)} in ${q.seeded.seedSec}s`);
}

// Sections not run this time keep their last measured values.
const latest = new URL("./results/latest.json", import.meta.url);
const previous = existsSync(latest)
  ? (JSON.parse(readFileSync(latest, "utf8")) as Record<string, unknown>)
  : {};
writeFileSync(latest, `${JSON.stringify({ ...previous, ...results }, null, 2)}\n`);
console.log("wrote bench/results/latest.json");
