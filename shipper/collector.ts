/**
 * Runs a capture in a child process. Node's fs runs on the libuv threadpool, and a read stuck in the
 * kernel (a sysfs attribute of a pulled device, D state) keeps its thread forever: the process can then
 * never exit (libuv joins its threads at exit) and, run after run, the pool drains. So the reads happen in
 * a disposable child started with a large UV_THREADPOOL_SIZE; the parent (uploads, spool, state) never
 * touches /sys or /proc, takes the finished bundle over IPC, and kills the child if it cannot exit.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { changeDigest, encodeBundle, peakRssKb } from "./bundle.js";
import { collectBundle } from "./collect.js";
import { type CollectLimits, DEFAULT_LIMITS } from "./collect-read.js";

/** What the parent asks of one capture. */
export interface CollectorRequest {
  root: string;
  hostId?: string;
  labels: Record<string, string>;
  readTimeoutMs: number;
  /** Subtrees that hung in earlier captures: [key, why]. */
  knownStuck: [string, string][];
  version: string;
  /** `json` for `collect --out x.json`: the body is then the plain JSON. */
  format: "gzip" | "json";
}

/** What the child sends back. */
export interface CollectorReply {
  body: Uint8Array;
  /** Hex sha256 of the gzip body (the object name); empty for json. */
  sha256: string;
  jsonBytes: number;
  /** Change digest (bundle.ts). */
  digest: string;
  hostId: string;
  hostIdNote: string;
  capturedAtMs: number;
  entries: number;
  gaps: string[];
  timedOut: [string, string][];
  stuckReads: number;
  collectMs: number;
  maxRssKb: number;
}

/** Threads for fs reads in the child: a few stuck reads must not starve the rest (default is 4). */
const CHILD_THREADPOOL = "64";
/** How long the child may take to exit after replying before it is killed (it may hold stuck threads). */
const EXIT_GRACE_MS = 1500;

/** Starts the child and resolves with its bundle; rejects on a crash, the deadline, or `signal`. */
export function collectInChild(
  req: CollectorRequest,
  opts: { signal: AbortSignal; log: (line: string) => void; deadlineMs?: number },
): Promise<CollectorReply> {
  const script = process.argv[1];
  if (script === undefined)
    return Promise.reject(new Error("cannot find the faultline script to start a collector"));
  // stderr is piped, not inherited: a child stuck in the kernel must not hold the caller's stderr open.
  const child = spawn(process.execPath, [...process.execArgv, script, "__collector"], {
    stdio: ["ignore", "ignore", "pipe", "ipc"],
    serialization: "advanced",
    env: { ...process.env, UV_THREADPOOL_SIZE: process.env.UV_THREADPOOL_SIZE ?? CHILD_THREADPOOL },
  });
  const deadlineMs = opts.deadlineMs ?? DEFAULT_LIMITS.deadlineMs + 30_000;
  child.stderr?.on("data", (d: Buffer) => process.stderr.write(d));
  return new Promise<CollectorReply>((resolve, reject) => {
    let settled = false;
    const finish = (err: Error | undefined, reply?: CollectorReply): void => {
      if (settled) return;
      settled = true;
      clearTimeout(deadline);
      opts.signal.removeEventListener("abort", onAbort);
      if (err || !reply) {
        // A child in D state outlives SIGKILL until the kernel lets go: do not wait for it or its stderr.
        child.kill("SIGKILL");
        child.stderr?.destroy();
        child.unref();
        reject(err ?? new Error("collector sent no bundle"));
        return;
      }
      reap(child, reply.stuckReads, opts.log).then(() => resolve(reply));
    };
    const onAbort = (): void => finish(new DOMException("collection aborted", "AbortError"));
    const deadline = setTimeout(
      () => finish(new Error(`collection did not finish within ${Math.round(deadlineMs / 1000)} s`)),
      deadlineMs,
    );
    opts.signal.addEventListener("abort", onAbort, { once: true });
    child.on("message", (m: unknown) => {
      if (isReply(m)) finish(undefined, m);
      else if (isFailure(m)) finish(new Error(`collection failed: ${m.error}`));
    });
    child.on("error", (e) => finish(e));
    child.on("exit", (code, sig) =>
      finish(new Error(`collector exited (${sig ?? `code ${code}`}) before sending a bundle`)),
    );
    child.send(req);
  });
}

/** Waits briefly for the child to exit after replying; kills it when stuck threads keep it alive. */
function reap(child: ChildProcess, stuckReads: number, log: (line: string) => void): Promise<void> {
  return new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) {
      resolve();
      return;
    }
    const timer = setTimeout(() => {
      log(
        `collector did not exit (${stuckReads} reads blocked in the kernel); killed it (a read in D state keeps it until the kernel lets go)`,
      );
      child.stderr?.destroy();
      child.kill("SIGKILL");
      child.unref();
      resolve();
    }, EXIT_GRACE_MS);
    child.once("exit", () => {
      clearTimeout(timer);
      resolve();
    });
  });
}

function isReply(m: unknown): m is CollectorReply {
  return typeof m === "object" && m !== null && "body" in m && "digest" in m;
}

function isFailure(m: unknown): m is { error: string } {
  return typeof m === "object" && m !== null && "error" in m && typeof m.error === "string";
}

function isRequest(m: unknown): m is CollectorRequest {
  return typeof m === "object" && m !== null && "root" in m && "version" in m && "format" in m;
}

/** The child side: waits for one request, collects, replies, exits. */
export function runCollectorChild(): void {
  // The parent went away (killed, crashed): nobody will take the bundle.
  process.once("disconnect", () => process.exit(1));
  process.once("message", (m: unknown) => {
    void (async () => {
      if (!isRequest(m) || !process.send) {
        process.exit(2);
        return;
      }
      try {
        const started = performance.now();
        const limits: Partial<CollectLimits> = { readTimeoutMs: m.readTimeoutMs };
        const r = await collectBundle({
          root: m.root,
          ...(m.hostId === undefined ? {} : { hostId: m.hostId }),
          labels: m.labels,
          limits,
          knownStuck: new Map(m.knownStuck),
          version: m.version,
        });
        const digest = changeDigest(r.bundle);
        const collectMs = performance.now() - started;
        let encoded: Pick<CollectorReply, "body" | "sha256" | "jsonBytes">;
        if (m.format === "json") {
          const body = Buffer.from(`${JSON.stringify(r.bundle, null, 1)}\n`);
          encoded = { body, sha256: "", jsonBytes: body.length };
        } else {
          const e = encodeBundle(r.bundle);
          encoded = { body: e.gzip, sha256: e.sha256, jsonBytes: e.jsonBytes };
        }
        const reply: CollectorReply = {
          ...encoded,
          digest,
          hostId: r.bundle.hostId,
          hostIdNote: r.hostIdNote,
          capturedAtMs: r.bundle.capture.startedAtMs,
          entries: Object.keys(r.bundle.evidence).length,
          gaps: r.bundle.capture.gaps,
          timedOut: [...r.timedOutSubtrees],
          stuckReads: r.stuckReads,
          collectMs,
          maxRssKb: peakRssKb(() => readFileSync("/proc/self/status", "utf8")),
        };
        process.send(reply, () => process.exit(0));
      } catch (e) {
        process.send({ error: e instanceof Error ? e.message : String(e) }, () => process.exit(1));
      }
    })();
  });
}
