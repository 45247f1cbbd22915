/**
 * What the mount detectors need from the host view's mount namespaces: which were really scanned,
 * the kubelet's CSI staging mounts in each, how a path a container sees maps to the host's, and the
 * kernel rule that decides whether a mount left in another namespace makes rmdir fail
 * (reference/evidence-formats.md §7.3, §9.1, §9.2, §11.2).
 */
import type { StoredEvent } from "../../db/events.js";
import { classifyKubeletPath, type KubeletPath } from "../../parse/csi-paths.js";
import type { Mount } from "../../parse/mountinfo.js";
import type { MountNamespace, NamespacePin, Process } from "../../parse/proc.js";
import type { HostView } from "../../view/host-view.js";
import type { EvidenceItem } from "../types.js";

export type StagingPath = Extract<KubeletPath, { kind: "staging" }>;

/** A CSI staging mount (`…/globalmount`) as one scanned namespace lists it. */
export interface StagingMount {
  readonly ns: MountNamespace;
  readonly mount: Mount;
  readonly path: StagingPath;
  /** `<driver>/<sha256>` (v2) or `pv/<pv>` (v1): the same staging directory under any kubelet root. */
  readonly key: string;
}

export const DEFAULT_KUBELET_ROOT = "/var/lib/kubelet";

/** `mnt:[N]`, the way `readlink /proc/<pid>/ns/mnt` prints a namespace. */
export function nsName(inode: number | null): string {
  return inode === null ? "mnt:[unknown]" : `mnt:[${inode}]`;
}

/**
 * A namespace whose mounts are known whole: its mountinfo was shipped, not cut by the size cap, and not
 * empty (a real namespace always has its root mount; an empty file is a process that was exiting).
 */
export function isScanned(ns: MountNamespace): boolean {
  return ns.mountinfo !== null && !ns.mountinfo.capped && ns.mounts.length > 0;
}

/**
 * A namespace some of whose mounts are known: what it lists is real even when the size cap cut the
 * rest, so a mount found there is a finding, while a mount not found there proves nothing.
 */
export function hasMounts(ns: MountNamespace): boolean {
  return ns.mountinfo !== null && ns.mounts.length > 0;
}

/** The key that names one staging directory whatever kubelet root it is seen under. */
export function stagingKey(p: StagingPath): string {
  return p.version === 1 ? `pv/${p.pv ?? ""}` : `${p.driver ?? ""}/${p.volumeHash ?? ""}`;
}

/** The staging path of `p` under kubelet root `root`. */
export function stagingPathUnder(root: string, p: StagingPath): string {
  return `${root}/plugins/kubernetes.io/csi/${stagingKey(p)}/globalmount`;
}

/**
 * `compute`, run once per view and kept: several detectors ask the same of one view, and the view is
 * not changed after buildHostView.
 */
function perView<T>(compute: (view: HostView) => T): (view: HostView) => T {
  const kept = new WeakMap<HostView, T>();
  return (view) => {
    if (kept.has(view)) return kept.get(view) as T;
    const value = compute(view);
    kept.set(view, value);
    return value;
  };
}

/** A mount whose mount point is a kubelet CSI path. */
export interface KubeletMount {
  readonly mount: Mount;
  readonly path: KubeletPath;
}

/**
 * The kubelet CSI mounts of each namespace, in line order, classified once per view: the mount
 * detectors each classified every mount point of every namespace again (the bench's busy node has 52
 * namespaces, 1,330 mounts, 40 kubelet CSI paths; sharing this took orphan-globalmount from 0.097 to
 * 0.021 ms per snapshot).
 */
const kubeletMountsByNs = perView(
  (view) => new Map(view.mounts.namespaces.map((ns) => [ns, classifyMounts(ns)] as const)),
);

/** Every kubelet CSI path holds `kubernetes.io/csi` or `kubernetes.io~csi` (see classifyKubeletPath). */
const MIN_KUBELET_PATH = "kubernetes.io/csi".length;

