/**
 * `trace-blind-spot` (RC-10, reference §5.7, §11.1 step 6, §11.3): an attached disk is missing, no failed
 * probe explains it, and whether nvme probed its BDF between the detach that freed it and the attach
 * depends on the ABSENCE of a probe, which the trace cannot vouch for (coverage starts after the detach,
 * lost or dropped events, tracing off, nvme_probe not in the filter, no trace, no clock anchor).
 */
import type { HostView } from "../../view/host-view.js";
import type { Detector, Verdict } from "../types.js";
import { eventItem, iso } from "./evidence.js";
import { coverageEvidence, describeBlindReason } from "./probe-text.js";
import { type AttachAnalysis, analyzeAttaches } from "./probe-window.js";

/** The attach's race question rests on the absence of a probe: missing, unexplained, with a window. */
function restsOnAbsence(a: AttachAnalysis): boolean {
  return a.disk.ready && a.end.status === "missing" && a.race.length === 0 && a.coverage !== null;
}

function blindVerdict(view: HostView, a: AttachAnalysis): Verdict {
  const reasons = a.coverage?.reasons ?? [];
  const w = a.window;
  const detach = w?.detach ?? a.disk.attachment.previousDetachOnBdf;
  const attach = a.disk.attachment.attach;
  const evidence = [
    ...(detach
      ? [eventItem(detach, `detach of ${detach.diskId} freed ${a.disk.bdf}: the window to search opens`)]
      : []),
    eventItem(attach, `attach of ${a.disk.attachment.diskId} at ${a.disk.bdf}: the window closes`),
    ...coverageEvidence(view, reasons),
  ];
  const from = detach ? iso(detach.atMs) : "?";
  const summary =
    `Cannot tell whether nvme probed ${a.disk.bdf} between the detach of ${detach?.diskId ?? "?"} at ${from} and the attach of ` +
    `${a.disk.attachment.diskId} at ${iso(attach.atMs)}: ${reasons.map((r) => describeBlindReason(view, r, w)).join("; ")}. ` +
    `The disk has no ${a.disk.mode === "vfio" ? "vfio group" : a.disk.mode === "host" ? "block device" : "device"} (see attached-disk-missing), ` +
    "so the reattach race can be neither confirmed nor ruled out. Keep the playbook trace (`bind_store nvme_probe drivers_probe_store`) " +
    "running with a buffer large enough to span a detach/attach cycle, and ship the snapshot soon after the attach.";
  return {
    detector: "trace-blind-spot",
    subject: a.disk.attachSubject,
    confidence: "high",
    summary,
    evidence,
    blindSpots: [...a.blindSpots],
    sinceMs: attach.atMs,
  };
}

export const traceBlindSpot: Detector<HostView> = {
  id: "trace-blind-spot",
  title: "Trace cannot decide a verdict that rests on the absence of a probe",
  fires:
    "An attached disk is missing past its grace, no failed probe on its BDF was found, and the trace does not cover the race window [detach, attach + ε] for nvme_probe (traceCovers: coverage start after the detach, LOST markers in the window, dropped events, tracing off, nvme_probe not filtered, not a function tracer, tick clock), or no trace or clock anchor was shipped.",
  clears:
    "The disk arrives, the control plane detaches it, a failed probe on X is found (reattach-bdf-race), or a snapshot whose trace covers the window rules the probe out.",
  cites:
    "The detach and attach events bounding the window; the per-CPU stats line that sets the coverage start, the trace header counters, LOST markers, tracing_on, set_ftrace_filter, current_tracer or trace_clock, whichever makes it blind.",
  detect({ view, events }) {
    const { controlPlane, attaches } = analyzeAttaches(view, events);
    const verdicts: Verdict[] = [];
    const decided = new Set<string>(controlPlane.endedAttachSubjects);
    for (const a of attaches) {
      if (!a.disk.ready || a.end.status === "unknown") continue;
      // Without a window (no detach freed X in the events) there is no absence to vouch for: left undecided.
      if (a.end.status === "missing" && a.race.length === 0 && a.coverage === null) continue;
      decided.add(a.disk.attachSubject);
      if (restsOnAbsence(a) && a.coverage?.verdict === "blind") verdicts.push(blindVerdict(view, a));
    }
    return { verdicts, decided };
  },
};
