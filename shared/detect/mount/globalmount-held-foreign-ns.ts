/**
 * INC-2 "globalmount busy", and RC-7 before anyone runs rm (reference/evidence-formats.md §7.2, §7.3,
 * §9.2, §11.2, §11.3): a CSI staging path the host namespace no longer mounts is still mounted in
 * another mount namespace. One episode per (staging path as the host names it, holder namespace).
 */
import type { StoredEvent } from "../../db/events.js";
import { classifyKubeletPath } from "../../parse/csi-paths.js";
import type { Mount } from "../../parse/mountinfo.js";
import type { MountNamespace } from "../../parse/proc.js";
import type { HostView } from "../../view/host-view.js";
import { type AttachmentState, attachmentsAt } from "../attachments.js";
import type { Detector, DetectorRun, EvidenceItem, Verdict } from "../types.js";
import { decidedByNamespace } from "./decided.js";
import { attachmentOf, type DiskState, describeDisk, detachOf, deviceFact, resolveDisk } from "./disk.js";
import {
  describePin,
  describeProcess,
  eventItem,
  hasMounts,
  hostRootFor,
  isScanned,
  kubeletNamespaces,
  kubeletRoots,
  mayDetachFact,
  mountContaining,
  mountFact,
  nsName,
  pinFact,
  processIndex,
  propagationText,
  type RemovalRule,
  removalRule,
  type StagingMount,
  stagingMounts,
  stagingPathUnder,
  unseenNamespaces,
} from "./namespaces.js";

const ID = "globalmount-held-foreign-ns";
/** Holder processes named in a summary; the evidence lists a few more. */
const NAMED_HOLDERS = 3;
const CITED_HOLDERS = 5;

/** One holder namespace of one staging path the host no longer mounts. */
interface Holding {
  readonly ns: MountNamespace & { readonly inode: number };
  readonly hostPath: string;
  /** The staging path itself, as the namespace sees it (a container may see it under `/host/...`). */
  readonly staging: StagingMount[];
  /** Other mounts of the same filesystem in the namespace (matched on `major:minor` + root, §7.2). */
  readonly copies: Mount[];
  /** Host staging mounts at the same path of another filesystem: the volume was staged again. */
  readonly restaged: StagingMount[];
}

const sameFs = (a: Mount, b: Mount): boolean => a.devt === b.devt && a.root === b.root;

/** `root` is `within` or below it: a bind of a sub-directory of the staged filesystem holds it too. */
function rootWithin(root: string, within: string): boolean {
  return within === "/" || root === within || root.startsWith(`${within}/`);
}

