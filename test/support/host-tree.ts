/**
 * Synthetic host trees for tests: `writeHostTree(dir, spec)` lays out a directory the way a real Linux
 * host looks under `/` (sysfs symlinks into `sys/devices/...` with relative `../` targets of real depth,
 * `(null)` driver_override, dangling `ns/mnt` links reading `mnt:[N]`, `dev/kmsg` as a file of kmsg
 * records, a tracefs directory), from a compact spec. The presets follow the scenario of
 * reference/evidence-formats.md §0: `healthy`, `reattachRace` (INC-1) and `globalmountLeak` (INC-2).
 */

import { createHash } from "node:crypto";
import { mkdirSync, symlinkSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";

/** A namespace of an NVMe controller: the gendisk `/sys/block/<name>`. */
export interface NvmeNamespaceSpec {
  name: string;
  /** `major:minor`. */
  dev: string;
  /** 512-byte sectors; 0 for a device that is going away. */
  sizeSectors: number;
}

/** The controller under `<function>/nvme/<name>` when a function is bound to nvme. */
export interface NvmeControllerSpec {
  name: string;
  state: "live" | "resetting" | "connecting" | "deleting" | "dead";
  serial: string;
  model: string;
  transport?: string;
  namespaces: NvmeNamespaceSpec[];
}

/** One PCI function under `sys/devices/<parent>/<bdf>`. */
export interface PciFunctionSpec {
  bdf: string;
  /** The bridge chain above it under `sys/devices`, e.g. `pci0000:3a/0000:3a:00.0`. */
  parent: string;
  vendor: string;
  device: string;
  class: string;
  subsystemVendor?: string;
  subsystemDevice?: string;
  /** Bound driver; absent = unbound (no `driver` link). */
  driver?: string;
  /** `driver_override`; absent reads `(null)`. */
  driverOverride?: string;
  iommuGroup?: number;
  /** The PF of a VF (`physfn` link). */
  physfn?: string;
  nvme?: NvmeControllerSpec;
  /** `vfio-dev/<name>` when bound to vfio-pci with the device cdev. */
  vfioDev?: string;
}

/** A block device with no PCI parent (`sys/devices/virtual/block/<name>`). */
export interface VirtualBlockSpec {
  name: string;
  dev: string;
  sizeSectors: number;
}

export interface ProcessSpec {
  pid: number;
  comm: string;
  /** argv; empty for kernel threads. */
  cmdline: string[];
  state?: "R" | "S" | "D" | "Z" | "I" | "T";
  ppid: number;
  /** Clock ticks after boot. */
  starttime: number;
  kthread?: boolean;
  /** `/proc/<pid>/cgroup` content (cgroup v2: `0::/...`). */
  cgroup: string;
  /** Mount namespace inode: the key of `mountNamespaces`. */
  mntNs: number;
  /** fd number -> link target (`/dev/vfio/62`, `socket:[123]`, `mnt:[4026533200]`). */
  fds?: Record<number, string>;
  /** utime ticks: moves between captures without meaning anything. */
  utime?: number;
}

/** ftrace state under `sys/kernel/tracing` (or the debugfs path). */
export interface TraceSpec {
  dir: "sys/kernel/tracing" | "sys/kernel/debug/tracing";
  /** Active clock; written as `[local] global ...` with the active one bracketed. */
  clock: string;
  tracer: string;
  filter: string[];
  tracingOn: boolean;
  bufferSizeKb: number;
  /** Online CPUs (`#P:`); each gets `per_cpu/cpuN/stats`. */
  cpus: number;
  /** Event lines after the header. */
  lines: string[];
  /** Trace-clock "now" written into the stats files. */
  nowTs: number;
  /** Per-CPU `oldest event ts`; CPUs absent here have no entries. */
  oldestTs?: Record<number, number>;
}

/** The function tracer as a race investigation sets it up: on the driver-core probe and bind paths. */
const DRIVER_CORE_TRACE = {
  dir: "sys/kernel/tracing",
  clock: "local",
  tracer: "function",
  filter: ["bind_store", "nvme_probe [nvme]"],
  tracingOn: true,
  bufferSizeKb: 1408,
} as const satisfies Partial<TraceSpec>;

export interface HostTreeSpec {
  hostname: string;
  osrelease: string;
  bootId: string;
  uptimeSec: number;
  /** Epoch seconds. */
  btime: number;
  /** DMI board asset tag (the instance id on most clouds); absent = no file. */
  boardAssetTag?: string;
  /** `fs.may_detach_mounts` (RHEL7 family only); absent on upstream kernels. */
  mayDetachMounts?: 0 | 1;
  pci: PciFunctionSpec[];
  virtualBlocks: VirtualBlockSpec[];
  /** `dev/vfio` contents (regular files here); absent = vfio not loaded. */
  vfio?: { groups: number[]; devices: string[] };
  /** mount namespace inode -> its mountinfo lines. */
  mountNamespaces: Record<number, string[]>;
  processes: ProcessSpec[];
  /** kmsg records: `prio,seq,usec,flags;text` (no trailing newline). */
  kmsg: string[];
  trace?: TraceSpec;
}

const PF_KTHREAD_FLAGS = 0x00208040;
const USER_FLAGS = 0x00400100;

function write(path: string, content: string | Uint8Array): void {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, content);
}

function link(path: string, target: string): void {
  mkdirSync(dirname(path), { recursive: true });
  symlinkSync(target, path);
}

/** `../` repeated `n` times. */
function up(n: number): string {
  return "../".repeat(n);
}

/** A `/proc/<pid>/stat` line with the 52 fields of current kernels. */
export function statLine(p: ProcessSpec): string {
  const flags = p.kthread ? PF_KTHREAD_FLAGS : USER_FLAGS;
  const utime = p.utime ?? 0;
  const fields = [
    p.pid,
    `(${p.comm})`,
    p.state ?? "S",
    p.ppid,
    p.pid,
    p.pid,
    0,
    -1,
    flags,
    120 + utime,
    0,
    3,
    0,
    utime,
    Math.floor(utime / 3),
    0,
    0,
    20,
    0,
    p.kthread ? 1 : 4,
    0,
    p.starttime,
    p.kthread ? 0 : 1_472_512_000,
    p.kthread ? 0 : 5120,
    "18446744073709551615",
  ];
  while (fields.length < 52) fields.push(0);
  return `${fields.join(" ")}\n`;
}

function traceFile(t: TraceSpec): string {
  const n = t.lines.length;
  const header = [
    `# tracer: ${t.tracer}`,
    "#",
    `# entries-in-buffer/entries-written: ${n}/${n}   #P:${t.cpus}`,
    "#",
    "#                                _-----=> irqs-off/BH-disabled",
    "#                               / _----=> need-resched",
    "#                              | / _---=> hardirq/softirq",
    "#                              || / _--=> preempt-depth",
    "#                              ||| / _-=> migrate-disable",
    "#                              |||| /     delay",
    "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION",
    "#              | |         |   |||||     |         |",
  ];
  return `${[...header, ...t.lines].join("\n")}\n`;
}

