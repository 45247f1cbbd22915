/**
 * `disk-serial-mismatch` (RC-5, reference §11.3, §14 identity reuse): the NVMe serial at BDF X is not the
 * serial the control plane's attach put at X, or it is the serial of another disk (BDF reuse after a
 * force-detach, alibaba CSI PR #1686: the driver then unbinds the wrong disk and hangs).
 */
import type { StoredEvent } from "../../db/events.js";
import type { HostView } from "../../view/host-view.js";
import type { Confidence, Detector, EvidenceItem, Verdict } from "../types.js";
import { controlPlaneAtCapture, type DiskOnHost, diskLabel } from "./attached.js";
import { duration, eventItem, iso, sysfsItem } from "./evidence.js";

function norm(s: string): string {
  return s.trim().toLowerCase();
}

function mismatchVerdict(
  view: HostView,
  disk: DiskOnHost,
  seen: readonly { ctrl: string; serial: string }[],
  owners: readonly StoredEvent[],
  detachOf: ReadonlyMap<string, StoredEvent>,
): Verdict | null {
  const expected = disk.attachment.serial;
  const matchesExpected = expected !== null && seen.some((s) => norm(s.serial) === norm(expected));
  if (matchesExpected || (expected === null && owners.length === 0)) return null;
  const j = view.pci.get(disk.bdf);
  const evidence: EvidenceItem[] = [
    eventItem(
      disk.attachment.attach,
      `attach of ${disk.attachment.diskId} at ${disk.bdf}${expected ? ` with serial ${expected}` : " (no serial given)"}`,
    ),
  ];
  for (const c of j?.controllers ?? []) {
    evidence.push(sysfsItem(view, c.serial, (v) => v, `serial of ${c.name}, the controller at ${disk.bdf}`));
  }
  for (const o of owners) {
    evidence.push(eventItem(o, `attach that gave disk ${o.diskId} serial ${o.serial ?? "?"}`));
    const d = detachOf.get(o.diskId);
    if (d) evidence.push(eventItem(d, `detach of ${o.diskId}`));
  }
  const shown = seen.map((s) => `${s.serial} (${s.ctrl})`).join(", ");
  const ownerText = owners.length
    ? ` That serial belongs to disk ${owners.map((o) => ownerPhrase(o, detachOf.get(o.diskId))).join(", ")}: the BDF was reused (typically after a force-detach) and the host still runs the previous disk's controller.`
    : "";
  const summary =
    `${disk.bdf} shows NVMe serial ${shown}, but the control plane attached ${diskLabel({ diskId: disk.attachment.diskId, mode: disk.mode })} there at ${iso(disk.attachment.attach.atMs)} ` +
    `(${duration(disk.ageMs)} ago)${expected ? ` with serial ${expected}` : ""}.${ownerText} ` +
    "Anything keyed by BDF alone (unbind, bind, mount by path) now acts on the wrong disk: match by serial, and clear what still uses the old disk (see stale-block-device) before rebinding.";
  const confidence: Confidence = expected !== null ? "high" : "medium";
  const blindSpots: string[] = [];
  if (expected === null)
    blindSpots.push(
      "the attach event carries no serial: only a match with another disk's serial shows the mismatch",
    );
  return {
    detector: "disk-serial-mismatch",
    subject: disk.pairSubject,
    confidence,
    summary,
    evidence,
    blindSpots,
    sinceMs: disk.attachment.attach.atMs,
  };
}

/** `d-old (attached at 0000:3b:00.5 at …, detached at …)`. */
function ownerPhrase(attach: StoredEvent, detach: StoredEvent | undefined): string {
  const where = `attached at ${attach.bdf ?? "?"} at ${iso(attach.atMs)}`;
  return `${attach.diskId} (${where}${detach ? `, detached at ${iso(detach.atMs)}` : ", still attached per the control plane"})`;
}

export const diskSerialMismatch: Detector<HostView> = {
  id: "disk-serial-mismatch",
  title: "Serial at the BDF is not the attached disk's",
  fires:
    "A disk attached more than 60 s ago at BDF X whose controller(s) at X show serials none of which is the serial of the attach event, or (when the event has no serial) a serial that another disk's attach event carried.",
  clears: "The serial at X matches the attached disk, or the control plane detaches it.",
  cites:
    "The attach event (and the attach that gave the other disk its serial); the serial of every controller at X.",
  detect({ view, events }) {
    const cp = controlPlaneAtCapture(view, events);
    const verdicts: Verdict[] = [];
    const decided = new Set<string>(cp.endedPairSubjects);
    const attaches = cp.state.timeline.filter((e) => e.type === "attach" && e.serial);
    for (const disk of cp.disks) {
      if (!disk.ready) continue;
      const ctrls = view.pci.get(disk.bdf)?.controllers ?? [];
      // No controller, or a serial that could not be read (a hung read is RC-8): nothing to compare.
      if (ctrls.length === 0 || ctrls.some((c) => !c.serial.known)) continue;
      decided.add(disk.pairSubject);
      const seen = ctrls.flatMap((c) => (c.serial.known ? [{ ctrl: c.name, serial: c.serial.value }] : []));
      const owners = attaches.filter(
        (e) =>
          e.diskId !== disk.attachment.diskId &&
          seen.some((s) => e.serial && norm(e.serial) === norm(s.serial)),
      );
      const latest = new Map<string, StoredEvent>();
      for (const o of owners) latest.set(o.diskId, o);
      const v = mismatchVerdict(view, disk, seen, [...latest.values()], cp.state.detached);
      if (v) verdicts.push(v);
    }
    return { verdicts, decided };
  },
};
