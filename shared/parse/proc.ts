/**
 * Per-process evidence from `/proc/<pid>/` (proc(5)): `stat`, `cmdline`, namespace links and fd link
 * targets, and the bundle-level views built from them: the process table and the mount namespaces
 * (reference/evidence-formats.md §7.3), which tell who holds a mount the host no longer has.
 */
import { asciiBytes } from "./ascii.js";
import { type CgroupInfo, type CgroupOwner, parseCgroup } from "./cgroup.js";
import { EvidenceReader, type Unreadable, whyUnreadable, withoutNewline } from "./evidence.js";
import { type Mount, parseMountinfo, readDecimal } from "./mountinfo.js";
import {
  type IssueCode,
  IssueList,
  MAX_LINE_CHARS,
  type ParseIssue,
  type ParseResult,
  result,
} from "./result.js";

// ---------------------------------------------------------------------------------------------------
// Small parsers

/** A namespace link target, `mnt:[4026531840]`: the namespace type and the nsfs inode that names it. */
export interface NsRef {
  readonly type: string;
  readonly inode: number;
}

/**
 * Reads a namespace link target (`mnt:[4026531840]`, `net:[...]`, ...) into type and inode; null for
 * anything else. Tolerates the quotes `ls` adds on a TTY and a trailing newline.
 */
export function parseNsLink(target: string): NsRef | null {
  let s = target.trim();
  if (s.length > 2 && s.charCodeAt(0) === 39 && s.charCodeAt(s.length - 1) === 39) s = s.slice(1, -1);
  const open = s.indexOf(":[");
  if (open <= 0 || s.charCodeAt(s.length - 1) !== 93) return null;
  for (let i = 0; i < open; i++) {
    const c = s.charCodeAt(i);
    if (!((c >= 97 && c <= 122) || c === 95)) return null; // mnt, net, pid_for_children, ...
  }
  const inode = readDecimal(s, open + 2, s.length - 1);
  return inode < 0 ? null : { type: s.slice(0, open), inode };
}

/** The namespace an nsfs mount pins (root field `mnt:[4026532871]` of an `nsfs` mount), or null. */
export function pinnedNamespaceOf(mount: Mount): NsRef | null {
  return mount.fsType === "nsfs" ? parseNsLink(mount.root) : null;
}

/** The fields of `/proc/<pid>/stat` faultline uses; null where the line stopped short. */
export interface ProcStat {
  readonly pid: number;
  /**
   * Between the first `(` and the LAST `)`: a comm may itself hold `) (`. At most 15 bytes, except kernel
   * workers, which show their workqueue too (`kworker/u8:0-events_unbound`).
   */
  readonly comm: string;
  /** R, S, D, Z, T, t, X, I, ... */
  readonly state: string;
  readonly ppid: number | null;
  readonly pgrp: number | null;
  readonly session: number | null;
  /** Kernel task flags (field 9). */
  readonly flags: number | null;
  /** PF_KTHREAD is set in `flags`. */
  readonly kernelThread: boolean | null;
  readonly utimeTicks: number | null;
  readonly stimeTicks: number | null;
  readonly numThreads: number | null;
  /** Start time in clock ticks since boot (field 22); with pid it tells a reused pid apart. */
  readonly startTimeTicks: number | null;
}

const PF_KTHREAD = 0x00200000;
/** Field 22 (starttime) exists on every kernel faultline runs on; a shorter line is damaged. */
const STAT_MIN_FIELDS = 22;
/** The last field read (22, starttime): scanning stops there, the rest of the line is not needed. */
const STAT_LAST_FIELD = 22;
/** 1 for the field numbers (proc(5), 1-based) that ProcStat keeps. */
const STAT_KEPT = new Uint8Array(STAT_LAST_FIELD + 1);
for (const f of [4, 5, 6, 9, 14, 15, 20, 22]) STAT_KEPT[f] = 1;
const SPACE = 32;
const PAREN = 40;
const DIGIT_0 = 48;

/** One-issue result for a stat that could not be read at all. */
function statFailure(code: IssueCode, message: string): ParseResult<ProcStat | null> {
  return { ok: false, value: null, issues: [{ code, path: [], message, line: 1 }] };
}

/**
 * Parses `/proc/<pid>/stat` (one line). The comm runs to the LAST `)`, so spaces and parentheses in
 * it are safe. Without the final newline the input was cut: the last field is not trusted.
 */
