/**
 * Scenarios for the disk detectors: variants of the reference §0 host (test/support/host-tree.ts) with
 * the control-plane events that go with them. The tree is collected by the real shipper at a frozen wall
 * clock (CAPTURE_MS), so kernel timestamps, event times and every time in a verdict are reproducible and
 * can be pinned with inline snapshots.
 */
import { mkdtempSync, readFileSync, rmSync, unlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { NormalizedEvent } from "../../shared/contracts/events.js";
import type { StoredEvent } from "../../shared/db/events.js";
import type { Detector, DetectorRun, Verdict } from "../../shared/detect/types.js";
import { buildHostView, type HostView } from "../../shared/view/host-view.js";
import { collectBundle } from "../../shipper/collect.js";
import {
  type HostTreeSpec,
  healthyHost,
  INCIDENT_BDF,
  reattachRaceHost,
  writeHostTree,
} from "./host-tree.js";
import { storedEvent } from "./views.js";

/** The wall clock the shipper reads during capture (2026-03-03T10:20:00Z). */
export const CAPTURE_MS = Date.UTC(2026, 2, 3, 10, 20, 0);

/** BDF X of the reference scenario. */
export const X = INCIDENT_BDF;

/** Kernel seconds (the trace and kmsg clock) of the reference timeline; `now` is the trace's `now ts`. */
export const K = {
  /** Old disk leaves X. */
  detach: 1843200,
  /** kworker's nvme_probe on X (reference §5.2 sample). */
  probe: 1843212.918431,
  /** New disk lands on X. */
  attach: 1843230,
  /** The CSI plugin's vfio bind after the attach. */
  csiBind: 1843241.006512,
  /** Early events on every CPU that traces, so coverage reaches back before the detach. */
  early: 1843100,
  now: 1843297.55102,
} as const;

export const DISK = {
  /** The disk that was on X before. */
  old: "d-uf6a1b2c3d4e5f6g7h8",
  /** The disk re-attached onto X. */
  new: "d-bp1reattach9k2m4n6q",
  /** Reference §0 host-mounted disk at 0000:3b:00.3 (nvme2, nvme2n1, mounted in several namespaces). */
  hostMounted: "d-bp1g6qn7zcd3f8l2x9ab",
} as const;

/** Alibaba-style serial: the disk id without `d-`. */
export function serialOf(diskId: string): string {
  return diskId.replace(/^d-/, "");
}

/**
 * Writes `spec`, lets `patch` edit the tree (headers no preset writes, removed links), collects it with the
 * real shipper at CAPTURE_MS, and builds the host view.
 */
export async function diskView(
  spec: HostTreeSpec,
  opts: { patch?: (dir: string) => void } = {},
): Promise<HostView> {
  const dir = mkdtempSync(join(tmpdir(), "fl-disk-"));
  const realNow = Date.now;
  try {
    await writeHostTree(dir, spec);
    opts.patch?.(dir);
    Date.now = () => CAPTURE_MS;
    const { bundle } = await collectBundle({
      root: dir,
      hostId: "i-disk",
      labels: {},
      nsenter: null,
      version: "test",
    });
    return buildHostView({ bundle, snapshotKey: `snapshots/i-disk/test/${CAPTURE_MS}.json.gz` });
  } finally {
    Date.now = realNow;
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Wall ms of a kernel timestamp, through the view's own clock (the trace anchor). */
export function wallOf(view: HostView, kernelSec: number): number {
  const w = view.clock.toWall(kernelSec);
  if (!w) throw new Error("the scenario has no clock anchor");
  return w.ms;
}

/** The old disk attached at X long before, detached at K.detach; the new disk attached at `attachSec` (K.attach). */
export function raceEvents(
  view: HostView,
  over: {
    mode?: "vfio" | "host";
    attachSec?: number;
    detachSec?: number;
    bdf?: string;
    serials?: boolean;
  } = {},
): StoredEvent[] {
  const bdf = over.bdf ?? X;
  const mode = over.mode ?? "vfio";
  const serials = over.serials ?? true;
  return [
    storedEvent({
      id: "ev-old-attach",
      type: "attach",
      diskId: DISK.old,
      bdf,
      mode,
      serial: serials ? serialOf(DISK.old) : null,
      atMs: wallOf(view, K.early - 600),
    }),
    storedEvent({
      id: "ev-old-detach",
      type: "detach",
      diskId: DISK.old,
      bdf,
      atMs: wallOf(view, over.detachSec ?? K.detach),
    }),
    storedEvent({
      id: "ev-new-attach",
      type: "attach",
      diskId: DISK.new,
      bdf,
      mode,
      serial: serials ? serialOf(DISK.new) : null,
      atMs: wallOf(view, over.attachSec ?? K.attach),
    }),
  ];
}

/** RFC 3339 with a fixed UTC offset in minutes (`+08:00`, `-05:30`). */
export function rfc3339(ms: number, offsetMin: number): string {
  const local = new Date(ms + offsetMin * 60_000).toISOString().replace("Z", "");
  const sign = offsetMin < 0 ? "-" : "+";
  const a = Math.abs(offsetMin);
  return `${local}${sign}${String(Math.floor(a / 60)).padStart(2, "0")}:${String(a % 60).padStart(2, "0")}`;
}

/** A wire event (CONTRACT.md §3) through the real schema, stored the way insertEvents stores it. */
export function fromWire(input: Record<string, unknown>): StoredEvent {
  const e = NormalizedEvent.parse(input);
  const { atMs, ...raw } = e;
  return {
    id: e.id,
    instanceId: e.instanceId,
    type: e.type,
    outcome: e.outcome,
    diskId: e.diskId,
    bdf: e.bdf ?? null,
    serial: e.serial ?? null,
    mode: e.mode ?? null,
    atMs,
    receivedAtMs: atMs,
    via: "http",
    raw: JSON.stringify(raw),
  };
}

/** Runs one detector; returns its run and its verdicts by subject. */
export function run(
  d: Detector<HostView>,
  view: HostView,
  events: readonly StoredEvent[],
): DetectorRun & { bySubject: Map<string, Verdict> } {
  const r = d.detect({ view, events });
  return { ...r, bySubject: new Map(r.verdicts.map((v) => [v.subject, v])) };
}

/** Whether a run decided `subject`. */
export function decides(r: DetectorRun, subject: string): boolean {
  return r.decided === "all" || r.decided.has(subject);
}

// ---------------------------------------------------------------------------------------------------
// Host variants

/** kworker's nvme_probe line (reference §5.2 sample) at `ts`. */
function probeLine(ts: number = K.probe): string {
  return `    kworker/17:2-1187    [017] ..... ${ts.toFixed(6)}: nvme_probe <-local_pci_probe`;
}
const usec = (sec: number): number => Math.round(sec * 1e6);
/** The reference incident's kmsg (§2.5): the probe's `pci function` line 71 µs after it, then the failure. */
const PCI_FUNCTION = `6,98230,${usec(K.probe) + 71},-;nvme nvme5: pci function ${X}`;
const NOT_READY = `4,98231,${usec(K.probe) + 13_446},-;nvme nvme5: Device not ready; aborting initialisation, CSTS=0x0`;
const REMOVING = `4,98232,${usec(K.probe) + 13_471},-;nvme nvme5: Removing after probe failure status: -19`;

/** Trace lines on CPUs 17 and 33 well before the detach: the ring buffer still holds the whole race window. */
const EARLY_LINES = [
  `      csi-plugin-2931    [017] ..... ${(K.early + 0.0001).toFixed(6)}: bind_store <-drv_attr_store`,
  `      csi-plugin-2931    [033] ..... ${(K.early + 0.0002).toFixed(6)}: bind_store <-drv_attr_store`,
];

/** Sets the trace lines and derives every CPU's oldest event from them (as per_cpu stats would). */
export function setTrace(spec: HostTreeSpec, lines: string[]): HostTreeSpec {
  if (!spec.trace) return spec;
  const oldest: Record<number, number> = {};
  for (const l of lines) {
    const m = /\[(\d{3})\]\s+\S*\s*(\d+(?:\.\d+)?):/.exec(l);
    if (!m?.[1] || !m[2]) continue;
    const cpu = Number(m[1]);
    const ts = Number(m[2]);
    if (oldest[cpu] === undefined || ts < (oldest[cpu] ?? ts)) oldest[cpu] = ts;
  }
  spec.trace.lines = lines;
  spec.trace.oldestTs = oldest;
  spec.trace.cpus = 48;
  return spec;
}

/** The reference INC-1 host (vfio mode, X unbound, override nvme, nvme5 failed) with a trace covering the window. */
export function coveredRaceHost(): HostTreeSpec {
  const spec = withKmsg(reattachRaceHost(), [PCI_FUNCTION, NOT_READY, REMOVING]);
  return setTrace(spec, [
    ...EARLY_LINES,
    `      csi-plugin-2931    [017] ..... ${(K.probe - 0.000529).toFixed(6)}: bind_store <-drv_attr_store`,
    probeLine(),
    `      csi-plugin-2931    [033] ..... ${K.csiBind.toFixed(6)}: bind_store <-drv_attr_store`,
  ]);
}

/** The reference host with X as the given function spec changes, and the kmsg lines about X replaced. */
export function withX(
  spec: HostTreeSpec,
  change: (f: HostTreeSpec["pci"][number]) => HostTreeSpec["pci"][number] | null,
): HostTreeSpec {
  spec.pci = spec.pci.flatMap((f) => {
    if (f.bdf !== X) return [f];
    const next = change(f);
    return next ? [next] : [];
  });
  return spec;
}

/**
 * The kernel log of the scenarios, owned here so the presets can evolve: gap-free seqs, the boot-time
 * probes of the local NVMe (nvme0) and of the host-mounted disk (nvme2), the vfio disk opened by its VM.
 * Scenario records continue at seq 98230.
 */
export const BASE_KMSG = [
  "6,98225,0,-;Linux version 5.10.134-16.al8.x86_64 (mockbuild@alinux) #1 SMP",
  "6,98226,5118203,-;nvme nvme0: pci function 0000:17:00.0",
  "6,98227,1520112003411,-;nvme nvme2: pci function 0000:3b:00.3",
  "6,98228,1520112010092,-;nvme nvme2: 8/0/0 default/read/poll queues",
  "6,98229,1843190002118,-;vfio-pci 0000:3b:00.4: enabling device (0000 -> 0002)",
];

/** The scenario kernel log: BASE_KMSG then `records` (each `prio,seq,usec,-;text`, seq from 98230). */
export function withKmsg(spec: HostTreeSpec, records: string[]): HostTreeSpec {
  spec.kmsg = [...BASE_KMSG, ...records];
  return spec;
}

/** A healthy re-attach in vfio mode: X bound to vfio-pci with /dev/vfio/63, trace covering, no nvme probe. */
export function healthyVfioReattachHost(): HostTreeSpec {
  const spec = withKmsg(healthyHost(), []);
  return setTrace(spec, [
    ...EARLY_LINES,
    `      csi-plugin-2931    [033] ..... ${K.csiBind.toFixed(6)}: bind_store <-drv_attr_store`,
  ]);
}

/**
 * A healthy re-attach in host mode: nvme probed X right after the attach and it came up as controller
 * nvme5 with namespace nvme3n1 (controller and namespace numbers differ, as after renumbering).
 */
export function healthyHostReattachHost(): HostTreeSpec {
  const spec = withX(healthyHost(), (f) => {
    const { vfioDev: _v, ...rest } = f;
    return {
      ...rest,
      driver: "nvme",
      driverOverride: "nvme",
      nvme: {
        name: "nvme5",
        state: "live",
        serial: serialOf(DISK.new),
        model: "Alibaba Cloud Elastic Block Storage",
        namespaces: [{ name: "nvme3n1", dev: "259:9", sizeSectors: 209_715_200 }],
      },
    };
  });
  spec.vfio = { groups: [62], devices: ["vfio0"] };
  spec.processes = spec.processes.filter((p) => p.pid !== 48377);
  withKmsg(spec, [`6,98230,${Math.round((K.attach + 0.4) * 1e6)},-;nvme nvme5: pci function ${X}`]);
  return setTrace(spec, [
    ...EARLY_LINES,
    `    kworker/17:2-1187    [017] ..... ${(K.attach + 0.399).toFixed(6)}: nvme_probe <-local_pci_probe`,
  ]);
}

/** Rewrites the shipped `trace` file. */
export function patchTrace(
  rewrite: (text: string) => string,
  traceDir = "sys/kernel/tracing",
): (dir: string) => void {
  return (dir) => {
    const path = join(dir, traceDir, "trace");
    writeFileSync(path, rewrite(readFileSync(path, "utf8")));
  };
}

/** The 4.19 / 5.10 header (4 flag columns) and 4-character flags on every line (reference §5.2). */
export const TRACE_4_19 = patchTrace((text) => {
  const lines = text.split("\n");
  const header = [
    "# tracer: function",
    "#",
    lines[2] ?? "# entries-in-buffer/entries-written: 0/0   #P:48",
    "#",
    "#                              _-----=> irqs-off",
    "#                             / _----=> need-resched",
    "#                            | / _---=> hardirq/softirq",
    "#                            || / _--=> preempt-depth",
    "#                            ||| /     delay",
    "#           TASK-PID   CPU#  ||||    TIMESTAMP  FUNCTION",
    "#              | |       |   ||||       |         |",
  ];
  const body = lines
    .filter((l) => l.length > 0 && !l.startsWith("#"))
    .map((l) => l.replace(/\s{4}\[(\d{3})\] \.{5} /, "  [$1] .... "));
  return `${[...header, ...body].join("\n")}\n`;
});

/** Sets the header counters so the trace shows `overwritten` events (the ring buffer wrapped). */
export function wrappedHeader(overwritten: number): (dir: string) => void {
  return patchTrace((text) =>
    text.replace(
      /entries-in-buffer\/entries-written: (\d+)\/(\d+)/,
      (_m, a: string) => `entries-in-buffer/entries-written: ${a}/${Number(a) + overwritten}`,
    ),
  );
}

/** Removes a PCI function's `sys/bus/pci/devices/<bdf>` link (surprise removal; its sysfs directory stays). */
export function unlistPci(bdf: string): (dir: string) => void {
  return (dir) => unlinkSync(join(dir, "sys/bus/pci/devices", bdf));
}

// ---------------------------------------------------------------------------------------------------
// INC-1 scenario catalog: each is a host, an optional tree patch, and the events to judge it with.

export interface Scenario {
  readonly spec: () => HostTreeSpec;
  readonly patch?: (dir: string) => void;
  /** Defaults to raceEvents(view) (vfio mode). */
  readonly events?: (view: HostView) => StoredEvent[];
}

/** PCI domain beyond 0000 (Intel VMD): a second incident function. */
export const VMD_BDF = "10000:01:00.0";

/** The covered race host with X's kmsg and the trace lines after the early ones replaced. */
function raceVariant(kmsg: string[], lines: string[]): HostTreeSpec {
  const spec = withKmsg(coveredRaceHost(), kmsg);
  return setTrace(spec, [...EARLY_LINES, ...lines]);
}

/** X bound to nvme with controller nvme5 in `state`, namespaces as given. */
function xOnNvme(
  spec: HostTreeSpec,
  state: "live" | "resetting" | "dead",
  namespaces: { name: string; dev: string; sizeSectors: number }[],
  serial = serialOf(DISK.new),
): HostTreeSpec {
  withX(spec, (f) => {
    const { vfioDev: _v, ...rest } = f;
    return {
      ...rest,
      driver: "nvme",
      nvme: { name: "nvme5", state, serial, model: "Alibaba Cloud Elastic Block Storage", namespaces },
    };
  });
  spec.vfio = { groups: [62], devices: ["vfio0"] };
  spec.processes = spec.processes.filter((p) => p.pid !== 48377);
  return spec;
}

export const INC1 = {
  /** Reference §0 preset verbatim: CPU 33's oldest event (after the probe) sets the coverage start. */
  referencePreset: { spec: reattachRaceHost },
  /** The reference incident with a trace that covers the whole window. */
  covered: { spec: coveredRaceHost },
  /** Same host, host mode: no block device instead of no vfio group. */
  coveredHostMode: { spec: coveredRaceHost, events: (v) => raceEvents(v, { mode: "host" }) },
  /** No kmsg about X: kprobe `dev=` names the function, the kretprobe returns -19. */
  kprobe: {
    spec: () =>
      raceVariant(
        [],
        [
          probeLine(),
          `    kworker/17:2-1187    [017] ..... ${(K.probe + 0.000002).toFixed(6)}: probe_nvme: (nvme_probe+0x0/0x3a0 [nvme]) dev="${X}"`,
          `    kworker/17:2-1187    [017] ..... ${(K.probe + 0.013519).toFixed(6)}: nvme_probe_ret: (local_pci_probe+0x42/0x80 <- nvme_probe [nvme]) ret=-19`,
        ],
      ),
  },
  /** A silent -ENODEV probe: no kmsg line at all; X is the only candidate and has no live controller. */
  inferred: { spec: () => raceVariant([], [probeLine()]) },
  /** R1 + R2: after the failed probe the CSI plugin's vfio bind returns ENODEV (override=nvme refuses vfio-pci). */
  bindRace: {
    spec: () =>
      raceVariant(
        [PCI_FUNCTION, NOT_READY, REMOVING],
        [
          `      csi-plugin-2931    [033] ..... ${(K.detach + 0.5).toFixed(6)}: unbind_store <-drv_attr_store`,
          probeLine(),
          `      csi-plugin-2931    [033] ..... ${K.csiBind.toFixed(6)}: bind: (bind_store+0x0/0x150) drv="vfio-pci" dev="${X}"`,
          `      csi-plugin-2931    [033] ..... ${(K.csiBind + 0.000047).toFixed(6)}: bind_ret: (drv_attr_store+0x2b/0x40 <- bind_store) ret=-19`,
        ],
      ),
  },
  /** Alibaba Cloud Linux 4.19: 4 flag columns in the trace, the pr_warn failure form. */
  kernel419: {
    spec: () => {
      const spec = raceVariant(
        [PCI_FUNCTION, `4,98231,${usec(K.probe) + 13_500},-;nvme: probe of ${X} failed with error -19`],
        [probeLine()],
      );
      spec.osrelease = "4.19.91-27.al7.x86_64";
      return spec;
    },
    patch: TRACE_4_19,
  },
  /** RHEL7 (3.10, may_detach_mounts=0): no `pci function` line, only the pr_warn failure; attributed by inference. */
  rhel7: {
    spec: () => {
      const spec = raceVariant(
        [`4,98230,${usec(K.probe) + 9_000},-;nvme: probe of ${X} failed with error -12`],
        [probeLine()],
      );
      spec.osrelease = "3.10.0-1160.119.1.el7.x86_64";
      spec.mayDetachMounts = 0;
      return spec;
    },
  },
  /** Upstream 6.x: synchronous bring-up, the dev_err failure form. */
  upstream6: {
    spec: () => {
      const spec = raceVariant(
        [
          PCI_FUNCTION,
          `3,98231,${usec(K.probe) + 12_000},-;nvme ${X}: probe with driver nvme failed with error -19`,
        ],
        [probeLine()],
      );
      spec.osrelease = "6.6.71-1.el9.x86_64";
      return spec;
    },
  },
  /** The race on a VMD function (domain 10000), host mode, controller nvme7. */
  vmd: {
    spec: () => {
      const spec = raceVariant([], [probeLine()]);
      spec.pci.push({
        bdf: VMD_BDF,
        parent: "pci10000:00/10000:00:02.0",
        vendor: "0x1ded",
        device: "0x5004",
        class: "0x010802",
        iommuGroup: 80,
      });
      spec.kmsg.push(
        `6,98230,${usec(K.probe) + 64},-;nvme nvme7: pci function ${VMD_BDF}`,
        `4,98231,${usec(K.probe) + 13_471},-;nvme nvme7: Removing after probe failure status: -19`,
      );
      return spec;
    },
    events: (v) => raceEvents(v, { mode: "host", bdf: VMD_BDF }),
  },
  /** Decoy: the probe happened 2 s before the detach freed X. */
  probeBeforeDetach: { spec: coveredRaceHost, events: (v) => raceEvents(v, { detachSec: K.probe + 2 }) },
  /** Decoy: the probe was on 0000:3b:00.6 (kmsg names it), X was never probed. */
  probeOnOtherBdf: {
    spec: () =>
      raceVariant(
        [
          `6,98230,${usec(K.probe) + 71},-;nvme nvme5: pci function 0000:3b:00.6`,
          `4,98231,${usec(K.probe) + 13_471},-;nvme nvme5: Removing after probe failure status: -19`,
        ],
        [probeLine()],
      ),
  },
  /** Decoy: a healthy re-attach in vfio mode (vfio-pci bound, /dev/vfio/63 present, no nvme probe). */
  healthyVfio: { spec: healthyVfioReattachHost },
  /** Decoy: a healthy re-attach in host mode (nvme probed X after the attach: nvme5 holds nvme3n1). */
  healthyHost: { spec: healthyHostReattachHost, events: (v) => raceEvents(v, { mode: "host" }) },
  /** Decoy: the disk was attached 30 s ago, still in its grace period. */
  inGrace: { spec: coveredRaceHost, events: (v) => raceEvents(v, { attachSec: K.now - 30 }) },
  /** Decoy: the ring buffer wrapped; coverage starts after the detach and no probe is visible. */
  wrapped: {
    spec: () => {
      const spec = withKmsg(reattachRaceHost(), []);
      return setTrace(
        spec,
        (spec.trace?.lines ?? []).filter((l) => !l.includes("nvme_probe")),
      );
    },
    patch: wrappedHeader(48_211),
  },
  /** Decoy: no tracefs at all. */
  noTrace: {
    spec: () => {
      const spec = withKmsg(reattachRaceHost(), []);
      delete spec.trace;
      return spec;
    },
  },
  /** Decoy: the new attach failed (the disk never became attached). */
  failedAttach: {
    spec: coveredRaceHost,
    events: (v) =>
      raceEvents(v).map((e) => (e.id === "ev-new-attach" ? { ...e, outcome: "failed" as const } : e)),
  },
  /** 1a: vfio mode, nvme grabbed X after the attach and came up live with the disk's namespace. */
  nvmeGrabbedVfio: {
    spec: () => {
      const spec = xOnNvme(coveredRaceHost(), "live", [
        { name: "nvme3n1", dev: "259:9", sizeSectors: 209_715_200 },
      ]);
      withKmsg(spec, [`6,98230,${usec(K.attach + 0.4)},-;nvme nvme5: pci function ${X}`]);
      return setTrace(spec, [...EARLY_LINES, probeLine(K.attach + 0.399)]);
    },
  },
  /** 1b: host mode but vfio-pci holds X (override vfio-pci residue), /dev/vfio/63 present. */
  vfioInHostMode: { spec: healthyVfioReattachHost, events: (v) => raceEvents(v, { mode: "host" }) },
  /** 1c: host mode, nvme5 live with zero namespaces, no probe in the window. */
  zeroNamespaces: {
    spec: () => setTrace(withKmsg(xOnNvme(coveredRaceHost(), "live", []), []), [...EARLY_LINES]),
    events: (v) => raceEvents(v, { mode: "host" }),
  },
  /** 1d: host mode, nvme5 stuck resetting. */
  resetting: {
    spec: () => setTrace(withKmsg(xOnNvme(coveredRaceHost(), "resetting", []), []), [...EARLY_LINES]),
    events: (v) => raceEvents(v, { mode: "host" }),
  },
  /** 1e: unbound, no probe anywhere near (the trace covers the window). */
  unboundNoProbe: { spec: () => raceVariant([], []) },
  /** 1f: pci-pf-stub holds X. */
  stub: {
    spec: () =>
      withX(raceVariant([], []), (f) => {
        const { vfioDev: _v, ...rest } = f;
        return { ...rest, driver: "pci-pf-stub", driverOverride: "pci-pf-stub" };
      }),
  },
  /** 1g: X is not on the PCI bus at all. */
  notOnBus: { spec: () => withX(raceVariant([], []), () => null) },
} satisfies Record<string, Scenario>;

export type Inc1Name = keyof typeof INC1;

const built = new Map<string, Promise<HostView>>();

/** The view and events of a catalog scenario (each tree is collected once per test file). */
export async function inc1(name: Inc1Name): Promise<{ view: HostView; events: StoredEvent[] }> {
  const s: Scenario = INC1[name];
  let p = built.get(name);
  if (!p) {
    p = diskView(s.spec(), s.patch ? { patch: s.patch } : {});
    built.set(name, p);
  }
  const view = await p;
  return { view, events: s.events ? s.events(view) : raceEvents(view) };
}
