/**
 * `reattach-bdf-race` (INC-1/R1, reference §11.1): a detach freed BDF X, nvme probed X before the next
 * attach onto X landed, the probe failed, and the attached disk never got its block device or vfio group.
 */
import type { HostView } from "../../view/host-view.js";
import type { Confidence, Detector, EvidenceItem, Verdict } from "../types.js";
import { diskLabel } from "./attached.js";
import { duration, eventItem, iso, traceItem } from "./evidence.js";
import { describeFailure, describeProbe, describeTarget, probeEvidence } from "./probe-text.js";
import { type AttachAnalysis, analyzeAttaches } from "./probe-window.js";

/** The verdict for one attach that hit the race. */
function raceVerdict(view: HostView, a: AttachAnalysis): Verdict {
  const { disk, end } = a;
  const w = a.window;
  const first = a.race[0];
  if (!w || !first) throw new Error("raceVerdict needs a window and an attributed failed probe");
  const evidence: EvidenceItem[] = [
    eventItem(w.detach, `detach of ${w.detach.diskId} freed ${disk.bdf}: the race window opens`),
    eventItem(
      w.attach,
      `attach of ${disk.attachment.diskId} landed on ${disk.bdf}: the window closes ${duration(w.errorMs + 1000)} later`,
    ),
  ];
  for (const p of a.race) evidence.push(...probeEvidence(view, a, p));
  evidence.push(...end.evidence);

  const notes: string[] = [];
  if (a.bindRace) {
    const b = a.bindRace;
    evidence.push(traceItem(view, b.bind, "R2: the agent's vfio bind of the function after the nvme probe"));
    evidence.push(
      traceItem(
        view,
        b.ret,
        `R2: the bind returned ${b.ret.ret} (${b.ret.ret === -16 ? "EBUSY" : "ENODEV"})`,
      ),
    );
    if (b.unbind) evidence.push(traceItem(view, b.unbind, "R2: the agent's unbind before the probe"));
    notes.push(
      `R2 bind race: ${b.bind.comm} (pid ${b.bind.pid}) then tried to bind vfio-pci and got ${b.ret.ret === -16 ? "EBUSY" : "ENODEV"}`,
    );
  }
  if (a.overrideResidue && disk.mode) {
    notes.push(
      `R3 override residue: driver_override=${a.overrideResidue} names the wrong driver for ${disk.mode} mode and decides the next autoprobe`,
    );
  }

  const attributed = a.race.every((p) => p.target.on === "x" && p.target.by.kind !== "inference");
  const ordered = a.race.every((p) => !p.nearDetach);
  const confidence: Confidence = attributed && ordered && !end.contradictory ? "high" : "medium";
  const blindSpots = [...a.blindSpots, ...end.blindSpots];
  if (!attributed) {
    blindSpots.push(
      "the probe was attributed by inference only: a function hot-removed since the probe, or an override changed since, would not show",
    );
  }
  if (a.race.every((p) => p.failure?.kind === "no-live-controller")) {
    blindSpots.push(
      "the probe's failure is read from the absence of a live controller now (silent -ENODEV/-ENXIO); a successful probe later undone by an unbind would look the same",
    );
  }
  if (!ordered) {
    blindSpots.push(
      `the probe lies within the ±${w.errorMs} ms conversion error of the detach: it may belong to the previous disk`,
    );
  }
  const more = a.race.length > 1 ? ` (${a.race.length - 1} more failed probe(s) on it in the window)` : "";
  const sub = end.subStates.map((s) => `${s.id}: ${s.text}`).join("; ");
  const remedy = end.subStates[0]?.remedy;
  const summary =
    `${diskLabel({ diskId: disk.attachment.diskId, mode: disk.mode }, { sentence: true })} was attached at ${disk.bdf} at ${iso(w.attach.atMs)} ` +
    `and never got its ${disk.mode === "vfio" ? "vfio group" : disk.mode === "host" ? "block device" : "device"}: ` +
    `after the detach of ${w.detach.diskId} at ${iso(w.detach.atMs)} freed ${disk.bdf}, ${describeProbe(view, w, first)}; ` +
    `${describeTarget(first)}; ${describeFailure(first.failure ?? { kind: "no-live-controller", detail: "" })}${more}. ` +
    `Now: ${end.what} (${sub}).${notes.length ? ` ${notes.join(". ")}.` : ""}${remedy ? ` Remedy: ${remedy}.` : ""}`;
  return {
    detector: "reattach-bdf-race",
    subject: disk.attachSubject,
    confidence,
    summary,
    evidence,
    blindSpots,
    sinceMs: w.attach.atMs,
  };
}

/** Whether R1 could be decided for the attach: it holds, or the disk is fine, or the trace rules it out. */
export function raceDecided(a: AttachAnalysis): boolean {
  if (!a.disk.ready || a.end.status === "unknown") return false;
  if (a.end.status === "met" || a.race.length > 0) return true;
  return a.coverage?.verdict === "covered" && a.probes.every((p) => p.target.on !== "unknown");
}

export const reattachBdfRace: Detector<HostView> = {
  id: "reattach-bdf-race",
  title: "Re-attach raced a stale nvme probe on the freed BDF",
  fires:
    "A disk attached more than 60 s ago at BDF X has no block device (host mode) or no vfio group / nvme bound (vfio mode), and between the detach that freed X and the attach (+ conversion error + 1 s) the trace shows an nvme_probe the kernel attributes to X (kmsg `pci function X` within 5 ms, a kprobe argument, or X being the only candidate) that failed (kmsg failure line within 60 s, negative return, or no live controller at X now).",
  clears:
    "The disk gets its block device or vfio group, or the control plane detaches it (the attach is no longer current). Stays open while the disk is still missing but the probe has left the trace (unknown is not cleared).",
  cites:
    "The detach and attach events; the trace line of the probe, the kmsg `pci function` line or kprobe that attributes it, the failure lines, the bind_store before it; the driver link, driver_override, controllers, block devices and /dev/vfio at snapshot; R2 bind kprobes and R3 override when present.",
  detect({ view, events }) {
    const { controlPlane, attaches } = analyzeAttaches(view, events);
    const verdicts: Verdict[] = [];
    const decided = new Set<string>(controlPlane.endedAttachSubjects);
    for (const a of attaches) {
      if (a.disk.ready && a.end.status === "missing" && a.race.length > 0)
        verdicts.push(raceVerdict(view, a));
      if (raceDecided(a)) decided.add(a.disk.attachSubject);
    }
    return { verdicts, decided };
  },
};
