/**
 * `faultline ship`: one run is capture, change check, drain the spool oldest first, upload the new
 * bundle (or spool it); `--interval` repeats runs with jitter until SIGTERM/SIGINT.
 */
import { gunzipSync, constants as zlibConstants } from "node:zlib";
import type { ShipConfig } from "./args.js";
import { sha256Hex } from "./bundle.js";
import { type CollectorReply, collectInChild } from "./collector.js";
import { Spool, spoolName } from "./spool.js";
import { loadState, recordStuck, type ShipperState, saveState, stuckToSkip } from "./state.js";
import { sleep, type UploadBlocked, type Uploader, type UploadItem, uploadWithRetry } from "./upload.js";
import { httpUploader } from "./upload-http.js";
import { s3Uploader } from "./upload-s3.js";

/** Exit status of a run (see `faultline ship --help`). */
export const EXIT = { ok: 0, notDelivered: 1, usage: 2, refused: 3 } as const;
export type ExitStatus = (typeof EXIT)[keyof typeof EXIT];

export interface ShipDeps {
  log: (line: string) => void;
  signal: AbortSignal;
  version: string;
  /** Capture function (the collector child); tests may replace it. */
  collect?: typeof collectInChild;
  uploader?: Uploader;
  now?: () => number;
}

export interface RunReport {
  status: ExitStatus;
  /** One line: what happened to this run's snapshot. */
  summary: string;
  reply?: CollectorReply;
}

/** The uploader for `--endpoint`. */
export function uploaderFor(cfg: ShipConfig): Uploader {
  return cfg.endpoint.kind === "s3"
    ? s3Uploader({ bucket: cfg.endpoint.bucket, prefix: cfg.endpoint.prefix })
    : httpUploader({ url: cfg.endpoint.url, token: cfg.token ?? "" });
}

function kib(n: number): string {
  return `${(n / 1024).toFixed(1)} KiB`;
}

function ago(ms: number): string {
  return ms < 120_000
    ? `${Math.round(ms / 1000)} s`
    : ms < 7_200_000
      ? `${Math.round(ms / 60_000)} min`
      : `${(ms / 3_600_000).toFixed(1)} h`;
}

/** Sends spooled bundles oldest first; stops at the first one the endpoint cannot take now. */
async function drainSpool(args: {
  spool: Spool;
  uploader: Uploader;
  state: ShipperState;
  retries: number;
  signal: AbortSignal;
  log: (line: string) => void;
  now: () => number;
}): Promise<{ blocked?: UploadBlocked; sent: number }> {
  const { spool, uploader, state, retries, signal, log, now } = args;
  let sent = 0;
  for (const entry of await spool.list()) {
    const gzip = await spool.read(entry).catch(() => undefined);
    if (gzip === undefined) continue;
    const hostId = spooledHostId(gzip, entry.sha256);
    if (hostId === undefined) {
      await spool.reject(
        entry,
        "spooled file does not match its sha256 or is not a bundle (damaged on disk?)",
      );
      state.rejected++;
      continue;
    }
    const item: UploadItem = { gzip, sha256: entry.sha256, hostId, capturedAtMs: entry.capturedAtMs };
    const outcome = await uploadWithRetry({ uploader, item, retries, signal, log });
    if (outcome.status === "accepted" || outcome.status === "duplicate") {
      await spool.remove(entry);
      state.lastUploadAtMs = now();
      state.lastUploadKey = outcome.key;
      sent++;
      log(`spool: sent ${entry.name} (${outcome.status}${outcome.key ? ` as ${outcome.key}` : ""})`);
      continue;
    }
    if (outcome.status === "rejected") {
      const where = await spool.reject(entry, outcome.message);
      state.rejected++;
      log(`spool: ${entry.name} rejected: ${outcome.message}; kept at ${where}`);
      continue;
    }
    return { blocked: outcome, sent };
  }
  return { sent };
}

/**
 * The host id of a spooled bundle (its S3 key needs it), after checking the bytes still hash to the
 * name. Only the head is inflated: the bundle JSON starts with `{"schemaVersion":1,"hostId":"..."`.
 */
export function spooledHostId(gzip: Uint8Array, sha256: string): string | undefined {
  if (sha256Hex(gzip) !== sha256) return undefined;
  try {
    const head = gunzipSync(gzip.subarray(0, 16_384), { finishFlush: zlibConstants.Z_SYNC_FLUSH }).toString(
      "utf8",
    );
    const m = /^\{"schemaVersion":\d+,"hostId":("(?:[^"\\]|\\.)*")/.exec(head);
    const id: unknown = m?.[1] === undefined ? undefined : JSON.parse(m[1]);
    return typeof id === "string" ? id : undefined;
  } catch {
    return undefined;
  }
}

