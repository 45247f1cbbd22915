/**
 * Host trees for the mount and vfio-holder detectors, varied from the reference §0 presets of
 * host-tree.ts: a consistent INC-2 leak (host unstaged, a DaemonSet keeps a private copy), kubelet
 * roots other than the default (also one with a space), a copy seen under `/host/...`, kernels with and
 * without `fs.may_detach_mounts`, and vfio holders in every state. `viewWith` edits the collected
 * bundle the way a real capture differs (a pinned namespace the shipper entered with nsenter, a
 * mountinfo that was not shipped) and rebuilds the view.
 */
import type { EvidenceEntry, SnapshotBundle } from "../../shared/contracts/snapshot.js";
import { pinnedMountinfoPath } from "../../shared/parse/proc.js";
import { buildHostView, type HostView } from "../../shared/view/host-view.js";
import {
  CSI_DRIVER,
  GLOBALMOUNT,
  type HostTreeSpec,
  healthyHost,
  NS,
  type ProcessSpec,
  STAGING_HASH,
} from "./host-tree.js";
import { viewOfTree } from "./views.js";

export { CSI_DRIVER, GLOBALMOUNT, NS, STAGING_HASH };

export const DISK = "d-bp1g6qn7zcd3f8l2x9ab";
export const DISK_BDF = "0000:3b:00.3";
export const DISK_SERIAL = "bp1g6qn7zcd3f8l2x9ab";
export const POD_UID = "5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11";
export const NODE_AGENT_POD = "0f0e0d0c-0b0a-4090-8070-605040302010";
export const VMM_POD = "3f2a9c41-e7b0-4d2c-8a6f-1b2c3d4e5f60";
export const PUBLISH = `/var/lib/kubelet/pods/${POD_UID}/volumes/kubernetes.io~csi/${DISK}/mount`;
/** A fixed snapshot key, so pinned verdicts do not depend on the capture time. */
export const SNAPSHOT_KEY =
  "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz";

const XFS_OPTS = "rw,attr2,inode64,logbufs=8,logbsize=32k,noquota";
const KUBEPODS = "0::/kubepods.slice/kubepods-burstable.slice";

/** A container's own mounts (overlay root, /proc, /dev) with ids from `root`, plus `binds`. */
export function containerNs(root: number, binds: readonly string[]): string[] {
  return [
    `${root} ${root - 20} 0:${100 + (root % 97)} / / rw,relatime - overlay overlay rw,lowerdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${root}/fs,upperdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${root + 1}/fs,workdir=/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots/${root + 1}/work`,
    `${root + 1} ${root} 0:${200 + (root % 97)} / /proc rw,nosuid,nodev,noexec,relatime - proc proc rw`,
    `${root + 2} ${root} 0:${300 + (root % 97)} / /dev rw,nosuid - tmpfs tmpfs rw,size=65536k,mode=755`,
    ...binds,
  ];
}

export type Kernel = "rhel7" | "rhel7-old" | "upstream" | "upstream-mdm1";

/** RHEL 7.4+ (`may_detach_mounts=0`), RHEL 7.0-7.3 (no sysctl, pre-3.18), upstream (absent), or 1. */
export function setKernel(spec: HostTreeSpec, kernel: Kernel): HostTreeSpec {
  const rhel = kernel === "rhel7" || kernel === "rhel7-old";
  spec.osrelease = rhel ? "3.10.0-1160.119.1.el7.x86_64" : "5.10.134-16.al8.x86_64";
  if (kernel === "rhel7") spec.mayDetachMounts = 0;
  else if (kernel === "upstream-mdm1") spec.mayDetachMounts = 1;
  else delete spec.mayDetachMounts;
  return spec;
}

export interface LeakOptions {
  kernel?: Kernel;
  /** Where the holder bind-mounts the host's kubelet dir (`/host/var/lib/kubelet`); the host's path by default. */
  seenAt?: string;
  /** The holder copy's optional fields: "" (private, the mountPropagation None leak), `master:233`, `shared:233`. */
  copyTags?: string;
  /** The parent bind's optional fields ("" = private). */
  parentTags?: string;
}