function perCpuStats(t: TraceSpec, cpu: number): string {
  const oldest = t.oldestTs?.[cpu];
  const entries =
    oldest === undefined ? 0 : t.lines.filter((l) => l.includes(`[${String(cpu).padStart(3, "0")}]`)).length;
  return [
    `entries: ${entries}`,
    "overrun: 0",
    "commit overrun: 0",
    `bytes: ${entries * 48}`,
    ...(oldest === undefined ? [] : [`oldest event ts: ${oldest.toFixed(6)}`]),
    `now ts: ${t.nowTs.toFixed(6)}`,
    "dropped events: 0",
    "read events: 0",
    "",
  ].join("\n");
}

const TRACE_CLOCKS = [
  "local",
  "global",
  "counter",
  "uptime",
  "perf",
  "mono",
  "mono_raw",
  "boot",
  "tai",
  "x86-tsc",
];

/** Writes the tree for `spec` under `dir` (which should be empty). */
export async function writeHostTree(dir: string, spec: HostTreeSpec): Promise<void> {
  const at = (rel: string): string => join(dir, rel);
  // Identity and clocks.
  write(at("proc/sys/kernel/hostname"), `${spec.hostname}\n`);
  write(at("proc/sys/kernel/osrelease"), `${spec.osrelease}\n`);
  write(at("proc/sys/kernel/random/boot_id"), `${spec.bootId}\n`);
  write(at("proc/uptime"), `${spec.uptimeSec.toFixed(2)} ${(spec.uptimeSec * 1.7).toFixed(2)}\n`);
  const ticks = Math.round(spec.uptimeSec * 100);
  write(
    at("proc/stat"),
    [
      `cpu  ${ticks} 12 ${Math.round(ticks / 3)} ${ticks * 40} 211 0 943 0 0 0`,
      `cpu0 ${Math.round(ticks / 2)} 6 ${Math.round(ticks / 6)} ${ticks * 20} 105 0 500 0 0 0`,
      `cpu1 ${Math.round(ticks / 2)} 6 ${Math.round(ticks / 6)} ${ticks * 20} 106 0 443 0 0 0`,
      `intr ${ticks * 31} 0 9 0 0`,
      `ctxt ${ticks * 57}`,
      `btime ${spec.btime}`,
      `processes ${spec.processes.length + 91_204}`,
      "procs_running 2",
      "procs_blocked 0",
      "softirq 1200 0 300 1 200 0 0 20 400 0 279",
      "",
    ].join("\n"),
  );
  if (spec.mayDetachMounts !== undefined)
    write(at("proc/sys/fs/may_detach_mounts"), `${spec.mayDetachMounts}\n`);
  if (spec.boardAssetTag !== undefined)
    write(at("sys/class/dmi/id/board_asset_tag"), `${spec.boardAssetTag}\n`);

  // PCI functions, their drivers, NVMe controllers, block devices, IOMMU groups.
  mkdirSync(at("sys/bus/pci/devices"), { recursive: true });
  mkdirSync(at("sys/block"), { recursive: true });
  mkdirSync(at("sys/kernel/iommu_groups"), { recursive: true });
  for (const f of spec.pci) {
    const devRel = `devices/${f.parent}/${f.bdf}`;
    const depth = devRel.split("/").length;
    const dev = at(`sys/${devRel}`);
    write(join(dev, "class"), `${f.class}\n`);
    write(join(dev, "vendor"), `${f.vendor}\n`);
    write(join(dev, "device"), `${f.device}\n`);
    write(join(dev, "subsystem_vendor"), `${f.subsystemVendor ?? f.vendor}\n`);
    write(join(dev, "subsystem_device"), `${f.subsystemDevice ?? f.device}\n`);
    write(join(dev, "driver_override"), `${f.driverOverride ?? "(null)"}\n`);
    link(at(`sys/bus/pci/devices/${f.bdf}`), `../../../${devRel}`);
    if (f.driver !== undefined) {
      mkdirSync(at(`sys/bus/pci/drivers/${f.driver}`), { recursive: true });
      link(join(dev, "driver"), `${up(depth)}bus/pci/drivers/${f.driver}`);
    }
    if (f.iommuGroup !== undefined) {
      link(join(dev, "iommu_group"), `${up(depth)}kernel/iommu_groups/${f.iommuGroup}`);
      link(at(`sys/kernel/iommu_groups/${f.iommuGroup}/devices/${f.bdf}`), `../../../../${devRel}`);
      write(at(`sys/kernel/iommu_groups/${f.iommuGroup}/type`), "DMA-FQ\n");
    }
    if (f.physfn !== undefined) link(join(dev, "physfn"), `../${f.physfn}`);
    if (f.vfioDev !== undefined) mkdirSync(join(dev, "vfio-dev", f.vfioDev), { recursive: true });
    const c = f.nvme;
    if (c !== undefined) {
      const ctrl = join(dev, "nvme", c.name);
      write(join(ctrl, "address"), `${f.bdf}\n`);
      write(join(ctrl, "state"), `${c.state}\n`);
      // The kernel pads serial and model with spaces to their NVMe field widths (20 and 40).
      write(join(ctrl, "serial"), `${c.serial.padEnd(20)}\n`);
      write(join(ctrl, "model"), `${c.model.padEnd(40)}\n`);
      write(join(ctrl, "transport"), `${c.transport ?? "pcie"}\n`);
      write(join(ctrl, "dev"), `242:${c.name.replace(/\D/g, "")}\n`);
      link(at(`sys/class/nvme/${c.name}`), `../../${devRel}/nvme/${c.name}`);
      for (const ns of c.namespaces) {
        write(join(ctrl, ns.name, "dev"), `${ns.dev}\n`);
        write(join(ctrl, ns.name, "size"), `${ns.sizeSectors}\n`);
        link(at(`sys/block/${ns.name}`), `../${devRel}/nvme/${c.name}/${ns.name}`);
      }
    }
  }
  for (const b of spec.virtualBlocks) {
    write(at(`sys/devices/virtual/block/${b.name}/dev`), `${b.dev}\n`);
    write(at(`sys/devices/virtual/block/${b.name}/size`), `${b.sizeSectors}\n`);
    link(at(`sys/block/${b.name}`), `../devices/virtual/block/${b.name}`);
  }

  // /dev: vfio nodes and kmsg are plain files here; the shipper reads them the same way.
  if (spec.vfio !== undefined) {
    write(at("dev/vfio/vfio"), "");
    for (const g of spec.vfio.groups) write(at(`dev/vfio/${g}`), "");
    mkdirSync(at("dev/vfio/devices"), { recursive: true });
    for (const d of spec.vfio.devices) write(at(`dev/vfio/devices/${d}`), "");
  }
  write(at("dev/kmsg"), spec.kmsg.length === 0 ? "" : `${spec.kmsg.join("\n")}\n`);

  // ftrace.
  const t = spec.trace;
  if (t !== undefined) {
    const base = at(t.dir);
    write(join(base, "trace"), traceFile(t));
    write(
      join(base, "trace_clock"),
      `${TRACE_CLOCKS.map((c) => (c === t.clock ? `[${c}]` : c)).join(" ")}\n`,
    );
    write(join(base, "current_tracer"), `${t.tracer}\n`);
    write(
      join(base, "set_ftrace_filter"),
      t.filter.length === 0 ? "#### all functions enabled ####\n" : `${t.filter.join("\n")}\n`,
    );
    write(join(base, "tracing_on"), t.tracingOn ? "1\n" : "0\n");
    write(join(base, "buffer_size_kb"), `${t.bufferSizeKb}\n`);
    write(join(base, "saved_cmdlines_size"), "128\n");
    for (const [o, v] of Object.entries({
      "irq-info": 1,
      "record-tgid": 0,
      "sym-offset": 0,
      overwrite: 1,
      annotate: 1,
    })) {
      write(join(base, "options", o), `${v}\n`);
    }
    for (let cpu = 0; cpu < t.cpus; cpu++)
      write(join(base, "per_cpu", `cpu${cpu}`, "stats"), perCpuStats(t, cpu));
  }

  // Processes: identity files, a dangling ns/mnt link reading mnt:[N], fd links, mountinfo of its namespace.
  for (const p of spec.processes) {
    const base = at(`proc/${p.pid}`);
    write(join(base, "comm"), `${p.comm}\n`);
    write(join(base, "cmdline"), p.cmdline.length === 0 ? "" : `${p.cmdline.join("\0")}\0`);
    write(join(base, "stat"), statLine(p));
    write(join(base, "cgroup"), p.cgroup);
    link(join(base, "ns", "mnt"), `mnt:[${p.mntNs}]`);
    mkdirSync(join(base, "fd"), { recursive: true });
    for (const [fd, target] of Object.entries(p.fds ?? {})) link(join(base, "fd", fd), target);
    const lines = spec.mountNamespaces[p.mntNs] ?? [];
    write(join(base, "mountinfo"), lines.length === 0 ? "" : `${lines.join("\n")}\n`);
  }
}

