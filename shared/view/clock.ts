/**
 * Kernel timestamps to wall time. dmesg/kmsg and ftrace's default `local` clock count seconds since
 * boot (not counting suspend); control-plane events are wall time. The shipper brackets a clock read
 * between two wall-clock reads (an anchor), which ties the two with an error bound. Comparisons
 * between ftrace `local` and kmsg never go through this: they share a base and compare directly.
 */
import type { ClockAnchor } from "../contracts/snapshot.js";

/** Assumed drift of the kernel clock against NTP-disciplined wall time, per unit of age. */
export const DRIFT_PPM = 50;

export type ClockBasis = "trace-anchor" | "boottime-anchor" | "btime" | "none";

export interface WallTime {
  readonly ms: number;
  /** Half-width of the interval the true time lies in. */
  readonly errorMs: number;
}

export interface KernelClock {
  readonly basis: ClockBasis;
  /** Converts kernel boot-relative seconds (kmsg, dmesg, ftrace local/global/mono) to wall time. */
  toWall(kernelSec: number): WallTime | null;
  /** The inverse, for windows: the kernel second a wall time corresponds to. */
  toKernel(wallMs: number): number | null;
}

/** Picks the best anchor: a trace anchor when the trace clock counts from boot, else /proc/uptime, else btime. */
export function kernelClock(args: {
  anchors: readonly ClockAnchor[];
  btime: number | null;
  /** Active ftrace clock (`local`, `global`, `mono`, `boot`, `counter`, ...), null when no trace. */
  traceClock: string | null;
}): KernelClock {
  const bootBased =
    args.traceClock === null || ["local", "global", "mono", "mono_raw", "boot"].includes(args.traceClock);
  const trace = bootBased ? args.anchors.find((a) => a.clock === "trace") : undefined;
  const boot = args.anchors.find((a) => a.clock === "boottime" || a.clock === "monotonic");
  const anchor = trace ?? boot;
  if (anchor) {
    const mid = (anchor.wallBeforeMs + anchor.wallAfterMs) / 2;
    const bracket = Math.abs(anchor.wallAfterMs - anchor.wallBeforeMs) / 2;
    // /proc/uptime prints centiseconds.
    const resolution = anchor.source.endsWith("uptime") ? 10 : 1;
    const offsetMs = mid - anchor.value * 1000;
    const anchorSec = anchor.value;
    return {
      basis: anchor === trace ? "trace-anchor" : "boottime-anchor",
      toWall: (sec) => ({
        ms: Math.round(offsetMs + sec * 1000),
        errorMs: Math.ceil(bracket + resolution + Math.abs(anchorSec - sec) * DRIFT_PPM * 1e-3),
      }),
      toKernel: (wallMs) => (wallMs - offsetMs) / 1000,
    };
  }
  if (args.btime !== null) {
    const base = args.btime * 1000;
    return {
      basis: "btime",
      toWall: (sec) => ({
        ms: Math.round(base + sec * 1000),
        errorMs: 1000 + Math.ceil(sec * DRIFT_PPM * 1e-3),
      }),
      toKernel: (wallMs) => (wallMs - base) / 1000,
    };
  }
  return { basis: "none", toWall: () => null, toKernel: () => null };
}
