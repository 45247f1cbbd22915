/**
 * RC-4 (reference/evidence-formats.md §3.1, §3.3, §3.4, §11.3): `/dev/vfio/<G>` (or the iommufd cdev
 * `/dev/vfio/devices/vfioN`) held open by a process that is a zombie, stuck in D state, or orphaned
 * (its pod is gone). The group admits one opener (EBUSY for the next VMM) and an unbind of a member
 * blocks until the holder lets go; the kernel log's `Relaying device request to user` and
 * `blocked until device is released` lines say an unbind is already stuck behind it.
 */
import type { StoredEvent } from "../../db/events.js";
import type { KernelLog, KernelLogFact } from "../../parse/kmsg.js";
import type { Process, VfioFd } from "../../parse/proc.js";
import type { HostView } from "../../view/host-view.js";
import { attachmentsAt } from "../attachments.js";
import type { Confidence, Detector, DetectorRun, EvidenceItem, Verdict } from "../types.js";
import { decidedBy } from "./decided.js";
import { describeProcess, eventItem, isScanned, podUidOfMountPoint, processIndex } from "./namespaces.js";

const ID = "vfio-group-held-by-dead-process";
/**
 * USER_HZ: `/proc/<pid>/stat` starttime is in clock ticks of 1/100 s on every architecture Linux
 * exports USER_HZ for (x86, arm64); it is boot-relative, the base kmsg timestamps share (no suspend on
 * servers), so an escalation line older than the holder is about an earlier holder.
 */
const TICKS_PER_SEC = 100;
/** Slack between the holder's start and a kmsg line blaming it (tick rounding, per-CPU clocks). */
const START_SLACK_USEC = 1_000_000;
const RANK: Record<Confidence, number> = { high: 3, medium: 2, low: 1 };

/** One process holding one IOMMU group (through the group node or a member's device cdev). */
interface Holding {
  readonly process: Process;
  /** The group id, or null when only a device cdev whose group could not be resolved is held. */
  readonly group: string | null;
  readonly label: string;
  readonly fds: readonly VfioFd[];
  readonly members: readonly string[];
}

/** The group a `/dev/vfio/devices/vfioN` cdev belongs to, through the PCI function listing `vfio-dev/vfioN`. */
function groupOfCdev(view: HostView, index: number): { group: string | null; bdf: string } | null {
  for (const f of view.sysfs.pciFunctions) {
    if (f.vfioDev.known && f.vfioDev.value === `vfio${index}`) {
      return { group: f.iommuGroup.known ? f.iommuGroup.value : null, bdf: f.bdf };
    }
  }
  return null;
}

function membersOf(view: HostView, group: string): string[] {
  const g = view.sysfs.iommuGroups.find((x) => x.id === group);
  if (g?.members.known) return [...g.members.value];
  return [...view.pci.values()].filter((j) => j.iommuGroup === group).map((j) => j.bdf);
}

function holdingsOf(view: HostView): { holdings: Holding[]; unresolved: string[] } {
  const holdings: Holding[] = [];
  const unresolved: string[] = [];
  for (const p of view.processes.processes) {
    if (p.vfioFds.length === 0) continue;
    const byGroup = new Map<string, { group: string | null; fds: VfioFd[]; members: string[] }>();
    for (const fd of p.vfioFds) {
      // The container node `/dev/vfio/vfio` holds no group by itself.
      if (fd.kind === "vfio-container") continue;
      let group: string | null = fd.group === null ? null : String(fd.group);
      let label = group === null ? "" : `group ${group}`;
      let members: string[] = group === null ? [] : membersOf(view, group);
      if (fd.kind === "vfio-device") {
        const index = Number(fd.path.slice(fd.path.lastIndexOf("vfio") + 4));
        const cdev = groupOfCdev(view, index);
        group = cdev?.group ?? null;
        label = group !== null ? `group ${group}` : `device vfio${index}`;
        members = group !== null ? membersOf(view, group) : cdev ? [cdev.bdf] : [];
        if (cdev === null) {
          unresolved.push(`${fd.path} held by pid ${p.pid}: no PCI function lists vfio-dev/vfio${index}`);
        }
      }
      const entry = byGroup.get(label) ?? { group, fds: [], members };
      entry.fds.push(fd);
      byGroup.set(label, entry);
    }
    for (const [label, e] of byGroup)
      holdings.push({ process: p, group: e.group, label, fds: e.fds, members: e.members });
  }
  return { holdings, unresolved };
}

