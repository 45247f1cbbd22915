/**
 * The sysfs part of a host view: block devices, PCI functions, NVMe controllers, IOMMU groups and
 * /dev/vfio, read from a bundle's raw evidence (reference/evidence-formats.md §1-§3, §11.0).
 * Every fact carries the evidence path it came from; a read that failed or timed out is "unknown",
 * never "false" or "absent".
 */
import type { EvidenceEntry } from "../contracts/snapshot.js";
import {
  basename,
  dirKey,
  type EvidenceReader,
  type Unreadable,
  whyUnreadable,
  withoutNewline,
} from "./evidence.js";
import { IssueList, type ParseResult, result } from "./result.js";
import {
  type BlockDeviceKind,
  isVfioCdevName,
  NVME_CTRL_STATES,
  normalizeBdf,
  nvmeNameShape,
  PCI_CLASS_NVME,
  parseDevt,
  parseDriverOverride,
  parseHexAttribute,
  parseIommuGroupId,
  parseSizeSectors,
  parseSysfsTarget,
  parseVfioGroupNode,
  trimSysfsString,
} from "./sysfs-values.js";

export * from "./sysfs-values.js";

/** Why a fact is unknown: the read failed, timed out, was cut by the size cap, or held an invalid value. */
export type SysfsUnknownReason =
  | Unreadable
  | { readonly reason: "capped" }
  | { readonly reason: "invalid"; readonly raw: string };

/** One fact read from sysfs, with the evidence key it came from; `known: false` means "could not see". */
export type SysfsFact<T> =
  | { readonly known: true; readonly value: T; readonly source: string }
  | { readonly known: false; readonly why: SysfsUnknownReason; readonly source: string };

/** Whether a section's listing was read whole: something missing from a list proves nothing otherwise. */
export interface SysfsCoverage {
  readonly source: string;
  readonly complete: boolean;
  readonly why: SysfsUnknownReason | null;
}

/** A `/sys/block` entry: a whole disk, a multipath head or a hidden NVMe path device. */
export interface SysfsBlockDevice {
  readonly name: string;
  /** `sys/block/<name>`. */
  readonly source: string;
  readonly target: SysfsFact<string>;
  readonly kind: BlockDeviceKind;
  readonly bdf: string | null;
  readonly hbaBdf: string | null;
  readonly controller: string | null;
  readonly head: string | null;
  readonly hidden: boolean;
  /** `major:minor`, the join key with mountinfo. */
  readonly devt: SysfsFact<string>;
  /** 512-byte sectors; 0 is a disk whose media is gone (stale entry after surprise removal). */
  readonly sizeSectors: SysfsFact<number>;
  /** Names of the facts above whose read failed, timed out, was cut or held an invalid value. */
  readonly unreadable: readonly string[];
}

/** A PCI function from `/sys/bus/pci/devices/<BDF>`. */
export interface SysfsPciFunction {
  readonly bdf: string;
  /** `sys/bus/pci/devices/<BDF>`. */
  readonly source: string;
  /** The link into `devices/`: it shows the bridge chain and the domain (VMD `10000:`). */
  readonly target: SysfsFact<string>;
  /** `0x1ded`, lowercase as sysfs prints it. */
  readonly vendor: SysfsFact<string>;
  readonly device: SysfsFact<string>;
  readonly subsystemVendor: SysfsFact<string>;
  readonly subsystemDevice: SysfsFact<string>;
  /** `0x010802`. */
  readonly class: SysfsFact<string>;
  /** null when the class is unknown. */
  readonly isNvmeClass: boolean | null;
  /** Basename of the `driver` link; null = unbound (the link is absent). */
  readonly driver: SysfsFact<string | null>;
  /** null = unset (`(null)` or empty). Unknown when the file does not exist (older kernels). */
  readonly driverOverride: SysfsFact<string | null>;
  /** null = no IOMMU group (vfio-pci cannot bind). */
  readonly iommuGroup: SysfsFact<string | null>;
  /** The PF of an SR-IOV VF; null = not a VF. */
  readonly physfn: SysfsFact<string | null>;
  /** Controllers listed under `nvme/`; empty when not bound to nvme. */
  readonly nvmeControllers: SysfsFact<readonly string[]>;
  /** The vfio device cdev (`vfio0`) listed under `vfio-dev/`; null = none. */
  readonly vfioDev: SysfsFact<string | null>;
  /** Names of the facts above whose read failed, timed out, was cut or held an invalid value. */
  readonly unreadable: readonly string[];
}

