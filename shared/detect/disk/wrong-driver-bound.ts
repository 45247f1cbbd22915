/**
 * `wrong-driver-bound` (RC-3, reference §11.3, §2.3): a disk's PCI function is bound to nvme where its
 * mode needs vfio-pci, or the reverse; or its driver_override names another driver than the one it needs
 * (or than the one bound, for a function no disk is attached to), so the next probe binds the wrong one;
 * or vfio-pci is bound with no override, which means a dynid (`new_id`) or `ids=` bound it and will grab
 * any freed cloud-disk function (no sysfs readback exists: a heuristic, low confidence).
 */
import type { HostView, PciJoin } from "../../view/host-view.js";
import type { Confidence, Detector, EvidenceItem, Verdict } from "../types.js";
import {
  controlPlaneAtCapture,
  type DiskOnHost,
  diskLabel,
  expectedDriver,
  isVfioDriver,
} from "./attached.js";
import { duration, eventItem, sysfsItem } from "./evidence.js";

interface Finding {
  readonly confidence: Confidence;
  readonly text: string;
}

const RANK: Record<Confidence, number> = { high: 3, medium: 2, low: 1 };

/** What is wrong with the binding of `j`, given the disk attached there (if any). */
function findingsOf(j: PciJoin, disk: DiskOnHost | null): Finding[] {
  const driver = j.driver;
  const override = j.driverOverride;
  if (typeof driver === "undefined" || typeof override === "undefined") return [];
  const out: Finding[] = [];
  const expected = disk?.mode ? expectedDriver(disk.mode) : null;
  if (expected && driver !== null) {
    if (disk?.mode === "vfio" && driver === "nvme") {
      out.push({
        confidence: "high",
        text: "bound to nvme where vfio-pci is expected (a vfio bind now fails: EBUSY on ≥5.14, ENODEV before)",
      });
    } else if (disk?.mode === "host" && isVfioDriver(driver)) {
      out.push({
        confidence: "high",
        text: `bound to ${driver} where nvme is expected (no block device can appear)`,
      });
    }
  }
  if (override !== null && override !== "none") {
    if (expected && override !== expected) {
      out.push({
        confidence: "medium",
        text: `driver_override=${override} will bind ${override} on the next probe, but the disk needs ${expected}`,
      });
    } else if (!expected && !disk && driver !== null && override !== driver) {
      out.push({
        confidence: "medium",
        text: `driver_override=${override} while ${driver} is bound: the next unbind/reprobe binds ${override} (pending rebind)`,
      });
    }
  }
  if (driver !== null && isVfioDriver(driver) && override === null) {
    out.push({
      confidence: "low",
      text: `${driver} is bound with no driver_override: a vfio-pci dynid (new_id) or ids= bound it, and it will also grab any freed cloud-disk function (heuristic: dynids have no sysfs readback)`,
    });
  }
  return out;
}

function remedyOf(j: PciJoin, expected: string | null): string {
  if (!expected)
    return `decide which driver ${j.bdf} needs, then set driver_override to it (or clear it with an empty write)`;
  return `echo ${expected} > /sys/bus/pci/devices/${j.bdf}/driver_override; unbind the current driver if it is not ${expected}; echo ${j.bdf} > /sys/bus/pci/drivers_probe; re-read the driver link`;
}

function verdictOf(
  view: HostView,
  j: PciJoin,
  disk: DiskOnHost | null,
  findings: readonly Finding[],
): Verdict {
  const fn = j.fn;
  const evidence: EvidenceItem[] = [];
  if (disk)
    evidence.push(
      eventItem(
        disk.attachment.attach,
        `attach in ${disk.mode ?? "unknown"} mode at ${j.bdf}, ${duration(disk.ageMs)} before the snapshot`,
      ),
    );
  if (fn) {
    evidence.push(sysfsItem(view, fn.driver, (v) => v ?? "(no driver link: unbound)", "bound driver"));
    evidence.push(sysfsItem(view, fn.driverOverride, (v) => v ?? "(null)", "driver_override"));
  }
  const best = findings.reduce<Confidence>(
    (c, f) => (RANK[f.confidence] > RANK[c] ? f.confidence : c),
    "low",
  );
  const who = disk ? diskLabel({ diskId: disk.attachment.diskId, mode: disk.mode }) : "no attached disk";
  const expected = disk?.mode ? expectedDriver(disk.mode) : null;
  const summary = `${j.bdf} (${who}): ${findings.map((f) => f.text).join("; ")}. Remedy: ${remedyOf(j, expected)}.`;
  const blindSpots: string[] = [];
  if (disk && !disk.mode) blindSpots.push("the attach event gave no mode, so the expected driver is unknown");
  if (!disk)
    blindSpots.push("no control-plane attach names this function: the workload's expected driver is unknown");
  return {
    detector: "wrong-driver-bound",
    subject: `${j.bdf}|${disk?.attachment.diskId ?? "-"}`,
    confidence: best,
    summary,
    evidence,
    blindSpots,
    ...(disk ? { sinceMs: disk.attachment.attach.atMs } : {}),
  };
}

export const wrongDriverBound: Detector<HostView> = {
  id: "wrong-driver-bound",
  title: "Disk function bound (or about to be bound) to the wrong driver",
  fires:
    "For an attached disk past its grace: nvme bound in vfio mode or vfio-pci in host mode (high); driver_override naming another driver than the mode needs (medium). For any NVMe-class function with no attached disk: driver_override naming another driver than the bound one (medium). Any NVMe-class function bound to vfio-pci with driver_override unset: a dynid bind (low, heuristic).",
  clears:
    "The binding and override match the mode (or each other), or the control plane detaches the disk (the subject changes to `<bdf>|-`).",
  cites: "The attach event with its mode; the function's driver link and driver_override.",
  detect({ view, events }) {
    const cp = controlPlaneAtCapture(view, events);
    const verdicts: Verdict[] = [];
    const decided = new Set<string>(cp.endedPairSubjects);
    const byBdf = new Map<string, DiskOnHost>();
    for (const d of cp.disks) byBdf.set(d.bdf, d);
    for (const j of view.pci.values()) {
      const disk = byBdf.get(j.bdf) ?? null;
      if (!disk && j.fn?.isNvmeClass !== true) continue;
      if (disk) decided.add(`${j.bdf}|-`);
      if (disk && !disk.ready) continue;
      if (!j.fn || j.driver === undefined || j.driverOverride === undefined) continue;
      const subject = `${j.bdf}|${disk?.attachment.diskId ?? "-"}`;
      decided.add(subject);
      const findings = findingsOf(j, disk);
      if (findings.length > 0) verdicts.push(verdictOf(view, j, disk, findings));
    }
    return { verdicts, decided };
  },
};