/**
 * Pods that still exist: a pod is live while any other process runs in it or a kubelet `pods/<uid>/…`
 * mount in the host namespace names it. Null when that cannot be told (process scan or host mount table incomplete).
 */
function livePods(view: HostView): { live: (uid: string, except: number) => boolean } | null {
  const host = view.hostNamespace;
  if (view.processes.listing !== "complete" || !host || !isScanned(host)) return null;
  const { processes } = view.processes;
  // Asked once per holder with a pod, and holders are few: scanning on demand beats indexing every
  // process's pod and every host mount point up front (this detector: 0.123 -> 0.030 ms per snapshot).
  return {
    live: (uid, except) =>
      processes.some((p) => p.podUid === uid && p.pid !== except) ||
      // The kubelet's own mounts only: a container with a private copy of /var/lib/kubelet keeps deleted
      // pods' mounts forever, which would make every orphan look alive.
      host.mounts.some((m) => m.mountPoint.includes(uid) && podUidOfMountPoint(m.mountPoint) === uid),
  };
}

/** When the holder started on the kernel log's clock (µs since boot, less the slack), if known. */
function startUsec(p: Process): number | null {
  return p.startTimeTicks === null ? null : (p.startTimeTicks / TICKS_PER_SEC) * 1e6 - START_SLACK_USEC;
}

/** The log lost records after `sinceUsec` (a gap before the holder started hides nothing about it). */
function lostSince(log: KernelLog, sinceUsec: number | null): boolean {
  return log.lost.some((g) => {
    const after = log.records.find((r) => r.line === g.line);
    return sinceUsec === null || after?.tsUsec == null || after.tsUsec >= sinceUsec;
  });
}

/** Kernel log lines about a stuck release of one of `members`, since the holder started. */
function escalations(view: HostView, members: readonly string[], p: Process): KernelLogFact[] {
  const sinceUsec = startUsec(p);
  const out: KernelLogFact[] = [];
  for (const bdf of members) {
    for (const f of view.pci.get(bdf)?.kernelFacts ?? []) {
      const k = f.fact.kind;
      if (k !== "vfio_request_relayed" && k !== "vfio_blocked_until_released" && k !== "vfio_device_in_use")
        continue;
      if (sinceUsec !== null && f.record.tsUsec !== null && f.record.tsUsec < sinceUsec) continue;
      out.push(f);
    }
  }
  return out.sort((a, b) => a.record.line - b.record.line);
}

function kmsgFact(view: HostView, f: KernelLogFact, note: string): EvidenceItem {
  const wall = f.record.tsUsec === null ? null : view.clock.toWall(f.record.tsUsec / 1e6);
  return {
    kind: "fact",
    snapshotKey: view.snapshotKey,
    path: "dev/kmsg",
    line: f.record.line,
    raw: f.record.text,
    note,
    ...(wall ? { at: new Date(wall.ms).toISOString(), atErrorMs: wall.errorMs } : {}),
  };
}

interface Judgement {
  readonly problems: string[];
  readonly confidence: Confidence;
  readonly blindSpots: string[];
  readonly orphanPod: boolean;
}

function judge(h: Holding, pods: ReturnType<typeof livePods>, escalated: boolean): Judgement {
  const p = h.process;
  const problems: string[] = [];
  const blindSpots: string[] = [];
  let confidence: Confidence = "low";
  const raise = (c: Confidence) => {
    if (RANK[c] > RANK[confidence]) confidence = c;
  };
  if (p.state === "Z" || p.state === "X") {
    problems.push(
      `it has exited (state ${p.state}) yet the fd is still listed: its exit has not released the group (a thread of it still runs or is stuck, or the parent ${p.ppid ?? "?"} has not reaped it)`,
    );
    raise("high");
  } else if (p.state === "D") {
    problems.push(
      "it is stuck in uninterruptible sleep (state D) and cannot release the group or be killed until that wait ends",
    );
    raise(escalated ? "high" : "medium");
    if (!escalated)
      blindSpots.push(
        "one snapshot in D may be a momentary wait: a second snapshot in D, or kernel log lines about the release, confirm it",
      );
  } else if (p.state === null) {
    blindSpots.push(`pid ${p.pid}'s state is unknown (proc/${p.pid}/stat unreadable)`);
  }
  let orphanPod = false;
  if (p.podUid !== null) {
    if (pods === null) {
      blindSpots.push(
        "whether its pod still exists is unknown: the process scan or the host mount table is incomplete",
      );
    } else if (!pods.live(p.podUid, p.pid)) {
      orphanPod = true;
      problems.push(
        `its pod ${p.podUid} is gone: no other process runs in it and no kubelet pods/${p.podUid} mount names it`,
      );
      raise(escalated ? "high" : "medium");
    }
  } else {
    blindSpots.push(`pid ${p.pid}'s cgroup names no pod: whether its sandbox still exists is not checked`);
  }
  return { problems, confidence, blindSpots, orphanPod };
}

