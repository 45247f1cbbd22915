/**
 * ftrace `trace` throughput on function-tracer output shaped like a busy node: a few hundred tasks that
 * mostly stay on their CPU, ~1,500 distinct `func <-parent` pairs with a skewed distribution (some with
 * module symbols and offsets), the driver-core functions of the incident, and a few kprobe, kretprobe
 * and WALL marker lines (one kprobe string split over two lines).
 */
import { parseTrace } from "../../shared/parse/ftrace.js";
import type { ParserBench } from "../types.js";

const COMMS = [
  "csi-plugin",
  "kubelet",
  "containerd-shim",
  "containerd",
  "cloud-hyperviso",
  "systemd-udevd",
  "systemd-journal",
  "irq/88-pciehp",
  "Web Content",
  "java",
  "node",
  "envoy",
  "modprobe",
  "ksoftirqd/",
  "kworker/",
  "kworker/u192:",
  "migration/",
  "rcu_sched",
];
const VERBS = [
  "alloc",
  "free",
  "get",
  "put",
  "lock",
  "unlock",
  "queue",
  "run",
  "update",
  "find",
  "init",
  "wake",
];
const NOUNS = [
  "page",
  "inode",
  "dentry",
  "bio",
  "request",
  "task",
  "rq",
  "skb",
  "irq",
  "timer",
  "mutex",
  "vma",
];
const PREFIXES = ["", "__", "_raw_", "do_", "blk_mq_", "nvme_", "vfs_", "tcp_", "sched_", "mem_cgroup_"];
const MODULES = ["nvme", "nvme_core", "vfio_pci", "overlay", "nf_conntrack"];
const FLAGS = [".....", ".....", ".....", ".....", ".....", ".....", "d..1.", "...1.", "dN.2.", "d.h1."];
const INCIDENT_BODIES = [
  "bind_store <-drv_attr_store",
  "unbind_store <-drv_attr_store",
  "nvme_probe <-local_pci_probe",
  "drivers_probe_store <-bus_attr_store",
];

/** A trace with the current-kernel header and `targetBytes` of event lines. */
function generate(targetBytes: number): string {
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
    return seed % n;
  };
  // Skewed pick: index 0 most often, falling off over the range.
  const skewed = (n: number): number => Math.min(n - 1, Math.floor((rand(1000) / 1000) ** 3 * n));
  const funcs: string[] = [];
  for (let i = 0; i < 600; i++) {
    funcs.push(
      `${PREFIXES[i % PREFIXES.length]}${VERBS[rand(VERBS.length)]}_${NOUNS[rand(NOUNS.length)]}${i % 7 === 0 ? ".isra.0" : ""}`,
    );
  }
  const bodies: string[] = [...INCIDENT_BODIES];
  while (bodies.length < 1500) {
    const f = funcs[rand(funcs.length)] ?? "schedule";
    const parent = funcs[rand(funcs.length)] ?? "schedule";
    bodies.push(
      rand(10) === 0
        ? `${f}+0x0/0x${(64 + rand(4000)).toString(16)} [${MODULES[rand(MODULES.length)]}] <-${parent}+0x${rand(900).toString(16)}/0x${(1000 + rand(3000)).toString(16)}`
        : `${f} <-${parent}`,
    );
  }
  const tasks = Array.from({ length: 300 }, (_, i) => {
    const base = COMMS[i % COMMS.length] ?? "sh";
    const comm = base.endsWith("/") || base.endsWith(":") ? `${base}${rand(96)}:${rand(4)}` : base;
    return {
      comm: comm.slice(0, 15).padStart(16),
      pid: String(1000 + rand(4_000_000)).padEnd(7),
      home: rand(96),
    };
  });

  const parts: string[] = [
    "# tracer: function\n#\n# entries-in-buffer/entries-written: 1000000/1000000   #P:96\n#\n",
    "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION\n#              | |         |   |||||     |         |\n",
  ];
  let size = (parts[0]?.length ?? 0) + (parts[1]?.length ?? 0);
  let usec = 1843212_000000;
  let task = tasks[0];
  while (size < targetBytes) {
    usec += 1 + rand(40);
    if (!task || rand(8) === 0) task = tasks[skewed(tasks.length)];
    if (!task) break;
    const cpu = String(rand(10) === 0 ? rand(96) : task.home).padStart(3, "0");
    const ts = `${Math.floor(usec / 1e6)}.${String(usec % 1e6).padStart(6, "0")}`;
    const prefix = `${task.comm}-${task.pid} [${cpu}] ${FLAGS[rand(FLAGS.length)]} ${ts}: `;
    const r = rand(2000);
    let line: string;
    if (r === 0) {
      line = `${prefix}bind: (bind_store+0x0/0x150) drv="vfio-pci" dev="0000:3b:00.${rand(8)}\n"\n`;
    } else if (r === 1) {
      line = `${prefix}bind_ret: (drv_attr_store+0x2b/0x40 <- bind_store) ret=-16\n`;
    } else if (r === 2) {
      line = `${prefix}tracing_mark_write: WALL 1709460000.${String(rand(1e9)).padStart(9, "0")}\n`;
    } else {
      line = `${prefix}${bodies[skewed(bodies.length)]}\n`;
    }
    parts.push(line);
    size += line.length;
  }
  return parts.join("");
}

export const benches: ParserBench[] = [{ name: "ftrace", generate, parse: parseTrace }];
