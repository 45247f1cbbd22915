/**
 * String-level sysfs parsing (reference/evidence-formats.md §1-§3): device paths such as /sys/block link
 * targets to the PCI function, controller and kind they name, and single-value attributes (ids, class,
 * driver_override, dev, size, NVMe state, padded strings). Pure; nothing here throws on input.
 */

export const BLOCK_DEVICE_KINDS = [
  "nvme", // a namespace on one controller (PCIe or fabrics): `.../<BDF>/nvme/nvmeC/nvmeXnN`
  "nvme-head", // a native-multipath head: `virtual/nvme-subsystem/nvme-subsysS/nvmeSnN`, no BDF of its own
  "nvme-path", // a hidden path device `nvmeScCnN` under one controller: no /dev node
  "virtio", // virtio-blk, over PCI (BDF before `virtioN`) or MMIO/CCW (none)
  "scsi", // anything behind a SCSI host (virtio-scsi, SATA, SAS, USB, iSCSI): the BDF is the HBA's
  "xen", // xen-blkfront `vbd-N`
  "virtual", // loop, dm, md, zram, nbd, rbd: `devices/virtual/...`
  "other", // anything else, including paths that are not block devices (PCI function links)
] as const;
export type BlockDeviceKind = (typeof BLOCK_DEVICE_KINDS)[number];

/** What a sysfs device path (a /sys/block link target, a PCI or NVMe class link) tells about its device. */
export interface SysfsTarget {
  readonly kind: BlockDeviceKind;
  /** The PCI function that is the device itself (the NVMe or virtio-blk function); never an HBA's. */
  readonly bdf: string | null;
  /** The PCI function of the host controller the disk sits behind (SCSI, SATA, USB, MMC). */
  readonly hbaBdf: string | null;
  /** The NVMe controller (`nvme5`) from the path, never from the namespace name. */
  readonly controller: string | null;
  /** For a hidden path device `nvmeScCnN`, the multipath head `nvmeSnN` it serves. */
  readonly head: string | null;
  /** A hidden NVMe path device: listed in /sys/block but with no /dev node. */
  readonly hidden: boolean;
}

const SLASH = 47;
const COLON = 58;
const DOT = 46;
const DIGIT_0 = 48;
const DIGIT_1 = 49;
const DIGIT_7 = 55;
const DIGIT_9 = 57;
const LOWER_N = 110;
const LOWER_C = 99;

function isDigit(c: number): boolean {
  return c >= DIGIT_0 && c <= DIGIT_9;
}

/** 0-9, a-f, A-F. */
function isHex(c: number): boolean {
  return (c >= DIGIT_0 && c <= DIGIT_9) || (c >= 97 && c <= 102) || (c >= 65 && c <= 70);
}

/** Index of the first non-digit at or after `i` (or `end`). */
function skipDigits(t: string, i: number, end: number): number {
  while (i < end && isDigit(t.charCodeAt(i))) i++;
  return i;
}

/** 1 for 0-9 and a-f, 2 for A-F (sysfs prints lowercase; hand-made evidence may not), 0 otherwise. */
function hexClass(c: number): number {
  if ((c >= 97 && c <= 102) || (c >= DIGIT_0 && c <= DIGIT_9)) return 1;
  return c >= 65 && c <= 70 ? 2 : 0;
}

/**
 * The PCI address `dom:bus:dev.fn` that is the whole path component of t[lo, e) ending at `e`,
 * lowercased, or null. Domain of 4 to 8 hex digits (Intel VMD uses `10000:`), 2 hex bus, device 00-1f,
 * function 0-7. The tail has a fixed width, so it is checked from the end (separators first, where most
 * components fail) and the domain is walked back to the slash: one pass, no backtracking.
 */