export function parseProcStat(text: string): ParseResult<ProcStat | null> {
  if (text.length > MAX_LINE_CHARS) {
    return statFailure("too_large", `stat longer than ${MAX_LINE_CHARS} characters; skipped`);
  }
  let end = text.length;
  const complete = text.charCodeAt(end - 1) === 10;
  if (complete) end--;
  // Read from the line's bytes: charCodeAt on the string and an indexOf per field cost several times
  // the one encode (bench/parsers/proc.ts). A space stands in for the end (or the newline), so every
  // loop below stops there without a bounds check; the checks that need the real end use `end`.
  const bytes = asciiBytes(text, 0, text.length);
  bytes[end] = SPACE;
  // The pid runs up to ` (`: as readDecimal, 1 to 15 digits.
  let pid = 0;
  let open = 0;
  for (; ; open++) {
    const d = (bytes[open] ?? 0) - DIGIT_0;
    if (d < 0 || d > 9) break;
    pid = pid * 10 + d;
  }
  const named =
    open > 0 && open <= 15 && open + 1 < end && bytes[open] === SPACE && bytes[open + 1] === PAREN;
  // The LAST `)`: nothing after the comm holds one, so walk forward (indexOf is fast, lastIndexOf is not).
  let close = named ? text.indexOf(")", open + 2) : -1;
  for (let next = close; next !== -1 && next < end; next = text.indexOf(")", next + 1)) close = next;
  if (close === -1 || close + 1 >= end || bytes[close + 1] !== SPACE) {
    return statFailure(complete ? "malformed_line" : "truncated", "expected `pid (comm) state ...`");
  }
  // One character, then a space or (in a complete line) the end.
  const state = close + 2;
  if (
    state >= end ||
    bytes[state] === SPACE ||
    (state + 1 === end ? !complete : bytes[state + 1] !== SPACE)
  ) {
    return statFailure(complete ? "malformed_line" : "truncated", "no state letter after the comm");
  }
  let ppid: number | null = null;
  let pgrp: number | null = null;
  let session: number | null = null;
  let flags: number | null = null;
  let utimeTicks: number | null = null;
  let stimeTicks: number | null = null;
  let numThreads: number | null = null;
  let startTimeTicks: number | null = null;
  let bad: number[] | null = null;
  // Fields after the state, numbered as in proc(5), each ended by one space; only kept ones are
  // converted. `field` counts the fields read whole.
  let field = 3;
  let at = state + 2;
  while (field < STAT_LAST_FIELD && at <= end) {
    let i = at;
    let n = 0;
    if (STAT_KEPT[field + 1] === 1) {
      for (; ; i++) {
        const d = (bytes[i] ?? 0) - DIGIT_0;
        if (d < 0 || d > 9) break;
        n = n * 10 + d;
      }
      // As readDecimal: 1 to 15 digits (past that a double is not exact) and nothing else.
      if (bytes[i] !== SPACE || i === at || i - at > 15) {
        n = -1;
        while (bytes[i] !== SPACE) i++;
      }
    } else {
      while (bytes[i] !== SPACE) i++;
    }
    if (i === end && !complete) break; // cut mid-field: not trusted
    field++;
    if (STAT_KEPT[field] === 1) {
      const v = n < 0 ? null : n;
      if (v === null) {
        bad ??= [];
        bad.push(field);
      }
      switch (field) {
        case 4:
          ppid = v;
          break;
        case 5:
          pgrp = v;
          break;
        case 6:
          session = v;
          break;
        case 9:
          flags = v;
          break;
        case 14:
          utimeTicks = v;
          break;
        case 15:
          stimeTicks = v;
          break;
        case 20:
          numThreads = v;
          break;
        default:
          startTimeTicks = v;
      }
    }
    at = i + 1;
  }
  const value: ProcStat = {
    pid,
    comm: text.slice(open + 2, close),
    state: text.slice(state, state + 1),
    ppid,
    pgrp,
    session,
    flags,
    kernelThread: flags === null ? null : (flags & PF_KTHREAD) !== 0,
    utimeTicks,
    stimeTicks,
    numThreads,
    startTimeTicks,
  };
  if (complete && bad === null && field >= STAT_MIN_FIELDS) return { ok: true, value };
  const issues = new IssueList();
  if (!complete) issues.add("truncated", "stat has no final newline; last field dropped", 1);
  else if (field < STAT_MIN_FIELDS)
    issues.add("missing", `${field} fields; expected at least ${STAT_MIN_FIELDS}`, 1);
  for (const f of bad ?? []) issues.add("invalid_field", `field ${f} is not a number`, 1);
  return result(value, issues.done());
}

