/**
 * Shipper benchmark: the real CLI (`node bin/faultline.mjs collect ... --stats`, built by `npm run build`)
 * on this machine (`--root /`) and on a synthetic host with 5,000 processes. The CLI reports its own
 * wall time and peak RSS (its own and its collector child's); nothing here asserts a time.
 * Run alone with `npx tsx bench/shipper.ts`.
 */
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { manyProcessesHost, writeHostTree } from "../test/support/host-tree.js";

const REPO = resolve(import.meta.dirname, "..");

interface CliStats {
  totalMs: number;
  collectMs: number;
  bundleBytes: number;
  peakRssMb: number;
  entries: number;
}

export interface ShipperRun {
  /** The CLI's own wall time for the whole command (args, collector child, capture, gzip, write). */
  collectMs: number;
  /** Peak RSS of the larger of the two processes (CLI and its collector child). */
  peakRssMb: number;
  bundleBytes: number;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)] ?? Number.NaN;
}

/** Runs `collect --stats` `runs` times and keeps the median time and the largest RSS. */
function measure(root: string, runs: number, log: (line: string) => void): ShipperRun {
  const out = join(mkdtempSync(join(tmpdir(), "faultline-bench-")), "bundle.json.gz");
  const stats: CliStats[] = [];
  try {
    for (let i = 0; i < runs; i++) {
      const r = spawnSync(
        process.execPath,
        [
          join(REPO, "bin/faultline.mjs"),
          "collect",
          "--root",
          root,
          "--host-id",
          "i-bench",
          "--out",
          out,
          "--stats",
        ],
        { encoding: "utf8", timeout: 300_000 },
      );
      if (r.status !== 0) throw new Error(`faultline collect failed (${r.status}): ${r.stderr}`);
      const last = r.stderr.trim().split("\n").at(-1) ?? "";
      const s: CliStats = JSON.parse(last);
      stats.push(s);
      log(
        `  ${root}: total ${s.totalMs} ms, capture ${s.collectMs} ms, ${s.entries} entries, ${s.bundleBytes} bytes, peak ${s.peakRssMb} MB`,
      );
    }
  } finally {
    rmSync(join(out, ".."), { recursive: true, force: true });
  }
  return {
    collectMs: median(stats.map((s) => s.totalMs)),
    peakRssMb: Math.max(...stats.map((s) => s.peakRssMb)),
    bundleBytes: median(stats.map((s) => s.bundleBytes)),
  };
}

/** Measures the real CLI on this machine and on a synthetic 5,000-process host. */
export async function runShipperBench(
  log: (line: string) => void = (l) => process.stderr.write(`${l}\n`),
): Promise<{
  collectMs: number;
  peakRssMb: number;
  bundleBytes: number;
  syntheticHost5000: { collectMs: number; peakRssMb: number; bundleBytes: number };
}> {
  if (!existsSync(join(REPO, "dist/faultline.mjs")))
    throw new Error("dist/faultline.mjs is missing: run `npm run build`");
  const real = measure("/", 5, log);
  const tree = mkdtempSync(join(tmpdir(), "faultline-bench-host-"));
  try {
    await writeHostTree(tree, manyProcessesHost(5000));
    const synthetic = measure(tree, 3, log);
    return { ...real, syntheticHost5000: synthetic };
  } finally {
    rmSync(tree, { recursive: true, force: true });
  }
}

if (process.argv[1] !== undefined && import.meta.url === pathToFileURL(process.argv[1]).href) {
  console.log(JSON.stringify(await runShipperBench(), null, 2));
}
