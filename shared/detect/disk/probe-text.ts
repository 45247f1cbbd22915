/** Wording and evidence for probe findings and trace coverage, shared by the three INC-1 detectors. */
import type { HostView } from "../../view/host-view.js";
import type { EvidenceItem } from "../types.js";
import { duration, factItem, kernelAt, kmsgItem, traceItem } from "./evidence.js";
import type {
  AttachAnalysis,
  BlindReason,
  Failure,
  ProbeFinding,
  ProbeWindow,
  Trigger,
} from "./probe-window.js";

/** `kworker/17:2 (pid 1187)` plus what the trigger means (§11.1 step 5); `probeTs` dates a bind by another task. */
export function describeTrigger(t: Trigger, probeTs: number): string {
  const task = `${t.comm} (pid ${t.pid})`;
  const o = t.otherTask;
  const other = o
    ? ` (${o.comm} pid ${o.pid} wrote bind_store ${duration((probeTs - o.ts) * 1000)} before it)`
    : "";
  switch (t.kind) {
    case "sysfs-bind":
      return `${task}, right after its own bind_store: a sysfs bind by that agent`;
    case "drivers-probe":
      return `${task}, right after its own write to /sys/bus/pci/drivers_probe`;
    case "kworker":
      return `${task} with no bind_store by that task in the 100 ms before: autoprobe, async probe or the work_on_cpu hop of a bind${other}`;
    case "hotplug":
      return `${task}: PCI hot-plug`;
    case "udev":
      return `${task} with no bind_store before it: a udev-driven probe`;
    case "modprobe":
      return `${task} with no bind_store before it: a module load probing every unbound match`;
    case "other":
      return `${task} with no bind_store by that task in the 100 ms before${other}`;
  }
}

/** `the probe failed (nvme5: Removing after probe failure status: -19)` and similar. */
export function describeFailure(f: Failure): string {
  switch (f.kind) {
    case "kmsg":
      return `the probe failed (${f.facts.map((x) => `"${x.record.text}"`).join(", ")})`;
    case "kretprobe":
      return `the probe failed (nvme_probe returned ${f.event.ret})`;
    case "no-live-controller":
      return `the probe left no live controller (${f.detail}; -ENODEV/-ENXIO failures are logged only at debug level)`;
  }
}

/** One probe in words: when, relative to the window, by whom, and what the kernel says it was about. */
export function describeProbe(view: HostView, w: ProbeWindow, p: ProbeFinding): string {
  const afterDetach = (p.event.ts - w.detachSec) * 1000;
  const beforeAttach = (w.attachSec - p.event.ts) * 1000;
  const rel =
    beforeAttach >= 0
      ? `${duration(afterDetach)} after the detach and ${duration(beforeAttach)} before the attach`
      : `${duration(afterDetach)} after the detach and ${duration(-beforeAttach)} after the attach`;
  return `nvme_probe at ${kernelAt(view, p.event.ts)} (${rel}) from ${describeTrigger(p.trigger, p.event.ts)}`;
}

/** How the probe was tied to a function, in words. */
export function describeTarget(p: ProbeFinding): string {
  const t = p.target;
  if (t.on === "unknown") return `its PCI function is unknown: ${t.why}`;
  const where = t.on === "x" ? "" : ` ${t.bdf}`;
  switch (t.by.kind) {
    case "kmsg":
      return `the kernel logged "${t.by.fact.record.text}" ${Math.abs(t.by.deltaUsec)} µs ${t.by.deltaUsec >= 0 ? "after" : "before"} it${where ? ` (it probed${where})` : ""}`;
    case "kprobe":
      return `a kprobe recorded ${t.by.arg}${where ? ` (it probed${where})` : ""}`;
    case "inference":
      return `inferred: it was the only NVMe-class function nvme could probe (ruled out: ${t.by.excluded.join(", ") || "no other NVMe-class function"})`;
  }
}

