/**
 * Synthetic host trees for tests: `writeHostTree(dir, spec)` lays out a directory the way a real Linux
 * host looks under `/` (sysfs symlinks into `sys/devices/...` with relative `../` targets of real depth,
 * `(null)` driver_override, dangling `ns/mnt` links reading `mnt:[N]`, `dev/kmsg` as a file of kmsg
 * records, a tracefs directory), from a compact spec. The presets follow the scenario of
 * reference/evidence-formats.md §0: `healthy`, `reattachRace` (INC-1) and `globalmountLeak` (INC-2).
 */
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
      dir: "sys/kernel/tracing",
      clock: "local",
      tracer: "function",
      filter: ["bind_store", "nvme_probe [nvme]"],
      tracingOn: true,
      bufferSizeKb: 1408,
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
