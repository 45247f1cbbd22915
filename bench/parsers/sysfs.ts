/**
 * `sysfs-links`: link targets as a snapshot holds them, one per line, each read to the PCI function it
 * names (shared/parse/sysfs-values.ts). The mix follows a bare-metal node with SR-IOV cloud disks: most
 * targets are PCI links (`sys/bus/pci/devices/*`, iommu-group members, `driver`, `iommu_group`,
 * `physfn`), the rest /sys/block and /sys/class/nvme links: NVMe behind bridges and in VMD domains,
 * multipath heads and path devices, virtio, SCSI and loop devices.
 */
import { parseSysfsTargetIn } from "../../shared/parse/sysfs-values.js";
import type { ParserBench } from "../types.js";

const hex = (n: number, width: number) => n.toString(16).padStart(width, "0");

/** A deterministic generator (LCG), so every run parses the same bytes. */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function targetLine(rand: () => number, i: number): string {
  const vmd = rand() < 0.1;
  const domain = vmd ? hex(0x10000 + Math.floor(rand() * 4), 5) : "0000";
  const rootBus = hex(Math.floor(rand() * 256), 2);
  const rootPort = `${domain}:${rootBus}:${hex(Math.floor(rand() * 32), 2)}.0`;
  const bdf = `${domain}:${hex(Math.floor(rand() * 256), 2)}:00.${Math.floor(rand() * 8)}`;
  const chain = `pci${domain}:${rootBus}/${rootPort}/${bdf}`;
  const ctrl = `nvme${i % 64}`;
  const pick = rand();
  if (pick < 0.25) return `../../../devices/${chain}`;
  if (pick < 0.45) return `../../../../devices/${chain}`;
  if (pick < 0.6) return `../../../../bus/pci/drivers/${DRIVERS[i % DRIVERS.length]}`;
  if (pick < 0.72) return `../../../../kernel/iommu_groups/${i % 200}`;
  if (pick < 0.75) return `../${domain}:${rootBus}:00.0`;
  if (pick < 0.8) return `../../devices/${chain}/nvme/${ctrl}`;
  if (pick < 0.88) return `../devices/${chain}/nvme/${ctrl}/nvme${i % 48}n1`;
  if (pick < 0.9) return `../devices/${chain}/nvme/${ctrl}/nvme${i % 8}c${i % 64}n1`;
  if (pick < 0.91) return `../devices/virtual/nvme-subsystem/nvme-subsys${i % 8}/nvme${i % 8}n1`;
  if (pick < 0.94)
    return `../devices/pci0000:00/0000:00:${hex(i % 32, 2)}.0/virtio${i % 16}/block/vd${letter(i)}`;
  if (pick < 0.96)
    return `../devices/pci0000:00/0000:00:03.0/virtio0/host0/target0:0:${i % 8}/0:0:${i % 8}:0/block/sd${letter(i)}`;
  return `../devices/virtual/block/loop${i % 32}`;
}

const DRIVERS = ["nvme", "vfio-pci", "pcieport", "offload_pf", "ixgbevf", "mlx5_core"];
const letter = (i: number) => String.fromCharCode(97 + (i % 26));

export const benches: ParserBench[] = [
  {
    name: "sysfs-links",
    generate(targetBytes) {
      const rand = lcg(0x5eed);
      const parts: string[] = [];
      let bytes = 0;
      for (let i = 0; bytes < targetBytes; i++) {
        const line = `${targetLine(rand, i)}\n`;
        parts.push(line);
        bytes += line.length;
      }
      return parts.join("");
    },
    parse(text) {
      // Counts, not the million BDF strings: keeping them all alive would time the garbage collector,
      // not the parser (a host view keeps a few hundred). Every BDF is still read and sliced out.
      let lines = 0;
      let withBdf = 0;
      let withHba = 0;
      const n = text.length;
      let start = 0;
      while (start < n) {
        let end = text.indexOf("\n", start);
        if (end === -1) end = n;
        const t = parseSysfsTargetIn(text, start, end);
        lines++;
        if (t.bdf !== null) withBdf++;
        if (t.hbaBdf !== null) withHba++;
        start = end + 1;
      }
      return { lines, withBdf, withHba };
    },
  },
];