/**
 * Splits `/proc/<pid>/cmdline` on NUL. Empty for kernel threads and zombies; a process that rewrote
 * its argv (`nginx: master process`) can show one argument with spaces and no NUL.
 */
export function parseCmdline(text: string): string[] {
  // As split("\0") without its final empty string, at a third of split's time (0.06 -> 0.02 ms for
  // a 306-process table): each argument is sliced where the search for its NUL ended.
  const args: string[] = [];
  const n = text.length;
  let start = 0;
  while (start < n) {
    let end = text.indexOf("\0", start);
    if (end === -1) end = n;
    args.push(text.slice(start, end));
    start = end + 1;
  }
  return args;
}

/** What an fd link in `/proc/<pid>/fd/` points at. */
export type FdTarget =
  | {
      /** `/dev/vfio/<G>` (or `/dev/vfio/noiommu-<G>`): holds IOMMU group G. */
      readonly kind: "vfio-group";
      readonly group: number;
      readonly noiommu: boolean;
      readonly path: string;
      readonly deleted: boolean;
    }
  | { readonly kind: "vfio-container"; readonly path: string; readonly deleted: boolean }
  | {
      /** `/dev/vfio/devices/vfio<N>`: the iommufd device cdev; a VMM using it never opens the group node. */
      readonly kind: "vfio-device";
      readonly index: number;
      readonly path: string;
      readonly deleted: boolean;
    }
  | { readonly kind: "namespace"; readonly nsType: string; readonly inode: number }
  | { readonly kind: "socket" | "pipe"; readonly inode: number }
  | { readonly kind: "anon_inode"; readonly name: string }
  | { readonly kind: "path"; readonly path: string; readonly deleted: boolean }
  | { readonly kind: "other"; readonly raw: string };

const DELETED = " (deleted)";

/** Classifies an fd link target: vfio nodes, namespaces, sockets and pipes, anon inodes, paths. */
export function parseFdTarget(target: string): FdTarget {
  if (target.charCodeAt(0) === 47) {
    // d_path appends " (deleted)" once the file is unlinked: a vfio node removed while held shows so.
    const deleted = target.endsWith(DELETED);
    const path = deleted ? target.slice(0, -DELETED.length) : target;
    if (path.startsWith("/dev/vfio/")) {
      const name = path.slice(10);
      if (name === "vfio") return { kind: "vfio-container", path, deleted };
      if (name.startsWith("devices/vfio")) {
        const index = readDecimal(name, 12, name.length);
        if (index >= 0) return { kind: "vfio-device", index, path, deleted };
      }
      const noiommu = name.startsWith("noiommu-");
      const group = readDecimal(name, noiommu ? 8 : 0, name.length);
      if (group >= 0) return { kind: "vfio-group", group, noiommu, path, deleted };
    }
    return { kind: "path", path, deleted };
  }
  if (target.startsWith("anon_inode:")) return { kind: "anon_inode", name: target.slice(11) };
  const ns = parseNsLink(target);
  if (ns) {
    if (ns.type === "socket" || ns.type === "pipe") return { kind: ns.type, inode: ns.inode };
    return { kind: "namespace", nsType: ns.type, inode: ns.inode };
  }
  return { kind: "other", raw: target };
}

// ---------------------------------------------------------------------------------------------------
// Bundle level: the process table

/** An fd on a vfio node (group, container or device cdev): what makes a process a holder. */
export interface VfioFd {
  readonly fd: number;
  /** The link target as read, e.g. `/dev/vfio/62`. */
  readonly path: string;
  readonly kind: "vfio-group" | "vfio-container" | "vfio-device";
  readonly group: number | null;
  readonly deleted: boolean;
  readonly evidencePath: string;
}

/** An fd on a mount namespace file: it keeps that namespace alive without a process in it. */
export interface NsFd {
  readonly fd: number;
  readonly inode: number;
  readonly evidencePath: string;
}

/** One process; null where its evidence was not shipped or could not be read (see `unreadable`). */
export interface Process extends CgroupOwner {
  readonly pid: number;
  /** From `comm`, else from `stat`. */
  readonly comm: string | null;
  readonly state: string | null;
  readonly ppid: number | null;
  readonly kernelThread: boolean | null;
  readonly startTimeTicks: number | null;
  readonly cmdline: readonly string[] | null;
  /** Inode of `ns/mnt`; null when the link was unreadable (EACCES for PID 1 without hostPID, ESRCH on exit). */
  readonly mntNs: number | null;
  readonly vfioFds: readonly VfioFd[];
  readonly nsFds: readonly NsFd[];
  /** Evidence paths that were read, by what they gave. */
  readonly evidence: {
    readonly comm?: string;
    readonly stat?: string;
    readonly cgroup?: string;
    readonly cmdline?: string;
    readonly mntNs?: string;
    readonly fd?: string;
  };
  /** What could not be read: "unknown", never "none" (an unreadable `fd/` says nothing about holders). */
  readonly unreadable: readonly { readonly path: string; readonly why: EvidenceGap }[];
}

