/**
 * `proc-stat`: `/proc/<pid>/stat` lines of a busy node (kernel threads, containerd shims, pause, JVMs,
 * comms with spaces and parentheses), one file per line, each parsed on its own as the process table does.
 * `cgroup`: `/proc/<pid>/cgroup` files of the same node (v2, and hybrid v1 with 12 hierarchies), both
 * kubelet cgroup drivers and three runtimes, parsed file by file.
 */
import { parseCgroup } from "../../shared/parse/cgroup.js";
import { parseProcStat } from "../../shared/parse/proc.js";
import { hexOf, prng } from "../random.js";
import type { ParserBench } from "../types.js";

const COMMS = [
  "kworker/17:2-events",
  "containerd-shim",
  "pause",
  "java",
  "kubelet",
  "csi-diskplugin",
  "cloud-hyperviso",
  "tmux: server",
  "a) (b",
  "(sd-pam)",
  "nginx: worker",
  "irq/45-pciehp",
];

export function generateProcStat(targetBytes: number, seed = 11): string {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const out: string[] = [];
  let bytes = 0;
  let pid = 1;
  while (bytes < targetBytes) {
    pid += 1 + int(40);
    const comm = COMMS[int(COMMS.length)] ?? "sleep";
    const kthread = comm.startsWith("kworker") || comm.startsWith("irq/");
    const flags = kthread ? 69238880 : 4194560;
    const state = "SSSSRDIZ"[int(8)] ?? "S";
    const start = 900 + int(90_000_000);
    const line = `${pid} (${comm}) ${state} ${kthread ? 2 : 1 + int(pid)} ${pid} ${pid} 0 -1 ${flags} ${int(1e6)} ${int(1e7)} ${int(900)} ${int(90)} ${int(1e6)} ${int(1e5)} ${int(1e4)} ${int(1e4)} 20 0 ${1 + int(200)} 0 ${start} ${kthread ? 0 : int(8e9)} ${kthread ? 0 : int(2e6)} 18446744073709551615 ${kthread ? "0 0 0 0 0" : `94${int(1e12)} 94${int(1e12)} 140${int(1e12)} 0 0`} 0 0 ${kthread ? 2147483647 : 4096} ${kthread ? 0 : 17642} 0 0 0 17 ${int(96)} 0 0 ${int(1000)} 0 0 ${kthread ? "0 0 0 0 0 0 0" : `94${int(1e12)} 94${int(1e12)} 94${int(1e12)} 140${int(1e12)} 140${int(1e12)} 140${int(1e12)} 140${int(1e12)}`} 0\n`;
    out.push(line);
    bytes += line.length;
  }
  return out.join("");
}

const V1 = [
  "12:hugetlb",
  "11:cpuset",
  "10:memory",
  "9:perf_event",
  "8:net_cls,net_prio",
  "7:pids",
  "6:freezer",
  "5:devices",
  "4:blkio",
  "3:cpu,cpuacct",
  "2:rdma",
  "1:name=systemd",
];

export function generateCgroup(targetBytes: number, seed = 13): string {
  const rand = prng(seed);
  const int = (n: number) => Math.floor(rand() * n);
  const hex = (n: number) => hexOf(rand, n);
  const files: string[] = [];
  let bytes = 0;
  while (bytes < targetBytes) {
    const uid = `${hex(8)}-${hex(4)}-${hex(4)}-${hex(4)}-${hex(12)}`;
    const qos = ["", "burstable", "besteffort"][int(3)] ?? "";
    const id = hex(64);
    const kind = int(6);
    let path: string;
    if (kind === 0) path = "/system.slice/containerd.service";
    else if (kind <= 3) {
      const scope = ["cri-containerd", "crio", "docker"][int(3)];
      const q = qos ? `-${qos}` : "";
      const parent = qos ? `/kubepods-${qos}.slice` : "";
      path = `/kubepods.slice${parent}/kubepods${q}-pod${uid.replaceAll("-", "_")}.slice/${scope}-${id}.scope`;
    } else path = `/kubepods${qos ? `/${qos}` : ""}/pod${uid}/${kind === 5 ? `crio-${id}` : id}`;
    const file =
      int(2) === 0
        ? `0::${path}\n`
        : `${V1.map((h) => `${h}:${path}\n`).join("")}0::${path.startsWith("/kubepods") ? "/" : path}\n`;
    files.push(file);
    bytes += file.length;
  }
  // One file after another; the bench parses them one by one, so file boundaries are marked by `0::`.
  return files.join("");
}

/** Calls `fn` on each stat line of `text` (newline included, as the file would hold it). */
function eachStat(text: string, fn: (file: string) => unknown): number {
  let n = 0;
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length - 1;
    if (fn(text.slice(start, end + 1))) n++;
    start = end + 1;
  }
  return n;
}

/** Calls `fn` on each cgroup file of `text` (every file ends with its `0::` line). */
function eachCgroupFile(text: string, fn: (file: string) => unknown): number {
  let n = 0;
  let start = 0;
  while (start < text.length) {
    const v2 = text.indexOf("0::", start);
    let end = v2 === -1 ? -1 : text.indexOf("\n", v2);
    if (end === -1) end = text.length - 1;
    if (fn(text.slice(start, end + 1))) n++;
    start = end + 1;
  }
  return n;
}

export const benches: ParserBench[] = [
  {
    name: "proc-stat",
    generate: (targetBytes) => generateProcStat(targetBytes),
    parse: (text) => eachStat(text, (file) => parseProcStat(file).value),
  },
  {
    name: "cgroup",
    generate: (targetBytes) => generateCgroup(targetBytes),
    parse: (text) => eachCgroupFile(text, (file) => parseCgroup(file).value.podUid),
  },
];