/** An NVMe controller from `/sys/class/nvme/<nvmeC>` (or, failing that, the PCI function's `nvme/<nvmeC>`). */
export interface SysfsNvmeController {
  readonly name: string;
  /** The directory the attributes were read from. */
  readonly source: string;
  readonly target: SysfsFact<string>;
  /** `address` as printed: the BDF for PCIe, `traddr=...,trsvcid=...` for fabrics. */
  readonly address: SysfsFact<string>;
  /** The controller's PCI function, from `address`, else the link target, else the PCI function listing it. */
  readonly bdf: string | null;
  /** One of NVME_CTRL_STATES when recognised; other text is kept as read. */
  readonly state: SysfsFact<string>;
  readonly serial: SysfsFact<string>;
  readonly model: SysfsFact<string>;
  readonly transport: SysfsFact<string>;
  /**
   * Block devices under the controller: namespaces `nvmeXnN` and, with native multipath, path devices
   * `nvmeScCnN`. Empty on a live controller = a controller with zero namespaces.
   */
  readonly namespaces: SysfsFact<readonly string[]>;
  /** Names of the facts above whose read failed, timed out, was cut or held an invalid value. */
  readonly unreadable: readonly string[];
}

/** An IOMMU group from `/sys/kernel/iommu_groups/<G>/devices/`. */
export interface SysfsIommuGroup {
  readonly id: string;
  readonly source: string;
  readonly members: SysfsFact<readonly string[]>;
}

/** A `/dev/vfio/<G>` (or `noiommu-<G>`) group node. */
export interface VfioGroupNode {
  readonly name: string;
  readonly group: string;
  readonly noiommu: boolean;
}

/** What `/dev/vfio` holds. */
export interface SysfsVfio {
  /** `dev/vfio/` was listed; false when it does not exist (vfio not loaded). */
  readonly present: SysfsFact<boolean>;
  /** The legacy container node `/dev/vfio/vfio`. */
  readonly containerNode: SysfsFact<boolean>;
  readonly groupNodes: SysfsFact<readonly VfioGroupNode[]>;
  /** Device cdevs in `/dev/vfio/devices/` (iommufd; a VMM using them never opens the group node). */
  readonly cdevs: SysfsFact<readonly string[]>;
}

export interface SysfsView {
  readonly blockDevices: readonly SysfsBlockDevice[];
  readonly pciFunctions: readonly SysfsPciFunction[];
  readonly nvmeControllers: readonly SysfsNvmeController[];
  readonly iommuGroups: readonly SysfsIommuGroup[];
  readonly vfio: SysfsVfio;
  readonly coverage: {
    readonly blockDevices: SysfsCoverage;
    readonly pciFunctions: SysfsCoverage;
    readonly nvmeControllers: SysfsCoverage;
    readonly iommuGroups: SysfsCoverage;
  };
}

export const SYSFS_PATHS = {
  block: "sys/block",
  pci: "sys/bus/pci/devices",
  nvme: "sys/class/nvme",
  iommuGroups: "sys/kernel/iommu_groups",
  vfio: "dev/vfio",
  vfioDevices: "dev/vfio/devices",
} as const;

/** Longest raw value kept in an `invalid` reason; the rest is in the bundle. */
const MAX_RAW_CHARS = 120;

/** Marks a value a field parser could not read. */
const INVALID = Symbol("invalid");
type Invalid = typeof INVALID;

function known<T>(value: T, source: string): SysfsFact<T> {
  return { known: true, value, source };
}

function unknown<T>(why: SysfsUnknownReason, source: string): SysfsFact<T> {
  return { known: false, why, source };
}

function isEnoent(why: Unreadable): boolean {
  return why.reason === "error" && why.code === "ENOENT";
}

function describeUnknown(why: SysfsUnknownReason): string {
  switch (why.reason) {
    case "error":
      return `read failed (${why.code})`;
    case "timeout":
      return `read timed out after ${why.afterMs} ms`;
    case "wrong_kind":
      return `recorded as a ${why.kind}`;
    case "capped":
      return "cut by the size cap";
    case "invalid":
      return `unreadable value ${JSON.stringify(why.raw)}`;
    case "absent":
      return "not in the bundle";
  }
}

