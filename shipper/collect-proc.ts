/**
 * /proc sections of a capture: every process's identity, mount namespace and vfio/namespace fds, then
 * one mountinfo per mount namespace (reference §7.3), the host namespace decision, and namespaces
 * pinned by nsfs mounts or fds with no live process (read through nsenter when possible).
 */
import { execFile } from "node:child_process";
import type { HostNamespace } from "../shared/contracts/snapshot.js";
import { encodeFile, errnoCode, forEachLimit, type SectionReader } from "./collect-read.js";

/** fd targets worth shipping: vfio groups/cdevs/device fds and mount-namespace handles. Others are sockets, pipes, files. */
export function keepFdTarget(target: string): boolean {
  return (
    target.startsWith("/dev/vfio/") || target.startsWith("mnt:[") || target === "anon_inode:[vfio-device]"
  );
}

/** The inode of an `mnt:[N]` namespace link text, or undefined. */
export function mntInode(link: string | undefined): string | undefined {
  const m = link === undefined ? null : /^mnt:\[(\d+)\]$/.exec(link);
  return m?.[1];
}

const PF_KTHREAD = 0x00200000;
/** Representative candidates tried per namespace when the first one's mountinfo fails (process exited). */
const REP_TRIES = 3;

/** What the process scan learned, for choosing namespace representatives. */
export interface ProcessFacts {
  pid: number;
  /** Mount namespace inode, undefined when `ns/mnt` was unreadable. */
  mnt?: string;
  kthread: boolean;
  /** `starttime` (field 22 of stat), clock ticks after boot; smaller = longer-lived. */
  starttime: number;
  /** fds that are mount-namespace handles: `{fd, inode}`. */
  nsFds: { fd: string; inode: string }[];
}

/** Fields of `/proc/<pid>/stat` after the parenthesised comm (which may itself hold spaces and parens). */
function statFields(stat: string | undefined): string[] {
  if (stat === undefined) return [];
  const close = stat.lastIndexOf(")");
  return close < 0 ? [] : stat.slice(close + 2).split(" ");
}

/** Reads one process: comm, cmdline, stat, cgroup, ns/mnt, fd/ and the fd links worth keeping. */
async function collectOneProcess(s: SectionReader, pid: number, maxFds: number): Promise<ProcessFacts> {
  const base = `proc/${pid}`;
  const o = { subtree: base };
  const [, cmdline, stat, , mnt, fds] = await Promise.all([
    s.attr(`${base}/comm`, o),
    s.file(`${base}/cmdline`, o),
    s.attr(`${base}/stat`, o),
    s.attr(`${base}/cgroup`, o),
    s.link(`${base}/ns/mnt`, o),
    s.dir(`${base}/fd/`, o),
  ]);
  const f = statFields(stat?.text);
  const flags = Number(f[6] ?? 0);
  const facts: ProcessFacts = {
    pid,
    kthread: (flags & PF_KTHREAD) !== 0 || (cmdline !== undefined && cmdline.bytes.length === 0),
    starttime: Number(f[19] ?? Number.MAX_SAFE_INTEGER),
    nsFds: [],
  };
  const inode = mntInode(mnt);
  if (inode !== undefined) facts.mnt = inode;
  const names = fds?.filter((n) => /^\d+$/.test(n)).slice(0, maxFds) ?? [];
  await forEachLimit(names, 8, async (fd) => {
    const path = `${base}/fd/${fd}`;
    const target = await s.rec.readLink(path, { ...o, record: false });
    if (target === undefined || !keepFdTarget(target)) return;
    s.put(path, { kind: "link", target });
    const pinned = mntInode(target);
    if (pinned !== undefined) facts.nsFds.push({ fd, inode: pinned });
  });
  return facts;
}

/** The process scan: `proc/` listing and every numeric entry, processes handled a few at a time. */
export async function collectProcesses(s: SectionReader, maxFds: number): Promise<ProcessFacts[]> {
  const names = (await s.dir("proc/")) ?? [];
  const pids = names.filter((n) => /^\d+$/.test(n)).map(Number);
  pids.sort((a, b) => a - b);
  const facts: ProcessFacts[] = [];
  await forEachLimit(
    pids,
    8,
    async (pid) => {
      facts.push(await collectOneProcess(s, pid, maxFds));
    },
    () => s.full,
  );
  if (s.full)
    s.rec.addGap(`process scan stopped at the entry cap: ${facts.length} of ${pids.length} processes read`);
  facts.sort((a, b) => a.pid - b.pid);
  return facts;
}

/** An nsfs mount of a mount namespace found in a mountinfo file (`root` field `mnt:[N]`). */
interface NsfsPin {
  inode: string;
  mountPoint: string;
  /** The pid whose mountinfo listed it: the mount point is relative to that process's root. */
  pid: number;
}