/** Why evidence is missing or incomplete: the reader's reasons, or the shipper's size/entry cap. */
export type EvidenceGap = Unreadable | { readonly reason: "capped" };

export interface ProcessTable {
  /** Sorted by pid. */
  readonly processes: readonly Process[];
  /** `proc/` listing: complete, cut by the shipper's entry cap, or not shipped (pids taken from paths). */
  readonly listing: "complete" | "capped" | "absent";
}

const NO_OWNER: CgroupOwner = { podUid: null, qos: null, containerId: null, runtime: null };

/** The evidence of a listed process with nothing shipped below `proc/<pid>/`. */
const NO_EVIDENCE = new EvidenceReader({});

/** Re-files a sub-parser's issues under the evidence path they came from. */
function addIssues(into: IssueList, path: string, from: readonly ParseIssue[]): void {
  for (const i of from) into.add(i.code, i.message, i.line, [path, ...i.path]);
}

/** Pids from the `proc/` listing and from any `proc/<pid>/...` path in the bundle (`dirs`). */
function pidsOf(reader: EvidenceReader, dirs: ReadonlyMap<string, EvidenceReader>): number[] {
  const pids = new Set<number>();
  for (const name of reader.list("proc") ?? []) {
    const n = readDecimal(name, 0, name.length);
    if (n >= 0) pids.add(n);
  }
  for (const name of dirs.keys()) {
    const n = readDecimal(name, 0, name.length);
    if (n >= 0) pids.add(n);
  }
  return [...pids].sort((a, b) => a - b);
}

/**
 * The text of file `name` of a process (`dir`, whose evidence paths start with `base`), or undefined
 * with why in `unreadable`; a capped file is read and listed there too. One lookup per file
 * (dir.text, dir.capped and dir.unreadable would each look it up again).
 */
function processFile(
  dir: EvidenceReader,
  base: string,
  name: string,
  unreadable: { path: string; why: EvidenceGap }[],
): string | undefined {
  const e = dir.entry(name);
  if (e?.kind !== "file") {
    const why = whyUnreadable(e, "file");
    if (why) unreadable.push({ path: base + name, why });
    return undefined;
  }
  if (e.capped === true) unreadable.push({ path: base + name, why: { reason: "capped" } });
  return e.encoding === "base64" ? dir.text(name) : e.data;
}

/** The evidence paths a process was read from, in the order `Process.evidence` lists them. */
interface EvidencePaths {
  comm?: string;
  stat?: string;
  cgroup?: string;
  cmdline?: string;
  mntNs?: string;
  fd?: string;
}

/**
 * The last cgroup file parsed and its result. Processes of one container, service or (`0::/`) the
 * kernel share one file and mostly have neighbouring pids: 220 of the bench node's 306 files equal
 * the one before, and reusing its parse cut readProcesses from 0.44 to 0.39 ms (a Map by text cost
 * more than it saved: hashing the texts cost about as much as parsing them).
 */
interface LastCgroup {
  text: string;
  parsed: ParseResult<CgroupInfo> | null;
}