function findHoldings(view: HostView, host: MountNamespace): { holdings: Holding[]; unnamed: string[] } {
  const all = stagingMounts(view);
  const hostByKey = new Map<string, StagingMount[]>();
  for (const s of all) {
    if (!s.ns.isHost) continue;
    const list = hostByKey.get(s.key);
    if (list) list.push(s);
    else hostByKey.set(s.key, [s]);
  }
  const holdings = new Map<string, Holding>();
  const holdingOf = (ns: Holding["ns"], hostPath: string, restaged: StagingMount[]): Holding => {
    const key = `${hostPath}|${nsName(ns.inode)}`;
    const known = holdings.get(key);
    if (known) return known;
    const h: Holding = { ns, hostPath, staging: [], copies: [], restaged };
    holdings.set(key, h);
    return h;
  };
  /** Filesystems of leaked staging mounts by `major:minor`: the first host path (sorted) and the root. */
  const leaked = new Map<string, { hostPath: string; root: string; restaged: StagingMount[] }>();
  const unnamed: string[] = [];

  for (const s of all) {
    if (s.ns.isHost) continue;
    const onHost = hostByKey.get(s.key) ?? [];
    // Still mounted on the host: a legitimate user (`master:N` of the host's `shared:N`), or a copy that
    // has not leaked yet. Compared by staging key, so the root the container sees it under does not matter.
    if (onHost.some((h) => sameFs(h.mount, s.mount))) continue;
    // Kubelet roots and namespaces walk every process: asked for here, only for a leaked staging mount.
    const hostPath =
      onHost[0]?.mount.mountPoint ?? stagingPathUnder(hostRootFor(s.path.root, kubeletRoots(view)), s.path);
    const { inode } = s.ns;
    if (inode === null) {
      unnamed.push(
        `pids ${s.ns.pids.join(", ")} (mount namespace unreadable) still mount ${hostPath} (${s.mount.evidencePath}:${s.mount.line}); not reported without a namespace to name`,
      );
      continue;
    }
    if (kubeletNamespaces(view).has(inode)) continue;
    holdingOf({ ...s.ns, inode }, hostPath, onHost).staging.push(s);
    if (s.mount.major !== 0) {
      const known = leaked.get(s.mount.devt);
      if (!known || hostPath < known.hostPath) {
        leaked.set(s.mount.devt, { hostPath, root: s.mount.root, restaged: onHost });
      }
    }
  }

  // Copies under other paths (§7.2 "match on field 3 (+root), not on the path"), only for filesystems
  // the host mounts nowhere: while the host still mounts one, a pod's private copy is its normal view.
  if (leaked.size === 0) return { holdings: [...holdings.values()], unnamed };
  const hostDevts = new Set(host.mounts.map((m) => m.devt));
  for (const ns of view.mounts.namespaces) {
    const { inode } = ns;
    if (ns.isHost || inode === null || !hasMounts(ns) || kubeletNamespaces(view).has(inode)) continue;
    for (const m of ns.mounts) {
      const fs = leaked.get(m.devt);
      if (!fs || hostDevts.has(m.devt) || !rootWithin(m.root, fs.root)) continue;
      if (classifyKubeletPath(m.mountPoint)?.kind === "staging") continue;
      holdingOf({ ...ns, inode }, fs.hostPath, fs.restaged).copies.push(m);
    }
  }
  return { holdings: [...holdings.values()], unnamed };
}

interface Context {
  readonly view: HostView;
  readonly host: MountNamespace;
  readonly removal: RemovalRule;
  readonly attachments: AttachmentState;
  readonly unseen: readonly string[];
  readonly unnamed: readonly string[];
}

/** The host directory a namespace's mount is a bind of, when the host mounts that filesystem. */
function hostDirOf(host: MountNamespace, m: Mount): string | null {
  let best: Mount | null = null;
  for (const h of host.mounts) {
    if (h.devt !== m.devt || !rootWithin(m.root, h.root)) continue;
    if (best === null || h.root.length > best.root.length) best = h;
  }
  if (!best) return null;
  const rest = best.root === "/" ? m.root : m.root.slice(best.root.length);
  const dir = `${best.mountPoint === "/" ? "" : best.mountPoint}${rest === "/" ? "" : rest}`;
  return dir || "/";
}

/** What the parent mount is a bind of: the host directory when it contains the staging path, else the filesystem. */
function parentSource(parent: Mount, hostDir: string | null, hostPath: string): string {
  if (hostDir !== null && (hostDir === "/" || hostPath.startsWith(`${hostDir}/`)))
    return `the host's ${hostDir}`;
  return `the host filesystem ${parent.devt} (root ${parent.root})`;
}

