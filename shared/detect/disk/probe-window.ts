/**
 * Reference §11.1 R1, "stale nvme probe on the freed BDF": for one attached disk, the window between the
 * detach that freed its BDF and the attach (plus the wall-conversion error and 1 s), the nvme_probe
 * entries the trace holds in it, which of them the kernel attributes to the BDF (kmsg `pci function`
 * within 5 ms, a kprobe argument, or the BDF being the only candidate), whether each failed, what
 * triggered it, and whether the trace can speak for the absence of a probe there (§11.1 step 6, RC-10).
 *
 * Three detectors read this: reattach-bdf-race (an attributed failed probe), attached-disk-missing (no
 * such probe, or the trace cannot tell) and trace-blind-spot (the trace cannot tell).
 */
import type { StoredEvent } from "../../db/events.js";
import { type TraceBlindReason, type TraceEvent, traceCovers } from "../../parse/ftrace.js";
import type { KernelLogFact } from "../../parse/kmsg.js";
import { normalizeBdf } from "../../parse/sysfs.js";
import type { HostView } from "../../view/host-view.js";
import {
  type ControlPlaneAtCapture,
  controlPlaneAtCapture,
  type DiskOnHost,
  type EndState,
  endStateOf,
  expectedDriver,
  FAILURE_KINDS,
} from "./attached.js";

/** §11.1 step 3: a `pci function` line within 5 ms of the trace entry names the probed function. */
export const ATTRIBUTION_USEC = 5_000;
/** §11.1 step 4: failure lines within 60 s of the probe. */
export const FAILURE_USEC = 60_000_000;
/** §11.1 step 5: a bind_store by the same task within 100 ms before the probe means a sysfs bind. */
export const BIND_LOOKBACK_SEC = 0.1;
/** §11.1 step 2: ε = the wall-conversion error plus 1 s. */
export const WINDOW_SLACK_MS = 1_000;

/** Why the trace cannot speak for the absence of a probe: traceCovers' reasons plus what precedes them. */
export type BlindReason = TraceBlindReason | "no_trace" | "no_clock";

/** The race window of one attach, on the kernel clock. */
export interface ProbeWindow {
  readonly detach: StoredEvent;
  readonly attach: StoredEvent;
  /** Kernel seconds of the detach, of the attach, and the end of the window (attach + ε). */
  readonly detachSec: number;
  readonly attachSec: number;
  readonly endSec: number;
  /** Wall-conversion error at the window's ends (the larger of the two). */
  readonly errorMs: number;
}

export type Attribution =
  | { readonly kind: "kmsg"; readonly fact: KernelLogFact; readonly ctrl: string; readonly deltaUsec: number }
  | { readonly kind: "kprobe"; readonly event: TraceEvent; readonly arg: string }
  | { readonly kind: "inference"; readonly excluded: readonly string[] };

/** What the kernel says the probe was about. */
export type ProbeTarget =
  | { readonly on: "x"; readonly by: Attribution }
  | { readonly on: "other"; readonly bdf: string; readonly by: Attribution }
  | { readonly on: "unknown"; readonly why: string };

export type Failure =
  | { readonly kind: "kmsg"; readonly facts: readonly KernelLogFact[] }
  | { readonly kind: "kretprobe"; readonly event: TraceEvent }
  | { readonly kind: "no-live-controller"; readonly detail: string };

export const TRIGGER_KINDS = [
  "sysfs-bind", // a bind_store by the same task just before: someone wrote .../drivers/nvme/bind
  "drivers-probe", // a drivers_probe_store by the same task: someone wrote /sys/bus/pci/drivers_probe
  "kworker", // autoprobe, async probe, or the work_on_cpu hop of a bind from another task
  "hotplug", // irq/NN-pciehp
  "udev", // systemd-udevd
  "modprobe", // a module load probing every unbound match
  "other",
] as const;
export type TriggerKind = (typeof TRIGGER_KINDS)[number];

export interface Trigger {
  readonly kind: TriggerKind;
  readonly comm: string;
  readonly pid: number;
  /** bind_store / drivers_probe_store by the probing task within 100 ms before the probe. */
  readonly sameTask: TraceEvent | null;
  /** The nearest bind_store by another task within 100 ms before (a work_on_cpu hop looks like this). */
  readonly otherTask: TraceEvent | null;
}

