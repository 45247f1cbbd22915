/**
 * Bundle bytes and digests: the gzip body that is uploaded (and its sha256, which names the object),
 * and the change digest that decides whether a capture is worth uploading at all.
 */
import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import type { EvidenceEntry, SnapshotBundle } from "../shared/contracts/snapshot.js";

export interface EncodedBundle {
  /** The gzip body: what is POSTed and stored. */
  gzip: Uint8Array;
  /** Hex sha256 of `gzip`: names the object, so the same bundle always lands at the same key. */
  sha256: string;
  /** Size of the JSON before compression. */
  jsonBytes: number;
}

/** Serialises and compresses a bundle; zlib output is deterministic, so equal bundles give equal sha256. */
export function encodeBundle(bundle: SnapshotBundle): EncodedBundle {
  const json = Buffer.from(JSON.stringify(bundle), "utf8");
  const gzip = gzipSync(json, { level: 6 });
  return { gzip, sha256: sha256Hex(gzip), jsonBytes: json.length };
}

/** Hex sha256 of bytes. */
export function sha256Hex(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** Evidence paths that change on every capture without saying anything about disks or mounts. */
const VOLATILE_PATHS = new Set(["proc/uptime", "proc/stat", "proc/"]);
const PID_PATH = /^proc\/(\d+)\/(.*)$/;
const TRACE_STATS = /^sys\/kernel\/(?:debug\/)?tracing\/per_cpu\/cpu\d+\/stats$/;

function entryText(e: EvidenceEntry | undefined): string {
  return e?.kind === "file" ? e.data : "";
}

/**
 * The change digest: sha256 over the evidence that matters to the detectors, leaving out what moves on
 * every capture (docs/shipper.md, "Change-only uploads", lists each exclusion and why):
 * - all of `capture` (timestamps, section timings, clock anchors, uptime, gaps);
 * - `proc/uptime`, `proc/stat` (CPU and interrupt counters; `btime` moves only with `boot_id`), the `proc/` listing;
 * - per process, everything except what detectors use: the mountinfo of each namespace representative
 *   (keyed by namespace, not pid, since the representative may change), the set of mount namespaces,
 *   and for processes holding vfio or namespace fds: comm, state, cgroup and the fd targets;
 *   so process churn and per-process CPU counters (`stat` utime/stime...) do not count;
 * - the `now ts:` line of ftrace `per_cpu/cpuN/stats` (the trace clock at read time).
 */
export function changeDigest(bundle: Pick<SnapshotBundle, "hostId" | "labels" | "evidence">): string {
  const h = createHash("sha256");
  const add = (k: string, v: string): void => {
    h.update(k);
    h.update("\0");
    h.update(v);
    h.update("\n");
  };
  add("hostId", bundle.hostId);
  for (const k of Object.keys(bundle.labels).sort()) add(`label:${k}`, bundle.labels[k] ?? "");

  const pids = new Map<string, Map<string, EvidenceEntry>>();
  const ev = bundle.evidence;
  for (const path of Object.keys(ev).sort()) {
    const e = ev[path];
    if (e === undefined || VOLATILE_PATHS.has(path)) continue;
    const m = PID_PATH.exec(path);
    if (m?.[1] !== undefined && m[2] !== undefined) {
      const files = pids.get(m[1]) ?? new Map<string, EvidenceEntry>();
      files.set(m[2], e);
      pids.set(m[1], files);
      continue;
    }
    if (TRACE_STATS.test(path) && e.kind === "file") {
      add(path, e.data.replace(/^now ts:.*$/m, ""));
      continue;
    }
    add(path, JSON.stringify(e));
  }

  const namespaces = new Set<string>();
  const perNamespace: [string, string][] = [];
  const holders: [string, string][] = [];
  for (const [pid, files] of pids) {
    const ns = files.get("ns/mnt");
    const nsText = ns?.kind === "link" ? ns.target : `pid ${pid} (ns/mnt unreadable)`;
    if (ns?.kind === "link") namespaces.add(ns.target);
    // Only a read mountinfo counts: a representative that exited mid-capture leaves an error instead.
    const mi = files.get("mountinfo");
    if (mi?.kind === "file" && mi.data.length > 0) perNamespace.push([nsText, mi.data]);
    const fds = [...files]
      .filter(([name, e]) => name.startsWith("fd/") && e.kind === "link")
      .map(([, e]) => (e.kind === "link" ? e.target : ""))
      .sort();
    if (fds.length > 0) {
      const state = /\) (\S)/.exec(entryText(files.get("stat")))?.[1] ?? "?";
      const holder = [entryText(files.get("comm")), state, entryText(files.get("cgroup")), ...fds].join("\0");
      holders.push([pid, holder]);
    }
  }
  add("namespaces", [...namespaces].sort().join(","));
  perNamespace.sort((a, b) => (a[0] === b[0] ? (a[1] < b[1] ? -1 : 1) : a[0] < b[0] ? -1 : 1));
  for (const [ns, mi] of perNamespace) add(`mountinfo:${ns}`, mi);
  holders.sort((a, b) => Number(a[0]) - Number(b[0]));
  for (const [pid, holder] of holders) add(`holder:${pid}`, holder);
  return h.digest("hex");
}

/**
 * Peak resident memory of this process in KiB. `VmHWM` belongs to the current address space; getrusage's
 * maxrss survives execve, so a process forked from a large one would report its parent's peak.
 */
export function peakRssKb(readStatus: () => string): number {
  try {
    const m = /^VmHWM:\s+(\d+) kB$/m.exec(readStatus());
    if (m?.[1]) return Number(m[1]);
  } catch {
    // not Linux, or /proc not mounted: fall back below
  }
  return process.resourceUsage().maxRSS;
}