/** Why the copy survived the host unmount, from its propagation and its parent's (§11.2 holder annotation). */
function propagationStory(
  entry: Mount,
  parent: Mount | null,
  parentHostDir: string | null,
  hostPath: string,
): string {
  const tags = propagationText(entry);
  switch (entry.propagation) {
    case "private":
      if (parent && parent.propagation === "private" && parentHostDir !== null) {
        return `The copy is private under ${parent.mountPoint}, a private bind of ${parentSource(parent, parentHostDir, hostPath)}: a hostPath volume with mountPropagation None copied the host's mounts when the container started, and the host's unmount never reached it (koordinator#2641 pattern)`;
      }
      if (parent && parent.propagation !== "private") {
        return `The copy is private although its parent ${parent.mountPoint} is ${propagationText(parent)}: it was bind-mounted or re-mounted private inside the namespace, so host unmounts cannot reach it`;
      }
      return "The copy is private (no propagation tag): host unmounts never reach it";
    case "slave":
      return `The copy is ${tags}, a slave of the host's peer group, so it should have followed the host unmount: look for a re-mount inside the namespace or a bind the container made itself`;
    case "shared":
    case "shared+slave":
      return `The copy is ${tags}: a Bidirectional mount whose own mounts propagate back to the host; the host's unmount did not reach it (it may be the container's own mount)`;
    case "unbindable":
      return "The copy is unbindable and private: host unmounts never reach it";
  }
}

/** The lasting fix for the holder pod, by how its copy propagates (§11.2 remediation hints). */
function holderFix(entry: Mount): string {
  switch (entry.propagation) {
    case "private":
    case "unbindable":
      return "give the holder pod's hostPath volume mountPropagation: HostToContainer and restart it";
    case "slave":
      return "find the bind or re-mount the holder made inside its namespace and stop it, then restart the pod";
    case "shared":
    case "shared+slave":
      return "find why the holder (a Bidirectional mount, e.g. a CSI node plugin) kept its own mount and fix that";
  }
}

/**
 * Both rmdir's EBUSY and the lazy detach act on the directory's dentry: a copy sitting under a bind of
 * the host filesystem is on the host's dentry; one on the container's own filesystem is not.
 */
function kernelSentence(ctx: Context, onHostDentry: boolean): string {
  if (!onHostDentry) {
    return `The copy sits on the namespace's own filesystem, not on the host's directory: removing the staging directory on the host neither fails nor detaches it`;
  }
  const r = ctx.removal;
  switch (r.kind) {
    case "ebusy":
      return `With ${r.why}, removing the staging directory on the host (rm, kubelet's unstage cleanup) fails with EBUSY while this copy exists`;
    case "lazy":
      return `With ${r.why}, removing the staging directory on the host succeeds and detaches this copy lazily; until then, and afterwards while any file on it stays open, the disk stays pinned`;
    case "unknown":
      return `Whether removing the staging directory on the host fails with EBUSY is unknown (${r.why})`;
  }
}

function diskSentence(ctx: Context, disk: DiskState): { text: string | null; events: EvidenceItem[] } {
  if (disk.kind === "unknown") return { text: null, events: [] };
  if (disk.kind === "gone") {
    return {
      text: `Its disk is gone (${disk.why}): the copy holds a filesystem whose device no longer exists`,
      events: [],
    };
  }
  const att = attachmentOf(ctx.attachments, disk);
  if (att) {
    return {
      text: `The copy pins disk ${att.diskId} on ${describeDisk(disk)}, which the control plane still has attached`,
      events: [eventItem(att.attach, "the attach of the pinned disk")],
    };
  }
  const det = detachOf(ctx.attachments, disk);
  if (det) {
    return {
      text: `The copy pins ${describeDisk(disk)}, which the control plane detached (disk ${det.diskId}) at ${new Date(det.atMs).toISOString()}`,
      events: [eventItem(det, "the control plane detached the disk the copy still holds")],
    };
  }
  return { text: `The copy pins ${describeDisk(disk)}`, events: [] };
}