/** Reads one process from `dir`, the evidence under `proc/<pid>/` keyed below it. */
function readProcess(dir: EvidenceReader, pid: number, issues: IssueList, last: LastCgroup): Process {
  const base = `proc/${pid}/`;
  const evidence: EvidencePaths = {};
  const unreadable: { path: string; why: EvidenceGap }[] = [];
  // Each path set by name: the object then takes one shape for every process.
  const commText = processFile(dir, base, "comm", unreadable);
  if (commText !== undefined) evidence.comm = `${base}comm`;
  const statText = processFile(dir, base, "stat", unreadable);
  let stat: ProcStat | null = null;
  if (statText !== undefined) {
    evidence.stat = `${base}stat`;
    const r = parseProcStat(statText);
    stat = r.value;
    if (!r.ok) addIssues(issues, `${base}stat`, r.issues);
  }
  let owner: CgroupOwner = NO_OWNER;
  const cgroupText = processFile(dir, base, "cgroup", unreadable);
  if (cgroupText !== undefined) {
    evidence.cgroup = `${base}cgroup`;
    let r = last.parsed;
    if (r === null || cgroupText !== last.text) {
      r = parseCgroup(cgroupText);
      last.text = cgroupText;
      last.parsed = r;
    }
    owner = r.value;
    if (!r.ok) addIssues(issues, `${base}cgroup`, r.issues);
  }
  const cmdlineText = processFile(dir, base, "cmdline", unreadable);
  if (cmdlineText !== undefined) evidence.cmdline = `${base}cmdline`;

  let mntNs: number | null = null;
  const nsTarget = dir.link("ns/mnt");
  if (nsTarget === undefined) {
    const why = dir.unreadable("ns/mnt", "link");
    if (why) unreadable.push({ path: `${base}ns/mnt`, why });
  } else {
    const ns = parseNsLink(nsTarget);
    if (ns?.type === "mnt") {
      mntNs = ns.inode;
      evidence.mntNs = `${base}ns/mnt`;
    } else {
      issues.add("invalid_field", `ns/mnt target ${JSON.stringify(nsTarget)} is not mnt:[N]`, undefined, [
        `${base}ns/mnt`,
      ]);
    }
  }

  const vfioFds: VfioFd[] = [];
  const nsFds: NsFd[] = [];
  const fdDir = `${base}fd/`;
  // As dir.list("fd") and dir.capped("fd"), with literal keys (no `fd/` built per process).
  const fdList = dir.entry("fd/");
  if (fdList?.kind !== "dir") {
    const why = dir.unreadable("fd", "dir");
    if (why) unreadable.push({ path: fdDir, why });
  } else {
    evidence.fd = fdDir;
    const atFd = dir.entry("fd") ?? fdList;
    if ((atFd.kind === "file" || atFd.kind === "dir") && atFd.capped === true) {
      unreadable.push({ path: fdDir, why: { reason: "capped" } });
    }
    for (const name of fdList.names) {
      const fd = readDecimal(name, 0, name.length);
      if (fd < 0) continue;
      const below = `fd/${name}`;
      const path = fdDir + name;
      // The shipper keeps only the fd links that matter (vfio, mnt namespaces): absent ones are not gaps.
      const target = dir.link(below);
      if (target === undefined) {
        const e = dir.entry(below);
        if (e?.kind === "error" || e?.kind === "timeout") {
          const why = dir.unreadable(below, "link");
          if (why) unreadable.push({ path, why });
        }
        continue;
      }
      const t = parseFdTarget(target);
      if (t.kind === "vfio-group" || t.kind === "vfio-container" || t.kind === "vfio-device") {
        const group = t.kind === "vfio-group" ? t.group : null;
        vfioFds.push({ fd, path: target, kind: t.kind, group, deleted: t.deleted, evidencePath: path });
      } else if (t.kind === "namespace" && t.nsType === "mnt") {
        nsFds.push({ fd, inode: t.inode, evidencePath: path });
      }
    }
  }

  return {
    pid,
    comm: commText === undefined ? (stat?.comm ?? null) : withoutNewline(commText),
    state: stat?.state ?? null,
    ppid: stat?.ppid ?? null,
    kernelThread: stat?.kernelThread ?? null,
    startTimeTicks: stat?.startTimeTicks ?? null,
    cmdline: cmdlineText === undefined ? null : parseCmdline(cmdlineText),
    mntNs,
    // Field by field rather than spread: an object literal of fixed fields is built in one step.
    podUid: owner.podUid,
    qos: owner.qos,
    containerId: owner.containerId,
    runtime: owner.runtime,
    vfioFds,
    nsFds,
    evidence,
    unreadable,
  };
}

/**
 * Builds the process table from `proc/<pid>/...` evidence: identity, state, mount namespace,
 * pod/container from the cgroup, and the fds that hold vfio nodes or mount namespaces.
 */
export function readProcesses(reader: EvidenceReader): ParseResult<ProcessTable> {
  const issues = new IssueList();
  const listed = reader.list("proc");
  const listing = listed === undefined ? "absent" : reader.capped("proc") ? "capped" : "complete";
  const dirs = reader.children("proc");
  const last: LastCgroup = { text: "", parsed: null };
  const processes = pidsOf(reader, dirs).map((pid) =>
    readProcess(dirs.get(String(pid)) ?? NO_EVIDENCE, pid, issues, last),
  );
  return result({ processes, listing }, issues.done());
}

// ---------------------------------------------------------------------------------------------------
// Bundle level: mount namespaces

