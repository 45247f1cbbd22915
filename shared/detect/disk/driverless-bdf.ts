/**
 * `driverless-bdf` (reference §11.1 sub-state 1e, §2.3): the PCI function of an attached disk has no
 * driver bound past the 60 s grace. Nothing will bind it by itself: autoprobe already ran (and lost, or was
 * refused by driver_override), and `drivers_probe` reports success even when nothing binds.
 */
import type { HostView } from "../../view/host-view.js";
import type { Detector, EvidenceItem, Verdict } from "../types.js";
import {
  controlPlaneAtCapture,
  type DiskOnHost,
  diskLabel,
  expectedDriver,
  FAILURE_KINDS,
} from "./attached.js";
import { duration, eventItem, iso, kmsgItem, sysfsItem } from "./evidence.js";

/** Kernel log lines about the function worth citing: the latest failures and `pci function` lines, at most five. */
const MAX_KMSG = 5;

function driverlessVerdict(view: HostView, disk: DiskOnHost): Verdict | null {
  const j = view.pci.get(disk.bdf);
  const fn = j?.fn;
  if (!j || !fn || j.driver !== null) return null;
  const evidence: EvidenceItem[] = [
    eventItem(
      disk.attachment.attach,
      `attach of ${disk.attachment.diskId} at ${disk.bdf}, ${duration(disk.ageMs)} before the snapshot`,
    ),
    sysfsItem(view, fn.driver, (v) => v ?? "(no driver link: unbound)", "no driver is bound"),
    sysfsItem(
      view,
      fn.driverOverride,
      (v) => v ?? "(null)",
      "driver_override: the only driver allowed to probe it, when set",
    ),
    sysfsItem(view, fn.iommuGroup, (v) => v ?? "(no iommu_group link)", "IOMMU group"),
  ];
  const expected = disk.mode ? expectedDriver(disk.mode) : null;
  const why: string[] = [];
  const o = j.driverOverride;
  if (o === "none") why.push("driver_override=none opts it out of every driver");
  else if (typeof o === "string" && expected && o !== expected) {
    why.push(
      `driver_override=${o} lets only ${o} probe it, but the disk needs ${expected} (override residue)`,
    );
  } else if (typeof o === "string") why.push(`driver_override=${o}`);
  else if (o === undefined) why.push("driver_override could not be read");
  if (disk.mode === "vfio" && j.iommuGroup === null)
    why.push("it has no IOMMU group, so vfio-pci cannot bind");
  const logged = j.kernelFacts.filter(
    (f) => FAILURE_KINDS.has(f.fact.kind) || f.fact.kind === "nvme_pci_function",
  );
  for (const f of logged.slice(-MAX_KMSG))
    evidence.push(kmsgItem(view, f.record, "kernel log line about the function"));
  const failures = logged.filter((f) => FAILURE_KINDS.has(f.fact.kind));
  const lastFailure = failures[failures.length - 1];
  if (lastFailure) why.push(`the kernel logged "${lastFailure.record.text}"`);
  const target = expected ?? "<the disk's driver>";
  const summary =
    `${disk.bdf}, the PCI function of ${diskLabel({ diskId: disk.attachment.diskId, mode: disk.mode })} attached at ${iso(disk.attachment.attach.atMs)} ` +
    `(${duration(disk.ageMs)} ago), has no driver bound${why.length ? `: ${why.join("; ")}` : ""}. ` +
    `Remedy: echo ${target} > /sys/bus/pci/devices/${disk.bdf}/driver_override; echo ${disk.bdf} > /sys/bus/pci/drivers_probe; ` +
    "then re-read the driver link (drivers_probe reports success even when nothing binds).";
  const blindSpots: string[] = [];
  if (!disk.mode) blindSpots.push("the attach event gave no mode, so the expected driver is unknown");
  if (!view.kernelLog) blindSpots.push("no kernel log was shipped: probe failures cannot be shown");
  return {
    detector: "driverless-bdf",
    subject: disk.pairSubject,
    confidence: "high",
    summary,
    evidence,
    blindSpots,
    sinceMs: disk.attachment.attach.atMs,
  };
}

export const driverlessBdf: Detector<HostView> = {
  id: "driverless-bdf",
  title: "Attached disk's PCI function has no driver",
  fires:
    "A disk the control plane attached at BDF X more than 60 s ago, X is on the PCI bus, and X has no `driver` link.",
  clears: "A driver binds X, X leaves the bus, or the control plane detaches the disk.",
  cites:
    "The attach event; X's driver link, driver_override and IOMMU group; the latest kernel log failure and `pci function` lines for X.",
  detect({ view, events }) {
    const cp = controlPlaneAtCapture(view, events);
    const verdicts: Verdict[] = [];
    const decided = new Set<string>(cp.endedPairSubjects);
    const listed = view.sysfs.coverage.pciFunctions.complete;
    for (const disk of cp.disks) {
      if (!disk.ready) continue;
      const j = view.pci.get(disk.bdf);
      // Unknown driver (unreadable link) decides nothing; a BDF absent from a complete listing has no driver to lack.
      if (j?.fn ? j.driver === undefined : !listed) continue;
      decided.add(disk.pairSubject);
      const v = driverlessVerdict(view, disk);
      if (v) verdicts.push(v);
    }
    return { verdicts, decided };
  },
};
