/**
 * `stale-block-device` (RC-5, reference §11.3, §1.5): a /sys/block entry that outlived its disk: the
 * control plane detached the disk whose serial (or BDF) it still shows, its PCI function is gone from
 * /sys/bus/pci/devices, its controller is dead or deleting, or its size is 0. A mount of its devt in any
 * mount namespace raises the confidence: I/O against it will fail.
 */
import type { StoredEvent } from "../../db/events.js";
import type { SysfsBlockDevice, SysfsNvmeController } from "../../parse/sysfs.js";
import { type HostView, mountsOfDevt, type NamespacedMount } from "../../view/host-view.js";
import type { Confidence, Detector, EvidenceItem, Verdict } from "../types.js";
import { controlPlaneAtCapture, GRACE_MS } from "./attached.js";
import { duration, eventItem, factItem, iso, sysfsItem } from "./evidence.js";

/** Block-device kinds that are cloud disks; loop/dm/md, Xen and SCSI (the HBA's BDF) are out of scope. */
const DISK_KINDS = new Set(["nvme", "nvme-head", "virtio"]);
const DEAD_STATES = new Set(["dead", "deleting", "deleting (no IO)"]);

interface Reason {
  readonly text: string;
  readonly confidence: Confidence;
  readonly evidence: readonly EvidenceItem[];
}

/** A detached disk the block device belongs to, by serial (strong) or by BDF (weaker). */
interface DetachedOwner {
  readonly diskId: string;
  readonly detach: StoredEvent;
  readonly by: "serial" | "bdf";
}

function normSerial(s: string): string {
  return s.trim().toLowerCase();
}

/** The PCI function a block device sits on: from its own path, or (multipath head) through a controller. */
function bdfOf(view: HostView, b: SysfsBlockDevice): string | null {
  if (b.bdf) return b.bdf;
  for (const j of view.pci.values()) if (j.blockDevices.some((d) => d.name === b.name)) return j.bdf;
  return null;
}

function controllersOf(view: HostView, b: SysfsBlockDevice, bdf: string | null): SysfsNvmeController[] {
  const byName = view.sysfs.nvmeControllers.filter(
    (c) => c.name === b.controller || (c.namespaces.known && c.namespaces.value.includes(b.name)),
  );
  if (byName.length > 0) return byName;
  return bdf ? [...(view.pci.get(bdf)?.controllers ?? [])] : [];
}