export interface ProbeFinding {
  readonly event: TraceEvent;
  readonly target: ProbeTarget;
  /** null: the probe did not demonstrably fail (a live controller sits at the BDF, no failure line). */
  readonly failure: Failure | null;
  /** nvme_probe's return from a kretprobe, when traced (0 does not prove success before ≈6.2: bring-up is async). */
  readonly returned: TraceEvent | null;
  readonly trigger: Trigger;
  /** The controller the kernel named for this probe (`nvme5`), if any. */
  readonly ctrl: string | null;
  /** The probe lies within the conversion error of the detach: its order against the detach is uncertain. */
  readonly nearDetach: boolean;
}

/** R2 (§11.1): the agent's vfio bind failed with EBUSY/ENODEV after another task's nvme probe took the BDF. */
export interface BindRace {
  readonly bind: TraceEvent;
  readonly ret: TraceEvent;
  readonly unbind: TraceEvent | null;
  readonly probe: TraceEvent;
}

export interface AttachAnalysis {
  readonly disk: DiskOnHost;
  readonly end: EndState;
  /** null when no detach freed the BDF within the event window, or the attach is still in its grace. */
  readonly window: ProbeWindow | null;
  /** Why there is no window (no detach in the events, no clock anchor). */
  readonly windowGap: string | null;
  /** Whether the trace covers the window for nvme_probe; null without a window. */
  readonly coverage: {
    readonly verdict: "covered" | "blind";
    readonly reasons: readonly BlindReason[];
  } | null;
  /** Every nvme_probe entry in the window, with what the kernel says about it. */
  readonly probes: readonly ProbeFinding[];
  /** Probes attributed to the BDF that failed: R1 holds when the disk is missing and this is not empty. */
  readonly race: readonly ProbeFinding[];
  readonly bindRace: BindRace | null;
  /** R3: driver_override names a driver other than the mode's. */
  readonly overrideResidue: string | null;
  /** Limits of the kernel-log and trace evidence that bear on this attach. */
  readonly blindSpots: readonly string[];
}

export interface DiskAnalysis {
  readonly controlPlane: ControlPlaneAtCapture;
  readonly attaches: readonly AttachAnalysis[];
}

const cache = new WeakMap<HostView, WeakMap<readonly StoredEvent[], DiskAnalysis>>();

/** Analyses every attached disk once per (view, events) pair; the three INC-1 detectors share the result. */
export function analyzeAttaches(view: HostView, events: readonly StoredEvent[]): DiskAnalysis {
  let byEvents = cache.get(view);
  if (!byEvents) {
    byEvents = new WeakMap();
    cache.set(view, byEvents);
  }
  const hit = byEvents.get(events);
  if (hit) return hit;
  const controlPlane = controlPlaneAtCapture(view, events);
  const attaches = controlPlane.disks.map((disk) => analyzeAttach(view, disk));
  const out = { controlPlane, attaches };
  byEvents.set(events, out);
  return out;
}

