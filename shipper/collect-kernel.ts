/**
 * Kernel-log and ftrace sections, plus the clock anchors that convert their timestamps to wall time
 * (reference §5.5: a clock read bracketed by two wall-clock reads).
 */
import type { ClockAnchor } from "../shared/contracts/snapshot.js";
import type { SectionReader } from "./collect-read.js";

export const TRACEFS_DIRS = ["sys/kernel/tracing/", "sys/kernel/debug/tracing/"] as const;
const TRACE_FILES = [
  "trace_clock",
  "current_tracer",
  "set_ftrace_filter",
  "tracing_on",
  "buffer_size_kb",
  "saved_cmdlines_size",
];
const TRACE_OPTIONS = ["irq-info", "record-tgid", "sym-offset", "overwrite", "annotate"];

/** The `now ts:` value of a `per_cpu/cpuN/stats` file (trace-clock seconds), or undefined. */
export function traceNowTs(stats: string | undefined): number | undefined {
  if (stats === undefined) return undefined;
  const at = stats.indexOf("now ts:");
  if (at < 0) return undefined;
  const end = stats.indexOf("\n", at);
  const v = Number(stats.slice(at + 7, end < 0 ? undefined : end).trim());
  return Number.isFinite(v) ? v : undefined;
}

/**
 * ftrace: `sys/kernel/tracing/` else the debugfs mount. `per_cpu/cpu0/stats` is read alone, between
 * two wall-clock reads, for the trace-clock anchor; then the trace and its settings.
 */
export async function collectTrace(s: SectionReader, anchors: ClockAnchor[]): Promise<void> {
  let base: string | undefined;
  for (const dir of TRACEFS_DIRS) {
    if ((await s.kind(`${dir}trace`)) === "file") {
      base = dir;
      break;
    }
  }
  if (base === undefined) {
    // Record why there is no trace (ENOENT when tracefs is not mounted) rather than leave a silent hole.
    await s.file(`${TRACEFS_DIRS[0]}trace`);
    s.rec.addGap(
      "no ftrace: neither sys/kernel/tracing/trace nor sys/kernel/debug/tracing/trace is readable",
    );
    return;
  }
  const cpus = ((await s.dir(`${base}per_cpu/`)) ?? []).filter((n) => /^cpu\d+$/.test(n));
  const first = cpus.includes("cpu0") ? "cpu0" : cpus[0];
  if (first !== undefined) {
    const source = `${base}per_cpu/${first}/stats`;
    const wallBeforeMs = Date.now();
    const stats = await s.attr(source);
    const wallAfterMs = Date.now();
    const value = traceNowTs(stats?.text);
    if (value !== undefined) anchors.push({ clock: "trace", source, value, wallBeforeMs, wallAfterMs });
  }
  await Promise.all([
    s.file(`${base}trace`, { big: true }),
    ...TRACE_FILES.map((f) => s.file(`${base}${f}`)),
    ...TRACE_OPTIONS.map((o) => s.attr(`${base}options/${o}`)),
    ...cpus.filter((c) => c !== first).map((c) => s.attr(`${base}per_cpu/${c}/stats`)),
  ]);
}

/** `dev/kmsg`: every record still in the kernel log buffer, with raw timestamps and sequence numbers. */
export async function collectKmsg(s: SectionReader): Promise<void> {
  await s.kmsg("dev/kmsg");
}