/** Something that keeps a mount namespace alive besides its processes. */
export type NamespacePin =
  | {
      /** An nsfs bind mount (`... mnt:[N] /run/x ... - nsfs nsfs rw`) seen in some namespace's mountinfo. */
      readonly kind: "nsfs-mount";
      /** The namespace whose mountinfo lists the bind (null when that file's namespace is unknown). */
      readonly inNamespace: number | null;
      readonly mountPoint: string;
      readonly evidencePath: string;
      readonly line: number;
      readonly raw: string;
    }
  | { readonly kind: "fd"; readonly pid: number; readonly fd: number; readonly evidencePath: string };

export interface MountNamespace {
  /** nsfs inode; null for a mountinfo whose namespace could not be named (PID 1's link unreadable). */
  readonly inode: number | null;
  readonly isHost: boolean;
  /** Live processes in it: their `ns/mnt` names it, or (see `pidsInferred`) their mountinfo matched it. */
  readonly pids: readonly number[];
  /** Pids whose `ns/mnt` was unreadable and whose mountinfo shares this namespace's mount ids. */
  readonly pidsInferred: readonly number[];
  readonly pins: readonly NamespacePin[];
  /** The mountinfo read for it; null = unscanned, its mounts are unknown. */
  readonly mountinfo: {
    readonly evidencePath: string;
    readonly pid: number | null;
    readonly capped: boolean;
  } | null;
  readonly mounts: readonly Mount[];
}

export interface MountNamespaceView {
  readonly host: {
    /** The host namespace's inode; null when neither the shipper nor PID 1's mountinfo could name it. */
    readonly inode: number | null;
    /** The inode was not recorded by the shipper but found by matching PID 1's mountinfo to a namespace. */
    readonly inodeInferred: boolean;
    /** As the shipper recorded it: where the host namespace was read from and why. */
    readonly source: string;
    readonly reason: string;
  };
  /** Host first, then by inode, then namespaces of unknown inode. */
  readonly namespaces: readonly MountNamespace[];
  /** Namespaces with no mountinfo: what the detector could not see. */
  readonly unscanned: readonly number[];
  /** Namespaces kept alive only by nsfs mounts or fds (mount namespace capture). */
  readonly pinnedWithoutProcess: readonly number[];
  /** Processes whose namespace is unknown (`ns/mnt` unreadable) and not recovered from mountinfo. */
  readonly unknownNsPids: readonly number[];
}

/** Where the shipper stores `nsenter --mount=<pin> cat /proc/self/mountinfo` for a process-less namespace. */
export function pinnedMountinfoPath(inode: number): string {
  return `faultline/pinned-ns/${inode}/mountinfo`;
}

interface Draft {
  inode: number | null;
  pids: number[];
  pidsInferred: number[];
  pins: NamespacePin[];
  mountinfo: { evidencePath: string; pid: number | null; capped: boolean } | null;
  mounts: Mount[];
}

/**
 * Mount ids are unique system-wide while the mount exists, so two mountinfo files that share most of
 * their (id, devt, mount point) triples were read from the same namespace.
 */
function sameNamespace(a: readonly Mount[], b: readonly Mount[]): boolean {
  if (a.length === 0 || b.length === 0) return false;
  const byId = new Map<number, Mount>();
  for (const m of b) byId.set(m.mountId, m);
  let shared = 0;
  for (const m of a) {
    const o = byId.get(m.mountId);
    if (o && o.devt === m.devt && o.mountPoint === m.mountPoint) shared++;
  }
  return shared > 0 && shared * 2 >= Math.min(a.length, b.length);
}

/** `checkMountIds`' marks, kept between calls and grown as needed. */
let idMarks = new Uint8Array(1024);

/**
 * Sanity checks of §7.4 on one namespace's mounts: a read racing mount/umount can duplicate lines or
 * lose a parent. Mount ids are handed out densely from small numbers, so the ids are marked in a byte
 * array over their range: a Set of them made readMountNamespaces 0.05 ms slower (0.41 -> 0.36 ms for
 * the bench node's 52 namespaces, 1,330 mounts). A sparse range (a garbled file) falls back to the Set.
 */