// ---------------------------------------------------------------------------------------------
// The §0 scenario.

/** The incident PCI function (BDF X) of reference §0. */
export const INCIDENT_BDF = "0000:3b:00.5";
export const CSI_DRIVER = "diskplugin.csi.alibabacloud.com";
/** sha256 of the volume handles, as kubelet names the staging directories. */
export const STAGING_HASH = {
  "d-bp1g6qn7zcd3f8l2x9ab": "abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d",
  "d-2ze5cz8kqm1h0r7v4tw1": "82123904802fff6652f5f0af59fbbf8a967f9ef58d77d2a964604d6007c6ae64",
} as const;
/** The staging path of the host-mounted disk (INC-2's path). */
export const GLOBALMOUNT = `/var/lib/kubelet/plugins/kubernetes.io/csi/${CSI_DRIVER}/${STAGING_HASH["d-bp1g6qn7zcd3f8l2x9ab"]}/globalmount`;
const POD_UID = "5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11";
const POD_MOUNT = `/var/lib/kubelet/pods/${POD_UID}/volumes/kubernetes.io~csi/d-bp1g6qn7zcd3f8l2x9ab/mount`;

export const NS = {
  host: 4026531840,
  csiPlugin: 4026532650,
  mysqld: 4026532700,
  nodeAgent: 4026532871,
  vmm62: 4026532900,
  vmm63: 4026532911,
  /** A namespace kept alive only by an nsfs bind mount (mount namespace capture). */
  pinned: 4026533200,
} as const;

const BOOT_MOUNTS = [
  "25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw",
  "26 25 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw",
  "27 25 0:23 / /proc rw,nosuid,nodev,noexec,relatime shared:12 - proc proc rw",
  "28 25 0:5 / /dev rw,nosuid shared:3 - devtmpfs devtmpfs rw,size=263741824k,nr_inodes=65935456,mode=755",
  "31 26 0:12 / /sys/kernel/tracing rw,nosuid,nodev,noexec,relatime shared:9 - tracefs tracefs rw",
  "34 25 0:26 / /run rw,nosuid,nodev shared:5 - tmpfs tmpfs rw,size=52748364k,mode=755",
  "118 25 259:3 / /var/lib/kubelet rw,relatime shared:60 - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
];
const STAGED = `412 118 259:4 / ${GLOBALMOUNT} rw,relatime shared:233 - ext4 /dev/nvme2n1 rw`;
const PUBLISHED = `437 118 259:4 / ${POD_MOUNT} rw,relatime shared:233 - ext4 /dev/nvme2n1 rw`;
const NETNS =
  "520 34 0:4 net:[4026532980] /run/netns/cni-2f1c0e6b-7a5d-4c3e-9b1a-6d0e8f4a2c11 rw shared:240 - nsfs nsfs rw";

/** mountinfo of a container namespace: overlay root, its own /proc and /dev, plus the given hostPath binds. */
function containerMounts(firstId: number, id: string, binds: string[]): string[] {
  const root = firstId;
  return [
    `${root} ${root - 20} 0:${90 + (firstId % 50)} / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${id}/fs,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${Number(id) + 1}/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${Number(id) + 1}/work`,
    `${root + 1} ${root} 0:${140 + (firstId % 50)} / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw`,
    `${root + 2} ${root} 0:${141 + (firstId % 50)} / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755`,
    ...binds,
  ];
}

function kthread(pid: number, comm: string, starttime: number): ProcessSpec {
  return {
    pid,
    comm,
    cmdline: [],
    ppid: 2,
    starttime,
    kthread: true,
    cgroup: "0::/\n",
    mntNs: NS.host,
    state: "I",
  };
}

const KUBEPODS = "0::/kubepods.slice/kubepods-burstable.slice";