/** mountinfo octal escapes (`\040` for a space) in the mount point field. */
function unescapeMountinfo(field: string): string {
  return field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(Number.parseInt(oct, 8)));
}

/** nsfs mounts of mount namespaces in one mountinfo text (most files have none: a quick indexOf first). */
export function nsfsMountPins(text: string, pid: number): NsfsPin[] {
  if (!text.includes(" - nsfs ")) return [];
  const pins: NsfsPin[] = [];
  for (const line of text.split("\n")) {
    const sep = line.indexOf(" - nsfs ");
    if (sep < 0) continue;
    const f = line.slice(0, sep).split(" ");
    const inode = mntInode(f[3]);
    if (inode !== undefined && f[4] !== undefined)
      pins.push({ inode, mountPoint: unescapeMountinfo(f[4]), pid });
  }
  return pins;
}

/** How the namespace section may reach the live system: only when `--root`'s /proc is this process's. */
export interface NamespaceContext {
  /** `<root>/proc/self` is this process: /proc under root is the live procfs of our pid namespace. */
  live: boolean;
  /** Absolute path of the `nsenter` binary, when found on PATH and `live`. */
  nsenter?: string;
  timeoutMs: number;
  maxFileBytes: number;
}

/**
 * One mountinfo per mount namespace plus always `proc/1/mountinfo`; the host namespace decision; and
 * pinned namespaces with no live process (nsenter when possible, else a gap).
 */
export async function collectNamespaces(
  s: SectionReader,
  processes: readonly ProcessFacts[],
  ctx: NamespaceContext,
): Promise<HostNamespace> {
  const byNs = new Map<string, ProcessFacts[]>();
  let unknownNs = 0;
  for (const p of processes) {
    if (p.mnt === undefined) {
      if (p.pid !== 1) unknownNs++;
      continue;
    }
    const list = byNs.get(p.mnt) ?? [];
    list.push(p);
    byNs.set(p.mnt, list);
  }
  if (unknownNs > 0) {
    s.rec.addGap(`${unknownNs} processes' ns/mnt could not be read: their mount namespaces may be unscanned`);
  }

  const mountinfos = new Map<number, string>();
  const readMountinfo = async (pid: number): Promise<boolean> => {
    const r = await s.file(`proc/${pid}/mountinfo`, { subtree: `proc/${pid}` });
    // A process that is exiting shows an empty mountinfo: not a namespace without mounts.
    if (r?.text === undefined || r.text.length === 0) return false;
    mountinfos.set(pid, r.text);
    return true;
  };
  const pid1 = processes.find((p) => p.pid === 1);
  await Promise.all([
    readMountinfo(1),
    ...[...byNs.values()].map(async (members) => {
      if (pid1?.mnt !== undefined && members.includes(pid1)) return;
      const ranked = [...members].sort(
        (a, b) => Number(a.kthread) - Number(b.kthread) || a.starttime - b.starttime || a.pid - b.pid,
      );
      for (const p of ranked.slice(0, REP_TRIES)) if (await readMountinfo(p.pid)) return;
      s.rec.addGap(`mount namespace mnt:[${members[0]?.mnt}]: no member's mountinfo could be read`);
    }),
  ]);

  const host = await decideHostNamespace(s, pid1, mountinfos.get(1), ctx);
  await collectPinned(s, processes, mountinfos, new Set(byNs.keys()), ctx);
  return host;
}

/** The mount id of the `/` mount in a mountinfo text: mount ids are unique system-wide, so equal ids mean one namespace. */
function rootMountId(mountinfo: string | undefined): string | undefined {
  for (const line of mountinfo?.split("\n") ?? []) {
    const f = line.split(" ", 5);
    if (f[4] === "/") return `${f[0]} ${f[2]}`;
  }
  return undefined;
}

/**
 * PID 1's `ns/mnt` when readable. Otherwise (EACCES here and without hostPID) the shipper's own namespace,
 * but only when `--root` is the live /proc and its `/` mount is PID 1's (same mount id); else unknown.
 */
