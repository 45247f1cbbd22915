/**
 * sysfs and /dev/vfio sections of a capture: block devices, PCI functions, NVMe controllers, IOMMU
 * groups and vfio nodes, read raw under `--root` in the layout the sysfs parsers expect.
 */
import { BDF_RE } from "../shared/contracts/events.js";
import { forEachLimit, type SectionReader } from "./collect-read.js";

/** Attributes read for every PCI function (tiny files; `driver_override` reads `(null)` when unset). */
const PCI_FILES = ["class", "vendor", "device", "subsystem_vendor", "subsystem_device", "driver_override"];
const PCI_LINKS = ["driver", "iommu_group", "physfn"];
const NVME_CTRL_FILES = ["address", "state", "serial", "model"];
const NVME_CLASS_FILES = [...NVME_CTRL_FILES, "transport"];
/** Devices handled at once per section; each issues a handful of reads. */
const DEVICE_FANOUT = 16;

/**
 * The PCI function a sysfs link target sits under: the last BDF-shaped component
 * (`../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1` -> `0000:3b:00.3`).
 */
export function bdfOfTarget(target: string | undefined): string | undefined {
  if (target === undefined) return undefined;
  const parts = target.split("/");
  for (let i = parts.length - 1; i >= 0; i--) {
    const p = parts[i];
    if (p !== undefined && BDF_RE.test(p)) return p;
  }
  return undefined;
}

/**
 * The key under which reads of a device stop after one hangs: its PCI function when the link shows
 * one, so a hung controller also stops the block and class reads that reach the same device.
 */
function subtreeOf(target: string | undefined, fallback: string): string {
  const bdf = bdfOfTarget(target);
  return bdf === undefined ? fallback : `pci:${bdf}`;
}

/** `sys/block/`: one link per gendisk, and `dev`/`size` through it (never `serial`: it can block). */
export async function collectBlock(s: SectionReader): Promise<void> {
  const names = (await s.dir("sys/block/")) ?? [];
  await forEachLimit(
    names,
    DEVICE_FANOUT,
    async (name) => {
      const path = `sys/block/${name}`;
      const subtree = subtreeOf(await s.link(path), `block:${name}`);
      await Promise.all([s.attr(`${path}/dev`, { subtree }), s.attr(`${path}/size`, { subtree })]);
    },
    () => s.full,
  );
}

/**
 * `sys/bus/pci/devices/`: identity, driver binding and IOMMU group of every function; the `nvme/`
 * and `vfio-dev/` subtrees only for storage functions (class 0x01xxxx) or vfio-bound ones.
 */
export async function collectPci(s: SectionReader): Promise<void> {
  const base = "sys/bus/pci/devices";
  const bdfs = (await s.dir(`${base}/`)) ?? [];
  await forEachLimit(
    bdfs,
    DEVICE_FANOUT,
    async (bdf) => {
      const dev = `${base}/${bdf}`;
      const o = { subtree: `pci:${bdf}` };
      const [, cls] = await Promise.all([s.link(dev, o), s.attr(`${dev}/class`, o)]);
      const reads: Promise<unknown>[] = PCI_FILES.filter((f) => f !== "class").map((f) =>
        s.attr(`${dev}/${f}`, o),
      );
      const driver = s.link(`${dev}/driver`, o);
      reads.push(driver, ...PCI_LINKS.filter((l) => l !== "driver").map((l) => s.link(`${dev}/${l}`, o)));
      await Promise.all(reads);
      const storage = cls?.text?.startsWith("0x01") === true;
      const vfioBound = (await driver)?.split("/").pop()?.startsWith("vfio") === true;
      if (storage || vfioBound) await s.dir(`${dev}/vfio-dev/`, o);
      if (!storage) return;
      const ctrls = (await s.dir(`${dev}/nvme/`, o)) ?? [];
      await Promise.all(ctrls.flatMap((c) => NVME_CTRL_FILES.map((f) => s.attr(`${dev}/nvme/${c}/${f}`, o))));
    },
    () => s.full,
  );
}

/** `sys/class/nvme/`: each controller's link (to its PCI function), listing and identity. */
export async function collectNvmeClass(s: SectionReader): Promise<void> {
  const ctrls = (await s.dir("sys/class/nvme/")) ?? [];
  await forEachLimit(
    ctrls,
    DEVICE_FANOUT,
    async (c) => {
      const path = `sys/class/nvme/${c}`;
      const subtree = subtreeOf(await s.link(path), `nvme:${c}`);
      await Promise.all([
        s.dir(`${path}/`, { subtree }),
        ...NVME_CLASS_FILES.map((f) => s.attr(`${path}/${f}`, { subtree })),
      ]);
    },
    () => s.full,
  );
}

/** `sys/kernel/iommu_groups/<G>/devices/<BDF>` links: which functions share a group. */
export async function collectIommuGroups(s: SectionReader): Promise<void> {
  const base = "sys/kernel/iommu_groups";
  const groups = (await s.dir(`${base}/`)) ?? [];
  await forEachLimit(
    groups,
    DEVICE_FANOUT,
    async (g) => {
      const members = (await s.dir(`${base}/${g}/devices/`)) ?? [];
      await Promise.all(members.map((bdf) => s.link(`${base}/${g}/devices/${bdf}`)));
    },
    () => s.full,
  );
}

/** `/dev/vfio` group nodes and `/dev/vfio/devices` cdevs (listings only; in a synthetic tree they may be files). */
export async function collectVfio(s: SectionReader): Promise<void> {
  await Promise.all([s.dir("dev/vfio/"), s.dir("dev/vfio/devices/")]);
}