function holdingVerdict(ctx: Context, h: Holding): Verdict {
  const { view, host } = ctx;
  const procs = processIndex(view);
  const entries = [...h.staging.map((s) => s.mount), ...h.copies];
  const primary = entries[0];
  if (!primary) throw new Error("a holding without a mount");
  const parent = h.ns.mounts.find((m) => m.mountId === primary.parentId) ?? null;
  const parentHostDir = parent ? hostDirOf(host, parent) : null;
  const ns = nsName(h.ns.inode);
  const holders = h.ns.pids.flatMap((pid) => {
    const p = procs.get(pid);
    return p ? [p] : [];
  });
  const pinnedOnly = h.ns.pids.length === 0;
  const disk = resolveDisk(view, primary.devt, primary.source);
  const diskText = diskSentence(ctx, disk);

  const who = pinnedOnly
    ? `No process lives in ${ns}: it is kept alive only by ${h.ns.pins.map((p) => describePin(p, procs)).join(" and ") || "a pin the shipper did not see"} (mount-namespace capture, gcp-compute-persistent-disk-csi-driver#1658)`
    : `Held by ${holders
        .slice(0, NAMED_HOLDERS)
        .map(describeProcess)
        .join(
          "; ",
        )}${holders.length > NAMED_HOLDERS ? ` and ${holders.length - NAMED_HOLDERS} more processes` : ""}`;
  const seenAt = h.staging[0]
    ? h.staging[0].mount.mountPoint === h.hostPath
      ? ""
      : ` (seen there as ${h.staging[0].mount.mountPoint})`
    : ` at ${primary.mountPoint} (the same filesystem; the namespace does not show the staging path itself)`;
  const restaged = h.restaged[0]
    ? `The host has ${h.hostPath} mounted again from another filesystem (${h.restaged[0].mount.devt}): this copy is of the earlier one.`
    : "";
  const inNsPath = h.staging[0]?.mount.mountPoint ?? primary.mountPoint;
  const firstHolder = holders[0];
  const fix = pinnedOnly
    ? `Fix: release the pin (${h.ns.pins
        .map((p) =>
          p.kind === "fd"
            ? `close fd ${p.fd} of pid ${p.pid}`
            : `umount ${p.mountPoint} in ${nsName(p.inNamespace)}`,
        )
        .join(", ")}), which frees the namespace and its mounts, then retry NodeUnstage.`
    : `Fix: ${holderFix(primary)}, or run \`nsenter -t ${firstHolder?.pid ?? "<pid>"} -m umount ${inNsPath}\`, then retry NodeUnstage.`;
  const summary = [
    `${h.hostPath} is gone from the host mount namespace but ${ns} still mounts it${seenAt} (${primary.fsType} ${primary.source || "(no source)"}, ${primary.devt}).`,
    `${who}.`,
    `${propagationStory(primary, parent, parentHostDir, h.hostPath)}.`,
    `${kernelSentence(ctx, parent === null || parentHostDir !== null)}.`,
    diskText.text ? `${diskText.text}.` : "",
    restaged,
    `${fix} Never force-detach the disk while a copy is mounted.`,
  ]
    .filter((s) => s !== "")
    .join(" ");

  const evidence: EvidenceItem[] = [];
  for (const s of h.staging)
    evidence.push(
      mountFact(
        view,
        s.mount,
        `${ns} still mounts the staging path; propagation ${propagationText(s.mount)}`,
      ),
    );
  for (const m of h.copies)
    evidence.push(
      mountFact(
        view,
        m,
        `${ns} mounts the same filesystem at ${m.mountPoint}; propagation ${propagationText(m)}`,
      ),
    );
  if (parent) {
    evidence.push(
      mountFact(
        view,
        parent,
        `parent of the copy: propagation ${propagationText(parent)}, ${parentHostDir === null ? "the namespace's own filesystem" : `a bind of ${parentSource(parent, parentHostDir, h.hostPath)}`}`,
      ),
    );
  }
  const hostSide = h.restaged[0]?.mount ?? mountContaining(host.mounts, h.hostPath);
  if (hostSide) {
    evidence.push(
      mountFact(
        view,
        hostSide,
        h.restaged[0]
          ? `host namespace: ${h.hostPath} holds another filesystem now`
          : `host namespace: nothing is mounted at ${h.hostPath}; the deepest host mount containing it is this one`,
      ),
    );
  }
  for (const p of holders.slice(0, CITED_HOLDERS)) {
    if (p.evidence.mntNs) {
      evidence.push({
        kind: "fact",
        snapshotKey: view.snapshotKey,
        path: p.evidence.mntNs,
        raw: ns,
        note: `${describeProcess(p)} lives in the holder namespace`,
      });
    }
  }
  for (const pin of h.ns.pins) evidence.push(pinFact(view, pin, h.ns.inode, `keeps ${ns} alive`));
  const mdm = mayDetachFact(view);
  if (mdm) evidence.push(mdm);
  if (disk.kind === "present")
    evidence.push(deviceFact(view, disk.device, `the copy's device: ${describeDisk(disk)}`));
  if (disk.kind === "gone" && disk.device)
    evidence.push(deviceFact(view, disk.device, `the copy's device, gone: ${disk.why}`));
  evidence.push(...diskText.events);

  const blindSpots = [
    ...ctx.unseen.filter((s) => !s.startsWith(`${ns} `)),
    ...ctx.unnamed,
    ...(ctx.removal.kind === "unknown" ? [`EBUSY on removal unknown: ${ctx.removal.why}`] : []),
    ...(disk.kind === "unknown" ? [`the copy's device is unknown: ${disk.why}`] : []),
  ];
  return {
    detector: ID,
    subject: `${h.hostPath}|${ns}`,
    // Matched on the staging path: certain. Matched on the filesystem only: a reused `major:minor`
    // (§7.3) could make it another disk's, although the host mounts that device nowhere.
    confidence: h.staging.length > 0 ? "high" : "medium",
    summary,
    evidence,
    blindSpots,
  };
}