/** Reference §0 host with everything in order: every attached disk has its device node or vfio group. */
export function healthyHost(): HostTreeSpec {
  const offload = {
    parent: "pci0000:3a/0000:3a:00.0",
    vendor: "0x1ded",
    device: "0x5004",
    class: "0x010802",
  };
  return {
    hostname: "node-1",
    osrelease: "5.10.134-16.al8.x86_64",
    bootId: "8f2c1d4e-6a3b-4f9e-b1d7-2c5e8a0f3b61",
    uptimeSec: 1843297.55,
    btime: 1_770_689_545,
    boardAssetTag: "i-bp1hc4ud2m7xz0e9k5w3",
    pci: [
      {
        bdf: "0000:17:00.0",
        parent: "pci0000:16/0000:16:02.0",
        vendor: "0x144d",
        device: "0xa80a",
        class: "0x010802",
        subsystemDevice: "0xa801",
        driver: "nvme",
        iommuGroup: 24,
        nvme: {
          name: "nvme0",
          state: "live",
          serial: "S64ANS0T512345",
          model: "SAMSUNG MZQL23T8HCLS-00A07",
          namespaces: [{ name: "nvme0n1", dev: "259:0", sizeSectors: 7_501_476_528 }],
        },
      },
      {
        bdf: "0000:3b:00.0",
        parent: "pci0000:3a/0000:3a:00.0",
        vendor: "0x1ded",
        device: "0x5000",
        class: "0x058000",
        driver: "pci-pf-stub",
        iommuGroup: 60,
      },
      {
        ...offload,
        bdf: "0000:3b:00.3",
        driver: "nvme",
        iommuGroup: 61,
        physfn: "0000:3b:00.0",
        nvme: {
          name: "nvme2",
          state: "live",
          serial: "bp1g6qn7zcd3f8l2x9ab",
          model: "Alibaba Cloud Elastic Block Storage",
          namespaces: [{ name: "nvme2n1", dev: "259:4", sizeSectors: 419_430_400 }],
        },
      },
      {
        ...offload,
        bdf: "0000:3b:00.4",
        driver: "vfio-pci",
        driverOverride: "vfio-pci",
        iommuGroup: 62,
        physfn: "0000:3b:00.0",
        vfioDev: "vfio0",
      },
      {
        ...offload,
        bdf: INCIDENT_BDF,
        driver: "vfio-pci",
        driverOverride: "vfio-pci",
        iommuGroup: 63,
        physfn: "0000:3b:00.0",
        vfioDev: "vfio1",
      },
      {
        bdf: "0000:00:1f.2",
        parent: "pci0000:00",
        vendor: "0x8086",
        device: "0xa182",
        class: "0x010601",
        driver: "ahci",
        iommuGroup: 12,
      },
    ],
    virtualBlocks: [
      { name: "loop0", dev: "7:0", sizeSectors: 0 },
      { name: "loop1", dev: "7:1", sizeSectors: 129_024 },
    ],
    vfio: { groups: [62, 63], devices: ["vfio0", "vfio1"] },
    mountNamespaces: {
      [NS.host]: [...BOOT_MOUNTS, STAGED, PUBLISHED, NETNS],
      [NS.csiPlugin]: containerMounts(1701, "4412", [
        "1708 1701 259:3 / /var/lib/kubelet rw,relatime shared:60 - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
        `1709 1708 259:4 / ${GLOBALMOUNT} rw,relatime shared:233 - ext4 /dev/nvme2n1 rw`,
      ]),
      [NS.mysqld]: containerMounts(1801, "5120", [
        "1807 1801 259:4 / /var/lib/mysql rw,relatime - ext4 /dev/nvme2n1 rw",
      ]),
      [NS.nodeAgent]: containerMounts(1871, "6001", [
        "1893 1871 259:3 / /var/lib/kubelet rw,relatime master:60 - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
        `1921 1893 259:4 / ${GLOBALMOUNT} rw,relatime master:233 - ext4 /dev/nvme2n1 rw`,
      ]),
      [NS.vmm62]: containerMounts(1961, "7002", []),
      [NS.vmm63]: containerMounts(1981, "7010", []),
    },
    processes: [
      {
        pid: 1,
        comm: "systemd",
        cmdline: ["/usr/lib/systemd/systemd", "--switched-root", "--system", "--deserialize", "17"],
        ppid: 0,
        starttime: 2,
        cgroup: "0::/init.scope\n",
        mntNs: NS.host,
        fds: { 0: "/dev/null", 3: "anon_inode:[timerfd]", 7: "socket:[18817]" },
        utime: 1200,
      },
      kthread(2, "kthreadd", 2),
      kthread(1187, "kworker/17:2", 184_321_100),
      {
        pid: 1100,
        comm: "containerd",
        cmdline: ["/usr/bin/containerd"],
        ppid: 1,
        starttime: 1400,
        cgroup: "0::/system.slice/containerd.service\n",
        mntNs: NS.host,
        fds: { 3: "socket:[21001]", 9: "/var/lib/containerd/io.containerd.metadata.v1.bolt/meta.db" },
        utime: 88_000,
      },
      {
        pid: 1523,
        comm: "kubelet",
        cmdline: ["/usr/bin/kubelet", "--config=/var/lib/kubelet/config.yaml", "--root-dir=/var/lib/kubelet"],
        ppid: 1,
        starttime: 1510,
        cgroup: "0::/system.slice/kubelet.service\n",
        mntNs: NS.host,
        fds: { 3: "socket:[22014]", 4: "anon_inode:[eventpoll]" },
        utime: 410_000,
      },
      {
        pid: 2931,
        comm: "csi-plugin",
        cmdline: ["/bin/plugin.csi.alibabacloud.com", "--endpoint=unix://csi/csi.sock", "--driver=disk"],
        ppid: 2890,
        starttime: 9_200,
        cgroup: `${KUBEPODS}/kubepods-burstable-pod1b2c3d4e_0000_4000_8000_aaaaaaaaaaaa.slice/cri-containerd-${"4a".repeat(32)}.scope\n`,
        mntNs: NS.csiPlugin,
        fds: { 3: "socket:[40112]" },
        utime: 9_000,
      },
      {
        pid: 31337,
        comm: "mysqld",
        cmdline: ["mysqld", "--datadir=/var/lib/mysql"],
        ppid: 31300,
        starttime: 150_001_000,
        cgroup: `${KUBEPODS}/kubepods-burstable-pod${POD_UID.replaceAll("-", "_")}.slice/cri-containerd-${"7c".repeat(32)}.scope\n`,
        mntNs: NS.mysqld,
        fds: { 3: "/var/lib/mysql/ibdata1", 4: "socket:[61001]" },
        utime: 1_200_000,
      },
      {
        pid: 77102,
        comm: "node-agent",
        cmdline: ["/node-agent", "--hostfs=/var/lib/kubelet"],
        ppid: 77080,
        starttime: 120_000_000,
        cgroup: `${KUBEPODS}/kubepods-besteffort-pod0f0e0d0c_0b0a_4090_8070_605040302010.slice/cri-containerd-${"9e".repeat(32)}.scope\n`,
        mntNs: NS.nodeAgent,
        fds: { 3: "socket:[77001]" },
        utime: 3_000,
      },
      {
        pid: 48213,
        comm: "cloud-hyperviso",
        cmdline: ["cloud-hypervisor", "--api-socket", "/run/vc/vm/3f2a/clh-api.sock"],
        ppid: 48190,
        starttime: 160_000_000,
        cgroup: "0::/kubepods.slice/kubepods-pod3f2a.slice/kata_3f2a.scope\n",
        mntNs: NS.vmm62,
        fds: {
          30: "/dev/vfio/vfio",
          31: "/dev/vfio/62",
          32: "anon_inode:[vfio-device]",
          40: "socket:[90001]",
        },
        utime: 500_000,
      },
      {
        pid: 48377,
        comm: "cloud-hyperviso",
        cmdline: ["cloud-hypervisor", "--api-socket", "/run/vc/vm/8b1c/clh-api.sock"],
        ppid: 48350,
        starttime: 184_330_000,
        cgroup: "0::/kubepods.slice/kubepods-pod8b1c.slice/kata_8b1c.scope\n",
        mntNs: NS.vmm63,
        fds: { 30: "/dev/vfio/vfio", 31: "/dev/vfio/63", 32: "anon_inode:[vfio-device]" },
        utime: 20_000,
      },
    ],
    // The ring buffer holds only recent records, with contiguous sequence numbers (a gap means records lost).
    kmsg: [
      "6,98226,1520112003411,-;nvme nvme2: pci function 0000:3b:00.3",
      "6,98227,1520112010092,-;nvme nvme2: 8/0/0 default/read/poll queues",
      "6,98228,1520112010301,-; nvme2n1: p1",
      "6,98229,1843190002118,-;vfio-pci 0000:3b:00.4: enabling device (0000 -> 0002)",
      "6,98230,1843240411087,-;vfio-pci 0000:3b:00.5: enabling device (0000 -> 0002)",
    ],
    trace: {
      ...DRIVER_CORE_TRACE,
      cpus: 4,
      lines: [
        "      csi-plugin-2931    [001] ..... 1843190.001512: bind_store <-drv_attr_store",
        "      csi-plugin-2931    [002] ..... 1843240.410601: bind_store <-drv_attr_store",
      ],
      nowTs: 1843297.55102,
      oldestTs: { 1: 1843190.001512, 2: 1843240.410601 },
    },
  };
}