/** One run: capture, change check, spool drain, upload. Never throws except on a bug. */
export async function shipOnce(cfg: ShipConfig, deps: ShipDeps): Promise<RunReport> {
  const now = deps.now ?? Date.now;
  const { log, signal } = deps;
  const state = await loadState(cfg.stateDir, log);
  const spool = new Spool(cfg.spoolDir, { maxFiles: cfg.spoolMaxFiles, maxBytes: cfg.spoolMaxBytes }, log);
  const uploader = deps.uploader ?? uploaderFor(cfg);
  const collect = deps.collect ?? collectInChild;

  let reply: CollectorReply;
  try {
    reply = await collect(
      {
        root: cfg.root,
        ...(cfg.hostId === undefined ? {} : { hostId: cfg.hostId }),
        labels: cfg.labels,
        readTimeoutMs: cfg.readTimeoutMs,
        knownStuck: stuckToSkip(state, now()),
        version: deps.version,
        format: "gzip",
      },
      { signal, log },
    );
  } catch (e) {
    if (signal.aborted) return { status: EXIT.ok, summary: "stopped before the snapshot was taken" };
    return {
      status: EXIT.notDelivered,
      summary: `no snapshot: ${e instanceof Error ? e.message : String(e)}`,
    };
  }
  log(reply.hostIdNote);
  for (const gap of reply.gaps) log(`gap: ${gap}`);
  recordStuck(state, reply.timedOut, now());
  const item: UploadItem = {
    gzip: reply.body,
    sha256: reply.sha256,
    hostId: reply.hostId,
    capturedAtMs: reply.capturedAtMs,
  };
  const size = `${reply.entries} entries, ${kib(reply.body.length)} gzip`;
  const sinceUpload =
    state.lastUploadAtMs === undefined ? Number.POSITIVE_INFINITY : now() - state.lastUploadAtMs;
  const unchanged = state.lastDigest === reply.digest && sinceUpload < cfg.fullEveryMs;

  const save = async (): Promise<void> => {
    await saveState(cfg.stateDir, state).catch((e: unknown) =>
      log(`could not save state: ${e instanceof Error ? e.message : e}`),
    );
  };
  const spoolNew = async (why: string): Promise<string> => {
    const dropped = await spool.add(item.gzip, item);
    state.lastDigest = reply.digest;
    if (dropped.length > 0) {
      state.spoolDropped += dropped.length;
      // A dropped bundle may be the only copy of the evidence the digest stands for: upload afresh next time.
      state.lastDigest = undefined;
    }
    return `spooled ${spoolName(item.capturedAtMs, item.sha256)} (${why})`;
  };

  try {
    const drained = await drainSpool({ spool, uploader, state, retries: cfg.retries, signal, log, now });
    if (unchanged) {
      await save();
      const pending = (await spool.list()).length;
      const note = `unchanged since the last upload ${ago(sinceUpload)} ago (digest ${reply.digest.slice(0, 12)}); next full upload within ${ago(cfg.fullEveryMs - sinceUpload)}`;
      if (drained.blocked && pending > 0) {
        const status = drained.blocked.status === "refused" ? EXIT.refused : EXIT.notDelivered;
        return {
          status,
          summary: `${note}, but ${pending} spooled bundles wait: ${drained.blocked.message}`,
          reply,
        };
      }
      return { status: EXIT.ok, summary: note, reply };
    }
    if (drained.blocked) {
      const what = await spoolNew(`endpoint unavailable: ${drained.blocked.message}`);
      await save();
      const status = drained.blocked.status === "refused" ? EXIT.refused : EXIT.notDelivered;
      return { status, summary: `not delivered to ${uploader.target}: ${what}`, reply };
    }
    const outcome = await uploadWithRetry({ uploader, item, retries: cfg.retries, signal, log });
    if (outcome.status === "accepted" || outcome.status === "duplicate") {
      state.lastDigest = reply.digest;
      state.lastUploadAtMs = now();
      state.lastUploadKey = outcome.key;
      await save();
      const key = outcome.key === "" ? "" : ` ${outcome.key}`;
      return {
        status: EXIT.ok,
        summary: `${outcome.status}${key} (${outcome.detail}; ${size}) to ${uploader.target}`,
        reply,
      };
    }
    if (outcome.status === "rejected") {
      const where = await spool.reject(
        { body: item.gzip, capturedAtMs: item.capturedAtMs, sha256: item.sha256 },
        outcome.message,
      );
      state.rejected++;
      await save();
      return {
        status: EXIT.refused,
        summary: `rejected by ${uploader.target}: ${outcome.message}; bundle kept at ${where}`,
        reply,
      };
    }
    const what = await spoolNew(outcome.message);
    await save();
    const status = outcome.status === "refused" ? EXIT.refused : EXIT.notDelivered;
    return { status, summary: `not delivered to ${uploader.target}: ${what}`, reply };
  } catch (e) {
    if (!signal.aborted) throw e;
    // SIGTERM/SIGINT mid-upload: keep the evidence for the next run and stop cleanly.
    const what = unchanged ? "nothing to keep (unchanged)" : await spoolNew("interrupted by a signal");
    await save();
    return { status: EXIT.ok, summary: `interrupted: ${what}`, reply };
  }
}

/** `--interval`: runs until the signal aborts, sleeping the interval ±10% between runs. Exit 0 on a signal. */
export async function shipLoop(
  cfg: ShipConfig & { intervalMs: number },
  deps: ShipDeps,
  onRun: (r: RunReport) => void,
): Promise<ExitStatus> {
  while (!deps.signal.aborted) {
    onRun(await shipOnce(cfg, deps));
    const wait = cfg.intervalMs * (0.9 + Math.random() * 0.2);
    try {
      await sleep(wait, deps.signal);
    } catch {
      break;
    }
  }
  return EXIT.ok;
}