function bdfEndingAt(t: string, lo: number, e: number): string | null {
  if (e - lo < 12) return null;
  const fn = t.charCodeAt(e - 1);
  const dev = t.charCodeAt(e - 4);
  if (
    t.charCodeAt(e - 2) !== DOT ||
    t.charCodeAt(e - 5) !== COLON ||
    t.charCodeAt(e - 8) !== COLON ||
    fn < DIGIT_0 ||
    fn > DIGIT_7 ||
    (dev !== DIGIT_0 && dev !== DIGIT_1)
  ) {
    return null;
  }
  const bus0 = hexClass(t.charCodeAt(e - 7));
  const bus1 = hexClass(t.charCodeAt(e - 6));
  const dev1 = hexClass(t.charCodeAt(e - 3));
  if (bus0 === 0 || bus1 === 0 || dev1 === 0) return null;
  let upper = (bus0 | bus1 | dev1) & 2;
  const domainEnd = e - 8;
  const min = Math.max(lo, domainEnd - 8);
  let s = domainEnd;
  while (s > min) {
    const c = t.charCodeAt(s - 1);
    if (c === SLASH) break;
    const h = hexClass(c);
    if (h === 0) return null;
    upper |= h & 2;
    s--;
  }
  if (domainEnd - s < 4 || (s > lo && t.charCodeAt(s - 1) !== SLASH)) return null;
  const bdf = t.slice(s, e);
  return upper === 0 ? bdf : bdf.toLowerCase();
}

/** The PCI address that is exactly t[s, e), lowercased, or null. */
function bdfAt(t: string, s: number, e: number): string | null {
  const bdf = bdfEndingAt(t, s, e);
  return bdf !== null && bdf.length === e - s ? bdf : null;
}

/** True when `text` is exactly a PCI address `dom:bus:dev.fn` with a 4 to 8 hex digit domain. */
export function isBdf(text: string): boolean {
  return bdfAt(text, 0, text.length) !== null;
}

/** The PCI address in lowercase, or null when `text` (whitespace-trimmed) is not one. */
export function normalizeBdf(text: string): string | null {
  const t = text.length > 32 ? text : text.trim();
  return bdfAt(t, 0, t.length);
}

const NOT_NVME = 0;
const NVME_CTRL = 1; // nvme5
const NVME_NS = 2; // nvme5n1
const NVME_PATH = 3; // nvme0c5n1

/** Which NVMe name shape t[s, e) has: controller, namespace, path device, or none. */
function nvmeNameKind(t: string, s: number, e: number): number {
  if (
    e - s < 5 ||
    t.charCodeAt(s) !== LOWER_N ||
    t.charCodeAt(s + 1) !== 118 || // v
    t.charCodeAt(s + 2) !== 109 || // m
    t.charCodeAt(s + 3) !== 101 // e
  ) {
    return NOT_NVME;
  }
  const j = skipDigits(t, s + 4, e);
  if (j === s + 4) return NOT_NVME;
  if (j === e) return NVME_CTRL;
  const c = t.charCodeAt(j);
  if (c === LOWER_N) {
    const k = skipDigits(t, j + 1, e);
    return k > j + 1 && k === e ? NVME_NS : NOT_NVME;
  }
  if (c === LOWER_C) {
    const k = skipDigits(t, j + 1, e);
    if (k === j + 1 || k >= e || t.charCodeAt(k) !== LOWER_N) return NOT_NVME;
    const m = skipDigits(t, k + 1, e);
    return m > k + 1 && m === e ? NVME_PATH : NOT_NVME;
  }
  return NOT_NVME;
}

/** `nvmeScCnN` -> `nvmeSnN`: the kernel names path devices after subsystem, controller and head. */
function headOfPath(t: string, s: number, e: number): string {
  const c = skipDigits(t, s + 4, e);
  const n = skipDigits(t, c + 1, e);
  return t.slice(s, c) + t.slice(n, e);
}

/** Index of the first character of the run of digits that ends just before `end` (>= lo). */
function digitsBack(t: string, lo: number, end: number): number {
  let i = end;
  while (i > lo && isDigit(t.charCodeAt(i - 1))) i--;
  return i;
}

/** `nvme` ends at `end` and starts a component of t[lo, ...): at `lo` or after a slash. */
function nvmeWordEndsAt(t: string, lo: number, end: number): boolean {
  const s = end - 4;
  return s >= lo && hasAt(t, s, end, "nvme") && (s === lo || t.charCodeAt(s - 1) === SLASH);
}

/**
 * Start of the namespace or path-device name (`nvme5n1`, `nvme0c5n1`) that is the component of
 * t[lo, e) ending at `e`, times two, plus one for a path device; -1 when it is not one. Read backwards
 * so the scan that finds the component also checks its shape.
 */
function nvmeDiskNameBack(t: string, lo: number, e: number): number {
  const n = digitsBack(t, lo, e);
  if (n === e || n - 1 < lo || t.charCodeAt(n - 1) !== LOWER_N) return -1;
  let d = digitsBack(t, lo, n - 1);
  if (d === n - 1) return -1;
  let path = 0;
  if (d - 1 >= lo && t.charCodeAt(d - 1) === LOWER_C) {
    const c = d - 1;
    d = digitsBack(t, lo, c);
    if (d === c) return -1;
    path = 1;
  }
  return nvmeWordEndsAt(t, lo, d) ? (d - 4) * 2 + path : -1;
}