function analyzeAttach(view: HostView, disk: DiskOnHost): AttachAnalysis {
  const end = endStateOf(view, disk);
  const residue = overrideResidue(view, disk);
  const base = { disk, end, overrideResidue: residue, bindRace: null, probes: [], race: [] };
  const detach = disk.attachment.previousDetachOnBdf;
  if (!detach) {
    return {
      ...base,
      window: null,
      windowGap: `no detach freed ${disk.bdf} before this attach within the event window`,
      coverage: null,
      blindSpots: [],
    };
  }
  const clock = view.clock;
  const detachSec = clock.toKernel(detach.atMs);
  const attachSec = clock.toKernel(disk.attachment.attach.atMs);
  if (detachSec === null || attachSec === null) {
    return {
      ...base,
      window: null,
      windowGap: "the snapshot has no clock anchor: control-plane times cannot be placed on the kernel clock",
      coverage: { verdict: "blind", reasons: ["no_clock"] },
      blindSpots: ["no clock anchor: the race window cannot be placed in the trace"],
    };
  }
  const errorMs = Math.max(clock.toWall(detachSec)?.errorMs ?? 0, clock.toWall(attachSec)?.errorMs ?? 0);
  const window: ProbeWindow = {
    detach,
    attach: disk.attachment.attach,
    detachSec,
    attachSec,
    endSec: attachSec + (errorMs + WINDOW_SLACK_MS) / 1000,
    errorMs,
  };
  const trace = view.trace;
  const blindSpots: string[] = [];
  let coverage: AttachAnalysis["coverage"];
  if (!trace?.trace) {
    // No tracefs, or its `trace` file was unreadable: the shipper still records the attempt.
    coverage = { verdict: "blind", reasons: ["no_trace"] };
  } else {
    // The window start moves back by the conversion error: coverage must reach the earliest the detach can be.
    const c = traceCovers({
      coverage: trace.coverage,
      from: detachSec - errorMs / 1000,
      to: window.endSec,
      functions: ["nvme_probe"],
    });
    coverage = { verdict: c.verdict, reasons: c.reasons };
  }
  const probes = probeEntries(trace?.trace?.events ?? [])
    .filter((e) => e.tsUnit === "seconds" && e.ts > detachSec && e.ts <= window.endSec)
    .map((e) => findingOf(view, disk, window, e));
  const race = probes.filter((p) => p.target.on === "x" && p.failure !== null);
  blindSpots.push(...kernelLogLimits(view, window));
  if (trace?.trace && trace.coverage.clock !== "local") {
    blindSpots.push(
      `the trace clock is ${trace.coverage.clock ?? "unknown"}, not local: kmsg lines cannot be matched to trace entries within 5 ms`,
    );
  }
  return {
    ...base,
    window,
    windowGap: null,
    coverage,
    probes,
    race,
    bindRace: bindRaceOf(view, disk, race),
    blindSpots,
  };
}

/**
 * nvme_probe entries: function-tracer lines, plus kprobe hits that no function line of the same task
 * within 1 ms already stands for (with both enabled, one probe prints both).
 */
function probeEntries(events: readonly TraceEvent[]): TraceEvent[] {
  const fns = events.filter((e) => e.func === "nvme_probe" && e.kind === "function");
  const kps = events.filter(
    (k) =>
      k.func === "nvme_probe" &&
      k.kind === "kprobe" &&
      !fns.some((f) => f.pid === k.pid && f.tsUnit === k.tsUnit && Math.abs(f.ts - k.ts) <= 0.001),
  );
  return [...fns, ...kps].sort((a, b) => a.ts - b.ts);
}

function usecOf(sec: number): number {
  return Math.round(sec * 1e6);
}

/** kmsg and ftrace `local` share a base; `global`, `mono`, `boot` agree with it to well under a second. */
function kmsgComparable(view: HostView, precise: boolean): boolean {
  const clock = view.trace?.coverage.clock ?? null;
  if (precise) return clock === "local";
  return clock !== null && ["local", "global", "mono", "mono_raw", "boot"].includes(clock);
}

function findingOf(view: HostView, disk: DiskOnHost, window: ProbeWindow, e: TraceEvent): ProbeFinding {
  const target = targetOf(view, disk.bdf, e);
  const ctrl = target.on !== "unknown" && target.by.kind === "kmsg" ? target.by.ctrl : null;
  const returned = returnOf(view, e);
  return {
    event: e,
    target,
    failure: target.on === "x" ? failureOf(view, disk.bdf, e, ctrl, returned) : null,
    returned,
    trigger: triggerOf(view, e),
    ctrl,
    nearDetach: e.ts - window.detachSec <= window.errorMs / 1000,
  };
}