function classifyMounts(ns: MountNamespace): KubeletMount[] {
  const out: KubeletMount[] = [];
  for (const mount of ns.mounts) {
    const mp = mount.mountPoint;
    // Most mount points are shorter (/etc/hosts, /dev/shm, /proc/bus: 940 of the bench node's 1,330):
    // skipping the call for them cut the classification by a quarter (0.03 ms per snapshot).
    if (mp.length < MIN_KUBELET_PATH) continue;
    const path = classifyKubeletPath(mp);
    if (path) out.push({ mount, path });
  }
  return out;
}

/** The mounts of `ns` (one of the view's namespaces) whose mount points are kubelet CSI paths, in line order. */
export function kubeletMounts(view: HostView, ns: MountNamespace): readonly KubeletMount[] {
  return kubeletMountsByNs(view).get(ns) ?? classifyMounts(ns);
}

/**
 * Every staging mount listed by any namespace (host included, capped ones too), in namespace then line
 * order. Kept per view: two detectors ask for it.
 */
export const stagingMounts = perView((view): readonly StagingMount[] => {
  const out: StagingMount[] = [];
  for (const ns of view.mounts.namespaces) {
    if (!hasMounts(ns)) continue;
    for (const { mount, path } of kubeletMounts(view, ns)) {
      if (path.kind === "staging") out.push({ ns, mount, path, key: stagingKey(path) });
    }
  }
  return out;
});

/** `--root-dir=X` or `--root-dir X` from a kubelet command line. */
function rootDirFlag(argv: readonly string[]): string | null {
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i] ?? "";
    if (a.startsWith("--root-dir=")) return a.slice(11) || null;
    if (a === "--root-dir") return argv[i + 1] ?? null;
  }
  return null;
}

function withoutTrailingSlash(path: string): string {
  return path.length > 1 && path.endsWith("/") ? path.slice(0, -1) : path;
}

/**
 * The host's kubelet root dirs: the kubelet's `--root-dir`, and the roots of kubelet paths mounted in
 * the host namespace (reference §9.1: never hard-code `/var/lib/kubelet`); the default only when
 * nothing names one. Kept per view, like the other walks of every process here.
 */
export const kubeletRoots = perView((view): readonly string[] => {
  const roots = new Set<string>();
  const host = view.hostNamespace;
  for (const p of view.processes.processes) {
    if (p.comm !== "kubelet" || (host !== null && host.inode !== null && p.mntNs !== host.inode)) continue;
    const flag = rootDirFlag(p.cmdline ?? []);
    if (flag?.startsWith("/")) roots.add(withoutTrailingSlash(flag));
  }
  for (const { path } of host ? kubeletMounts(view, host) : []) roots.add(path.root);
  if (roots.size === 0) roots.add(DEFAULT_KUBELET_ROOT);
  return [...roots].sort();
});

/**
 * Non-host namespaces running their own kubelet (a containerized kubelet, a nested node such as kind):
 * their staging mounts are that kubelet's own, not copies leaked from the host.
 */
export const kubeletNamespaces = perView((view): ReadonlySet<number> => {
  const out = new Set<number>();
  for (const p of view.processes.processes) if (p.comm === "kubelet" && p.mntNs !== null) out.add(p.mntNs);
  if (view.hostNamespace?.inode != null) out.delete(view.hostNamespace.inode);
  return out;
});

/**
 * The host kubelet root behind a root seen inside a container: the same path, a host root it ends with
 * (`/host/var/lib/kubelet` is the host's `/var/lib/kubelet`), the host's only root, or (nothing fits)
 * the path as seen.
 */
export function hostRootFor(seen: string, roots: readonly string[]): string {
  if (roots.includes(seen)) return seen;
  let best: string | null = null;
  for (const r of roots) {
    // Roots are absolute, so a suffix match starts at a `/`: whole components only.
    if (seen.endsWith(r)) {
      if (best === null || r.length > best.length) best = r;
    }
  }
  if (best !== null) return best;
  return roots.length === 1 ? (roots[0] ?? seen) : seen;
}