/** Finds staging paths held in foreign namespaces; decides the subjects of every scanned namespace. */
export function detectGlobalmountHeldForeignNs(args: {
  view: HostView;
  events: readonly StoredEvent[];
}): DetectorRun {
  const { view } = args;
  const host = view.hostNamespace;
  // Absence from the host is the whole finding: without the host's full mount table nothing is decided.
  if (!host || !isScanned(host)) return { verdicts: [], decided: new Set() };
  const { holdings, unnamed } = findHoldings(view, host);
  // What the verdicts explain (removal rule, events, unseen namespaces) is not needed without one.
  if (holdings.length === 0)
    return { verdicts: [], decided: decidedByNamespace({ view, met: [], isScanned }) };
  const ctx: Context = {
    view,
    host,
    removal: removalRule(view),
    attachments: attachmentsAt(args.events, view.capturedAtMs),
    unseen: unseenNamespaces(view),
    unnamed,
  };
  const verdicts = holdings
    .sort((a, b) => (a.hostPath < b.hostPath ? -1 : a.hostPath > b.hostPath ? 1 : a.ns.inode - b.ns.inode))
    .map((h) => holdingVerdict(ctx, h));

  return { verdicts, decided: decidedByNamespace({ view, met: verdicts.map((v) => v.subject), isScanned }) };
}

export const globalmountHeldForeignNs: Detector<HostView> = {
  id: ID,
  title: "CSI staging mount held in another mount namespace",
  fires:
    "A CSI staging path (v2 `<kubelet-root>/plugins/kubernetes.io/csi/<driver>/<sha256>/globalmount` or v1 `…/csi/pv/<pv>/globalmount`, any kubelet root, also as a container sees it under `/host/…`) is mounted in a scanned non-host mount namespace while the host namespace has no mount of the same filesystem at that staging path; also a namespace holding that filesystem (same major:minor, root within) under another path while the host mounts the device nowhere. Namespaces running their own kubelet are skipped.",
  clears:
    "The holder namespace, scanned again, no longer mounts the path or the filesystem, or the host mounts it again (a legitimate `master:N` copy of the host's `shared:N`), or the namespace no longer exists in a complete process scan.",
  cites:
    "The holder's mountinfo lines and its parent's (propagation), the host mount containing the path, the holder processes' ns/mnt links (pod and container from their cgroups) or the pins of a process-less namespace, fs.may_detach_mounts (EBUSY on RHEL7 family vs lazy detach), the block device and the control-plane attach/detach of the pinned disk.",
  detect: detectGlobalmountHeldForeignNs,
};
