/**
 * `npm run bench`: the performance harness. Prints a table and writes bench/results/latest.json.
 * Flags: `--only name[,name]` runs only those parser benches; `--mb N` sets the parser input size.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { parseArgs } from "node:util";
import { runParserBenches } from "./parsers.js";

const { values } = parseArgs({
  options: {
    only: { type: "string" },
    mb: { type: "string", default: "50" },
    runs: { type: "string", default: "3" },
  },
});

const only = values.only?.split(",").filter(Boolean);
const parsers = await runParserBenches({
  targetBytes: Number(values.mb) * 1024 * 1024,
  runs: Number(values.runs),
  ...(only ? { only } : {}),
});

const results = {
  machine: {
    node: process.version,
    cpus: (await import("node:os")).cpus().length,
    at: new Date().toISOString(),
  },
  parsers,
};

console.table(
  Object.fromEntries(
    Object.entries(parsers).map(([k, v]) => [
      k,
      { "MB/s": v.mbPerSec, "baseline MB/s": v.baselineMbPerSec, ratio: v.baselineRatio },
    ]),
  ),
);
mkdirSync(new URL("./results/", import.meta.url), { recursive: true });
writeFileSync(new URL("./results/latest.json", import.meta.url), `${JSON.stringify(results, null, 2)}\n`);
console.log("wrote bench/results/latest.json");