/** Evidence for one probe: the trace entry, what attributed it, how it failed, and the bind before it. */
export function probeEvidence(view: HostView, a: AttachAnalysis, p: ProbeFinding): EvidenceItem[] {
  const out: EvidenceItem[] = [
    traceItem(
      view,
      p.event,
      `nvme_probe in the race window by ${p.trigger.comm}-${p.trigger.pid} (${p.trigger.kind})`,
    ),
  ];
  const t = p.target;
  if (t.on !== "unknown") {
    if (t.by.kind === "kmsg") {
      out.push(
        kmsgItem(
          view,
          t.by.fact.record,
          `attributes the probe to ${t.on === "x" ? a.disk.bdf : t.bdf} (${t.by.deltaUsec} µs from the trace entry, same clock base)`,
        ),
      );
    } else if (t.by.kind === "kprobe" && t.by.event !== p.event) {
      out.push(traceItem(view, t.by.event, `kprobe argument ${t.by.arg} names the probed function`));
    } else if (t.by.kind === "inference") {
      out.push(
        factItem(view, {
          path: "sys/bus/pci/devices/",
          raw: t.by.excluded.join("; ") || "(no other NVMe-class function)",
          note: `${a.disk.bdf} was the only NVMe-class function nvme could probe; the others are ruled out as listed`,
        }),
      );
    }
  }
  if (p.trigger.sameTask) {
    out.push(
      traceItem(
        view,
        p.trigger.sameTask,
        `${p.trigger.sameTask.func} by the probing task within 100 ms before the probe`,
      ),
    );
  } else if (p.trigger.otherTask) {
    out.push(
      traceItem(view, p.trigger.otherTask, "bind_store by another task within 100 ms before the probe"),
    );
  }
  const f = p.failure;
  if (f?.kind === "kmsg") {
    for (const x of f.facts) out.push(kmsgItem(view, x.record, "probe failure within 60 s of the probe"));
  } else if (f?.kind === "kretprobe") {
    out.push(traceItem(view, f.event, `nvme_probe returned ${f.event.ret}`));
  } else if (f?.kind === "no-live-controller") {
    out.push(
      factItem(view, {
        path: `sys/bus/pci/devices/${a.disk.bdf}/nvme/`,
        raw: f.detail,
        note: "no live controller at the function: the probe failed (silent -ENODEV/-ENXIO failures leave only this)",
      }),
    );
  }
  if (p.returned && f?.kind !== "kretprobe")
    out.push(traceItem(view, p.returned, `nvme_probe returned ${p.returned.ret}`));
  return out;
}

/** A blind-spot reason in words. */
export function describeBlindReason(view: HostView, r: BlindReason, w: ProbeWindow | null): string {
  const c = view.trace?.coverage;
  switch (r) {
    case "no_trace":
      return "no ftrace evidence was shipped (tracefs absent or not mounted, or the playbook's trace was never set up)";
    case "no_clock":
      return "the snapshot carries no clock anchor, so control-plane times cannot be placed on the kernel clock";
    case "no_events":
      return "the trace holds no events at all";
    case "starts_after_window":
      return `the trace starts at ${c?.start != null ? kernelAt(view, c.start) : "?"} (oldest surviving event on CPU ${c?.startCpu ?? "?"}), after the detach${w ? ` at ${kernelAt(view, w.detachSec)}` : ""}: the ring buffer no longer holds that history`;
    case "ends_before_window":
      return "the trace ends before the window does";
    case "lost_in_window":
      return "events were lost inside the window (LOST markers)";
    case "dropped_events":
      return `per-CPU stats report dropped events (overwrite=0 and a full buffer) on CPU ${Object.keys(c?.droppedByCpu ?? {}).join(", ")}`;
    case "tracing_off":
      return "tracing_on was 0 at capture: when tracing stopped is unknown";
    case "function_not_filtered":
      return `set_ftrace_filter does not list nvme_probe (it lists ${c?.filter?.functions.join(", ") || "nothing"}; a module reload drops module symbols from the filter)`;
    case "not_function_tracer":
      return `current_tracer is ${c?.tracer ?? "?"}, so function entries cannot appear`;
    case "unit_mismatch":
      return `the trace clock ${c?.clock ?? "?"} prints ticks, not seconds since boot`;
  }
}