/**
 * Names of the facts among `fields` of `entity` whose read failed, timed out, was cut or held an invalid
 * value, pushed onto `into`: the entity's own `unreadable` array, so the entity is built as one literal
 * (spreading it into a second one to add the list took readSysfs from ~0.12 to ~0.18 ms per snapshot
 * in Node). Evidence that is absent from the bundle or ENOENT (an optional file this kernel lacks)
 * leaves a fact unknown without listing it: nothing went wrong reading it.
 */
function listUnreadable<K extends string>(
  entity: Readonly<Record<K, SysfsFact<unknown>>>,
  fields: readonly K[],
  into: string[],
): void {
  for (const f of fields) {
    const fact = entity[f];
    if (fact.known) continue;
    const why = fact.why;
    if (why.reason === "absent" || (why.reason === "error" && why.code === "ENOENT")) continue;
    into.push(f);
  }
}

/** A name from a listing that can be appended to a path: no slash, not empty, not a dot entry. */
function isPlainName(name: string): boolean {
  return name !== "" && name !== "." && name !== ".." && !name.includes("/");
}

/**
 * The listing's usable names, first occurrence kept. Most listings read per function are empty or
 * hold one name (`nvme/`, `vfio-dev/`): those skip the Set and the two arrays it took. The shipper
 * sorts the others, and names in strictly ascending order are distinct without a Set (the bench
 * bundle's 15 such listings: ~5.4 -> ~3.0 us).
 */
function uniquePlainNames(names: readonly string[]): string[] {
  if (names.length === 0) return [];
  if (names.length === 1) {
    const only = names[0] as string;
    return isPlainName(only) ? [only] : [];
  }
  for (let i = 1; i < names.length; i++) {
    if (!((names[i - 1] as string) < (names[i] as string))) return [...new Set(names)].filter(isPlainName);
  }
  return names.filter(isPlainName);
}

/**
 * Reads facts through an EvidenceReader and records issues with the evidence key as the path.
 *
 * Each read looks its entry up once and reads the kind, cap flag and content from it: asking the reader
 * `unreadable`, `capped`, `value` and `entry` in turn looked the same freshly built path up four times
 * (~1,400 lookups per snapshot; one each saves ~0.015 ms). The reader still decodes base64 and
 * explains entries that are not of the wanted kind.
 */
class FactReader {
  constructor(
    readonly evidence: EvidenceReader,
    readonly issues: IssueList,
  ) {}

  /**
   * A single-value attribute parsed by `parse`. ENOENT becomes `whenEnoent` when given (a file whose
   * absence has a meaning), else unknown.
   */
  file<T>(path: string, parse: (v: string) => T | Invalid, whenEnoent?: { value: T }): SysfsFact<T> {
    const entry = this.evidence.entry(path);
    if (entry?.kind !== "file") return this.notA(path, entry, "file", whenEnoent);
    if (entry.capped === true) {
      this.issues.add("truncated", "value cut by the size cap", undefined, [path]);
      return unknown({ reason: "capped" }, path);
    }
    let raw: string;
    if (entry.encoding === "base64") {
      raw = this.evidence.value(path) ?? "";
      if (raw.includes("\uFFFD")) {
        this.issues.add("non_utf8", "bytes that are not UTF-8 were replaced", undefined, [path]);
      }
    } else {
      raw = withoutNewline(entry.data);
    }
    const value = parse(raw);
    if (value === INVALID) return this.invalid(path, raw);
    return known(value, path);
  }

  /** A symlink's target parsed by `parse`; ENOENT becomes `whenEnoent` when given. */
  link<T>(path: string, parse: (target: string) => T | Invalid, whenEnoent?: { value: T }): SysfsFact<T> {
    const entry = this.evidence.entry(path);
    if (entry?.kind !== "link") return this.notA(path, entry, "link", whenEnoent);
    const value = parse(entry.target);
    if (value === INVALID) return this.invalid(path, entry.target);
    return known(value, path);
  }

  /** A directory listing (names deduplicated, unusable names dropped); a capped listing is unknown. */
  dir(path: string, whenEnoent?: { value: readonly string[] }): SysfsFact<readonly string[]> {
    const key = dirKey(path);
    const entry = this.evidence.entry(key);
    if (entry?.kind !== "dir") return this.notA(key, entry, "dir", whenEnoent);
    if (entry.capped === true) {
      this.issues.add("truncated", "listing cut by the entry cap", undefined, [key]);
      return unknown({ reason: "capped" }, key);
    }
    return known(uniquePlainNames(entry.names), key);
  }