/** Start of the controller name (`nvme5`) that is the component of t[lo, e) ending at `e`, or -1. */
function nvmeCtrlNameBack(t: string, lo: number, e: number): number {
  const d = digitsBack(t, lo, e);
  return d < e && nvmeWordEndsAt(t, lo, d) ? d - 4 : -1;
}

/** The component before index `s` (a component start) is exactly `nvme`: `.../<BDF>/nvme/<s...>`. */
function nvmeDirBefore(t: string, lo: number, s: number): boolean {
  return s - 1 > lo && t.charCodeAt(s - 1) === SLASH && nvmeWordEndsAt(t, lo, s - 1);
}

/** `virtio<N>` in t[s, e). */
function isVirtioAt(t: string, s: number, e: number): boolean {
  return e - s > 6 && hasAt(t, s, e, "virtio") && skipDigits(t, s + 6, e) === e;
}

/** A SCSI device address `H:C:T:L` in t[s, e). */
function isScsiAddressAt(t: string, s: number, e: number): boolean {
  let i = s;
  for (let part = 0; part < 4; part++) {
    const j = skipDigits(t, i, e);
    if (j === i) return false;
    if (part === 3) return j === e;
    if (j >= e || t.charCodeAt(j) !== COLON) return false;
    i = j + 1;
  }
  return false;
}

/**
 * `word` occurs in t at `s` and ends by `hi`. A charCodeAt loop: startsWith with a position is a slow
 * path on the large decoded strings a target list comes in.
 */
function hasAt(t: string, s: number, hi: number, word: string): boolean {
  const n = word.length;
  if (s < 0 || s + n > hi) return false;
  for (let i = 0; i < n; i++) if (t.charCodeAt(s + i) !== word.charCodeAt(i)) return false;
  return true;
}

/** t[s, e) equals `word`. */
function isWordAt(t: string, s: number, e: number, word: string): boolean {
  return e - s === word.length && hasAt(t, s, e, word);
}

/**
 * Start of the component of t[lo, end) that ends at `end`: the index after the previous slash, or `lo`.
 * A charCodeAt loop bounded by `lo`: lastIndexOf is a runtime call and would run past `lo` in a list.
 */
function componentStart(t: string, lo: number, end: number): number {
  let i = end - 1;
  while (i >= lo && t.charCodeAt(i) !== SLASH) i--;
  return i + 1;
}

/** Index just past `devices/` at the root of t[lo, hi) (`../devices/`, `/sys/devices/`), or -1. */
function afterDevicesRoot(t: string, lo: number, hi: number): number {
  let i = lo < hi && t.charCodeAt(lo) === SLASH ? lo + 1 : lo;
  while (hasAt(t, i, hi, "../")) i += 3;
  if (hasAt(t, i, hi, "sys/")) i += 4;
  return hasAt(t, i, hi, "devices/") ? i + 8 : -1;
}

function target(
  kind: BlockDeviceKind,
  bdf: string | null,
  hbaBdf: string | null = null,
  controller: string | null = null,
  head: string | null = null,
): SysfsTarget {
  return { kind, bdf, hbaBdf, controller, head, hidden: kind === "nvme-path" };
}

/**
 * Reads a sysfs device path (relative or absolute) from its last component backwards: the PCI function
 * that is the device itself, the HBA for SCSI-attached disks, the NVMe controller and the block-device kind.
 */
export function parseSysfsTarget(path: string): SysfsTarget {
  return parseSysfsTargetIn(path, 0, path.length);
}

/**
 * parseSysfsTarget over `text[start, end)`, for callers holding many targets in one string (one per
 * line): reading in place is several times faster than slicing each line out first.
 */
