/**
 * Parser throughput: MB/s per parser on at least 50 MB of generated input, and the ratio to a baseline
 * run on the same bytes in the same process (decode the buffer, split it into lines, touch each line).
 * Both sides include the UTF-8 decode, since parsers receive text decoded from the bundle. The parser's
 * own speed on an already decoded string (`parseOnlyMbPerSec`) is reported beside them: on machines where
 * the decode is mostly page faults it tells the parser's work apart from the machine's (README).
 */
import { readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import type { ParserBench } from "./types.js";

export interface ParserResult {
  mbPerSec: number;
  /** The parse alone, on a string decoded beforehand. */
  parseOnlyMbPerSec: number;
  baselineMbPerSec: number;
  baselineRatio: number;
  inputMb: number;
}

const MB = 1024 * 1024;

/**
 * The best time of each function over `runs` rounds, the functions taking turns within each round: a
 * change in the machine's state (other load, memory pressure) between one side of a ratio and the other
 * then shows in both.
 */
function bestOfEach(runs: number, fns: readonly (() => void)[]): number[] {
  const best = fns.map(() => Number.POSITIVE_INFINITY);
  for (let i = 0; i < runs; i++) {
    fns.forEach((fn, j) => {
      globalThis.gc?.();
      const t0 = performance.now();
      fn();
      best[j] = Math.min(best[j] ?? Number.POSITIVE_INFINITY, performance.now() - t0);
    });
  }
  return best;
}

let sink = 0;

function baseline(buf: Buffer): void {
  const lines = buf.toString("utf8").split("\n");
  for (const line of lines) sink += line.length;
}

/** Loads every bench/parsers/*.ts module and runs its benches (optionally only names in `only`). */
export async function runParserBenches(opts: { targetBytes: number; runs: number; only?: string[] }) {
  const dir = fileURLToPath(new URL("./parsers/", import.meta.url));
  const results: Record<string, ParserResult> = {};
  for (const file of readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .sort()) {
    const mod = (await import(new URL(`./parsers/${file}`, import.meta.url).href)) as {
      benches?: ParserBench[];
    };
    for (const b of mod.benches ?? []) {
      if (opts.only && !opts.only.includes(b.name)) continue;
      const buf = Buffer.from(b.generate(opts.targetBytes), "utf8");
      const inputMb = buf.length / MB;
      const text = buf.toString("utf8");
      // A parse's result is dropped when its run ends, as the baseline's lines are: one kept across runs
      // would make the next run decode and parse beside it, in a fuller heap.
      const parse = (input: string) => {
        if (b.parse(input) !== undefined) sink++;
      };
      const [baseMs = 0, parseMs = 0, parseOnlyMs = 0] = bestOfEach(opts.runs, [
        () => baseline(buf),
        () => parse(buf.toString("utf8")),
        () => parse(text),
      ]);
      const mbPerSec = inputMb / (parseMs / 1000);
      const baselineMbPerSec = inputMb / (baseMs / 1000);
      results[b.name] = {
        mbPerSec: round(mbPerSec),
        parseOnlyMbPerSec: round(inputMb / (parseOnlyMs / 1000)),
        baselineMbPerSec: round(baselineMbPerSec),
        baselineRatio: round(mbPerSec / baselineMbPerSec, 2),
        inputMb: round(inputMb),
      };
    }
  }
  return results;
}

function round(n: number, digits = 1): number {
  const f = 10 ** digits;
  return Math.round(n * f) / f;
}

export const _sink = () => sink;