  /**
   * The fact for `path`, whose entry `entry` holds no evidence of the wanted kind. The reason is read
   * from the entry in hand: asking the reader looked the path up again, 33 of readSysfs's 438 lookups
   * on the bench bundle (27 error entries, 6 absent paths).
   */
  private notA<T>(
    path: string,
    entry: EvidenceEntry | undefined,
    want: "file" | "link" | "dir",
    whenEnoent: { value: T } | undefined,
  ): SysfsFact<T> {
    // Never undefined: the caller found no entry of the wanted kind.
    const why = whyUnreadable(entry, want) ?? { reason: "absent" };
    return this.unreadable(path, why, want, whenEnoent);
  }

  private unreadable<T>(
    path: string,
    why: Unreadable,
    want: string,
    whenEnoent: { value: T } | undefined,
  ): SysfsFact<T> {
    if (whenEnoent && isEnoent(why)) return known(whenEnoent.value, path);
    if (why.reason === "wrong_kind") {
      this.issues.add("invalid_field", `expected a ${want}, ${describeUnknown(why)}`, undefined, [path]);
    }
    return unknown(why, path);
  }

  private invalid<T>(path: string, raw: string): SysfsFact<T> {
    const clipped = raw.length > MAX_RAW_CHARS ? `${raw.slice(0, MAX_RAW_CHARS)}…` : raw;
    this.issues.add("invalid_field", `unreadable value ${JSON.stringify(clipped)}`, undefined, [path]);
    return unknown({ reason: "invalid", raw: clipped }, path);
  }
}

const hex4 = (v: string) => parseHexAttribute(v, 4) ?? INVALID;
const hex6 = (v: string) => parseHexAttribute(v, 6) ?? INVALID;
const devt = (v: string) => parseDevt(v) ?? INVALID;
const sectors = (v: string) => parseSizeSectors(v) ?? INVALID;
const text = (v: string) => trimSysfsString(v);
const driverName = (t: string) => basename(t) || INVALID;
const groupId = (t: string) => parseIommuGroupId(t) ?? INVALID;
const physfnBdf = (t: string) => normalizeBdf(basename(t)) ?? INVALID;
const anyText = (t: string) => t;

const NONE = { value: null };
const EMPTY: { value: readonly string[] } = { value: [] };

/** Coverage of a section from its listing fact. */
function coverageOf(listing: SysfsFact<readonly string[]>): SysfsCoverage {
  return listing.known
    ? { source: listing.source, complete: true, why: null }
    : { source: listing.source, complete: false, why: listing.why };
}

/**
 * Builds the sysfs view of a host from a bundle's evidence: block devices with the PCI function behind
 * each, PCI functions with their driver binding, NVMe controllers, IOMMU groups and /dev/vfio.
 */
export function readSysfs(reader: EvidenceReader): ParseResult<SysfsView> {
  const issues = new IssueList();
  const facts = new FactReader(reader, issues);

  for (const p of Object.values(SYSFS_PATHS)) {
    if (p !== SYSFS_PATHS.vfioDevices && reader.entry(`${p}/`) === undefined) {
      issues.add("missing", "not collected", undefined, [`${p}/`]);
    }
  }

  // A kernel always has /sys/block and a PCI host has /sys/bus/pci: ENOENT there means sysfs was not
  // visible, so it stays unknown. The nvme class and iommu_groups directories exist only once nvme-core
  // or IOMMU support is loaded, so there ENOENT means "none".
  const blockListing = facts.dir(SYSFS_PATHS.block);
  const pciListing = facts.dir(SYSFS_PATHS.pci);
  const nvmeListing = facts.dir(SYSFS_PATHS.nvme, EMPTY);
  const groupListing = facts.dir(SYSFS_PATHS.iommuGroups, EMPTY);

  const vfio = readVfio(facts);
  const pciFunctions = readPciFunctions(facts, pciListing, vfio);
  const nvmeControllers = readNvmeControllers(facts, nvmeListing, pciFunctions);
  const blockDevices = readBlockDevices(facts, blockListing);
  const iommuGroups = readIommuGroups(facts, groupListing);

  crossCheck(issues, { blockDevices, pciFunctions, nvmeControllers, iommuGroups, groupListing });

  const view: SysfsView = {
    blockDevices,
    pciFunctions,
    nvmeControllers,
    iommuGroups,
    vfio,
    coverage: {
      blockDevices: coverageOf(blockListing),
      pciFunctions: coverageOf(pciListing),
      nvmeControllers: coverageOf(nvmeListing),
      iommuGroups: coverageOf(groupListing),
    },
  };
  return result(view, issues.done());
}

