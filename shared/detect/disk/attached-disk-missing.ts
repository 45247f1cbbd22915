/**
 * `attached-disk-missing` (INC-1 trigger, reference §11.1): the control plane says disk D is attached at
 * X (past the 60 s grace), the host has neither its block device (host mode) nor its vfio group (vfio
 * mode), and no failed nvme probe on X explains it (that would be `reattach-bdf-race`), or the trace
 * cannot tell. One verdict per attach, with the sub-state (1a-1g) and its remedy.
 */
import type { HostView } from "../../view/host-view.js";
import type { Confidence, Detector, EvidenceItem, Verdict } from "../types.js";
import { diskLabel } from "./attached.js";
import { duration, eventItem, iso } from "./evidence.js";
import {
  coverageStartItem,
  describeBlindReason,
  describeFailure,
  describeProbe,
  describeTarget,
  probeEvidence,
} from "./probe-text.js";
import { type AttachAnalysis, analyzeAttaches } from "./probe-window.js";

/** What the race check says about this attach, in one sentence, and whether it could decide. */
function raceCheck(
  view: HostView,
  a: AttachAnalysis,
): { text: string; decided: boolean; evidence: EvidenceItem[] } {
  const w = a.window;
  if (!w) {
    return {
      text: `The reattach race was not checked: ${a.windowGap ?? "no race window"}.`,
      decided: false,
      evidence: [],
    };
  }
  const evidence: EvidenceItem[] = [
    eventItem(w.detach, `detach of ${w.detach.diskId} freed ${a.disk.bdf} before this attach`),
  ];
  const onX = a.probes.filter((p) => p.target.on === "x");
  const unknown = a.probes.filter((p) => p.target.on === "unknown");
  const parts: string[] = [];
  for (const p of [...onX, ...unknown]) evidence.push(...probeEvidence(view, a, p));
  const [x] = onX;
  if (x) {
    parts.push(
      `The trace shows ${describeProbe(view, w, x)}, attributed to ${a.disk.bdf} (${describeTarget(x)}), but it did not demonstrably fail (${x.failure ? describeFailure(x.failure) : "a controller is live there now and no failure line exists"}), so this is not the R1 race pattern`,
    );
  }
  const [u] = unknown;
  if (u && u.target.on === "unknown") {
    parts.push(
      `The trace shows ${describeProbe(view, w, u)} that cannot be tied to a function (${u.target.why}): if it was on ${a.disk.bdf}, this is the reattach race`,
    );
  }
  const covered = a.coverage?.verdict === "covered";
  if (!covered) {
    const reasons = (a.coverage?.reasons ?? []).map((r) => describeBlindReason(view, r, w));
    parts.push(
      `The trace cannot tell whether nvme probed ${a.disk.bdf} between the detach and the attach: ${reasons.join("; ")} (see trace-blind-spot)`,
    );
  } else if (!x && !u) {
    const start = coverageStartItem(view, w);
    if (start) evidence.push(start);
    parts.push(
      `The trace covers the window from the detach of ${w.detach.diskId} at ${iso(w.detach.atMs)} to the attach and shows no nvme probe on ${a.disk.bdf}`,
    );
  }
  const text = parts.join(". ");
  return { text: `${text}.`, decided: covered && unknown.length === 0, evidence };
}

function missingVerdict(view: HostView, a: AttachAnalysis): Verdict {
  const { disk, end } = a;
  const check = raceCheck(view, a);
  const evidence: EvidenceItem[] = [
    eventItem(
      disk.attachment.attach,
      `attach of ${disk.attachment.diskId} at ${disk.bdf}, ${duration(disk.ageMs)} before the snapshot`,
    ),
    ...end.evidence,
    ...check.evidence,
  ];
  const primary = end.subStates[0];
  const sub = end.subStates.map((s) => `${s.id}: ${s.text}`).join("; ");
  const residue =
    a.overrideResidue && disk.mode
      ? ` driver_override=${a.overrideResidue} names the wrong driver for ${disk.mode} mode (R3 override residue).`
      : "";
  const summary =
    `${diskLabel({ diskId: disk.attachment.diskId, mode: disk.mode }, { sentence: true })} was attached at ${disk.bdf} at ${iso(disk.attachment.attach.atMs)} ` +
    `(${duration(disk.ageMs)} ago) but the host shows ${end.what}: sub-state ${sub}.${residue} ${check.text}` +
    `${primary ? ` Remedy: ${primary.remedy}.` : ""}`;
  const confidence: Confidence = end.contradictory ? "medium" : check.decided ? "high" : "medium";
  const blindSpots = [...end.blindSpots, ...a.blindSpots];
  if (end.contradictory)
    blindSpots.push("the facts contradict each other: the binding may have changed during capture");
  if (!a.window && a.windowGap) blindSpots.push(a.windowGap);
  return {
    detector: "attached-disk-missing",
    subject: disk.attachSubject,
    confidence,
    summary,
    evidence,
    blindSpots,
    sinceMs: disk.attachment.attach.atMs,
  };
}

export const attachedDiskMissing: Detector<HostView> = {
  id: "attached-disk-missing",
  title: "Attached disk has no device node or vfio group",
  fires:
    "The control plane's latest succeeded event for a disk is an attach at BDF X more than 60 s before the snapshot, the host has no usable block device on X (host mode) or no vfio driver with its /dev/vfio group or cdev (vfio mode; either counts when the event gave no mode), and no attributed failed nvme probe on X explains it (that is reattach-bdf-race), including when the trace cannot tell.",
  clears:
    "The block device or vfio group appears, the control plane detaches or re-attaches the disk, or a failed probe on X is found (the verdict moves to reattach-bdf-race).",
  cites:
    "The attach event (and the detach that freed X); the driver link, driver_override, IOMMU group, block device sizes, /dev/vfio listing; any nvme probe in the race window with its attribution; the sub-state (1a-1g) with the reference's remedy.",
  detect({ view, events }) {
    const { controlPlane, attaches } = analyzeAttaches(view, events);
    const verdicts: Verdict[] = [];
    const decided = new Set<string>(controlPlane.endedAttachSubjects);
    for (const a of attaches) {
      if (!a.disk.ready || a.end.status === "unknown") continue;
      decided.add(a.disk.attachSubject);
      if (a.end.status === "missing" && a.race.length === 0) verdicts.push(missingVerdict(view, a));
    }
    return { verdicts, decided };
  },
};
