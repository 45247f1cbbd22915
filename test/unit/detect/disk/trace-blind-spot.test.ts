import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import type { BlindReason } from "../../../../shared/detect/disk/probe-window.js";
import { traceBlindSpot } from "../../../../shared/detect/disk/trace-blind-spot.js";
import {
  CAPTURE_MS,
  DISK,
  decides,
  diskView,
  INC1,
  type Inc1Name,
  inc1,
  K,
  raceEvents,
  run,
  setTrace,
  TRACE_4_19,
  X,
} from "../../../support/disk-scenarios.js";
import type { HostTreeSpec } from "../../../support/host-tree.js";
import { storedEvent } from "../../../support/views.js";

const SUBJECT = `${DISK.new}|ev-new-attach`;
const EARLY = [
  `      csi-plugin-2931    [017] ..... ${(K.early + 0.0001).toFixed(6)}: bind_store <-drv_attr_store`,
  `      csi-plugin-2931    [033] ..... ${(K.early + 0.0002).toFixed(6)}: bind_store <-drv_attr_store`,
];

/** The unbound-X host (no probe anywhere) with its trace changed by `edit`. */
function blindHost(edit: (spec: HostTreeSpec) => void): HostTreeSpec {
  const spec = INC1.unboundNoProbe.spec();
  edit(spec);
  return spec;
}

interface Case {
  why: string;
  spec: () => HostTreeSpec;
  patch?: (dir: string) => void;
  reasons: BlindReason[];
  says: string;
  cites: string;
}

const CASES: Case[] = [
  {
    why: "the ring buffer wrapped: coverage starts after the detach",
    spec: INC1.wrapped.spec,
    patch: INC1.wrapped.patch,
    reasons: ["starts_after_window"],
    says: "the ring buffer no longer holds that history",
    cites: "sys/kernel/tracing/per_cpu/cpu17/stats",
  },
  {
    why: "events were lost inside the window",
    spec: () =>
      blindHost((s) => {
        setTrace(s, [
          ...EARLY,
          "CPU:17 [LOST 2048 EVENTS]",
          `      csi-plugin-2931    [017] ..... ${(K.detach + 15).toFixed(6)}: bind_store <-drv_attr_store`,
        ]);
      }),
    reasons: ["lost_in_window"],
    says: "events were lost inside the window",
    cites: "sys/kernel/tracing/trace",
  },
  {
    why: "tracing was off at capture",
    spec: () =>
      blindHost((s) => {
        if (s.trace) s.trace.tracingOn = false;
      }),
    reasons: ["tracing_off"],
    says: "tracing_on was 0",
    cites: "sys/kernel/tracing/tracing_on",
  },
  {
    why: "set_ftrace_filter lost nvme_probe (a module reload)",
    spec: () =>
      blindHost((s) => {
        if (s.trace) s.trace.filter = ["bind_store"];
      }),
    reasons: ["function_not_filtered"],
    says: "set_ftrace_filter does not list nvme_probe (it lists bind_store",
    cites: "sys/kernel/tracing/set_ftrace_filter",
  },
  {
    why: "the tracer is not a function tracer",
    spec: () =>
      blindHost((s) => {
        if (s.trace) s.trace.tracer = "nop";
      }),
    reasons: ["not_function_tracer"],
    says: "current_tracer is nop",
    cites: "sys/kernel/tracing/current_tracer",
  },
  {
    why: "the trace clock counts ticks (x86-tsc)",
    spec: () =>
      blindHost((s) => {
        if (!s.trace) return;
        s.trace.clock = "x86-tsc";
        setTrace(s, ["      csi-plugin-2931    [017] ..... 4023812345678: bind_store <-drv_attr_store"]);
      }),
    reasons: ["unit_mismatch"],
    says: "prints ticks",
    cites: "sys/kernel/tracing/trace_clock",
  },
  {
    why: "the host shipped no trace at all",
    spec: INC1.noTrace.spec,
    reasons: ["no_trace"],
    says: "no ftrace evidence was shipped",
    cites: "sys/kernel/tracing/trace",
  },
];