/** §11.1 step 3: which function the probe was for. */
function targetOf(view: HostView, bdf: string, e: TraceEvent): ProbeTarget {
  if (kmsgComparable(view, true)) {
    const at = usecOf(e.ts);
    const near = view.kernelFacts.filter(
      (f) =>
        f.fact.kind === "nvme_pci_function" &&
        f.record.tsUsec !== null &&
        Math.abs(f.record.tsUsec - at) <= ATTRIBUTION_USEC,
    );
    const named = new Set(near.map((f) => (f.fact.kind === "nvme_pci_function" ? f.fact.bdf : "")));
    const nearest = [...near].sort(
      (a, b) => Math.abs((a.record.tsUsec ?? 0) - at) - Math.abs((b.record.tsUsec ?? 0) - at),
    )[0];
    if (nearest && nearest.fact.kind === "nvme_pci_function" && named.size === 1) {
      const by: Attribution = {
        kind: "kmsg",
        fact: nearest,
        ctrl: nearest.fact.ctrl,
        deltaUsec: (nearest.record.tsUsec ?? at) - at,
      };
      return nearest.fact.bdf === bdf ? { on: "x", by } : { on: "other", bdf: nearest.fact.bdf, by };
    }
    // Two functions probed within 5 ms of each other: the lines cannot be paired by time alone.
  }
  const kp = kprobeTarget(view, e);
  if (kp) return kp.bdf === bdf ? { on: "x", by: kp.by } : { on: "other", bdf: kp.bdf, by: kp.by };
  const sole = soleCandidate(view, bdf, e);
  if (sole.ok) return { on: "x", by: { kind: "inference", excluded: sole.excluded } };
  return { on: "unknown", why: sole.why };
}

/** A kprobe on nvme_probe carrying the device name, or a bind kprobe (`dev=`) by the same task just before. */
function kprobeTarget(view: HostView, e: TraceEvent): { bdf: string; by: Attribution } | null {
  const events = view.trace?.trace?.events ?? [];
  const candidates = [e];
  for (const k of events) {
    if (k === e || k.kind !== "kprobe" || k.pid !== e.pid || k.tsUnit !== "seconds") continue;
    if (k.func === "nvme_probe" && Math.abs(k.ts - e.ts) <= 0.001) candidates.push(k);
    // A bind kprobe names the device only when it bound nvme (drv= is the driver's name).
    const drv = k.args.drv;
    const nvmeBind = drv === undefined || drv.trim() === "nvme";
    if (k.func === "bind_store" && nvmeBind && k.ts <= e.ts && e.ts - k.ts <= BIND_LOOKBACK_SEC)
      candidates.push(k);
  }
  for (const k of candidates) {
    if (k.kind !== "kprobe") continue;
    for (const [name, value] of Object.entries(k.args)) {
      const bdf = normalizeBdf(value);
      if (bdf) return { bdf, by: { kind: "kprobe", event: k, arg: `${name}=${value.trim()}` } };
    }
  }
  return null;
}

/**
 * §11.1 step 3, inference: X was the only NVMe-class function nvme could have probed. Another function is
 * ruled out when its driver_override names another driver (assumed unchanged since the probe), or it is
 * bound to nvme by a probe the kernel logged before this one and never re-probed. Anything else
 * (unbound, bound to vfio-pci without an override, unreadable) leaves it a candidate.
 */
function soleCandidate(
  view: HostView,
  bdf: string,
  e: TraceEvent,
): { ok: true; excluded: string[] } | { ok: false; why: string } {
  if (!kmsgComparable(view, false)) {
    return {
      ok: false,
      why: "the trace clock cannot be compared with the kernel log, so other functions cannot be ruled out",
    };
  }
  const at = usecOf(e.ts);
  const excluded: string[] = [];
  for (const j of view.pci.values()) {
    if (j.bdf === bdf) continue;
    const nvmeClass = j.fn?.isNvmeClass ?? null;
    if (nvmeClass === false) continue;
    if (nvmeClass === null)
      return { ok: false, why: `the PCI class of ${j.bdf} is unknown, so it may have been the one probed` };
    if (typeof j.driverOverride === "string" && j.driverOverride !== "nvme") {
      excluded.push(`${j.bdf} (driver_override=${j.driverOverride})`);
      continue;
    }
    if (j.driver === "nvme") {
      const probes = j.kernelFacts.filter(
        (f) => f.fact.kind === "nvme_pci_function" && f.record.tsUsec !== null,
      );
      const last = probes[probes.length - 1];
      if (
        last?.record.tsUsec !== undefined &&
        last.record.tsUsec !== null &&
        last.record.tsUsec < at - ATTRIBUTION_USEC
      ) {
        excluded.push(
          `${j.bdf} (bound to nvme since kernel time ${(last.record.tsUsec / 1e6).toFixed(6)} s)`,
        );
        continue;
      }
    }
    return {
      ok: false,
      why: `${j.bdf} (${j.driver === undefined ? "driver unknown" : (j.driver ?? "unbound")}) may have been the function probed`,
    };
  }
  return { ok: true, excluded };
}