/** Evidence for a blind trace: the files whose content makes it blind. */
export function coverageEvidence(view: HostView, reasons: readonly BlindReason[]): EvidenceItem[] {
  const t = view.trace;
  const out: EvidenceItem[] = [];
  if (!t?.trace) {
    const unreadable = t?.unreadable.find((u) => u.path.endsWith("trace"));
    const gap =
      view.gaps.find((g) => g.includes("ftrace")) ??
      (unreadable ? `trace unreadable: ${unreadable.reason.reason}` : "no ftrace evidence was shipped");
    out.push(
      factItem(view, {
        path: unreadable?.path ?? `${t?.root ?? "sys/kernel/tracing/"}trace`,
        raw: `(${gap})`,
        note: "no trace to look for probes in",
      }),
    );
    return out;
  }
  const c = t.coverage;
  const root = t.root;
  for (const r of reasons) {
    if (r === "starts_after_window" && c.start !== null) {
      out.push(
        factItem(view, {
          path: c.startSource === "per_cpu_stats" ? `${root}per_cpu/cpu${c.startCpu}/stats` : `${root}trace`,
          raw: `oldest event ts: ${c.start.toFixed(6)}`,
          note: `coverage starts here: CPU ${c.startCpu}'s oldest surviving event (the latest of all CPUs' oldest)`,
          kernelSec: c.unit === "seconds" ? c.start : null,
        }),
      );
      const h = t.trace?.header;
      if (h && h.entriesInBuffer !== null && h.entriesWritten !== null) {
        out.push(
          factItem(view, {
            path: `${root}trace`,
            raw: `# entries-in-buffer/entries-written: ${h.entriesInBuffer}/${h.entriesWritten}   #P:${h.cpus ?? "?"}`,
            note: h.overwritten
              ? `${h.overwritten} events were overwritten (the ring buffer wrapped)`
              : "trace header counters",
          }),
        );
      }
    } else if (r === "lost_in_window") {
      for (const l of c.lostMarkers) {
        out.push(
          factItem(view, {
            path: `${root}trace`,
            line: l.line,
            raw: `CPU:${l.cpu} [LOST${l.count === null ? "" : ` ${l.count}`} EVENTS]`,
            note: "events lost on this CPU before the next line",
            kernelSec: l.beforeTs,
          }),
        );
      }
    } else if (r === "dropped_events") {
      for (const [cpu, n] of Object.entries(c.droppedByCpu)) {
        out.push(
          factItem(view, {
            path: `${root}per_cpu/cpu${cpu}/stats`,
            raw: `dropped events: ${n}`,
            note: "events refused by a full buffer",
          }),
        );
      }
    } else if (r === "tracing_off") {
      out.push(factItem(view, { path: `${root}tracing_on`, raw: "0", note: "tracing was off at capture" }));
    } else if (r === "function_not_filtered") {
      out.push(
        factItem(view, {
          path: `${root}set_ftrace_filter`,
          raw: c.filter?.functions.join("\n") ?? "",
          note: "nvme_probe is not in the function filter",
        }),
      );
    } else if (r === "not_function_tracer") {
      out.push(
        factItem(view, { path: `${root}current_tracer`, raw: c.tracer ?? "", note: "not a function tracer" }),
      );
    } else if (r === "unit_mismatch") {
      out.push(
        factItem(view, {
          path: `${root}trace_clock`,
          raw: c.clock ?? "",
          note: "a tick clock: timestamps are not seconds",
        }),
      );
    } else if (r === "no_events") {
      out.push(factItem(view, { path: `${root}trace`, raw: "(no events)", note: "the trace is empty" }));
    }
  }
  return out;
}

/** Where the trace's coverage starts, cited when the trace vouches for the absence of a probe. */
export function coverageStartItem(view: HostView, w: ProbeWindow): EvidenceItem | null {
  const c = view.trace?.coverage;
  if (!c || c.start === null) return null;
  return factItem(view, {
    path:
      c.startSource === "per_cpu_stats"
        ? `${view.trace?.root ?? ""}per_cpu/cpu${c.startCpu}/stats`
        : `${view.trace?.root ?? ""}trace`,
    raw: `oldest event ts: ${c.start.toFixed(6)}`,
    note: `the trace covers every CPU from here, ${duration((w.detachSec - c.start) * 1000)} before the detach, with no loss in the window`,
    kernelSec: c.unit === "seconds" ? c.start : null,
  });
}
