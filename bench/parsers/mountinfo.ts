/**
 * `mountinfo`: the host namespace of a busy Kubernetes node (containerd, systemd, shared propagation):
 * per pod a sandbox shm and netns pin, container rootfs overlays with long `lowerdir` chains, projected
 * token tmpfs, CSI publish mounts and their globalmounts, and the odd escaped path.
 */
import { parseMountinfo } from "../../shared/parse/mountinfo.js";
import { hexOf, prng } from "../random.js";
import type { ParserBench } from "../types.js";

export function generateMountinfo(targetBytes: number, seed = 7): string {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const hex = (n: number) => hexOf(rand, n);
  const uuid = () => `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
  const snap = "/var/lib/containerd/io.containerd.snapshotter.v1.overlayfs/snapshots";
  const lines: string[] = [
    "25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw,errors=remount-ro",
    "26 25 0:5 / /dev rw,nosuid,noexec,relatime shared:2 - devtmpfs udev rw,size=263741824k,nr_inodes=65935456,mode=755",
    "27 26 0:25 / /dev/pts rw,nosuid,noexec,relatime shared:3 - devpts devpts rw,gid=5,mode=620,ptmxmode=000",
    "28 25 0:22 / /sys rw,nosuid,nodev,noexec,relatime shared:7 - sysfs sysfs rw",
    "29 25 0:24 / /proc rw,nosuid,nodev,noexec,relatime shared:13 - proc proc rw",
    "30 25 0:26 / /run rw,nosuid,nodev,noexec,relatime shared:5 - tmpfs tmpfs rw,size=52748364k,mode=755,inode64",
    "31 28 0:27 / /sys/fs/cgroup rw,nosuid,nodev,noexec,relatime shared:9 - cgroup2 cgroup2 rw,nsdelegate,memory_recursiveprot",
    "32 28 0:12 / /sys/kernel/tracing rw,nosuid,nodev,noexec,relatime shared:20 - tracefs tracefs rw",
    "33 25 259:3 / /var/lib/kubelet rw,relatime shared:30 - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
  ];
  let bytes = lines.reduce((n, l) => n + l.length + 1, 0);
  let id = 40;
  let peer = 40;
  let dev = 60;
  let layer = 10_000;
  const push = (line: string) => {
    lines.push(line);
    bytes += line.length + 1;
  };
  while (bytes < targetBytes) {
    const pod = uuid();
    const sandbox = hex(64);
    push(
      `${id++} 30 0:${dev++} / /run/containerd/io.containerd.grpc.v1.cri/sandboxes/${sandbox}/shm rw,nosuid,nodev,noexec,relatime shared:${peer++} - tmpfs shm rw,size=65536k,inode64`,
    );
    push(
      `${id++} 30 0:4 net:[${4026532000 + int(90000)}] /run/netns/cni-${uuid()} rw shared:${peer++} - nsfs nsfs rw`,
    );
    push(
      `${id++} 33 0:${dev++} / /var/lib/kubelet/pods/${pod}/volumes/kubernetes.io~projected/kube-api-access-${hex(5)} rw,relatime shared:${peer++} - tmpfs tmpfs rw,size=${int(900000) + 1000}k,inode64,noswap`,
    );
    const containers = 1 + int(3);
    for (let c = 0; c < containers + 1; c++) {
      const depth = 3 + int(14);
      const lower: string[] = [];
      for (let l = 0; l < depth; l++) lower.push(`${snap}/${layer - l * 7 - int(5)}/fs`);
      layer += 3;
      push(
        `${id++} 30 0:${dev++} / /run/containerd/io.containerd.runtime.v2.task/k8s.io/${hex(64)}/rootfs rw,relatime shared:${peer++} - overlay overlay rw,lowerdir=${lower.join(":")},upperdir=${snap}/${layer}/fs,workdir=${snap}/${layer}/work,uuid=on`,
      );
    }
    if (int(3) === 0) {
      const disk = `d-${hex(20)}`;
      const nvme = `/dev/nvme${2 + int(30)}n1`;
      const minor = int(64);
      const group = peer++;
      push(
        `${id++} 33 259:${minor} / /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/${hex(64)}/globalmount rw,relatime shared:${group} - ext4 ${nvme} rw`,
      );
      push(
        `${id++} 33 259:${minor} / /var/lib/kubelet/pods/${pod}/volumes/kubernetes.io~csi/${disk}/mount rw,relatime shared:${group} - ext4 ${nvme} rw`,
      );
    }
    if (int(10) === 0) {
      push(
        `${id++} 33 259:3 /kubelet/pods/${pod}/volumes/kubernetes.io~configmap/app\\040config/..data/app.yaml /var/lib/kubelet/pods/${pod}/volume-subpaths/app\\040config/app/0 rw,relatime shared:30 - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota`,
      );
    }
    if (int(25) === 0) {
      push(
        `${id++} 33 0:5 /nvme${int(30)}n1//deleted /var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/staging/pvc-${uuid()}/nvme${int(30)}n1 rw,nosuid master:2 - devtmpfs udev rw,size=263741824k,nr_inodes=65935456,mode=755`,
      );
    }
  }
  return `${lines.join("\n")}\n`;
}

export const benches: ParserBench[] = [
  {
    name: "mountinfo",
    generate: (targetBytes) => generateMountinfo(targetBytes),
    parse: (text) => parseMountinfo(text),
  },
];