/**
 * INC-2 after NodeUnstage (reference §0, §7.2 sample 7.b), consistent throughout: the host unmounted the
 * staging and publish mounts, the pod is gone, the CSI plugin's Bidirectional copy followed the unmount,
 * and the node agent (hostPath /var/lib/kubelet, mountPropagation None) keeps its private copy.
 */
export function leakHost(o: LeakOptions = {}): HostTreeSpec {
  const spec = setKernel(healthyHost(), o.kernel ?? "rhel7");
  const seenAt = o.seenAt ?? "/var/lib/kubelet";
  const drop = (l: string) => l.includes(GLOBALMOUNT) || l.includes(PUBLISH);
  spec.mountNamespaces[NS.host] = (spec.mountNamespaces[NS.host] ?? []).filter((l) => !drop(l));
  spec.mountNamespaces[NS.csiPlugin] = (spec.mountNamespaces[NS.csiPlugin] ?? []).filter((l) => !drop(l));
  spec.processes = spec.processes.filter((p) => p.pid !== 31337);
  delete spec.mountNamespaces[NS.mysqld];
  const tag = (t: string | undefined) => (t ? ` ${t}` : "");
  spec.mountNamespaces[NS.nodeAgent] = containerNs(1871, [
    `1893 1871 259:3 / ${seenAt} rw,relatime${tag(o.parentTags)} - xfs /dev/nvme0n1p3 ${XFS_OPTS}`,
    `1921 1893 259:4 / ${seenAt}${GLOBALMOUNT.slice("/var/lib/kubelet".length)} rw,relatime${tag(o.copyTags)} - ext4 /dev/nvme2n1 rw`,
  ]);
  return spec;
}

/** Moves everything kubelet-rooted to `root` (written escaped in mountinfo, as the kernel does). */
export function withKubeletRoot(spec: HostTreeSpec, root: string): HostTreeSpec {
  const escaped = root.replaceAll(" ", "\\040");
  for (const [ns, lines] of Object.entries(spec.mountNamespaces)) {
    spec.mountNamespaces[Number(ns)] = lines.map((l) => l.replaceAll("/var/lib/kubelet", escaped));
  }
  for (const p of spec.processes) p.cmdline = p.cmdline.map((a) => a.replaceAll("/var/lib/kubelet", root));
  return spec;
}

/** The staging path of the scenario's disk under another kubelet root. */
export function globalmountUnder(root: string): string {
  return `${root}/plugins/kubernetes.io/csi/${CSI_DRIVER}/${STAGING_HASH[DISK]}/globalmount`;
}

/** A process in a pod (systemd cgroup driver, burstable), in mount namespace `mntNs`. */
export function podProcess(p: {
  pid: number;
  comm: string;
  podUid: string;
  mntNs: number;
  state?: ProcessSpec["state"];
  fds?: Record<number, string>;
  starttime?: number;
  ppid?: number;
}): ProcessSpec {
  return {
    pid: p.pid,
    comm: p.comm,
    cmdline: [`/usr/bin/${p.comm}`],
    ppid: p.ppid ?? 1100,
    starttime: p.starttime ?? 160_000_000,
    cgroup: `${KUBEPODS}/kubepods-burstable-pod${p.podUid.replaceAll("-", "_")}.slice/cri-containerd-${(p.pid % 256).toString(16).padStart(2, "0").repeat(32)}.scope\n`,
    mntNs: p.mntNs,
    ...(p.state ? { state: p.state } : {}),
    ...(p.fds ? { fds: p.fds } : {}),
  };
}

export interface VfioOptions {
  /** The VMM holding group 62 (BDF 0000:3b:00.4). */
  state?: "S" | "D" | "Z";
  /** What keeps its pod alive: another process of the pod, a kubelet pods/<uid> mount, or nothing. */
  podEvidence?: "process" | "mount" | "none";
  /** Hold the group through the iommufd cdev `/dev/vfio/devices/vfio0` instead of `/dev/vfio/62`. */
  viaCdev?: boolean;
  /** kmsg records added (kept in seq order). */
  kmsg?: string[];
}