/** INC-1: X was probed by nvme (kworker autoprobe) before the attach landed; the probe failed, X is unbound. */
export function reattachRaceHost(): HostTreeSpec {
  const spec = healthyHost();
  spec.pci = spec.pci.map((f) => {
    if (f.bdf !== INCIDENT_BDF) return f;
    const { driver: _driver, vfioDev: _vfioDev, ...rest } = f;
    return { ...rest, driverOverride: "nvme" };
  });
  spec.vfio = { groups: [62], devices: ["vfio0"] };
  // The sandbox VM for the re-attached disk never started: nothing holds group 63.
  spec.processes = spec.processes.filter((p) => p.pid !== 48377);
  spec.kmsg = [
    ...spec.kmsg.filter((r) => !r.includes(INCIDENT_BDF)),
    "6,98230,1843212918502,-;nvme nvme5: pci function 0000:3b:00.5",
    "4,98231,1843212931877,-;nvme nvme5: Device not ready; aborting initialisation, CSTS=0x0",
    "4,98232,1843212931902,-;nvme nvme5: Removing after probe failure status: -19",
  ];
  if (spec.trace) {
    spec.trace.lines = [
      "      csi-plugin-2931    [017] ..... 1843212.917902: bind_store <-drv_attr_store",
      "    kworker/17:2-1187    [017] ..... 1843212.918431: nvme_probe <-local_pci_probe",
      "      csi-plugin-2931    [033] ..... 1843241.006512: bind_store <-drv_attr_store",
      "      csi-plugin-2931    [033] ..... 1843241.006601: bind_store <-drv_attr_store",
    ];
    spec.trace.cpus = 48;
    spec.trace.oldestTs = { 17: 1843212.917902, 33: 1843241.006512 };
  }
  return spec;
}

/**
 * INC-2: the disk was unstaged on the host (no globalmount in the host namespace) but a DaemonSet
 * container (mountPropagation None) still holds its private copy; a namespace pinned only by an nsfs
 * bind mount exists as well.
 */
export function globalmountLeakHost(): HostTreeSpec {
  const spec = healthyHost();
  const host = spec.mountNamespaces[NS.host] ?? [];
  spec.mountNamespaces[NS.host] = [
    ...host.filter((l) => !l.includes(GLOBALMOUNT) && !l.includes(POD_MOUNT)),
    `610 34 0:4 mnt:[${NS.pinned}] /run/mntns/leak rw shared:250 - nsfs nsfs rw`,
  ];
  // The pod that used the disk is gone; the node agent keeps a private (no propagation tag) copy.
  spec.processes = spec.processes.filter((p) => p.pid !== 31337);
  delete spec.mountNamespaces[NS.mysqld];
  spec.mountNamespaces[NS.nodeAgent] = containerMounts(1871, "6001", [
    "1893 1871 259:3 /var/lib/kubelet /var/lib/kubelet rw,relatime - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
    `1921 1893 259:4 / ${GLOBALMOUNT} rw,relatime - ext4 /dev/nvme2n1 rw`,
  ]);
  spec.mayDetachMounts = 0;
  spec.osrelease = "3.10.0-1160.119.1.el7.x86_64";
  return spec;
}

export const HOST_PRESETS = {
  healthy: healthyHost,
  reattachRace: reattachRaceHost,
  globalmountLeak: globalmountLeakHost,
} as const;
export type HostPresetName = keyof typeof HOST_PRESETS;

/** The healthy host plus `count` container processes spread over 50 pods: the large-host benchmark. */
export function manyProcessesHost(count: number): HostTreeSpec {
  const spec = healthyHost();
  const podBase = 4026540000;
  for (let i = 0; i < 50; i++) {
    spec.mountNamespaces[podBase + i] = containerMounts(3000 + i * 10, String(9000 + i * 2), [
      `${3000 + i * 10 + 5} ${3000 + i * 10} 259:3 /var/lib/kubelet/pods/p${i}/volumes /data rw,relatime - xfs /dev/nvme0n1p3 rw`,
    ]);
  }
  for (let i = 0; i < count; i++) {
    const pid = 100_000 + i;
    spec.processes.push({
      pid,
      comm: `worker-${i % 97}`,
      cmdline: ["/app/worker", `--shard=${i}`, "--config=/etc/app/config.yaml"],
      ppid: 100_000 + (i % 50),
      starttime: 200_000_000 + i,
      cgroup: `${KUBEPODS}/kubepods-burstable-pod${String(i % 50).padStart(8, "0")}_0000_4000_8000_000000000000.slice/cri-containerd-${(i % 50).toString(16).padStart(64, "0")}.scope\n`,
      mntNs: podBase + (i % 50),
      fds: {
        0: "/dev/null",
        1: "pipe:[5001]",
        2: "pipe:[5001]",
        3: `socket:[${700_000 + i}]`,
        4: "anon_inode:[eventpoll]",
      },
      utime: i,
    });
  }
  return spec;
}

/** Deterministic hex id of `n` digits for `seed` (sha256 based, so ids look as random as real ones). */
function hexId(seed: string, n = 64): string {
  let s = "";
  for (let i = 0; s.length < n; i++) s += createHash("sha256").update(`${seed}/${i}`).digest("hex");
  return s.slice(0, n);
}

