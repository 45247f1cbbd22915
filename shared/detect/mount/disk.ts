/**
 * From a mount's `major:minor` (and source) to the disk behind it, and from that disk to what the
 * control plane says about it. Partitions are not listed under /sys/block, and anonymous devices
 * (`0:N`: tmpfs, overlay, NFS) are no disk at all: both stay "unknown", never "gone".
 */
import type { StoredEvent } from "../../db/events.js";
import type { SysfsBlockDevice } from "../../parse/sysfs.js";
import type { HostView, PciJoin } from "../../view/host-view.js";
import type { Attachment, AttachmentState } from "../attachments.js";
import type { EvidenceItem } from "../types.js";

export type DiskState =
  | {
      readonly kind: "present";
      readonly device: SysfsBlockDevice;
      /** The whole disk when the mount is of a partition of it. */
      readonly partition: string | null;
      readonly bdf: string | null;
      readonly pci: PciJoin | null;
      readonly serials: readonly string[];
    }
  | { readonly kind: "gone"; readonly why: string; readonly device: SysfsBlockDevice | null }
  | { readonly kind: "unknown"; readonly why: string };

/** Whole-disk names of the kinds cloud disks take: a source naming one that is not listed is gone. */
const DISK_NAME_RE = /^(?:nvme\d+n\d+|vd[a-z]+|xvd[a-z]+|sd[a-z]+)$/;

/** The whole-disk name of a cloud-disk-shaped device name (`nvme2n1p1` -> `nvme2n1`), else null. */
function wholeDiskName(name: string): string | null {
  if (DISK_NAME_RE.test(name)) return name;
  const m = /^(nvme\d+n\d+)p\d+$/.exec(name) ?? /^((?:vd|xvd|sd)[a-z]+)\d+$/.exec(name);
  return m?.[1] ?? null;
}

/** `nvme2n1p1` of `nvme2n1`, `vdb1` of `vdb`. */
function isPartitionOf(name: string, disk: string): boolean {
  if (!name.startsWith(disk) || name.length === disk.length) return false;
  const rest = name.slice(disk.length);
  return /\d$/.test(disk) ? /^p\d+$/.test(rest) : /^\d+$/.test(rest);
}

function present(view: HostView, device: SysfsBlockDevice, partition: string | null): DiskState {
  const pci = device.bdf === null ? null : (view.pci.get(device.bdf) ?? null);
  const size = device.sizeSectors;
  if (size.known && size.value === 0 && partition === null) {
    return { kind: "gone", why: `${device.source}/size is 0 (the media is gone)`, device };
  }
  const dead = pci?.controllers.find(
    (c) => c.state.known && (c.state.value === "dead" || c.state.value === "deleting"),
  );
  if (dead?.state.known) {
    return { kind: "gone", why: `its NVMe controller ${dead.name} is ${dead.state.value}`, device };
  }
  if (device.bdf !== null && view.sysfs.coverage.pciFunctions.complete && (pci === null || pci.fn === null)) {
    return {
      kind: "gone",
      why: `its PCI function ${device.bdf} is no longer under /sys/bus/pci/devices`,
      device,
    };
  }
  return { kind: "present", device, partition, bdf: device.bdf, pci, serials: pci?.serials ?? [] };
}

/** The disk behind a mount of `devt` whose source is `source` (`/dev/nvme2n1`). */
export function resolveDisk(view: HostView, devt: string, source: string): DiskState {
  if (devt.startsWith("0:")) return { kind: "unknown", why: `${devt} is an anonymous device (no disk)` };
  const devices = view.sysfs.blockDevices;
  const byDevt = devices.find((d) => d.devt.known && d.devt.value === devt);
  if (byDevt) return present(view, byDevt, null);
  const name = source.startsWith("/dev/") ? source.slice(5) : null;
  if (name !== null) {
    const whole = devices.find((d) => d.name === name);
    if (whole) return present(view, whole, null);
    const parent = devices.find((d) => isPartitionOf(name, d.name));
    if (parent) return present(view, parent, name);
  }
  if (!view.sysfs.coverage.blockDevices.complete) {
    return { kind: "unknown", why: "the /sys/block listing was not read whole" };
  }
  if (devices.some((d) => !d.devt.known)) {
    return {
      kind: "unknown",
      why: `no /sys/block entry has dev ${devt}, but some dev files were unreadable`,
    };
  }
  const disk = name === null ? null : wholeDiskName(name);
  if (disk !== null) {
    return { kind: "gone", why: `no /sys/block entry has dev ${devt} or the name ${disk}`, device: null };
  }
  return {
    kind: "unknown",
    why: `${devt} (${source || "no source"}) is no disk /sys/block lists (a mapped or partition device?)`,
  };
}

/** The block device's `dev` as an evidence fact. */
export function deviceFact(view: HostView, device: SysfsBlockDevice, note: string): EvidenceItem {
  return {
    kind: "fact",
    snapshotKey: view.snapshotKey,
    path: device.devt.source,
    raw: device.devt.known ? device.devt.value : "",
    note,
  };
}

/** `nvme2n1 (0000:3b:00.3, serial bp1g…)`. */
export function describeDisk(d: Extract<DiskState, { kind: "present" }>): string {
  const parts = [d.bdf, d.serials.length ? `serial ${d.serials.join("/")}` : null].filter((s) => s !== null);
  return `${d.partition ? `${d.partition} on ` : ""}${d.device.name}${parts.length ? ` (${parts.join(", ")})` : ""}`;
}

/**
 * Whether a control-plane record is about this disk: by serial when both sides carry one (a BDF is
 * reused by the next disk), else by BDF.
 */
function sameDisk(
  d: { bdf: string | null; serial: string | null },
  disk: Extract<DiskState, { kind: "present" }>,
): boolean {
  const serial = d.serial?.trim();
  if (serial && disk.serials.length > 0) return disk.serials.includes(serial);
  return d.bdf !== null && disk.bdf !== null && d.bdf === disk.bdf;
}

/** The attachment that explains a present disk, if the control plane has one. */
export function attachmentOf(
  state: AttachmentState,
  disk: Extract<DiskState, { kind: "present" }>,
): Attachment | null {
  for (const a of state.attached.values()) if (sameDisk(a, disk)) return a;
  return null;
}

/** The control plane's last detach of a present disk (none when it is attached again). */
export function detachOf(
  state: AttachmentState,
  disk: Extract<DiskState, { kind: "present" }>,
): StoredEvent | null {
  if (attachmentOf(state, disk)) return null;
  let last: StoredEvent | null = null;
  for (const e of state.detached.values()) {
    // A detach may carry neither BDF nor serial: take them from the disk's last attach.
    const attach = state.timeline.findLast(
      (t) => t.type === "attach" && t.diskId === e.diskId && t.atMs <= e.atMs,
    );
    const d = { bdf: e.bdf ?? attach?.bdf ?? null, serial: e.serial ?? attach?.serial ?? null };
    if (sameDisk(d, disk) && (last === null || e.atMs > last.atMs)) last = e;
  }
  return last;
}