function readBlockDevices(facts: FactReader, listing: SysfsFact<readonly string[]>): SysfsBlockDevice[] {
  if (!listing.known) return [];
  return listing.value.map((name) => {
    const source = `${SYSFS_PATHS.block}/${name}`;
    const target = facts.link(source, anyText);
    const parsed = target.known ? parseSysfsTarget(target.value) : null;
    const unreadable: string[] = [];
    const device: SysfsBlockDevice = {
      name,
      source,
      target,
      kind: parsed?.kind ?? "other",
      bdf: parsed?.bdf ?? null,
      hbaBdf: parsed?.hbaBdf ?? null,
      controller: parsed?.controller ?? null,
      head: parsed?.head ?? null,
      hidden: parsed?.hidden ?? nvmeNameShape(name) === "path",
      devt: facts.file(`${source}/dev`, devt),
      sizeSectors: facts.file(`${source}/size`, sectors),
      unreadable,
    };
    listUnreadable(device, BLOCK_FACT_FIELDS, unreadable);
    return device;
  });
}

const BLOCK_FACT_FIELDS = ["target", "devt", "sizeSectors"] as const;

const PCI_FACT_FIELDS = [
  "target",
  "vendor",
  "device",
  "subsystemVendor",
  "subsystemDevice",
  "class",
  "driver",
  "driverOverride",
  "iommuGroup",
  "physfn",
  "nvmeControllers",
  "vfioDev",
] as const;

/**
 * A child directory that was not collected, read from the driver binding instead: `none` when the
 * driver is known and `rulesOut` says it cannot have created the directory, with the driver link as the
 * source. Unknown otherwise (never inferred over a read that failed).
 */
function inferFromDriver<T>(
  listing: { readonly why: SysfsUnknownReason; readonly source: string },
  driver: SysfsFact<string | null>,
  rulesOut: (driver: string) => boolean,
  none: T,
): SysfsFact<T> {
  if (listing.why.reason === "absent" && driver.known && (driver.value === null || rulesOut(driver.value))) {
    return known(none, driver.source);
  }
  return unknown(listing.why, listing.source);
}

function readPciFunctions(
  facts: FactReader,
  listing: SysfsFact<readonly string[]>,
  vfio: SysfsVfio,
): SysfsPciFunction[] {
  if (!listing.known) return [];
  // `vfio-dev/` is missing both when a function has no vfio cdev and on kernels without cdev support
  // (CONFIG_VFIO_DEVICE_CDEV), so ENOENT alone is unknown. devtmpfs makes /dev/vfio/devices/vfioN for
  // every cdev, so a readable /dev/vfio (or its absence) corroborates "no cdev".
  const noCdevWhenAbsent = vfio.cdevs.known;
  const out: SysfsPciFunction[] = [];
  for (const name of listing.value) {
    const bdf = normalizeBdf(name);
    const source = `${SYSFS_PATHS.pci}/${name}`;
    if (bdf === null) {
      facts.issues.add("invalid_field", `${JSON.stringify(name)} is not a PCI address`, undefined, [
        listing.source,
      ]);
      continue;
    }
    const pciClass = facts.file(`${source}/class`, hex6);
    const driver = facts.link(`${source}/driver`, driverName, NONE);
    const nvmeDir = facts.dir(`${source}/nvme`, EMPTY);
    const vfioDir = facts.dir(`${source}/vfio-dev`, noCdevWhenAbsent ? EMPTY : undefined);
    const unreadable: string[] = [];
    const fn: SysfsPciFunction = {
      bdf,
      source,
      target: facts.link(source, anyText),
      vendor: facts.file(`${source}/vendor`, hex4),
      device: facts.file(`${source}/device`, hex4),
      subsystemVendor: facts.file(`${source}/subsystem_vendor`, hex4),
      subsystemDevice: facts.file(`${source}/subsystem_device`, hex4),
      class: pciClass,
      isNvmeClass: pciClass.known ? pciClass.value === PCI_CLASS_NVME : null,
      driver,
      driverOverride: facts.file(`${source}/driver_override`, parseDriverOverride),
      iommuGroup: facts.link(`${source}/iommu_group`, groupId, NONE),
      physfn: facts.link(`${source}/physfn`, physfnBdf, NONE),
      nvmeControllers: nvmeDir.known
        ? known(
            nvmeDir.value.filter((n) => nvmeNameShape(n) === "controller"),
            nvmeDir.source,
          )
        : // The shipper lists `nvme/` only for storage functions; it exists only while nvme is bound.
          inferFromDriver(nvmeDir, driver, (d) => d !== "nvme", []),
      vfioDev: vfioDir.known
        ? known(vfioDir.value.find(isVfioCdevName) ?? null, vfioDir.source)
        : // `vfio-dev/` exists only while a vfio driver (vfio-pci or a variant) is bound.
          inferFromDriver(vfioDir, driver, (d) => !d.includes("vfio"), null),
      unreadable,
    };
    listUnreadable(fn, PCI_FACT_FIELDS, unreadable);
    out.push(fn);
  }
  return out;
}