/** A pod UID (UUID layout) for `seed`. */
function podUid(seed: string): string {
  const h = hexId(seed, 32);
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/** The mounts runc gives every container namespace (masked /proc paths, /sys read-only, the kubelet binds). */
function runcContainerMounts(args: {
  firstId: number;
  parentId: number;
  snapshot: number;
  layers: number;
  podUid: string;
  container: string;
  binds: string[];
}): string[] {
  const { firstId: r, podUid: uid } = args;
  const snap = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots";
  const lower = Array.from({ length: args.layers }, (_, i) => `${snap}/${args.snapshot - 1 - i}/fs`).join(
    ":",
  );
  const pods = `/var/lib/kubelet/pods/${uid}`;
  const dev = 200 + (r % 600);
  const lines = [
    `${r} ${args.parentId} 0:${dev} / / rw,relatime master:${r % 900} - overlay overlay rw,lowerdir=${lower},upperdir=${snap}/${args.snapshot}/fs,workdir=${snap}/${args.snapshot}/work`,
    `${r + 1} ${r} 0:${dev + 1} / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw`,
    `${r + 2} ${r} 0:${dev + 2} / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755`,
    `${r + 3} ${r + 2} 0:${dev + 3} / /dev/pts rw,nosuid,noexec,relatime - devpts devpts rw,gid=5,mode=620,ptmxmode=666`,
    `${r + 4} ${r + 2} 0:${dev - 40} / /dev/mqueue rw,nosuid,nodev,noexec,relatime - mqueue mqueue rw`,
    `${r + 5} ${r} 0:${dev + 4} / /sys ro,nosuid,nodev,noexec,relatime - sysfs sysfs ro`,
    `${r + 6} ${r + 5} 0:26 /kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll("-", "_")}.slice/cri-containerd-${hexId(args.container)}.scope /sys/fs/cgroup ro,nosuid,nodev,noexec,relatime - cgroup2 cgroup rw,nsdelegate,memory_recursiveprot`,
    `${r + 7} ${r} 259:3 ${pods}/etc-hosts /etc/hosts rw,relatime - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota`,
    `${r + 8} ${r + 2} 259:3 ${pods}/containers/${args.container}/${hexId(`${args.container}/term`, 8)} /dev/termination-log rw,relatime - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota`,
    `${r + 9} ${r} 259:2 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/${hexId(`${uid}/sandbox`)}/hostname /etc/hostname rw,relatime - ext4 /dev/nvme0n1p2 rw`,
    `${r + 10} ${r} 259:2 /var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/${hexId(`${uid}/sandbox`)}/resolv.conf /etc/resolv.conf rw,relatime - ext4 /dev/nvme0n1p2 rw`,
    `${r + 11} ${r + 2} 0:${dev - 60} / /dev/shm rw,nosuid,nodev,noexec,relatime - tmpfs shm rw,size=65536k`,
    `${r + 12} ${r} 0:${dev - 80} / /var/run/secrets/kubernetes.io/serviceaccount ro,relatime - tmpfs tmpfs rw,size=${(Number.parseInt(hexId(uid, 4), 16) % 8) * 1024 + 7340}k`,
    ...args.binds.map((b, i) => `${r + 13 + i} ${r} ${b}`),
  ];
  const masked = [
    "/proc/acpi",
    "/proc/kcore",
    "/proc/keys",
    "/proc/timer_list",
    "/proc/scsi",
    "/sys/firmware",
  ];
  const ro = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
  let id = r + 13 + args.binds.length;
  for (const m of ro)
    lines.push(
      `${id++} ${r + 1} 0:${dev + 1} ${m.slice(5)} ${m} ro,nosuid,nodev,noexec,relatime - proc proc rw`,
    );
  for (const m of masked)
    lines.push(
      `${id++} ${m.startsWith("/sys") ? r + 5 : r + 1} 0:${dev + 5} / ${m} ro,relatime - tmpfs tmpfs ro`,
    );
  return lines;
}

const KWORKER_COMMS = ["ksoftirqd", "migration", "cpuhp", "kworker", "rcuop", "idle_inject", "watchdog"];

/**
 * A busy Kubernetes node the way the shipper sees one: `pods` pods (pause + 1-2 containers each, every
 * container its own mount namespace with runc's masked paths and the kubelet's binds), CSI disks on the
 * offload card's VFs (staged under globalmount, published into their pods, also visible in the CSI
 * plugin's namespace), kata VMs holding vfio groups, a few hundred processes with kernel threads, and
 * kmsg and ftrace excerpts of recent attaches. Healthy: every attached disk has its device node or group.
 */
export function kubernetesNodeHost(opts: { pods?: number; disks?: number; vms?: number } = {}): HostTreeSpec {
  const podCount = opts.pods ?? 20;
  const diskCount = Math.min(opts.disks ?? 10, podCount);
  const vmCount = opts.vms ?? 3;
  const spec = healthyHost();
  spec.hostname = "cn-hangzhou.10.12.3.17";
  spec.uptimeSec = 1_843_297.55;
  const cpus = 48;

  // PCI: the system NVMe and AHCI from healthyHost, the offload PF, one VF per CSI disk and per kata VM,
  // two free VFs, and the NICs.
  const pf = spec.pci.find((f) => f.bdf === "0000:3b:00.0");
  const offload = {
    parent: "pci0000:3a/0000:3a:00.0",
    vendor: "0x1ded",
    device: "0x5004",
    class: "0x010802",
    physfn: "0000:3b:00.0",
  };
  const vfBdf = (i: number) => `0000:3b:${String(Math.floor((i + 1) / 8)).padStart(2, "0")}.${(i + 1) % 8}`;
  spec.pci = spec.pci.filter((f) => f.physfn === undefined);
  if (pf === undefined) throw new Error("healthyHost lost its offload PF");
  const disks = Array.from({ length: diskCount }, (_, i) => {
    const serial = `bp1${hexId(`disk/${i}`, 17).replace(/[0-9]/g, (d) => "abcdefghij"[Number(d)] ?? d)}`;
    const handle = `d-${serial}`;
    return {
      i,
      bdf: vfBdf(i),
      serial,
      handle,
      ctrl: `nvme${i + 2}`,
      ns: `nvme${i + 2}n1`,
      dev: `259:${10 + i * 2}`,
      staging: `/var/lib/kubelet/plugins/kubernetes.io/csi/${CSI_DRIVER}/${hexId(handle)}/globalmount`,
    };
  });
  for (const d of disks) {
    spec.pci.push({
      ...offload,
      bdf: d.bdf,
      driver: "nvme",
      iommuGroup: 70 + d.i,
      nvme: {
        name: d.ctrl,
        state: "live",
        serial: d.serial,
        model: "Alibaba Cloud Elastic Block Storage",
        namespaces: [{ name: d.ns, dev: d.dev, sizeSectors: (40 + (d.i % 5) * 60) * 2_097_152 }],
      },
    });
  }
  const vmGroups: number[] = [];
  for (let v = 0; v < vmCount + 2; v++) {
    const bdf = vfBdf(diskCount + v);
    const group = 70 + diskCount + v;
    if (v < vmCount) {
      vmGroups.push(group);
      spec.pci.push({
        ...offload,
        bdf,
        driver: "vfio-pci",
        driverOverride: "vfio-pci",
        iommuGroup: group,
        vfioDev: `vfio${v}`,
      });
    } else spec.pci.push({ ...offload, bdf, iommuGroup: group });
  }
  for (let n = 0; n < 2; n++) {
    spec.pci.push({
      bdf: `0000:5e:00.${n}`,
      parent: "pci0000:5d/0000:5d:00.0",
      vendor: "0x15b3",
      device: "0x101d",
      class: "0x020000",
      driver: "mlx5_core",
      iommuGroup: 30 + n,
    });
  }
  spec.virtualBlocks = Array.from({ length: 8 }, (_, i) => ({
    name: `loop${i}`,
    dev: `7:${i}`,
    sizeSectors: i < 3 ? 129_024 + i * 8 : 0,
  }));
  spec.vfio = { groups: vmGroups, devices: vmGroups.map((_, v) => `vfio${v}`) };

  // Mount namespaces: the host's (boot mounts, per-pod sandbox mounts, CSI staging and publish), the
  // CSI plugin's (a slave copy of /var/lib/kubelet), and one per container.
  const host: string[] = [
    ...BOOT_MOUNTS.filter((l) => !l.includes("/var/lib/kubelet")),
    "29 28 0:24 / /dev/shm rw,nosuid,nodev shared:4 - tmpfs tmpfs rw",
    "30 28 0:25 / /dev/pts rw,nosuid,noexec,relatime shared:6 - devpts devpts rw,gid=5,mode=620,ptmxmode=000",
    "32 26 0:26 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:7 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot",
    "33 26 0:27 / /sys/fs/pstore rw,nosuid,nodev,noexec,relatime shared:8 - pstore pstore rw",
    "35 26 0:28 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:10 - bpf bpf rw,mode=700",
    "36 26 0:7 / /sys/kernel/debug rw,nosuid,nodev,noexec,relatime shared:11 - debugfs debugfs rw",
    "37 28 0:20 / /dev/mqueue rw,nosuid,nodev,noexec,relatime shared:13 - mqueue mqueue rw",
    "38 28 0:29 / /dev/hugepages rw,relatime shared:14 - hugetlbfs hugetlbfs rw,pagesize=2M",
    "39 26 0:30 / /sys/kernel/config rw,nosuid,nodev,noexec,relatime shared:15 - configfs configfs rw",
    "40 26 0:31 / /sys/fs/fuse/connections rw,nosuid,nodev,noexec,relatime shared:16 - fusectl fusectl rw",
    "41 27 0:32 / /proc/sys/fs/binfmt_misc rw,relatime shared:17 - autofs systemd-1 rw,fd=30,pgrp=1,timeout=0,minproto=5,maxproto=5,direct,pipe_ino=21488",
    "89 25 259:1 / /boot rw,relatime shared:30 - ext4 /dev/nvme0n1p1 rw",
    "118 25 259:3 / /var/lib/kubelet rw,relatime shared:60 - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
    "121 25 259:2 /var/lib/containerd /var/lib/containerd rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw",
  ];
  const csiNs: string[] = containerMounts(1701, "4412", [
    "1708 1701 259:3 / /var/lib/kubelet rw,relatime shared:60 - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
    "1710 1701 0:5 / /dev rw,nosuid master:3 - devtmpfs devtmpfs rw,size=263741824k,nr_inodes=65935456,mode=755",
    "1711 1701 0:22 / /sys rw,nosuid,nodev,noexec,relatime master:2 - sysfs sysfs rw",
  ]);
  spec.mountNamespaces = { [NS.csiPlugin]: csiNs };
  spec.processes = spec.processes.filter((p) => p.pid < 2000 || p.comm === "csi-plugin");
  let mountId = 2000;
  let pid = 3000;
  let ns = 4026533000;
  let snapshot = 10_000;
  // Disk i is used by pod i.
  const podOfDisk = new Map(disks.map((d) => [d.i, d.i]));
  for (let p = 0; p < podCount; p++) {
    const uid = podUid(`pod/${p}`);
    const sandbox = hexId(`${uid}/sandbox`);
    const pods = `/var/lib/kubelet/pods/${uid}`;
    const shimPid = pid++;
    host.push(
      `${mountId++} 34 0:4 net:[${4026534000 + p}] /run/netns/cni-${podUid(`netns/${p}`)} rw shared:${300 + p} - nsfs nsfs rw`,
      `${mountId++} 34 0:${400 + p} / /run/containerd/io.containerd.grpc.v1.cri/sandboxes/${sandbox}/shm rw,nosuid,nodev,noexec,relatime shared:${400 + p} - tmpfs shm rw,size=65536k`,
      `${mountId++} 34 0:${500 + p} / /run/containerd/io.containerd.runtime.v2.task/k8s.io/${sandbox}/rootfs rw,relatime shared:${500 + p} - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/7/fs,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${snapshot}/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${snapshot}/work`,
      `${mountId++} 118 0:${600 + p} / ${pods}/volumes/kubernetes.io~projected/kube-api-access-${hexId(uid, 5)} rw,relatime shared:${600 + p} - tmpfs tmpfs rw,size=${7340 + (p % 8) * 1024}k`,
    );
    snapshot++;
    spec.processes.push({
      pid: shimPid,
      comm: "containerd-shim",
      cmdline: [
        "/usr/bin/containerd-shim-runc-v2",
        "-namespace",
        "k8s.io",
        "-id",
        sandbox,
        "-address",
        "/run/containerd/containerd.sock",
      ],
      ppid: 1,
      starttime: 20_000 + p * 3_000,
      cgroup: "0::/system.slice/containerd.service\n",
      mntNs: NS.host,
      utime: 300 + p,
    });
    const sliceOf = (c: string) =>
      `${KUBEPODS}/kubepods-burstable-pod${uid.replaceAll("-", "_")}.slice/cri-containerd-${hexId(c)}.scope\n`;
    // The pause container: its own namespace with the sandbox's mounts only.
    const pauseNs = ns++;
    spec.mountNamespaces[pauseNs] = runcContainerMounts({
      firstId: mountId,
      parentId: mountId - 20,
      snapshot: snapshot - 1,
      layers: 1,
      podUid: uid,
      container: sandbox,
      binds: [],
    });
    mountId += 40;
    spec.processes.push({
      pid: pid++,
      comm: "pause",
      cmdline: ["/pause"],
      ppid: shimPid,
      starttime: 20_010 + p * 3_000,
      cgroup: sliceOf(sandbox),
      mntNs: pauseNs,
    });
    const containers = p % 3 === 0 ? 2 : 1;
    const disk = podOfDisk.get(p);
    for (let c = 0; c < containers; c++) {
      const cid = hexId(`${uid}/c${c}`);
      const cns = ns++;
      const binds: string[] = [];
      if (c === 0 && disk !== undefined) {
        const d = disks[disk];
        if (d !== undefined) {
          const publish = `${pods}/volumes/kubernetes.io~csi/${d.handle}/mount`;
          host.push(
            `${mountId++} 118 ${d.dev} / ${d.staging} rw,relatime shared:${700 + d.i} - ext4 /dev/${d.ns} rw`,
            `${mountId++} 118 ${d.dev} / ${publish} rw,relatime shared:${700 + d.i} - ext4 /dev/${d.ns} rw`,
          );
          csiNs.push(
            `${mountId++} 1708 ${d.dev} / ${d.staging} rw,relatime master:${700 + d.i} - ext4 /dev/${d.ns} rw`,
            `${mountId++} 1708 ${d.dev} / ${publish} rw,relatime master:${700 + d.i} - ext4 /dev/${d.ns} rw`,
          );
          binds.push(`${d.dev} / /var/lib/data rw,relatime - ext4 /dev/${d.ns} rw`);
        }
      }
      if (p % 5 === 0)
        binds.push(
          "259:3 /var/log /var/log rw,relatime - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
        );
      if (p % 7 === 0)
        binds.push(`0:${700 + p} / /etc/config ro,relatime - tmpfs tmpfs rw,size=${4096 + p}k`);
      host.push(
        `${mountId++} 34 0:${800 + p * 2 + c} / /run/containerd/io.containerd.runtime.v2.task/k8s.io/${cid}/rootfs rw,relatime shared:${800 + p * 2 + c} - overlay overlay rw,lowerdir=${Array.from({ length: 3 + (p % 5) }, (_, i) => `/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${100 + p * 7 + i}/fs`).join(":")},upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${snapshot}/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${snapshot}/work`,
      );
      spec.mountNamespaces[cns] = runcContainerMounts({
        firstId: mountId,
        parentId: mountId - 20,
        snapshot: snapshot++,
        layers: 3 + (p % 5),
        podUid: uid,
        container: cid,
        binds,
      });
      mountId += 40;
      const app =
        ["nginx", "java", "python3", "envoy", "redis-server", "node", "mysqld", "prometheus"][p % 8] ?? "app";
      const main = pid++;
      spec.processes.push({
        pid: main,
        comm: app,
        cmdline: [
          `/usr/bin/${app}`,
          `--config=/etc/${app}/${app}.conf`,
          `--instance=${uid.slice(0, 8)}-${c}`,
        ],
        ppid: shimPid,
        starttime: 20_100 + p * 3_000 + c,
        cgroup: sliceOf(cid),
        mntNs: cns,
        fds: { 0: "/dev/null", 1: "pipe:[5001]", 2: "pipe:[5001]", 3: `socket:[${90_000 + p * 10 + c}]` },
        utime: 10_000 + p * 97,
      });
      // A few workers per app container share its namespace.
      for (let w = 0; w < (p % 4) + 1; w++) {
        spec.processes.push({
          pid: pid++,
          comm: `${app.slice(0, 10)}-worker`,
          cmdline: [`/usr/bin/${app}`, "--worker", String(w)],
          ppid: main,
          starttime: 20_200 + p * 3_000 + w,
          cgroup: sliceOf(cid),
          mntNs: cns,
          utime: 1_000 + w * 13 + p,
        });
      }
    }
  }
  spec.mountNamespaces[NS.host] = host;
  // Kata VMs holding the vfio groups.
  vmGroups.forEach((g, v) => {
    const vns = ns++;
    spec.mountNamespaces[vns] = containerMounts(1961 + v * 20, String(7002 + v * 8), []);
    spec.processes.push({
      pid: 48_000 + v * 100,
      comm: "cloud-hyperviso",
      cmdline: ["cloud-hypervisor", "--api-socket", `/run/vc/vm/${hexId(`vm/${v}`, 4)}/clh-api.sock`],
      ppid: 47_990 + v * 100,
      starttime: 160_000_000 + v * 1000,
      cgroup: `0::/kubepods.slice/kubepods-pod${hexId(`vm/${v}`, 4)}.slice/kata_${hexId(`vm/${v}`, 4)}.scope\n`,
      mntNs: vns,
      fds: {
        30: "/dev/vfio/vfio",
        31: `/dev/vfio/${g}`,
        32: "anon_inode:[vfio-device]",
        40: `socket:[${91_000 + v}]`,
      },
      utime: 500_000 + v,
    });
  });
  // Kernel threads: per-CPU ones and a pool of kworkers.
  let kpid = 3;
  for (let c = 0; c < cpus; c++) {
    for (const k of KWORKER_COMMS.slice(0, 2)) spec.processes.push(kthread(kpid++, `${k}/${c}`, 2 + c));
  }
  for (let k = 0; k < 40; k++)
    spec.processes.push(kthread(kpid++, `kworker/${k % cpus}:${k % 3}${k % 2 ? "H" : ""}`, 100 + k * 1000));
  spec.processes.push(
    kthread(kpid++, "nvme-wq", 300),
    kthread(kpid++, "nvme-reset-wq", 300),
    kthread(kpid++, "nvme-delete-wq", 300),
    kthread(kpid++, "kblockd", 200),
    kthread(kpid++, "jbd2/nvme0n1p2-8", 900),
    kthread(kpid++, "xfsaild/nvme0n1p3", 950),
    ...disks.map((d) => kthread(kpid++, `jbd2/${d.ns}-8`, 1_000_000 + d.i * 5_000)),
  );
  for (const [i, [comm, argv]] of (
    [
      ["systemd-journal", "/usr/lib/systemd/systemd-journald"],
      ["systemd-udevd", "/usr/lib/systemd/systemd-udevd"],
      ["dbus-broker", "/usr/bin/dbus-broker-launch --scope system --audit"],
      ["chronyd", "/usr/sbin/chronyd"],
      ["sshd", "/usr/sbin/sshd -D"],
      ["crond", "/usr/sbin/crond -n"],
      ["aliyun-service", "/usr/sbin/aliyun-service"],
      ["AliYunDunMonito", "/usr/local/aegis/aegis_client/AliYunDunMonitor"],
      ["node_exporter", "/bin/node_exporter --path.rootfs=/host"],
      ["kube-proxy", "/usr/local/bin/kube-proxy --config=/var/lib/kube-proxy/config.conf"],
    ] as const
  ).entries()) {
    spec.processes.push({
      pid: 700 + i * 7,
      comm,
      cmdline: argv.split(" "),
      ppid: 1,
      starttime: 900 + i * 40,
      cgroup: `0::/system.slice/${comm}.service\n`,
      mntNs: NS.host,
      utime: 5_000 + i * 311,
    });
  }

  // kmsg: recent records only (contiguous sequence numbers): CSI attaches, CNI veths, ext4 mounts, vfio.
  const kmsg: string[] = [];
  let seq = 98_000;
  let usec = 1_500_000_000_000;
  const rec = (prio: number, text: string) => {
    usec += 1_000_000 + ((seq * 7919) % 900_000_000);
    kmsg.push(`${prio},${seq++},${usec},-;${text}`);
  };
  for (let p = 0; p < podCount; p++) {
    const veth = `veth${hexId(`veth/${p}`, 8)}`;
    rec(6, `IPv6: ADDRCONF(NETDEV_CHANGE): ${veth}: link becomes ready`);
    rec(6, `cni0: port ${p + 2}(${veth}) entered blocking state`);
    rec(6, `cni0: port ${p + 2}(${veth}) entered forwarding state`);
    const d = disks[podOfDisk.get(p) ?? -1];
    if (d !== undefined) {
      rec(6, `nvme ${d.ctrl}: pci function ${d.bdf}`);
      rec(6, `nvme ${d.ctrl}: 8/0/0 default/read/poll queues`);
      rec(6, ` ${d.ns}: p1`);
      rec(6, `EXT4-fs (${d.ns}): mounted filesystem with ordered data mode. Opts: (null)`);
    }
  }
  vmGroups.forEach((_, v) => {
    rec(6, `vfio-pci ${vfBdf(diskCount + v)}: enabling device (0000 -> 0002)`);
  });
  spec.kmsg = kmsg;

  // ftrace: bind_store from the CSI plugin for every attach, nvme_probe from the kworker that ran it.
  const lines: string[] = [];
  const oldest: Record<number, number> = {};
  let ts = 1_500_000.0;
  for (const d of disks) {
    const cpu = (d.i * 5) % cpus;
    ts += 37.2 + d.i;
    oldest[cpu] ??= ts;
    const c = String(cpu).padStart(3, "0");
    lines.push(`      csi-plugin-2931    [${c}] ..... ${ts.toFixed(6)}: bind_store <-drv_attr_store`);
    lines.push(
      `    kworker/${cpu}:2-1187    [${c}] ..... ${(ts + 0.0005).toFixed(6)}: nvme_probe <-local_pci_probe`,
    );
  }
  for (let v = 0; v < vmCount; v++) {
    ts += 11.5;
    const cpu = (v * 11 + 3) % cpus;
    oldest[cpu] ??= ts;
    lines.push(
      `      csi-plugin-2931    [${String(cpu).padStart(3, "0")}] ..... ${ts.toFixed(6)}: bind_store <-drv_attr_store`,
    );
  }
  spec.trace = {
    ...DRIVER_CORE_TRACE,
    cpus,
    lines,
    nowTs: spec.uptimeSec,
    oldestTs: oldest,
  };
  return spec;
}