async function decideHostNamespace(
  s: SectionReader,
  pid1: ProcessFacts | undefined,
  pid1Mountinfo: string | undefined,
  ctx: NamespaceContext,
): Promise<HostNamespace> {
  // The shipper's own namespaces, next to PID 1's (reference §14: a containerised shipper sees its own).
  const [self] = ctx.live ? await Promise.all([s.link("proc/self/ns/mnt"), s.link("proc/self/ns/pid")]) : [];
  if (pid1?.mnt !== undefined) {
    return { mnt: `mnt:[${pid1.mnt}]`, source: "proc/1/ns/mnt", reason: "PID 1's mount namespace" };
  }
  const e = s.rec.get("proc/1/ns/mnt");
  const why = e?.kind === "error" ? e.code : e?.kind === "timeout" ? "timed out" : "not read";
  if (!ctx.live) {
    return {
      mnt: null,
      source: "proc/1/ns/mnt",
      reason: `proc/1/ns/mnt unreadable (${why}) and --root is not this shipper's live /proc, so there is no fallback; proc/1/mountinfo is the host's mount table`,
    };
  }
  const selfMountinfo = await s.rec.readFile("proc/self/mountinfo", { record: false });
  const pid1Root = rootMountId(pid1Mountinfo);
  if (self !== undefined && pid1Root !== undefined && pid1Root === rootMountId(selfMountinfo?.text)) {
    return {
      mnt: self,
      source: "proc/self/ns/mnt",
      reason: `proc/1/ns/mnt unreadable (${why}); the shipper's own namespace has the same / mount (id ${pid1Root}) as proc/1/mountinfo, so it is PID 1's`,
    };
  }
  return {
    mnt: null,
    source: "proc/1/ns/mnt",
    reason: `proc/1/ns/mnt unreadable (${why}) and the shipper's own namespace (${self ?? "unreadable"}) has a different / mount than PID 1 (a container?); proc/1/mountinfo is the host's mount table`,
  };
}

/** Namespaces held only by nsfs mounts or fds: read via `nsenter --mount=<pin> cat /proc/self/mountinfo`. */
async function collectPinned(
  s: SectionReader,
  processes: readonly ProcessFacts[],
  mountinfos: ReadonlyMap<number, string>,
  live: ReadonlySet<string>,
  ctx: NamespaceContext,
): Promise<void> {
  const root = s.rec.abs("").replace(/\/$/, "");
  const pins = new Map<string, { paths: string[]; seen: string[] }>();
  const pin = (inode: string, path: string | undefined, seen: string): void => {
    if (live.has(inode)) return;
    const p = pins.get(inode) ?? { paths: [], seen: [] };
    if (path !== undefined) p.paths.push(path);
    p.seen.push(seen);
    pins.set(inode, p);
  };
  for (const p of processes) {
    for (const f of p.nsFds) pin(f.inode, `${root}/proc/${p.pid}/fd/${f.fd}`, `fd ${f.fd} of pid ${p.pid}`);
  }
  for (const [pid, text] of mountinfos) {
    for (const m of nsfsMountPins(text, pid)) {
      const seen = `nsfs mount at ${m.mountPoint} in proc/${pid}/mountinfo`;
      pin(m.inode, `${root}/proc/${pid}/root${m.mountPoint}`, seen);
      // PID 1's root link is unreadable where its ns link is; with --root / the plain path is the host's.
      if (ctx.live && s.rec.root === "/") pin(m.inode, m.mountPoint, seen);
    }
  }
  await Promise.all(
    [...pins].map(async ([inode, p]) => {
      const held = [...new Set(p.seen)].join(", ");
      if (!ctx.live || ctx.nsenter === undefined) {
        const why = ctx.live ? "nsenter is not on PATH" : "--root is not this shipper's live /proc";
        s.rec.addGap(`pinned mount namespace mnt:[${inode}] (${held}) has no live process; not read: ${why}`);
        return;
      }
      const path = `faultline/pinned-ns/${inode}/mountinfo`;
      let failure = "";
      for (const via of [...new Set(p.paths)]) {
        const r = await runNsenter(ctx.nsenter, via, ctx);
        if (r.ok) {
          s.put(path, encodeFile(r.bytes, r.capped).entry);
          return;
        }
        failure = r.message;
      }
      s.put(path, { kind: "error", op: "read", code: "NSENTER", message: failure });
      s.rec.addGap(`pinned mount namespace mnt:[${inode}] (${held}): nsenter failed: ${failure}`);
    }),
  );
}

type NsenterResult = { ok: true; bytes: Uint8Array; capped: boolean } | { ok: false; message: string };

function runNsenter(nsenter: string, pinPath: string, ctx: NamespaceContext): Promise<NsenterResult> {
  return new Promise((resolve) => {
    execFile(
      nsenter,
      [`--mount=${pinPath}`, "cat", "/proc/self/mountinfo"],
      { timeout: ctx.timeoutMs, killSignal: "SIGKILL", maxBuffer: ctx.maxFileBytes, encoding: "buffer" },
      (err, stdout, stderr) => {
        if (!err) {
          resolve({ ok: true, bytes: stdout, capped: false });
          return;
        }
        if (errnoCode(err) === "ERR_CHILD_PROCESS_STDIO_MAXBUFFER") {
          resolve({ ok: true, bytes: stdout.subarray(0, ctx.maxFileBytes), capped: true });
          return;
        }
        const said = stderr.toString("utf8").trim().split("\n")[0];
        const killed = "killed" in err && err.killed === true;
        resolve({
          ok: false,
          message: killed
            ? `timed out after ${ctx.timeoutMs} ms`
            : said || err.message.split("\n")[0] || "failed",
        });
      },
    );
  });
}
