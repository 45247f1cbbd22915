/**
 * Evidence items and wording shared by the disk detectors: control-plane events, sysfs values, kernel
 * log records and trace lines, each cited with the snapshot, the evidence path, the line and the raw
 * text, and kernel timestamps converted to wall time with their error bound.
 */
import type { StoredEvent } from "../../db/events.js";
import type { TraceEvent } from "../../parse/ftrace.js";
import type { KernelLogRecord } from "../../parse/kmsg.js";
import type { SysfsFact } from "../../parse/sysfs.js";
import type { HostView } from "../../view/host-view.js";
import type { EvidenceItem } from "../types.js";

/** ISO 8601 UTC for epoch ms. */
export function iso(ms: number): string {
  return new Date(ms).toISOString();
}

/** A control-plane event as evidence. */
export function eventItem(e: StoredEvent, note: string): EvidenceItem {
  return {
    kind: "event",
    eventId: e.id,
    type: e.type,
    outcome: e.outcome,
    diskId: e.diskId,
    bdf: e.bdf,
    mode: e.mode,
    at: iso(e.atMs),
    note,
  };
}

/** A snapshot fact; `kernelSec` (seconds since boot) adds the wall time and its error when the clock allows. */
export function factItem(
  view: HostView,
  f: { path: string; raw: string; note: string; line?: number; kernelSec?: number | null },
): EvidenceItem {
  const wall = f.kernelSec === undefined || f.kernelSec === null ? null : view.clock.toWall(f.kernelSec);
  return {
    kind: "fact",
    snapshotKey: view.snapshotKey,
    path: f.path,
    ...(f.line === undefined ? {} : { line: f.line }),
    raw: f.raw,
    note: f.note,
    ...(wall ? { at: iso(wall.ms), atErrorMs: wall.errorMs } : {}),
  };
}

/** How a sysfs fact reads in evidence: the value, `(absent)` for a missing link, or why it is unknown. */
export function sysfsRaw<T>(fact: SysfsFact<T>, show: (v: T) => string): string {
  if (fact.known) return show(fact.value);
  const why = fact.why;
  switch (why.reason) {
    case "error":
      return `(read failed: ${why.code})`;
    case "timeout":
      return `(read timed out after ${why.afterMs} ms)`;
    case "wrong_kind":
      return `(recorded as a ${why.kind})`;
    case "capped":
      return "(cut by the size cap)";
    case "invalid":
      return `(unreadable value ${JSON.stringify(why.raw)})`;
    case "absent":
      return "(not collected)";
  }
}

/** A sysfs fact as evidence. */
export function sysfsItem<T>(
  view: HostView,
  fact: SysfsFact<T>,
  show: (v: T) => string,
  note: string,
): EvidenceItem {
  return factItem(view, { path: fact.source, raw: sysfsRaw(fact, show), note });
}

/** The kmsg record as /dev/kmsg printed it (`prio,seq,usec,flags;text`), or the dmesg form without a seq. */
export function kmsgRaw(r: KernelLogRecord): string {
  const ts = r.tsUsec === null ? null : r.tsUsec;
  if (r.seq !== null && ts !== null) {
    const prio = ((r.facility ?? 0) << 3) | (r.level ?? 6);
    return `${prio},${r.seq},${ts},-;${r.text}`;
  }
  return ts === null ? r.text : `[${(ts / 1e6).toFixed(6)}] ${r.text}`;
}

/** A kernel log record as evidence (path `dev/kmsg`). */
export function kmsgItem(view: HostView, r: KernelLogRecord, note: string): EvidenceItem {
  return factItem(view, {
    path: "dev/kmsg",
    line: r.line,
    raw: kmsgRaw(r),
    note,
    kernelSec: r.tsUsec === null ? null : r.tsUsec / 1e6,
  });
}

/**
 * A trace line re-rendered from its parsed fields in the kernel's layout (`%16s-%-7d [%03d] flags ts:
 * body`); the line number points at the exact text in the shipped `trace` file.
 */
export function traceRaw(ev: TraceEvent): string {
  const task = `${ev.comm.padStart(16)}-${String(ev.pid).padEnd(7)}`;
  const cpu = `[${String(ev.cpu).padStart(3, "0")}]`;
  const ts = ev.tsUnit === "ticks" ? (ev.tsRaw ?? String(ev.ts)) : ev.ts.toFixed(6);
  let body: string;
  if (ev.kind === "function") {
    body = `${ev.func}${ev.module ? ` [${ev.module}]` : ""}${ev.parent ? ` <-${ev.parent}` : ""}`;
  } else if (ev.kind === "kprobe" || ev.kind === "kretprobe") {
    const site = ev.kind === "kretprobe" ? `(${ev.parent ?? "?"} <- ${ev.func})` : `(${ev.func})`;
    const args = Object.entries(ev.args)
      .map(([k, v]) => `${k}=${/^-?\w+$/.test(v) ? v : JSON.stringify(v)}`)
      .join(" ");
    body = `${ev.event ?? ev.func}: ${site}${args ? ` ${args}` : ""}`;
  } else {
    body = ev.text;
  }
  return `${task} ${cpu}${ev.flags ? ` ${ev.flags}` : ""} ${ts}: ${body}`;
}

/** A trace line as evidence (path `<tracefs>/trace`). */
export function traceItem(view: HostView, ev: TraceEvent, note: string): EvidenceItem {
  return factItem(view, {
    path: `${view.trace?.root ?? "sys/kernel/tracing/"}trace`,
    line: ev.line,
    raw: traceRaw(ev),
    note,
    kernelSec: ev.tsUnit === "seconds" ? ev.ts : null,
  });
}

/** `2026-03-03T10:14:12.918Z ±7 ms` for a kernel timestamp, or the raw seconds when no clock anchor exists. */
export function kernelAt(view: HostView, sec: number): string {
  const w = view.clock.toWall(sec);
  return w ? `${iso(w.ms)} ±${w.errorMs} ms` : `kernel ${sec.toFixed(6)} s (no wall-clock anchor)`;
}

/** `12.3 s` / `850 ms` for a duration. */
export function duration(ms: number): string {
  const a = Math.abs(ms);
  if (a < 10) return `${a.toFixed(1)} ms`;
  if (a < 1000) return `${Math.round(a)} ms`;
  if (a < 120_000) return `${(a / 1000).toFixed(1)} s`;
  if (a < 7_200_000) return `${(a / 60_000).toFixed(1)} min`;
  return `${(a / 3_600_000).toFixed(1)} h`;
}