/**
 * Processes by pid; kept per view, as three detectors ask for it. Callers ask only when they name a
 * process, so a snapshot with no finding never builds it (0.03 ms per snapshot on the bench node).
 */
export const processIndex = perView(
  (view): ReadonlyMap<number, Process> => new Map(view.processes.processes.map((p) => [p.pid, p])),
);

/** `pid 77102 node-agent (pod <uid>, container <12 hex>)`. */
export function describeProcess(p: Process): string {
  const owner = [
    p.podUid === null ? null : `pod ${p.podUid}`,
    p.containerId === null ? null : `container ${p.containerId.slice(0, 12)}`,
  ].filter((s) => s !== null);
  return `pid ${p.pid} ${p.comm ?? "(comm unreadable)"}${owner.length ? ` (${owner.join(", ")})` : ""}`;
}

/** How a pin keeps a namespace alive, in words. */
export function describePin(pin: NamespacePin, procs: ReadonlyMap<number, Process>): string {
  if (pin.kind === "fd") {
    const p = procs.get(pin.pid);
    return `fd ${pin.fd} of ${p ? describeProcess(p) : `pid ${pin.pid}`}`;
  }
  return `an nsfs bind mount at ${pin.mountPoint} in ${nsName(pin.inNamespace)}`;
}

/** The pin as an evidence fact. */
export function pinFact(view: HostView, pin: NamespacePin, inode: number | null, note: string): EvidenceItem {
  if (pin.kind === "fd") {
    return { kind: "fact", snapshotKey: view.snapshotKey, path: pin.evidencePath, raw: nsName(inode), note };
  }
  return {
    kind: "fact",
    snapshotKey: view.snapshotKey,
    path: pin.evidencePath,
    line: pin.line,
    raw: pin.raw,
    note,
  };
}

/** A mountinfo line as an evidence fact. */
export function mountFact(view: HostView, m: Mount, note: string): EvidenceItem {
  return {
    kind: "fact",
    snapshotKey: view.snapshotKey,
    path: m.evidencePath ?? "",
    line: m.line,
    raw: m.raw,
    note,
  };
}

/** A control-plane event as an evidence link. */
export function eventItem(e: StoredEvent, note: string): EvidenceItem {
  return {
    kind: "event",
    eventId: e.id,
    type: e.type,
    outcome: e.outcome,
    diskId: e.diskId,
    bdf: e.bdf,
    mode: e.mode,
    at: new Date(e.atMs).toISOString(),
    note,
  };
}

/** `shared:233`, `master:60`, `private`: the optional fields as mountinfo shows them. */
export function propagationText(m: Mount): string {
  const tags = [
    m.peerGroup === null ? null : `shared:${m.peerGroup}`,
    m.masterGroup === null ? null : `master:${m.masterGroup}`,
    m.propagateFrom === null ? null : `propagate_from:${m.propagateFrom}`,
    m.propagation === "unbindable" ? "unbindable" : null,
  ].filter((s) => s !== null);
  return tags.length ? tags.join(" ") : "private (no tag)";
}

/** The deepest mount in `mounts` whose mount point contains `path` (the filesystem `path` lives on). */
export function mountContaining(mounts: readonly Mount[], path: string): Mount | null {
  let best: Mount | null = null;
  for (const m of mounts) {
    const mp = m.mountPoint;
    const inside = mp === "/" || path === mp || path.startsWith(`${mp}/`);
    if (inside && (best === null || mp.length >= best.mountPoint.length)) best = m;
  }
  return best;
}

/**
 * Namespaces the detectors could not see into, each in words: unscanned (no mountinfo shipped, e.g.
 * a pinned namespace the shipper could not enter), cut by the size cap, or empty; and processes whose
 * namespace could not be named.
 */