export function parseSysfsTargetIn(text: string, start: number, end: number): SysfsTarget {
  const t = text;
  const lo = Math.max(0, start);
  let e0 = Math.min(end, t.length);
  while (e0 > lo && t.charCodeAt(e0 - 1) === SLASH) e0--;
  if (e0 <= lo) return target("other", null);
  // A PCI function link (`../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.5`), iommu member or physfn.
  const own = bdfEndingAt(t, lo, e0);
  if (own !== null) return target("other", own);

  const disk = nvmeDiskNameBack(t, lo, e0);
  if (disk >= 0) {
    const s0 = disk >> 1;
    const e1 = s0 - 1;
    const s1 = e1 > lo ? nvmeCtrlNameBack(t, lo, e1) : -1;
    if (s1 >= 0) {
      // `.../<BDF>/nvme/nvmeC/<ns>`; fabrics controllers sit under `virtual/nvme-fabrics/ctl/` instead.
      const bdf = nvmeDirBefore(t, lo, s1) ? bdfEndingAt(t, lo, s1 - 6) : null;
      const controller = t.slice(s1, e1);
      return (disk & 1) === 1
        ? target("nvme-path", bdf, null, controller, headOfPath(t, s0, e0))
        : target("nvme", bdf, null, controller);
    }
    if (e1 > lo && hasAt(t, componentStart(t, lo, e1), e1, "nvme-subsys")) return target("nvme-head", null);
  }
  const ctrl = nvmeCtrlNameBack(t, lo, e0);
  if (ctrl >= 0) {
    // A controller (`sys/class/nvme/nvmeC` link target): `.../<BDF>/nvme/nvmeC`.
    const bdf = nvmeDirBefore(t, lo, ctrl) ? bdfEndingAt(t, lo, ctrl - 6) : null;
    return target("nvme", bdf, null, t.slice(ctrl, e0));
  }

  // Anchored at the start: loop, dm, md (`devices/virtual/`); a rooted path outside devices/ names no
  // device (`driver`, `iommu_group` links). Checked before the components, which then need no scan.
  const root = afterDevicesRoot(t, lo, e0);
  if (root !== -1 && hasAt(t, root, e0, "virtual/")) return target("virtual", null);
  if (root === -1 && (t.charCodeAt(lo) === SLASH || t.charCodeAt(lo) === DOT)) return target("other", null);

  // The two components before the name; an empty range (s === e) where the path has fewer.
  const s0 = componentStart(t, lo, e0);
  const e1 = s0 - 1;
  const s1 = e1 > lo ? componentStart(t, lo, e1) : e1;
  const e2 = s1 - 1;
  const s2 = e2 > lo ? componentStart(t, lo, e2) : e2;
  if (e2 > s2 && isWordAt(t, s1, e1, "block")) {
    if (isVirtioAt(t, s2, e2)) return target("virtio", bdfEndingAt(t, lo, s2 - 1));
    if (isScsiAddressAt(t, s2, e2)) return target("scsi", null, nearestBdf(t, lo, s2 - 1));
    if (hasAt(t, s2, e2, "vbd-")) return target("xen", null);
    // A gendisk whose parent is the PCI function itself (mtip32xx, skd): that function is the disk.
    const parent = bdfEndingAt(t, lo, e2);
    if (parent !== null) return target("other", parent);
  }
  // Unknown layout: the nearest PCI ancestor is a controller, not the disk (MMC host, NVDIMM bridge).
  return target("other", null, nearestBdf(t, lo, e1));
}

/** The last BDF component of t[lo, end), walking back; null when there is none. */
function nearestBdf(t: string, lo: number, end: number): string | null {
  let e = end;
  while (e > lo) {
    const bdf = bdfEndingAt(t, lo, e);
    if (bdf !== null) return bdf;
    e = componentStart(t, lo, e) - 1;
  }
  return null;
}

/** The PCI function a sysfs device path names, or null (multipath heads, SCSI disks, Xen, virtual). */
export function bdfFromSysfsPath(path: string): string | null {
  return parseSysfsTarget(path).bdf;
}

/** The kind of block device a /sys/block link target names. */
export function classifyBlockDevice(path: string): BlockDeviceKind {
  return parseSysfsTarget(path).kind;
}

/** Whether a name is an NVMe controller (`nvme5`), namespace (`nvme5n1`) or path device (`nvme0c5n1`). */
export function nvmeNameShape(name: string): "controller" | "namespace" | "path" | null {
  const k = nvmeNameKind(name, 0, name.length);
  return k === NVME_CTRL ? "controller" : k === NVME_NS ? "namespace" : k === NVME_PATH ? "path" : null;
}

/** Whitespace and NUL padding (NVMe serial and model are space-padded fixed-width fields). */
function isPadding(c: number): boolean {
  return c === 32 || c === 9 || c === 10 || c === 13 || c === 0;
}