/** The task the kernel says is blocked in the unbind, with its state when the process table has it. */
function blockedTask(procs: ReadonlyMap<number, Process>, comm: string, pid: number): string {
  const p = procs.get(pid);
  if (!p) return `${comm} (${pid}, no longer in the process table)`;
  return `${comm} (${pid}, state ${p.state ?? "unknown"}${p.state === "D" ? ": stuck writing unbind" : ""})`;
}

function verdictOf(
  view: HostView,
  procs: ReadonlyMap<number, Process>,
  h: Holding,
  j: Judgement,
  esc: readonly KernelLogFact[],
  events: readonly StoredEvent[],
  extraBlind: readonly string[],
): Verdict {
  const p = h.process;
  const nodes = [...new Set(h.fds.map((f) => f.path))].join(", ");
  const attached = attachmentsAt(events, view.capturedAtMs);
  const disks = [...attached.attached.values()].filter((a) => a.bdf !== null && h.members.includes(a.bdf));
  const memberText = h.members.length
    ? `${h.group === null ? "" : `IOMMU group ${h.group}: `}${h.members.join(", ")}${disks.length ? `, disk ${disks.map((d) => d.diskId).join(", ")}` : ""}`
    : "members unknown";
  const blocked = esc.flatMap((f) => (f.fact.kind === "vfio_device_in_use" ? [f.fact] : []));
  const firstEsc = esc[0];
  const escWall = firstEsc?.record.tsUsec == null ? null : view.clock.toWall(firstEsc.record.tsUsec / 1e6);
  const escText = firstEsc
    ? ` The kernel log says an unbind is already stuck behind it (${esc.length} line(s) since ${escWall ? new Date(escWall.ms).toISOString() : "the holder started"}, e.g. "${firstEsc.record.text}")${blocked.length ? `; blocked task ${[...new Set(blocked.map((b) => blockedTask(procs, b.comm, b.pid)))].join(", ")}` : ""}.`
    : "";
  const fix =
    p.state === "Z" || p.state === "X"
      ? `Find the thread still holding it (\`cat /proc/${p.pid}/task/*/stat\`, \`/proc/${p.pid}/task/*/stack\`); reaping needs its parent ${p.ppid ?? "?"}.`
      : p.state === "D"
        ? `Check \`cat /proc/${p.pid}/stack\`: a D-state holder cannot be killed; if the wait does not end, the host needs a reboot before the group is usable.`
        : `Kill pid ${p.pid} (its pod is gone) and confirm the group is free (nothing else has ${nodes} open).`;
  const summary = [
    `${nodes} (${memberText}) is held open by ${describeProcess(p)}, and ${j.problems.join("; and ")}.`,
    "Nothing else can open the group (EBUSY) and unbinding vfio-pci from a member blocks until it is released.",
    escText.trim(),
    `${fix} Do not detach or reattach a disk at these BDFs until the group is free: a reused BDF then unbinds the wrong disk (alibaba-cloud-csi-driver#1686).`,
  ]
    .filter((s) => s !== "")
    .join(" ");

  const evidence: EvidenceItem[] = h.fds.map((f) => ({
    kind: "fact",
    snapshotKey: view.snapshotKey,
    path: f.evidencePath,
    raw: f.deleted ? `${f.path} (deleted)` : f.path,
    note: `fd ${f.fd} of ${describeProcess(p)} holds ${h.label}`,
  }));
  if (p.evidence.stat && p.state !== null) {
    evidence.push({
      kind: "fact",
      snapshotKey: view.snapshotKey,
      path: p.evidence.stat,
      raw: p.state,
      note: `state (field 3) of pid ${p.pid}; starttime ${p.startTimeTicks ?? "unknown"} ticks`,
    });
  }
  if (j.orphanPod && p.evidence.cgroup && p.podUid !== null) {
    evidence.push({
      kind: "fact",
      snapshotKey: view.snapshotKey,
      path: p.evidence.cgroup,
      raw: p.podUid,
      note: "pod UID from the cgroup path; no other process and no kubelet pods/<uid> mount names it",
    });
  }
  if (h.group !== null) {
    const g = view.sysfs.iommuGroups.find((x) => x.id === h.group);
    if (g?.members.known) {
      evidence.push({
        kind: "fact",
        snapshotKey: view.snapshotKey,
        path: g.members.source,
        raw: g.members.value.join(" "),
        note: `members of IOMMU group ${h.group}`,
      });
    }
  }
  for (const f of esc)
    evidence.push(kmsgFact(view, f, "release of a group member is blocked behind a holder"));
  for (const d of disks)
    evidence.push(eventItem(d.attach, `disk ${d.diskId} attached at ${d.bdf}, in the held group`));

  const blindSpots = [...j.blindSpots, ...extraBlind];
  const log = view.kernelLog;
  if (log === null) blindSpots.push("no kernel log was shipped: a blocked unbind would not show");
  else if (lostSince(log, startUsec(p))) {
    blindSpots.push(
      "the kernel log lost records (seq gaps) since the holder started: escalation lines may be missing",
    );
  }
  const sinceMs = escWall?.ms;
  return {
    detector: ID,
    subject: `${h.label}|pid ${p.pid}|${p.startTimeTicks ?? "?"}`,
    confidence: j.confidence,
    summary,
    evidence,
    blindSpots,
    ...(sinceMs === undefined ? {} : { sinceMs }),
  };
}

