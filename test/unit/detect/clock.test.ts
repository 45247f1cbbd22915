import { describe, expect, it } from "vitest";
import { kernelClock } from "../../../shared/view/clock.js";

const WALL = Date.UTC(2026, 2, 3, 10, 20); // when the shipper read the clocks
const NOW_TS = 1843297.55102; // trace clock "now ts" at that moment

describe("kernelClock", () => {
  it("uses the trace anchor when the trace clock counts from boot, with the bracket as error", () => {
    const clock = kernelClock({
      anchors: [
        {
          clock: "boottime",
          source: "proc/uptime",
          value: 1843297.6,
          wallBeforeMs: WALL - 3,
          wallAfterMs: WALL + 3,
        },
        {
          clock: "trace",
          source: "sys/kernel/tracing/per_cpu/cpu0/stats",
          value: NOW_TS,
          wallBeforeMs: WALL - 1,
          wallAfterMs: WALL + 1,
        },
      ],
      btime: Math.floor(WALL / 1000) - 1843298,
      traceClock: "local",
    });
    expect(clock.basis).toBe("trace-anchor");
    const probe = clock.toWall(1843212.918431);
    expect(probe?.ms).toBe(Math.round(WALL - (NOW_TS - 1843212.918431) * 1000));
    // 1 ms bracket + 1 ms resolution + 50 ppm of the 84.6 s age
    expect(probe?.errorMs).toBe(7);
    expect(clock.toKernel(probe?.ms ?? 0)).toBeCloseTo(1843212.918, 2);
  });

  it("falls back to /proc/uptime when the trace clock is a counter", () => {
    const clock = kernelClock({
      anchors: [
        {
          clock: "boottime",
          source: "proc/uptime",
          value: 1000.5,
          wallBeforeMs: WALL - 4,
          wallAfterMs: WALL + 4,
        },
        { clock: "trace", source: "x", value: 123456789, wallBeforeMs: WALL, wallAfterMs: WALL },
      ],
      btime: null,
      traceClock: "counter",
    });
    expect(clock.basis).toBe("boottime-anchor");
    expect(clock.toWall(1000.5)).toEqual({ ms: WALL, errorMs: 14 });
  });

  it("uses btime with a one-second error when no anchor was shipped, and says when it cannot convert", () => {
    expect(kernelClock({ anchors: [], btime: 1_772_000_000, traceClock: null }).toWall(10)).toEqual({
      ms: 1_772_000_010_000,
      errorMs: 1001,
    });
    const none = kernelClock({ anchors: [], btime: null, traceClock: null });
    expect(none.basis).toBe("none");
    expect(none.toWall(10)).toBeNull();
  });
});