describe("trace-blind-spot", () => {
  it.each(CASES)("fires when $why, citing why", async ({ spec, patch, reasons, says, cites }) => {
    const view = await diskView(spec(), patch ? { patch } : {});
    const r = run(traceBlindSpot, view, raceEvents(view));
    const v = r.bySubject.get(SUBJECT);
    expect(v, JSON.stringify(view.trace?.coverage)).toBeDefined();
    expect(v?.confidence).toBe("high");
    for (const reason of reasons) expect(v?.summary, reason).toContain(says);
    expect(v?.evidence.map((e) => (e.kind === "fact" ? e.path : e.eventId))).toContain(cites);
    expect(
      v?.evidence.filter((e) => e.kind === "event").map((e) => (e.kind === "event" ? e.eventId : "")),
    ).toEqual(["ev-old-detach", "ev-new-attach"]);
    expect(decides(r, SUBJECT)).toBe(true);
  });

  it("fires when the snapshot has no clock anchor to place the window on the kernel clock", async () => {
    const spec = INC1.noTrace.spec();
    const view = await diskView(spec, {
      patch: (dir) => {
        writeFileSync(join(dir, "proc/uptime"), "");
        const stat = join(dir, "proc/stat");
        writeFileSync(stat, readFileSync(stat, "utf8").replace(/^btime .*\n/m, ""));
      },
    });
    expect(view.clock.basis).toBe("none");
    const at = (sec: number) => CAPTURE_MS - Math.round((K.now - sec) * 1000);
    const events = [
      storedEvent({ id: "ev-old-detach", type: "detach", diskId: DISK.old, bdf: X, atMs: at(K.detach) }),
      storedEvent({
        id: "ev-new-attach",
        type: "attach",
        diskId: DISK.new,
        bdf: X,
        mode: "vfio",
        atMs: at(K.attach),
      }),
    ];
    const v = run(traceBlindSpot, view, events).bySubject.get(SUBJECT);
    expect(v?.summary).toContain("no clock anchor");
  });

  const QUIET: { why: string; scenario: Inc1Name; decided: boolean }[] = [
    { why: "the trace covers the window and shows no probe on X", scenario: "unboundNoProbe", decided: true },
    {
      why: "a failed probe on X was found although CPU 33 starts late (presence needs no coverage)",
      scenario: "referencePreset",
      decided: true,
    },
    { why: "the disk arrived", scenario: "healthyVfio", decided: true },
    { why: "the disk is inside its grace", scenario: "inGrace", decided: false },
  ];

  it.each(QUIET)("stays quiet when $why", async ({ scenario, decided }) => {
    const { view, events } = await inc1(scenario);
    const r = run(traceBlindSpot, view, events);
    expect(r.verdicts.map((v) => v.summary)).toEqual([]);
    expect(decides(r, SUBJECT)).toBe(decided);
  });

  it("reads a 4.19-style trace as covering the window", async () => {
    const view = await diskView(INC1.unboundNoProbe.spec(), { patch: TRACE_4_19 });
    expect(view.trace?.trace?.header.flagColumns).toBe(4);
    const r = run(traceBlindSpot, view, raceEvents(view));
    expect(r.verdicts).toEqual([]);
    expect(decides(r, SUBJECT)).toBe(true);
  });

  it("has nothing to vouch for (and decides nothing) when no detach freed X in the events", async () => {
    const { view, events } = await inc1("wrapped");
    const r = run(
      traceBlindSpot,
      view,
      events.filter((e) => e.id === "ev-new-attach"),
    );
    expect(r.verdicts).toEqual([]);
    expect(decides(r, SUBJECT)).toBe(false);
  });

  it("pins the verdict for a wrapped trace", async () => {
    const { view, events } = await inc1("wrapped");
    expect(run(traceBlindSpot, view, events).bySubject.get(SUBJECT)).toMatchInlineSnapshot(`
      {
        "blindSpots": [],
        "confidence": "high",
        "detector": "trace-blind-spot",
        "evidence": [
          {
            "at": "2026-03-03T10:18:22.449Z",
            "bdf": "0000:3b:00.5",
            "diskId": "d-uf6a1b2c3d4e5f6g7h8",
            "eventId": "ev-old-detach",
            "kind": "event",
            "mode": null,
            "note": "detach of d-uf6a1b2c3d4e5f6g7h8 freed 0000:3b:00.5: the window to search opens",
            "outcome": "succeeded",
            "type": "detach",
          },
          {
            "at": "2026-03-03T10:18:52.449Z",
            "bdf": "0000:3b:00.5",
            "diskId": "d-bp1reattach9k2m4n6q",
            "eventId": "ev-new-attach",
            "kind": "event",
            "mode": "vfio",
            "note": "attach of d-bp1reattach9k2m4n6q at 0000:3b:00.5: the window closes",
            "outcome": "succeeded",
            "type": "attach",
          },
          {
            "at": "2026-03-03T10:18:35.367Z",
            "atErrorMs": 6,
            "kind": "fact",
            "note": "coverage starts here: CPU 17's oldest surviving event (the latest of all CPUs' oldest)",
            "path": "sys/kernel/tracing/per_cpu/cpu17/stats",
            "raw": "oldest event ts: 1843212.917902",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "note": "48211 events were overwritten (the ring buffer wrapped)",
            "path": "sys/kernel/tracing/trace",
            "raw": "# entries-in-buffer/entries-written: 3/48214   #P:48",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
        ],
        "sinceMs": 1772533132449,
        "subject": "d-bp1reattach9k2m4n6q|ev-new-attach",
        "summary": "Cannot tell whether nvme probed 0000:3b:00.5 between the detach of d-uf6a1b2c3d4e5f6g7h8 at 2026-03-03T10:18:22.449Z and the attach of d-bp1reattach9k2m4n6q at 2026-03-03T10:18:52.449Z: the trace starts at 2026-03-03T10:18:35.367Z ±6 ms (oldest surviving event on CPU 17), after the detach at 2026-03-03T10:18:22.449Z ±6 ms: the ring buffer no longer holds that history. The disk has no vfio group (see attached-disk-missing), so the reattach race can be neither confirmed nor ruled out. Keep the playbook trace (\`bind_store nvme_probe drivers_probe_store\`) running with a buffer large enough to span a detach/attach cycle, and ship the snapshot soon after the attach.",
      }
    `);
  });
});
