/**
 * Kernel log throughput: `/dev/kmsg` records as a busy node's ring buffer holds them (device messages
 * with SUBSYSTEM/DEVICE dictionaries, escaped tabs, user-facility writes, the odd seq gap), and the
 * same records as `dmesg -r` text.
 */
import { parseDmesg, parseKmsg } from "../../shared/parse/kmsg.js";
import type { ParserBench } from "../types.js";

const MESSAGES: readonly [prio: number, text: string, dict: string][] = [
  [6, "nvme nvme5: pci function 0000:3b:00.5", " SUBSYSTEM=nvme\n DEVICE=c242:5\n"],
  [4, "nvme nvme5: Removing after probe failure status: -19", " SUBSYSTEM=nvme\n DEVICE=c242:5\n"],
  [
    6,
    "pci 0000:3b:00.5: [1ded:5004] type 00 class 0x010802 PCIe Endpoint",
    " SUBSYSTEM=pci\n DEVICE=+pci:0000:3b:00.5\n",
  ],
  [6, "pci 0000:3b:00.5: Adding to iommu group 63", " SUBSYSTEM=pci\n DEVICE=+pci:0000:3b:00.5\n"],
  [
    5,
    "vfio-pci 0000:3b:00.4: Relaying device request to user (#10)",
    " SUBSYSTEM=pci\n DEVICE=+pci:0000:3b:00.4\n",
  ],
  [6, "IPv6: ADDRCONF(NETDEV_CHANGE): cali4f1a2b3c4d5: link becomes ready", ""],
  [6, "cni0: port 7(veth5e2a1f0b) entered forwarding state", ""],
  [6, "EXT4-fs (nvme2n1): mounted filesystem with ordered data mode. Quota mode: none.", ""],
  [4, "TCP: request_sock_TCP: Possible SYN flooding on port 10250. Sending cookies.", ""],
  [6, "rcu: \\x09RCU restricting CPUs from NR_CPUS=8192 to nr_cpu_ids=96.", ""],
  [
    14,
    "containerd[2113]: time=\\x222026-03-03T10:14:02Z\\x22 level=info msg=\\x22shim disconnected\\x22",
    "",
  ],
  [3, "blk_update_request: I/O error, dev nvme3n1, sector 2161435200 op 0x1:(WRITE) flags 0x800", ""],
];

function generateKmsg(targetBytes: number): string {
  const parts: string[] = [];
  let size = 0;
  let seq = 98_000;
  let usec = 1_843_190_000_000;
  let i = 0;
  while (size < targetBytes) {
    const m = MESSAGES[(i * 7 + (i >> 3)) % MESSAGES.length] ?? MESSAGES[0];
    if (!m) break;
    seq += i % 997 === 0 ? 12 : 1;
    usec += 13 + ((i * 31) % 4000);
    const record = `${m[0]},${seq},${usec},-;${m[1]}\n${m[2]}`;
    parts.push(record);
    size += record.length;
    i++;
  }
  return parts.join("");
}

/** The same records as `dmesg -r` prints them (no dictionaries, escapes undone). */
function generateDmesg(targetBytes: number): string {
  return generateKmsg(targetBytes)
    .split("\n")
    .filter((l) => l !== "" && !l.startsWith(" "))
    .map((l) => {
      const [head = "", ...rest] = l.split(";");
      const [prio = "6", , usec = "0"] = head.split(",");
      const us = Number(usec);
      const ts = `${String(Math.floor(us / 1e6)).padStart(5)}.${String(us % 1e6).padStart(6, "0")}`;
      return `<${prio}>[${ts}] ${rest.join(";").replaceAll("\\x09", "\t").replaceAll("\\x22", '"')}\n`;
    })
    .join("");
}

export const benches: ParserBench[] = [
  { name: "kmsg", generate: generateKmsg, parse: parseKmsg },
  { name: "dmesg", generate: generateDmesg, parse: parseDmesg },
];