/** The §0 sandbox VM (cloud-hypervisor, pid 48213) holding group 62, in a pod with a real UID. */
export function vfioHost(o: VfioOptions = {}): HostTreeSpec {
  const spec = healthyHost();
  spec.processes = spec.processes.map((p) =>
    p.pid !== 48213
      ? p
      : {
          ...podProcess({
            pid: 48213,
            comm: "cloud-hyperviso",
            podUid: VMM_POD,
            mntNs: NS.vmm62,
            state: o.state ?? "S",
            ppid: 48190,
            starttime: 160_000_000,
          }),
          cmdline: ["cloud-hypervisor", "--api-socket", "/run/vc/vm/3f2a/clh-api.sock"],
          fds: o.viaCdev
            ? { 30: "/dev/vfio/devices/vfio0", 40: "socket:[90001]" }
            : { 30: "/dev/vfio/vfio", 31: "/dev/vfio/62", 32: "anon_inode:[vfio-device]" },
        },
  );
  const podEvidence = o.podEvidence ?? "process";
  if (podEvidence === "process") {
    spec.processes.push(
      podProcess({
        pid: 48190,
        comm: "containerd-shim",
        podUid: VMM_POD,
        mntNs: NS.host,
        ppid: 1,
        starttime: 159_999_000,
      }),
    );
  } else if (podEvidence === "mount") {
    spec.mountNamespaces[NS.host]?.push(
      `701 118 0:150 / /var/lib/kubelet/pods/${VMM_POD}/volumes/kubernetes.io~projected/kube-api-access-9zq4x rw,relatime shared:410 - tmpfs tmpfs rw,size=3912496k`,
    );
  }
  if (o.kmsg) {
    const seq = (r: string) => Number(r.split(",")[1]);
    spec.kmsg = [...spec.kmsg, ...o.kmsg].sort((a, b) => seq(a) - seq(b));
  }
  return spec;
}

/** Kernel log lines of an unbind stuck behind the holder of group 62 (reference §2.5, §3.4), after it started. */
export const STUCK_UNBIND_KMSG = [
  "4,98300,1843290000011,-;vfio-pci 0000:3b:00.4: Relaying device request to user (#10)",
  '3,98301,1843290100452,-;vfio-pci 0000:3b:00.4: Device is currently in use, task "csi-plugin" (2931) blocked until device is released',
];
/** The same kind of line, from before the holder started (about an earlier VM). */
export const OLD_UNBIND_KMSG = [
  "4,90000,1500000000000,-;vfio-pci 0000:3b:00.4: Relaying device request to user (#0)",
];

/**
 * Collects `spec` like viewOfTree, then edits the bundle's evidence (`null` deletes an entry) and
 * rebuilds the view. A pinned namespace's mountinfo added here is what the shipper stores when its
 * nsenter succeeds; the capture gap it would otherwise record is dropped with it.
 */
export async function viewWith(
  spec: HostTreeSpec,
  edits: { evidence?: Record<string, EvidenceEntry | null>; pinned?: Record<number, string[]> } = {},
): Promise<{ bundle: SnapshotBundle; view: HostView }> {
  const { bundle } = await viewOfTree(spec, { snapshotKey: SNAPSHOT_KEY });
  const evidence = { ...bundle.evidence };
  let gaps = bundle.capture.gaps;
  for (const [inode, lines] of Object.entries(edits.pinned ?? {})) {
    const data = `${lines.join("\n")}\n`;
    evidence[pinnedMountinfoPath(Number(inode))] = {
      kind: "file",
      data,
      bytes: data.length,
    };
    gaps = gaps.filter((g) => !g.includes(`mnt:[${inode}]`));
  }
  for (const [path, entry] of Object.entries(edits.evidence ?? {})) {
    if (entry === null) delete evidence[path];
    else evidence[path] = entry;
  }
  const edited: SnapshotBundle = { ...bundle, evidence, capture: { ...bundle.capture, gaps } };
  return { bundle: edited, view: buildHostView({ bundle: edited, snapshotKey: SNAPSHOT_KEY }) };
}