export const staleBlockDevice: Detector<HostView> = {
  id: "stale-block-device",
  title: "Block device that outlived its disk",
  fires:
    "A /sys/block NVMe or virtio entry (hidden multipath path devices excluded) whose controller serial is that of a disk the control plane detached more than 60 s ago (or, without serials, whose BDF such a detach freed with no disk attached there since); or whose PCI function is gone from /sys/bus/pci/devices; or whose controller is dead/deleting; or whose size is 0. Confidence rises one step when its devt is mounted in any mount namespace.",
  clears: "The /sys/block entry disappears, or the disk it shows is attached again.",
  cites:
    "The block device link and size, the controller state and serial, the PCI listing, the detach (and attach) events, and every mountinfo line of its devt.",
  detect({ view, events }) {
    const cp = controlPlaneAtCapture(view, events);
    const attachedSerials = new Set<string>();
    const attachedBdfs = new Set<string>();
    for (const a of cp.state.attached.values()) {
      if (a.serial) attachedSerials.add(normSerial(a.serial));
      if (a.bdf) attachedBdfs.add(a.bdf);
    }
    // Detached disks with the serial and BDF their last attach (or the detach itself) gave.
    const lastAttach = new Map<string, StoredEvent>();
    for (const e of cp.state.timeline) if (e.type === "attach") lastAttach.set(e.diskId, e);
    const detached: {
      diskId: string;
      detach: StoredEvent;
      attach: StoredEvent | null;
      serial: string | null;
      bdf: string | null;
    }[] = [];
    for (const [diskId, detach] of cp.state.detached) {
      if (view.capturedAtMs - detach.atMs <= GRACE_MS) continue; // teardown may still be running
      const attach = lastAttach.get(diskId) ?? null;
      detached.push({
        diskId,
        detach,
        attach,
        serial: detach.serial ?? attach?.serial ?? null,
        bdf: detach.bdf ?? attach?.bdf ?? null,
      });
    }

    detached.sort((a, b) => a.detach.atMs - b.detach.atMs);

    const verdicts: Verdict[] = [];
    let complete = view.sysfs.coverage.blockDevices.complete;
    const decided = new Set<string>();
    for (const b of view.sysfs.blockDevices) {
      if (!DISK_KINDS.has(b.kind) || b.hidden) continue;
      const bdf = bdfOf(view, b);
      const ctrls = controllersOf(view, b, bdf);
      const serials = ctrls.flatMap((c) => (c.serial.known && c.serial.value ? [c.serial.value] : []));
      const reasons: Reason[] = [];
      let owner: DetachedOwner | null = null;

      for (const s of serials) {
        const d = detached.find((x) => x.serial && normSerial(x.serial) === normSerial(s));
        if (d && !attachedSerials.has(normSerial(s))) {
          owner = { diskId: d.diskId, detach: d.detach, by: "serial" };
          const c = ctrls.find((x) => x.serial.known && x.serial.value === s);
          reasons.push({
            text: `it shows serial ${s}, the serial of disk ${d.diskId}, which the control plane detached at ${iso(d.detach.atMs)} (${duration(view.capturedAtMs - d.detach.atMs)} ago)`,
            confidence: "high",
            evidence: [
              eventItem(d.detach, `detach of ${d.diskId}`),
              ...(d.attach
                ? [eventItem(d.attach, `the attach that gave ${d.diskId} serial ${d.attach.serial ?? "?"}`)]
                : []),
              ...(c
                ? [sysfsItem(view, c.serial, (v) => v, `serial of ${c.name}, the controller of ${b.name}`)]
                : []),
            ],
          });
          break;
        }
      }
      if (!owner && bdf && !attachedBdfs.has(bdf)) {
        const d = [...detached].reverse().find((x) => x.bdf === bdf);
        // A serial that names no detached disk contradicts the BDF match (another disk sits there).
        const serialDisagrees =
          d?.serial &&
          serials.length > 0 &&
          !serials.some((s) => normSerial(s) === normSerial(d.serial ?? ""));
        if (d && !serialDisagrees) {
          owner = { diskId: d.diskId, detach: d.detach, by: "bdf" };
          reasons.push({
            text: `it sits on ${bdf}, which the detach of disk ${d.diskId} at ${iso(d.detach.atMs)} freed, and no disk is attached there since`,
            confidence: "medium",
            evidence: [eventItem(d.detach, `detach of ${d.diskId} from ${bdf}`)],
          });
        }
      }
      if (bdf && view.sysfs.coverage.pciFunctions.complete && !view.pci.get(bdf)?.fn) {
        reasons.push({
          text: `its PCI function ${bdf} is gone from /sys/bus/pci/devices (surprise removal while the gendisk is still held)`,
          confidence: "medium",
          evidence: [
            factItem(view, {
              path: "sys/bus/pci/devices/",
              raw: `(no entry ${bdf})`,
              note: `${bdf} is not on the PCI bus`,
            }),
          ],
        });
      }
      for (const c of ctrls) {
        if (c.state.known && DEAD_STATES.has(c.state.value)) {
          reasons.push({
            text: `its controller ${c.name} is ${c.state.value}`,
            confidence: "medium",
            evidence: [sysfsItem(view, c.state, (v) => v, `state of ${c.name}`)],
          });
        }
      }
      if (b.sizeSectors.known && b.sizeSectors.value === 0) {
        reasons.push({
          text: "its size is 0 (the media is gone)",
          confidence: "medium",
          evidence: [sysfsItem(view, b.sizeSectors, (v) => String(v), `size of ${b.name}`)],
        });
      }
      const unknownFacts = !b.sizeSectors.known || !b.target.known || ctrls.some((c) => !c.state.known);
      const subject = `${b.name}|${owner?.diskId ?? bdf ?? "-"}`;
      if (reasons.length === 0) {
        if (unknownFacts) complete = false;
        else decided.add(subject);
        continue;
      }
      decided.add(subject);
      const devt = b.devt.known ? b.devt.value : null;
      const mounts: readonly NamespacedMount[] = devt ? mountsOfDevt(view, devt) : [];
      const best: Confidence = reasons.some((r) => r.confidence === "high") ? "high" : "medium";
      const confidence: Confidence = mounts.length > 0 ? "high" : best;
      const evidence: EvidenceItem[] = [
        sysfsItem(view, b.target, (v) => v, `/sys/block/${b.name} link`),
        ...reasons.flatMap((r) => r.evidence),
        ...mounts.map((m) =>
          factItem(view, {
            path: m.mount.evidencePath ?? "proc/*/mountinfo",
            line: m.mount.line,
            raw: m.mount.raw,
            note: `${devt} is mounted at ${m.mount.mountPoint} in ${m.ns.isHost ? "the host" : `mount namespace mnt:[${m.ns.inode ?? "?"}]`} (pids ${m.ns.pids.slice(0, 5).join(", ") || "none"})`,
          }),
        ),
      ];
      const nsCount = new Set(mounts.map((m) => m.ns.inode)).size;
      const mounted =
        mounts.length > 0
          ? ` It is still mounted (${mounts.length} mount(s) in ${nsCount} namespace(s), e.g. ${mounts[0]?.mount.mountPoint}): I/O there will fail; unmount it in every holder namespace (nsenter -t <pid> -m umount <path>) before the BDF is reused.`
          : " Nothing mounts it; it should go away once its last opener closes it.";
      const summary = `Block device ${b.name}${devt ? ` (${devt})` : ""}${bdf ? ` on ${bdf}` : ""} is stale: ${reasons.map((r) => r.text).join("; ")}.${mounted}`;
      const blindSpots: string[] = [];
      if (view.mounts.unscanned.length > 0) {
        blindSpots.push(
          `mount namespaces not scanned: ${view.mounts.unscanned.map((n) => `mnt:[${n}]`).join(", ")}`,
        );
      }
      if (owner?.by === "bdf")
        blindSpots.push("matched by BDF only: the events carry no serial to confirm which disk this is");
      verdicts.push({
        detector: "stale-block-device",
        subject,
        confidence,
        summary,
        evidence,
        blindSpots,
        ...(owner ? { sinceMs: owner.detach.atMs } : {}),
      });
    }
    // Whole listing read and every device decidable: a stored subject absent now has disappeared (cleared).
    return { verdicts, decided: complete ? "all" : decided };
  },
};
