/**
 * Hand-captured command output an SRE attaches to a host (POST /v1/hosts/{hostId}/evidence). The
 * command line names the format; the same parsers that read shipped snapshots read these.
 */

export const EVIDENCE_KINDS = [
  "ls-sys-block",
  "ls-dev-vfio",
  "ls-iommu-group",
  "lsof",
  "fuser",
  "trace",
  "dmesg",
  "kmsg",
  "mountinfo",
] as const;
export type EvidenceKind = (typeof EVIDENCE_KINDS)[number];

interface Rule {
  readonly kind: EvidenceKind;
  readonly test: (argv: readonly string[], line: string) => boolean;
  readonly example: string;
}

const has = (argv: readonly string[], pred: (a: string) => boolean) => argv.some(pred);

const RULES: readonly Rule[] = [
  {
    kind: "ls-sys-block",
    example: "ls -l /sys/block",
    test: (a) => a[0] === "ls" && has(a, (x) => /^\/sys\/block\/?/.test(x)),
  },
  {
    kind: "ls-sys-block",
    example: "find /sys/block -maxdepth 1 -mindepth 1 -printf '%f %l\\n'",
    test: (a) => a[0] === "find" && has(a, (x) => /^\/sys\/block\/?$/.test(x)),
  },
  {
    kind: "ls-dev-vfio",
    example: "ls -l /dev/vfio",
    test: (a) => a[0] === "ls" && has(a, (x) => /^\/dev\/vfio\/?$/.test(x)),
  },
  {
    kind: "ls-iommu-group",
    example: "ls /sys/kernel/iommu_groups/63/devices",
    test: (a) => a[0] === "ls" && has(a, (x) => /^\/sys\/kernel\/iommu_groups\/\d+\/devices\/?$/.test(x)),
  },
  { kind: "lsof", example: "lsof -F pcuftDirn /dev/vfio/62", test: (a) => a[0] === "lsof" },
  {
    kind: "fuser",
    example: "fuser -mv /var/lib/kubelet/.../globalmount 2>&1",
    test: (a) => a[0] === "fuser",
  },
  {
    kind: "trace",
    example: "cat /sys/kernel/tracing/trace",
    test: (a) => a[0] === "cat" && has(a, (x) => /\/tracing\/trace$/.test(x)),
  },
  { kind: "kmsg", example: "cat /dev/kmsg", test: (a) => has(a, (x) => x === "/dev/kmsg") },
  {
    kind: "dmesg",
    example: "dmesg -r",
    test: (a) => a[0] === "dmesg" || (a[0] === "journalctl" && has(a, (x) => x === "-k" || x === "--dmesg")),
  },
  {
    kind: "mountinfo",
    example: "cat /proc/77102/mountinfo",
    test: (a) => a[0] === "cat" && has(a, (x) => /^\/proc\/(\d+|self|thread-self)\/mountinfo$/.test(x)),
  },
];

/** Splits a shell command line into words (quotes honoured; redirections like 2>&1 dropped). */
export function splitCommand(line: string): string[] {
  const words: string[] = [];
  const re = /'([^']*)'|"((?:[^"\\]|\\.)*)"|(\S+)/g;
  for (let m = re.exec(line); m; m = re.exec(line)) {
    const w = m[1] ?? m[2] ?? m[3] ?? "";
    if (/^\d?>&?\d*$/.test(w) || /^\d?>/.test(w)) continue;
    words.push(w);
  }
  // `sudo`, `LC_ALL=C` and `nsenter ... --` prefixes do not change the format.
  while (words[0] === "sudo" || (words[0] && /^[A-Z_]+=/.test(words[0]))) words.shift();
  return words.map((w, i) => (i === 0 ? (w.split("/").pop() ?? w) : w));
}

/** The evidence kind a command line produces, or null when faultline cannot read it. */
export function recognizeCommand(line: string): EvidenceKind | null {
  const argv = splitCommand(line);
  for (const r of RULES) if (r.test(argv, line)) return r.kind;
  return null;
}

/** Commands faultline reads, one example per kind (for error messages and docs). */
export function supportedCommands(): string[] {
  return RULES.map((r) => r.example);
}