function checkMountIds(mounts: readonly Mount[], issues: IssueList): void {
  const n = mounts.length;
  if (n === 0) return;
  const ids = new Array<number>(n);
  let min = Number.POSITIVE_INFINITY;
  let max = -1;
  for (let i = 0; i < n; i++) {
    const id = (mounts[i] as Mount).mountId;
    ids[i] = id;
    if (id < min) min = id;
    if (id > max) max = id;
  }
  const span = max - min + 1;
  const dense = span <= 32 * n + 4096;
  let set: Set<number> | null = null;
  if (dense) {
    if (idMarks.length < span) idMarks = new Uint8Array(span);
    idMarks.fill(0, 0, span);
  } else {
    set = new Set();
  }
  const marks = idMarks;
  for (let i = 0; i < n; i++) {
    const id = ids[i] as number;
    let seen: boolean;
    if (set === null) {
      seen = marks[id - min] === 1;
      marks[id - min] = 1;
    } else {
      seen = set.has(id);
      set.add(id);
    }
    if (seen) {
      const m = mounts[i] as Mount;
      issues.add("inconsistent", `mount id ${id} listed twice`, m.line, [m.evidencePath ?? ""]);
    }
  }
  for (let i = 0; i < n; i++) {
    const m = mounts[i] as Mount;
    if (m.mountPoint === "/") continue;
    const parent = m.parentId;
    const listed =
      set === null ? parent >= min && parent <= max && marks[parent - min] === 1 : set.has(parent);
    if (!listed) {
      issues.add("inconsistent", `parent mount ${parent} is not listed`, m.line, [m.evidencePath ?? ""]);
    }
  }
}

/**
 * Groups processes by mount namespace, reads each namespace's mountinfo (the shipper ships one per
 * namespace), marks the host's, finds namespaces pinned by nsfs mounts or fds, and lists the ones
 * whose mounts could not be seen.
 */