export function unseenNamespaces(view: HostView): string[] {
  const out: string[] = [];
  for (const ns of view.mounts.namespaces) {
    if (ns.isHost || isScanned(ns)) continue;
    const who =
      ns.pids.length > 0
        ? `pids ${ns.pids.slice(0, 5).join(", ")}${ns.pids.length > 5 ? ", …" : ""}`
        : ns.pins.length > 0
          ? `no process; pinned by ${ns.pins.map((p) => describePin(p, processIndex(view))).join(" and ")}`
          : "no process";
    const why =
      ns.mountinfo === null
        ? ns.pids.length === 0
          ? "its mountinfo was not shipped (the shipper could not enter the pinned namespace)"
          : "its mountinfo was not shipped"
        : ns.mountinfo.capped
          ? "its mountinfo was cut by the shipper's size cap"
          : "its mountinfo was empty (the process was exiting?)";
    out.push(`${nsName(ns.inode)} (${who}): ${why}; it may hold staging mounts too`);
  }
  if (view.mounts.unknownNsPids.length > 0) {
    const pids = view.mounts.unknownNsPids;
    out.push(
      `pids ${pids.slice(0, 5).join(", ")}${pids.length > 5 ? ", …" : ""}: mount namespace unreadable and mountinfo not matched to a scanned namespace`,
    );
  }
  if (view.processes.listing !== "complete") {
    out.push(
      `the process listing was ${view.processes.listing}: namespaces of unlisted processes were not scanned`,
    );
  }
  return out;
}

/**
 * Whether a mount left in another namespace makes removing the staging directory fail (§9.2.1, §11.2
 * step 4): `fs.may_detach_mounts=0` (RHEL7 family, the default there) or a kernel older than 3.18
 * (before lazy detach, commit 8ed936b5671b) => EBUSY; `1`, or absent on a newer kernel => removal
 * succeeds and detaches the other copies lazily.
 */
export type RemovalRule =
  | { readonly kind: "ebusy"; readonly why: string }
  | { readonly kind: "lazy"; readonly why: string }
  | { readonly kind: "unknown"; readonly why: string };

function kernelVersion(release: string | null): [number, number] | null {
  const m = release === null ? null : /^(\d+)\.(\d+)/.exec(release);
  return m ? [Number(m[1]), Number(m[2])] : null;
}

export function removalRule(view: HostView): RemovalRule {
  const mdm = view.mayDetachMounts;
  if (mdm.value === 0) return { kind: "ebusy", why: "fs.may_detach_mounts=0 (RHEL7 family)" };
  if (mdm.value === 1) return { kind: "lazy", why: "fs.may_detach_mounts=1" };
  if (mdm.value === "unknown") {
    return { kind: "unknown", why: `${mdm.source} could not be read` };
  }
  const v = kernelVersion(view.kernelRelease);
  if (v === null) {
    return { kind: "unknown", why: "fs.may_detach_mounts is absent and the kernel release is unknown" };
  }
  const [major, minor] = v;
  if (major < 3 || (major === 3 && minor < 18)) {
    return {
      kind: "ebusy",
      why: `kernel ${view.kernelRelease} predates lazy detach (3.18) and has no fs.may_detach_mounts`,
    };
  }
  return { kind: "lazy", why: `kernel ${view.kernelRelease} (upstream semantics, no fs.may_detach_mounts)` };
}

/** The may_detach_mounts value as an evidence fact, when one was read. */
export function mayDetachFact(view: HostView): EvidenceItem | null {
  const mdm = view.mayDetachMounts;
  if (mdm.value !== 0 && mdm.value !== 1) return null;
  return {
    kind: "fact",
    snapshotKey: view.snapshotKey,
    path: mdm.source,
    raw: mdm.raw,
    note:
      mdm.value === 0
        ? "0: a mount point in any namespace blocks rmdir with EBUSY"
        : "1: rmdir detaches mounts in other namespaces lazily",
  };
}

/** Pod UIDs named by a kubelet `pods/<uid>/…` mount point. */
const POD_DIR_RE =
  /\/pods\/([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|[0-9a-f]{32})(?:\/|$)/;

export function podUidOfMountPoint(mountPoint: string): string | null {
  return POD_DIR_RE.exec(mountPoint)?.[1] ?? null;
}
