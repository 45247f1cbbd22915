/** `faultline` command line: `ship` and `collect` (see docs/shipper.md and `faultline --help`). */
import { readFileSync } from "node:fs";
import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import packageJson from "../package.json" with { type: "json" };
import { type CollectConfig, HELP, parseCommandLine, UsageError } from "./args.js";
import { peakRssKb } from "./bundle.js";
import { collectInChild, runCollectorChild } from "./collector.js";
import { EXIT, type ExitStatus, type RunReport, shipLoop, shipOnce } from "./ship.js";
import { writeFileAtomic } from "./spool.js";

const version = packageJson.version;

function log(line: string): void {
  process.stderr.write(`faultline: ${line}\n`);
}

/** `--stats`: timing and peak RSS of this process and of the collector child, one JSON line on stderr. */
function printStats(command: string, started: number, r: RunReport["reply"] | undefined): void {
  const shipperRssMb = peakRssKb(() => readFileSync("/proc/self/status", "utf8")) / 1024;
  const collectorRssMb = (r?.maxRssKb ?? 0) / 1024;
  const stats = {
    command,
    totalMs: Math.round(performance.now() - started),
    collectMs: r === undefined ? null : Math.round(r.collectMs),
    bundleBytes: r?.body.length ?? null,
    jsonBytes: r?.jsonBytes ?? null,
    entries: r?.entries ?? null,
    peakRssMb: Math.round(Math.max(shipperRssMb, collectorRssMb) * 10) / 10,
    shipperPeakRssMb: Math.round(shipperRssMb * 10) / 10,
    collectorPeakRssMb: Math.round(collectorRssMb * 10) / 10,
  };
  process.stderr.write(`${JSON.stringify(stats)}\n`);
}

async function requireDirectory(root: string): Promise<void> {
  const s = await stat(root).catch(() => undefined);
  if (!s?.isDirectory()) throw new UsageError(`--root ${root}: not a directory`);
}

/** SIGTERM/SIGINT abort the run: the current upload stops and its bundle is spooled; exit 0. */
function abortOnSignals(): AbortController {
  const ac = new AbortController();
  const stop = (sig: NodeJS.Signals): void => {
    if (ac.signal.aborted) return;
    log(`${sig}: stopping after the current step`);
    ac.abort(new DOMException(`stopped by ${sig}`, "AbortError"));
  };
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
  return ac;
}

async function runCollect(cfg: CollectConfig, started: number): Promise<ExitStatus> {
  await requireDirectory(cfg.root);
  const ac = abortOnSignals();
  const out = resolve(cfg.out);
  const reply = await collectInChild(
    {
      root: cfg.root,
      ...(cfg.hostId === undefined ? {} : { hostId: cfg.hostId }),
      labels: cfg.labels,
      readTimeoutMs: cfg.readTimeoutMs,
      knownStuck: [],
      version,
      format: out.endsWith(".json") ? "json" : "gzip",
    },
    { signal: ac.signal, log },
  );
  log(reply.hostIdNote);
  for (const gap of reply.gaps) log(`gap: ${gap}`);
  await writeFileAtomic(out, reply.body);
  log(
    `wrote ${out} (${reply.entries} entries, ${reply.body.length} bytes, collected in ${Math.round(reply.collectMs)} ms)`,
  );
  if (cfg.stats) printStats("collect", started, reply);
  return EXIT.ok;
}

/** Runs the command line; returns the exit status. */
async function main(argv: readonly string[]): Promise<number> {
  const started = performance.now();
  let cmd: ReturnType<typeof parseCommandLine>;
  try {
    cmd = parseCommandLine(argv, process.env);
    if (cmd.command === "ship") await requireDirectory(cmd.root);
  } catch (e) {
    if (!(e instanceof UsageError)) throw e;
    const topic = argv[0] === "ship" || argv[0] === "collect" ? ` ${argv[0]}` : "";
    process.stderr.write(`faultline${topic}: ${e.message}\nTry: faultline${topic} --help\n`);
    return EXIT.usage;
  }
  if (cmd.command === "help") {
    process.stdout.write(HELP[cmd.topic]);
    return EXIT.ok;
  }
  try {
    if (cmd.command === "collect") return await runCollect(cmd, started);
    const ac = abortOnSignals();
    const deps = { log, signal: ac.signal, version };
    if (cmd.intervalMs !== undefined) {
      log(
        `shipping every ${Math.round(cmd.intervalMs / 1000)} s to ${cmd.endpoint.kind === "s3" ? "S3" : cmd.endpoint.url}`,
      );
      return await shipLoop({ ...cmd, intervalMs: cmd.intervalMs }, deps, (r) => {
        log(r.summary);
        if (cmd.stats) printStats("ship", started, r.reply);
      });
    }
    const r = await shipOnce(cmd, deps);
    log(r.summary);
    if (cmd.stats) printStats("ship", started, r.reply);
    return r.status;
  } catch (e) {
    log(`failed: ${e instanceof Error ? e.message : String(e)}`);
    return 1;
  }
}

if (process.argv[2] === "__collector") {
  runCollectorChild();
} else {
  const status = await main(process.argv.slice(2));
  // Exit explicitly: a keep-alive socket or timer must not hold a finished one-shot run.
  process.exit(status);
}