/** A string attribute without its padding: spaces, tabs, newlines and NULs at either end. */
export function trimSysfsString(value: string): string {
  let s = 0;
  let e = value.length;
  while (s < e && isPadding(value.charCodeAt(s))) s++;
  while (e > s && isPadding(value.charCodeAt(e - 1))) e--;
  return s === 0 && e === value.length ? value : value.slice(s, e);
}

/**
 * A hex attribute printed as `0x` plus exactly `digits` hex digits (`vendor` `0x1ded`, `class`
 * `0x010802`), lowercased; null when the value has another shape.
 */
export function parseHexAttribute(value: string, digits: number): string | null {
  if (value.length > digits + 8) return null;
  const v = trimSysfsString(value);
  if (v.length !== digits + 2 || v.charCodeAt(0) !== DIGIT_0 || (v.charCodeAt(1) | 32) !== 120) return null;
  for (let i = 2; i < v.length; i++) if (!isHex(v.charCodeAt(i))) return null;
  return v.toLowerCase();
}

/** The PCI class code of NVMe controllers (mass storage, non-volatile memory, NVMe programming interface). */
export const PCI_CLASS_NVME = "0x010802";

/** Whether a `class` attribute value is the NVMe class `0x010802`. */
export function isNvmeClass(pciClass: string): boolean {
  return parseHexAttribute(pciClass, 6) === PCI_CLASS_NVME;
}

/**
 * `driver_override`: the driver name, or null when unset. The kernel prints `(null)` when unset and
 * writing an empty line clears it, so both read as unset.
 */
export function parseDriverOverride(value: string): string | null {
  const v = trimSysfsString(value);
  return v === "" || v === "(null)" ? null : v;
}

/** Decimal digits only, at most `max` of them. */
function isDecimal(t: string, s: number, e: number, max: number): boolean {
  return e > s && e - s <= max && skipDigits(t, s, e) === e;
}

/** A `dev` attribute `major:minor` (`259:4`), the join key with mountinfo; null for any other shape. */
export function parseDevt(value: string): string | null {
  if (value.length > 32) return null;
  const v = trimSysfsString(value);
  const colon = v.indexOf(":");
  return colon > 0 && isDecimal(v, 0, colon, 10) && isDecimal(v, colon + 1, v.length, 10) ? v : null;
}

/** A block `size` attribute: the size in 512-byte sectors whatever the logical block size; null if invalid. */
export function parseSizeSectors(value: string): number | null {
  if (value.length > 32) return null;
  const v = trimSysfsString(value);
  if (!isDecimal(v, 0, v.length, 16)) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/** Controller states as `nvme_sysfs_show_state` prints them (drivers/nvme/host/core.c). */
export const NVME_CTRL_STATES = [
  "new",
  "live",
  "resetting",
  "connecting",
  "deleting",
  "deleting (no IO)",
  "dead",
] as const;
export type NvmeCtrlState = (typeof NVME_CTRL_STATES)[number];

/** An NVMe controller `state` attribute, or null for text the kernel does not print (`unknown state`). */
export function parseNvmeState(value: string): NvmeCtrlState | null {
  const v = value.length > 32 ? value : trimSysfsString(value);
  return NVME_CTRL_STATES.find((s) => s === v) ?? null;
}

/** An IOMMU group id (`63`), from a group directory name or an `iommu_group` link target; null if invalid. */
export function parseIommuGroupId(nameOrTarget: string): string | null {
  let e = nameOrTarget.length;
  while (e > 0 && nameOrTarget.charCodeAt(e - 1) === SLASH) e--;
  const s = componentStart(nameOrTarget, 0, e);
  return isDecimal(nameOrTarget, s, e, 10) ? nameOrTarget.slice(s, e) : null;
}

/** A `/dev/vfio` group node name: `62`, or `noiommu-62` in no-IOMMU mode; null for anything else. */
export function parseVfioGroupNode(
  name: string,
): { readonly group: string; readonly noiommu: boolean } | null {
  if (isDecimal(name, 0, name.length, 10)) return { group: name, noiommu: false };
  if (name.startsWith("noiommu-") && isDecimal(name, 8, name.length, 10)) {
    return { group: name.slice(8), noiommu: true };
  }
  return null;
}

/** Whether a name is a vfio device cdev (`vfio0`, in `dev/vfio/devices/` and a function's `vfio-dev/`). */
export function isVfioCdevName(name: string): boolean {
  return name.length > 4 && name.startsWith("vfio") && isDecimal(name, 4, name.length, 10);
}