const NVME_FACT_FIELDS = [
  "target",
  "address",
  "state",
  "serial",
  "model",
  "transport",
  "namespaces",
] as const;

function readNvmeControllers(
  facts: FactReader,
  listing: SysfsFact<readonly string[]>,
  pciFunctions: readonly SysfsPciFunction[],
): SysfsNvmeController[] {
  // Controllers the PCI functions list, for those the class listing lacks (or could not give).
  const listedByPci = new Map<string, SysfsPciFunction>();
  for (const fn of pciFunctions) {
    if (!fn.nvmeControllers.known) continue;
    for (const c of fn.nvmeControllers.value) if (!listedByPci.has(c)) listedByPci.set(c, fn);
  }
  const inClass = new Set(
    listing.known ? listing.value.filter((n) => nvmeNameShape(n) === "controller") : [],
  );
  const names = [...inClass, ...[...listedByPci.keys()].filter((c) => !inClass.has(c))];

  return names.map((name) => {
    const viaPci = listedByPci.get(name);
    const source =
      inClass.has(name) || !viaPci ? `${SYSFS_PATHS.nvme}/${name}` : `${viaPci.source}/nvme/${name}`;
    const target = facts.link(`${SYSFS_PATHS.nvme}/${name}`, anyText);
    const address = facts.file(`${source}/address`, text);
    const state = facts.file(`${source}/state`, text);
    if (state.known && !NVME_CTRL_STATES.some((s) => s === state.value)) {
      facts.issues.add("unsupported", `unknown controller state ${JSON.stringify(state.value)}`, undefined, [
        state.source,
      ]);
    }
    const children = facts.dir(source);
    const unreadable: string[] = [];
    const ctrl: SysfsNvmeController = {
      name,
      source,
      target,
      address,
      bdf:
        (address.known ? normalizeBdf(address.value) : null) ??
        (target.known ? parseSysfsTarget(target.value).bdf : null) ??
        viaPci?.bdf ??
        null,
      state,
      serial: facts.file(`${source}/serial`, text),
      model: facts.file(`${source}/model`, text),
      transport: facts.file(`${SYSFS_PATHS.nvme}/${name}/transport`, text),
      namespaces: children.known
        ? known(
            children.value.filter((n) => {
              const shape = nvmeNameShape(n);
              return shape === "namespace" || shape === "path";
            }),
            children.source,
          )
        : children,
      unreadable,
    };
    listUnreadable(ctrl, NVME_FACT_FIELDS, unreadable);
    return ctrl;
  });
}

function readIommuGroups(facts: FactReader, listing: SysfsFact<readonly string[]>): SysfsIommuGroup[] {
  if (!listing.known) return [];
  const out: SysfsIommuGroup[] = [];
  for (const name of listing.value) {
    const id = parseIommuGroupId(name);
    if (id === null) {
      facts.issues.add("invalid_field", `${JSON.stringify(name)} is not a group id`, undefined, [
        listing.source,
      ]);
      continue;
    }
    const source = `${SYSFS_PATHS.iommuGroups}/${name}`;
    const devices = facts.dir(`${source}/devices`);
    let members: SysfsFact<readonly string[]> = devices;
    if (devices.known) {
      const bdfs: string[] = [];
      for (const n of devices.value) {
        const bdf = normalizeBdf(n);
        if (bdf !== null) bdfs.push(bdf);
        else {
          facts.issues.add("invalid_field", `${JSON.stringify(n)} is not a PCI address`, undefined, [
            devices.source,
          ]);
        }
      }
      members = known(bdfs, devices.source);
    }
    out.push({ id, source, members });
  }
  return out;
}