/** The kretprobe (or kprobe-event return) of nvme_probe by the same task after the entry. */
function returnOf(view: HostView, e: TraceEvent): TraceEvent | null {
  for (const r of view.trace?.trace?.events ?? []) {
    if (r.kind !== "kretprobe" || r.func !== "nvme_probe" || r.pid !== e.pid || r.tsUnit !== "seconds")
      continue;
    if (r.ts >= e.ts && r.ts - e.ts <= FAILURE_USEC / 1e6 && r.ret !== null) return r;
  }
  return null;
}

/** §11.1 step 4: kmsg failure lines for X or its controller within 60 s, a negative return, or no live controller now. */
function failureOf(
  view: HostView,
  bdf: string,
  e: TraceEvent,
  ctrl: string | null,
  returned: TraceEvent | null,
): Failure | null {
  const j = view.pci.get(bdf);
  if (kmsgComparable(view, false)) {
    const at = usecOf(e.ts);
    const ctrls = new Set<string>();
    if (ctrl) ctrls.add(ctrl);
    for (const c of j?.controllers ?? []) ctrls.add(c.name);
    for (const f of view.kernelFacts) {
      const ts = f.record.tsUsec;
      if (
        f.fact.kind === "nvme_pci_function" &&
        f.fact.bdf === bdf &&
        ts !== null &&
        ts >= at - ATTRIBUTION_USEC &&
        ts <= at + FAILURE_USEC
      ) {
        ctrls.add(f.fact.ctrl);
      }
    }
    const facts = view.kernelFacts.filter((f) => {
      const ts = f.record.tsUsec;
      if (!FAILURE_KINDS.has(f.fact.kind) || ts === null || ts < at || ts > at + FAILURE_USEC) return false;
      const d = f.fact.device;
      return (
        d.bdf === bdf ||
        (f.fact.kind === "probe_failed" && f.fact.bdf === bdf) ||
        (d.ctrl !== null && ctrls.has(d.ctrl))
      );
    });
    if (facts.length > 0) return { kind: "kmsg", facts };
  }
  if (returned?.ret !== null && returned?.ret !== undefined && returned.ret < 0)
    return { kind: "kretprobe", event: returned };
  // -ENODEV and -ENXIO failures are only dev_dbg (§2.5): no live controller at X is the failure then.
  if (!j?.fn) return { kind: "no-live-controller", detail: `${bdf} is no longer on the PCI bus` };
  const states = j.controllers.map((c) => (c.state.known ? c.state.value : null));
  if (states.includes("live")) return null;
  if (states.includes(null)) return null;
  const nvmeDir = j.fn.nvmeControllers;
  if (j.controllers.length === 0 && !nvmeDir.known && view.sysfs.coverage.nvmeControllers.complete === false)
    return null;
  return {
    kind: "no-live-controller",
    detail:
      j.controllers.length === 0
        ? `no nvme controller sits at ${bdf} now`
        : `the controller at ${bdf} is ${j.controllers.map((c) => `${c.name}=${c.state.known ? c.state.value : "?"}`).join(", ")}`,
  };
}

const BIND_FUNCS = new Set(["bind_store"]);
const PROBE_STORE_FUNCS = new Set(["drivers_probe_store"]);

