/**
 * Hand-captured commands on a busy node: `lsof -F pcuftDirn` over every process (containerd shims,
 * VMMs holding /dev/vfio groups, pods with files on CSI volumes, deleted files) and `fuser -mv` over
 * many globalmounts (kernel mounts, every-process lists, permission noise).
 */
import { parseFuserMv } from "../../shared/parse/commands/fuser.js";
import { parseLsofFields } from "../../shared/parse/commands/lsof.js";
import { hexOf, prng } from "../random.js";
import type { ParserBench } from "../types.js";

const COMMANDS = [
  "containerd-shim",
  "cloud-hyperviso",
  "kubelet",
  "mysqld",
  "java",
  "envoy",
  "pause",
  "node",
];
const TYPES = ["REG", "DIR", "CHR", "FIFO", "unix", "a_inode"];

export function generateLsofFields(targetBytes: number, seed = 11): string {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const out: string[] = [];
  let bytes = 0;
  let pid = 1000;
  while (bytes < targetBytes) {
    pid += 1 + int(50);
    const cmd = COMMANDS[int(COMMANDS.length)] ?? "sh";
    const pod = `${hexOf(rand, 8)}-${hexOf(rand, 4)}-${hexOf(rand, 4)}-${hexOf(rand, 4)}-${hexOf(rand, 12)}`;
    let set = `p${pid}\nc${cmd}\nu${int(3) === 0 ? 0 : 1000 + int(60000)}\n`;
    set += `fcwd\ntDIR\nD0x10302\ni${int(1e7)}\nn/var/lib/kubelet/pods/${pod}/volumes/kubernetes.io~csi/d-${hexOf(rand, 20)}/mount\n`;
    set += `frtd\ntDIR\nD0xfe00\ni2\nn/\nftxt\ntREG\nD0xfe00\ni${int(1e7)}\nn/usr/bin/${cmd}\n`;
    const files = 4 + int(24);
    for (let fd = 0; fd < files; fd++) {
      const type = TYPES[int(TYPES.length)] ?? "REG";
      if (type === "CHR") {
        const group = 60 + int(40);
        set += `f${fd}\ntCHR\nD0x6\nr0x${(0xf300 + group - 60).toString(16)}\ni${900 + group}\nn/dev/vfio/${group}\n`;
      } else if (type === "unix") {
        set += `f${fd}\ntunix\ni${int(1e8)}\nn/run/containerd/s/${hexOf(rand, 64)} type=STREAM (CONNECTED)\n`;
      } else {
        const deleted = int(20) === 0 ? " (deleted)" : "";
        set += `f${fd}\nt${type}\nD0x${(0x10300 + int(16)).toString(16)}\ns${int(1 << 30)}\ni${int(1e7)}\nn/var/lib/kubelet/pods/${pod}/volumes/kubernetes.io~csi/d-${hexOf(rand, 20)}/mount/data/${hexOf(rand, 12)}.db${deleted}\n`;
      }
    }
    out.push(set);
    bytes += set.length;
  }
  return out.join("");
}

export function generateFuserMv(targetBytes: number, seed = 13): string {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const out: string[] = [];
  let bytes = 0;
  const push = (s: string) => {
    out.push(s);
    bytes += s.length;
  };
  push("                     USER        PID ACCESS COMMAND\n");
  while (bytes < targetBytes) {
    const mount = `/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/${hexOf(rand, 64)}/globalmount`;
    if (int(8) === 0) push(`Cannot stat file /proc/${int(99999)}/fd/${int(64)}: Permission denied\n`);
    push(`${mount}:\n`);
    // One in four is the INC-2 signature: not mounted here, so every process of the parent fs.
    const notMounted = int(4) === 0;
    push(`                     root     kernel mount ${notMounted ? "/var" : mount}\n`);
    const processes = notMounted ? 200 + int(200) : int(6);
    for (let i = 0; i < processes; i++) {
      const pid = String(1 + int(4_000_000)).padStart(6);
      const access = `${".fF"[int(3)]}${".r"[int(2)]}${".c"[int(2)]}${".e"[int(2)]}${".m"[int(2)]}`;
      push(
        `                     ${int(3) === 0 ? "root    " : "999     "} ${pid} ${access} ${COMMANDS[int(COMMANDS.length)]}\n`,
      );
    }
  }
  return out.join("");
}

export const benches: ParserBench[] = [
  { name: "lsof-F", generate: generateLsofFields, parse: parseLsofFields },
  { name: "fuser", generate: generateFuserMv, parse: parseFuserMv },
];