function readVfio(facts: FactReader): SysfsVfio {
  const listing = facts.dir(SYSFS_PATHS.vfio);
  const src = listing.source;
  if (!listing.known) {
    // ENOENT: vfio is not loaded, so there are no nodes at all.
    if (listing.why.reason === "error" && listing.why.code === "ENOENT") {
      return {
        present: known(false, src),
        containerNode: known(false, src),
        groupNodes: known([], src),
        cdevs: known([], src),
      };
    }
    return { present: listing, containerNode: listing, groupNodes: listing, cdevs: listing };
  }
  const groupNodes: VfioGroupNode[] = [];
  for (const name of listing.value) {
    const node = parseVfioGroupNode(name);
    if (node) groupNodes.push({ name, ...node });
  }
  const cdevListing = listing.value.includes("devices")
    ? facts.dir(SYSFS_PATHS.vfioDevices, EMPTY)
    : known<readonly string[]>([], src);
  return {
    present: known(true, src),
    containerNode: known(listing.value.includes("vfio"), src),
    groupNodes: known(groupNodes, src),
    cdevs: cdevListing.known
      ? known(cdevListing.value.filter(isVfioCdevName), cdevListing.source)
      : cdevListing,
  };
}

/**
 * Contradictions between sysfs facts. The snapshot is not atomic (§14), so these are issues for the
 * reader ("changed during capture"), never verdicts.
 */
function crossCheck(
  issues: IssueList,
  v: {
    blockDevices: readonly SysfsBlockDevice[];
    pciFunctions: readonly SysfsPciFunction[];
    nvmeControllers: readonly SysfsNvmeController[];
    iommuGroups: readonly SysfsIommuGroup[];
    groupListing: SysfsFact<readonly string[]>;
  },
): void {
  const ctrlByName = new Map(v.nvmeControllers.map((c) => [c.name, c]));
  for (const c of v.nvmeControllers) {
    const linkBdf = c.target.known ? parseSysfsTarget(c.target.value).bdf : null;
    const addressBdf = c.address.known ? normalizeBdf(c.address.value) : null;
    if (linkBdf && addressBdf && linkBdf !== addressBdf) {
      issues.add(
        "inconsistent",
        `${c.name}: address ${addressBdf} but the link names ${linkBdf}`,
        undefined,
        [c.address.source],
      );
    }
  }
  for (const d of v.blockDevices) {
    const ctrl = d.controller ? ctrlByName.get(d.controller) : undefined;
    if (d.bdf && ctrl?.bdf && ctrl.bdf !== d.bdf) {
      issues.add(
        "inconsistent",
        `${d.name}: its path names ${d.bdf} but controller ${ctrl.name} is at ${ctrl.bdf}`,
        undefined,
        [d.source],
      );
    }
  }
  const groupById = new Map(v.iommuGroups.map((g) => [g.id, g]));
  for (const fn of v.pciFunctions) {
    if (fn.nvmeControllers.known) {
      for (const name of fn.nvmeControllers.value) {
        const ctrl = ctrlByName.get(name);
        if (ctrl?.bdf && ctrl.bdf !== fn.bdf) {
          issues.add("inconsistent", `${fn.bdf} lists ${name}, which is at ${ctrl.bdf}`, undefined, [
            fn.nvmeControllers.source,
          ]);
        }
      }
    }
    if (fn.iommuGroup.known && fn.iommuGroup.value !== null && v.groupListing.known) {
      const group = groupById.get(fn.iommuGroup.value);
      if (!group) {
        issues.add(
          "inconsistent",
          `${fn.bdf} is in group ${fn.iommuGroup.value}, which is not listed`,
          undefined,
          [fn.iommuGroup.source],
        );
      } else if (group.members.known && !group.members.value.includes(fn.bdf)) {
        issues.add("inconsistent", `${fn.bdf} is in group ${group.id}, which does not list it`, undefined, [
          group.members.source,
        ]);
      }
    }
  }
}