export function readMountNamespaces(args: {
  reader: EvidenceReader;
  hostNamespace: { readonly mnt: string | null; readonly source: string; readonly reason: string };
  /** The process table when the caller already built it. */
  processes?: ProcessTable;
}): ParseResult<MountNamespaceView> {
  const { reader, hostNamespace } = args;
  const issues = new IssueList();
  let table = args.processes;
  if (!table) {
    const r = readProcesses(reader);
    table = r.value;
    if (!r.ok) for (const i of r.issues) issues.add(i.code, i.message, i.line, i.path);
  }
  const hostRef = hostNamespace.mnt === null ? null : parseNsLink(hostNamespace.mnt);
  const hostInode = hostRef?.type === "mnt" ? hostRef.inode : null;
  // The reference takes the host to be PID 1's namespace; the shipper says so by naming proc/1/ns/mnt
  // as its source, even when that link was unreadable (then proc/1/mountinfo is the host's table).
  const hostIsPid1 = hostNamespace.source === "proc/1/ns/mnt";

  const drafts = new Map<number, Draft>();
  const draftOf = (inode: number): Draft => {
    let d = drafts.get(inode);
    if (!d) {
      d = { inode, pids: [], pidsInferred: [], pins: [], mountinfo: null, mounts: [] };
      drafts.set(inode, d);
    }
    return d;
  };
  if (hostInode !== null) draftOf(hostInode);
  const unknownNs: number[] = [];
  for (const p of table.processes) {
    if (p.mntNs === null) unknownNs.push(p.pid);
    else draftOf(p.mntNs).pids.push(p.pid);
    for (const f of p.nsFds)
      draftOf(f.inode).pins.push({ kind: "fd", pid: p.pid, fd: f.fd, evidencePath: f.evidencePath });
  }

  const parse = (path: string): Mount[] => {
    const text = reader.text(path) ?? "";
    const r = parseMountinfo(text, { evidencePath: path });
    if (!r.ok) for (const i of r.issues) issues.add(i.code, i.message, i.line, i.path);
    return r.value;
  };
  const mountinfoUsed = new Set<string>();
  /**
   * Reads the namespace's best mountinfo: shipped, non-empty (a dying process's is empty), not capped;
   * the first of the best. The shipper sends one per namespace, so most candidates have none. Where
   * to look, in order of preference: its processes' (PID 1's first for the host), then the pinned
   * copy. Paths are made only as they are tried: the host's namespace holds most processes and its
   * first candidate is nearly always the one (a list of every path cost 0.05 ms per snapshot).
   */
  const scan = (d: Draft): void => {
    let best = null as { path: string; pid: number | null; score: number } | null;
    /** Whether `path` is the best so far; true when nothing can beat it. */
    const tried = (path: string, pid: number | null): boolean => {
      const text = reader.text(path);
      if (text === undefined) return false;
      const score = (text.length > 0 ? 2 : 0) + (reader.capped(path) ? 0 : 1);
      if (!best || score > best.score) best = { path, pid, score };
      return best.score === 3;
    };
    const pid1First = d.inode === hostInode && hostIsPid1;
    let done = pid1First && tried("proc/1/mountinfo", 1);
    for (let i = 0; !done && i < d.pids.length; i++) {
      const pid = d.pids[i] ?? 0;
      if (!(pid1First && pid === 1)) done = tried(`proc/${pid}/mountinfo`, pid);
    }
    if (!done && d.inode !== null) tried(pinnedMountinfoPath(d.inode), null);
    if (!best) return;
    mountinfoUsed.add(best.path);
    d.mountinfo = { evidencePath: best.path, pid: best.pid, capped: reader.capped(best.path) };
    d.mounts = parse(best.path);
  };
  for (const d of drafts.values()) scan(d);

  // Mountinfo of processes whose namespace link was unreadable (PID 1 here): match by mount ids.
  const unnamed: Draft[] = [];
  const recovered = new Set<number>();
  for (const pid of unknownNs) {
    const path = `proc/${pid}/mountinfo`;
    if (reader.text(path) === undefined || mountinfoUsed.has(path)) continue;
    const mounts = parse(path);
    mountinfoUsed.add(path);
    const match = [...drafts.values()].find((d) => sameNamespace(mounts, d.mounts));
    if (match) {
      match.pids.push(pid);
      match.pidsInferred.push(pid);
      recovered.add(pid);
      if (match.mountinfo === null) {
        match.mountinfo = { evidencePath: path, pid, capped: reader.capped(path) };
        match.mounts = mounts;
      }
      continue;
    }
    const twin = unnamed.find((d) => sameNamespace(mounts, d.mounts));
    if (twin) twin.pids.push(pid);
    else {
      const mountinfo = { evidencePath: path, pid, capped: reader.capped(path) };
      unnamed.push({ inode: null, pids: [pid], pidsInferred: [], pins: [], mountinfo, mounts });
    }
    recovered.add(pid);
  }

  // nsfs bind mounts pin namespaces; a namespace found only this way gets its shipped mountinfo, if any.
  const scanned = [...drafts.values(), ...unnamed];
  for (let i = 0; i < scanned.length; i++) {
    const d = scanned[i];
    if (!d) continue;
    for (const m of d.mounts) {
      const pinned = pinnedNamespaceOf(m);
      if (pinned?.type !== "mnt") continue;
      const isNew = !drafts.has(pinned.inode);
      const target = draftOf(pinned.inode);
      target.pins.push({
        kind: "nsfs-mount",
        inNamespace: d.inode,
        mountPoint: m.mountPoint,
        evidencePath: m.evidencePath ?? "",
        line: m.line,
        raw: m.raw,
      });
      if (isNew) {
        scan(target);
        scanned.push(target);
      }
    }
  }

  for (const d of [...drafts.values(), ...unnamed]) checkMountIds(d.mounts, issues);

  // Unnamed by the shipper but PID 1's: the host is wherever PID 1's mountinfo landed.
  const host =
    hostInode !== null
      ? drafts.get(hostInode)
      : hostIsPid1
        ? [...drafts.values(), ...unnamed].find((d) => d.pids.includes(1))
        : undefined;
  if (!host) {
    issues.add("missing", `host mount namespace unknown: ${hostNamespace.reason}`, undefined, [
      hostNamespace.source,
    ]);
  } else if (host.mountinfo === null) {
    issues.add("missing", `no mountinfo shipped for the host namespace mnt:[${host.inode}]`, undefined, [
      hostNamespace.source,
    ]);
  }
  const finish = (d: Draft): MountNamespace => ({
    inode: d.inode,
    isHost: d === host,
    pids: [...d.pids].sort((a, b) => a - b),
    pidsInferred: d.pidsInferred,
    pins: d.pins,
    mountinfo: d.mountinfo,
    mounts: d.mounts,
  });
  const named = [...drafts.values()].sort((a, b) => (a.inode ?? 0) - (b.inode ?? 0));
  const ordered = [...named, ...unnamed];
  const namespaces = (host ? [host, ...ordered.filter((d) => d !== host)] : ordered).map(finish);
  return result(
    {
      host: {
        inode: host?.inode ?? null,
        inodeInferred: hostInode === null && host?.inode != null,
        source: hostNamespace.source,
        reason: hostNamespace.reason,
      },
      namespaces,
      unscanned: named.flatMap((d) => (d.inode !== null && d.mountinfo === null ? [d.inode] : [])),
      pinnedWithoutProcess: named.flatMap((d) =>
        d.inode !== null && d.pids.length === 0 && d.pins.length > 0 ? [d.inode] : [],
      ),
      unknownNsPids: unknownNs.filter((p) => !recovered.has(p)),
    },
    issues.done(),
  );
}