/** §11.1 step 5: who ran the probe and what (if anything) the same task wrote just before. */
function triggerOf(view: HostView, e: TraceEvent): Trigger {
  let sameTask: TraceEvent | null = null;
  let otherTask: TraceEvent | null = null;
  let sameKind: TriggerKind | null = null;
  for (const b of view.trace?.trace?.events ?? []) {
    if (b === e || b.tsUnit !== "seconds" || b.ts > e.ts || e.ts - b.ts > BIND_LOOKBACK_SEC) continue;
    if (b.kind !== "function" && b.kind !== "kprobe") continue;
    // The driver-core bind_store is the one called from drv_attr_store (other statics share the name).
    const driverCore = b.kind === "kprobe" || b.parent === null || b.parent === "drv_attr_store";
    const isBind = BIND_FUNCS.has(b.func) && driverCore;
    const isProbeStore = PROBE_STORE_FUNCS.has(b.func);
    if (!isBind && !isProbeStore) continue;
    if (b.pid === e.pid) {
      sameTask = b;
      sameKind = isBind ? "sysfs-bind" : "drivers-probe";
    } else if (isBind) {
      otherTask = b;
    }
  }
  const comm = e.comm;
  const kind: TriggerKind =
    sameKind ??
    (comm.startsWith("kworker/")
      ? "kworker"
      : /^irq\/\d+-pciehp/.test(comm)
        ? "hotplug"
        : comm === "systemd-udevd"
          ? "udev"
          : comm === "modprobe"
            ? "modprobe"
            : "other");
  return { kind, comm, pid: e.pid, sameTask, otherTask };
}

/** R2: a kprobe'd vfio bind of X by another task after the probe, returning EBUSY (-16) or ENODEV (-19). */
function bindRaceOf(view: HostView, disk: DiskOnHost, race: readonly ProbeFinding[]): BindRace | null {
  const events = view.trace?.trace?.events ?? [];
  for (const p of race) {
    for (const b of events) {
      if (b.kind !== "kprobe" || b.func !== "bind_store" || b.pid === p.event.pid || b.ts < p.event.ts)
        continue;
      const dev = Object.values(b.args)
        .map(normalizeBdf)
        .find((v) => v !== null);
      const drv = Object.values(b.args).find((v) => v.includes("vfio"));
      if (dev !== disk.bdf || drv === undefined) continue;
      const ret = events.find(
        (r) =>
          r.kind === "kretprobe" &&
          r.func === "bind_store" &&
          r.pid === b.pid &&
          r.ts >= b.ts &&
          r.ts - b.ts <= 5,
      );
      if (!ret || (ret.ret !== -16 && ret.ret !== -19)) continue;
      const unbinds = events.filter((u) => u.func === "unbind_store" && u.pid === b.pid && u.ts <= b.ts);
      const unbind = unbinds[unbinds.length - 1] ?? null;
      // The probe must fall between the agent's unbind (when traced) and its bind.
      if (unbind && unbind.ts > p.event.ts) continue;
      return { bind: b, ret, unbind, probe: p.event };
    }
  }
  return null;
}

/** R3: driver_override names the wrong driver for the mode; it decides who probes the function next. */
function overrideResidue(view: HostView, disk: DiskOnHost): string | null {
  if (!disk.mode) return null;
  const o = view.pci.get(disk.bdf)?.driverOverride;
  return typeof o === "string" && o !== expectedDriver(disk.mode) ? o : null;
}

/** Whether the kernel log reaches back to the window, and whether it lost records. */
function kernelLogLimits(view: HostView, window: ProbeWindow): string[] {
  const log = view.kernelLog;
  if (!log)
    return ["no kernel log was shipped: probes can be attributed only by kprobe arguments or inference"];
  const out: string[] = [];
  const first = log.records.find((r) => r.tsUsec !== null);
  if (!first || first.tsUsec === null || first.tsUsec > usecOf(window.detachSec)) {
    out.push(
      "the kernel log does not reach back to the detach: attribution and failure lines may have rotated out",
    );
  }
  // A seq gap matters only when the records around it straddle the window (+60 s for failure lines).
  const from = usecOf(window.detachSec);
  const to = usecOf(window.endSec) + FAILURE_USEC;
  const byLine = new Map(log.records.map((r, i) => [r.line, i]));
  const inWindow = log.lost.filter((g) => {
    const i = byLine.get(g.line);
    const after = i === undefined ? null : (log.records[i]?.tsUsec ?? null);
    const before = i === undefined || i === 0 ? null : (log.records[i - 1]?.tsUsec ?? null);
    return (after === null || after >= from) && (before === null || before <= to);
  });
  if (inWindow.length > 0) {
    out.push(
      `the kernel log lost ${inWindow.reduce((s, g) => s + g.count, 0)} record(s) in the race window (seq gaps)`,
    );
  }
  return out;
}