/** A `group G|pid P|T` subject's pid and starttime. */
function parseSubject(subject: string): { pid: number; start: string } | null {
  const m = /\|pid (\d+)\|(\S+)$/.exec(subject);
  return m?.[1] && m[2] ? { pid: Number(m[1]), start: m[2] } : null;
}

/** Finds vfio holders that are zombies, stuck in D, or left over from a deleted pod. */
export function detectVfioHeldByDeadProcess(args: {
  view: HostView;
  events: readonly StoredEvent[];
}): DetectorRun {
  const { view } = args;
  const { holdings, unresolved } = holdingsOf(view);
  // Only holders are judged: with none, which pods are live does not matter.
  const pods = holdings.length > 0 ? livePods(view) : null;
  const fdUnreadable = view.processes.processes.filter(
    (p) => p.evidence.fd === undefined || p.unreadable.some((u) => u.path.includes("/fd")),
  );
  const extraBlind = [
    ...unresolved,
    ...(fdUnreadable.length
      ? [
          `fds of pids ${fdUnreadable
            .slice(0, 5)
            .map((p) => p.pid)
            .join(
              ", ",
            )}${fdUnreadable.length > 5 ? ", …" : ""} could not be read: other holders may be unseen`,
        ]
      : []),
    ...(view.processes.listing !== "complete"
      ? [`the process listing was ${view.processes.listing}: other holders may be unseen`]
      : []),
  ];
  const verdicts: Verdict[] = [];
  const met = new Set<string>();
  for (const h of holdings) {
    const esc = escalations(view, h.members, h.process);
    const j = judge(h, pods, esc.length > 0);
    met.add(`${h.label}|pid ${h.process.pid}|${h.process.startTimeTicks ?? "?"}`);
    if (j.problems.length > 0)
      verdicts.push(verdictOf(view, processIndex(view), h, j, esc, args.events, extraBlind));
  }

  return {
    verdicts,
    decided: decidedBy(met, (subject) => {
      const s = parseSubject(subject);
      if (!s) return false;
      const p = processIndex(view).get(s.pid);
      // Gone, or the pid now names another process: the holder no longer exists.
      if (!p || String(p.startTimeTicks ?? "?") !== s.start) return view.processes.listing === "complete";
      // Still there: decided when its fds and state were read (it then no longer holds, or holds healthily).
      return (
        p.evidence.fd !== undefined && !p.unreadable.some((u) => u.path.includes("/fd")) && p.state !== null
      );
    }),
  };
}

export const vfioGroupHeldByDeadProcess: Detector<HostView> = {
  id: ID,
  title: "VFIO group held by a dead or orphaned process",
  fires:
    "A process holds `/dev/vfio/<G>` (or a member's `/dev/vfio/devices/vfioN`) open and is a zombie (Z), stuck (D), or orphaned (its cgroup's pod UID has no other process and no kubelet `pods/<uid>` mount). Confidence rises to high for a zombie, or when kmsg has `Relaying device request to user`, `blocked until … released` or `Device is currently in use` for a group member since the holder started.",
  clears:
    "The process no longer holds the group, is healthy (running or sleeping, pod live), or has exited (pid gone or reused, judged by starttime) in a complete process scan.",
  cites:
    "The holder's fd links and stat state, its cgroup pod UID, the IOMMU group members, the kernel log lines of the blocked release (with wall time), and the control-plane attach of disks in the group.",
  detect: detectVfioHeldByDeadProcess,
};
