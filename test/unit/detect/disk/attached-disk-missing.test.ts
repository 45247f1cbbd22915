import { describe, expect, it } from "vitest";
import { attachedDiskMissing } from "../../../../shared/detect/disk/attached-disk-missing.js";
import type { Confidence } from "../../../../shared/detect/types.js";
import {
  DISK,
  decides,
  diskView,
  healthyVfioReattachHost,
  type Inc1Name,
  inc1,
  raceEvents,
  run,
  withX,
} from "../../../support/disk-scenarios.js";

const SUBJECT = `${DISK.new}|ev-new-attach`;

interface Case {
  why: string;
  scenario: Inc1Name;
  confidence: Confidence;
  says: string[];
}

const FIRES: Case[] = [
  {
    why: "1e: unbound X, the trace covers the window and shows no probe on X",
    scenario: "unboundNoProbe",
    confidence: "high",
    says: [
      "sub-state 1e:",
      "shows no nvme probe on 0000:3b:00.5",
      "echo vfio-pci > /sys/bus/pci/devices/0000:3b:00.5/driver_override",
    ],
  },
  {
    why: "1a: nvme holds X in vfio mode; the probe on X succeeded, so it is not the R1 pattern",
    scenario: "nvmeGrabbedVfio",
    confidence: "high",
    says: [
      "sub-state 1a:",
      "399 ms after the attach",
      "did not demonstrably fail",
      "not the R1 race pattern",
      "drivers/nvme/unbind",
    ],
  },
  {
    why: "1b: vfio-pci holds X in host mode",
    scenario: "vfioInHostMode",
    confidence: "high",
    says: ["(host mode)", "sub-state 1b:", "vfio-pci holds 0000:3b:00.5 where nvme is expected"],
  },
  {
    why: "1c: nvme5 is live with zero namespaces, with the rescan remedy",
    scenario: "zeroNamespaces",
    confidence: "high",
    says: ["sub-state 1c:", "nvme ns-rescan /dev/nvme5"],
  },
  {
    why: "1d: nvme5 is stuck resetting",
    scenario: "resetting",
    confidence: "high",
    says: ["sub-state 1d:", "nvme5=resetting"],
  },
  {
    why: "1f: pci-pf-stub holds X",
    scenario: "stub",
    confidence: "high",
    says: ["sub-state 1f:", "pci-pf-stub holds 0000:3b:00.5"],
  },
  {
    why: "1g: X is not on the PCI bus",
    scenario: "notOnBus",
    confidence: "high",
    says: ["sub-state 1g:", "attach never reached the host"],
  },
  {
    why: "a probe before the detach explains nothing: the trace shows no probe on X inside the window",
    scenario: "probeBeforeDetach",
    confidence: "high",
    says: ["shows no nvme probe on 0000:3b:00.5"],
  },
  {
    why: "a probe on another BDF explains nothing",
    scenario: "probeOnOtherBdf",
    confidence: "high",
    says: ["shows no nvme probe on 0000:3b:00.5"],
  },
  {
    why: "a wrapped trace: medium confidence, pointing at trace-blind-spot",
    scenario: "wrapped",
    confidence: "medium",
    says: [
      "cannot tell whether nvme probed",
      "the ring buffer no longer holds that history",
      "see trace-blind-spot",
    ],
  },
  {
    why: "no trace at all: medium confidence",
    scenario: "noTrace",
    confidence: "medium",
    says: ["no ftrace evidence was shipped"],
  },
];

const QUIET: { why: string; scenario: Inc1Name; decided: boolean }[] = [
  { why: "the disk arrived (vfio group present)", scenario: "healthyVfio", decided: true },
  { why: "the disk arrived (nvme3n1 on controller nvme5)", scenario: "healthyHost", decided: true },
  { why: "the disk is still inside its 60 s grace", scenario: "inGrace", decided: false },
  { why: "the attach event failed", scenario: "failedAttach", decided: false },
  { why: "a failed probe on X explains it (reattach-bdf-race owns it)", scenario: "covered", decided: true },
  { why: "a silent probe on X explains it, attributed by inference", scenario: "inferred", decided: true },
];

describe("attached-disk-missing", () => {
  it.each(FIRES)("fires: $why", async ({ scenario, confidence, says }) => {
    const { view, events } = await inc1(scenario);
    const r = run(attachedDiskMissing, view, events);
    const v = r.bySubject.get(SUBJECT);
    expect(v, JSON.stringify(r.verdicts.map((x) => x.subject))).toBeDefined();
    expect(v?.confidence, v?.summary).toBe(confidence);
    for (const s of says) expect(v?.summary, `summary should say ${s}`).toContain(s);
    expect(decides(r, SUBJECT)).toBe(true);
  });

  it.each(QUIET)("stays quiet when $why", async ({ scenario, decided }) => {
    const { view, events } = await inc1(scenario);
    const r = run(attachedDiskMissing, view, events);
    expect(r.verdicts.map((v) => v.summary)).toEqual([]);
    expect(decides(r, SUBJECT), `decided ${SUBJECT}`).toBe(decided);
  });

  it("says the race was not checked when no detach freed X in the event window", async () => {
    const { view, events } = await inc1("unboundNoProbe");
    const v = run(
      attachedDiskMissing,
      view,
      events.filter((e) => e.id === "ev-new-attach"),
    ).bySubject.get(SUBJECT);
    expect(v?.confidence).toBe("medium");
    expect(v?.summary).toContain("The reattach race was not checked: no detach freed 0000:3b:00.5");
  });

  it("accepts either a block device or a vfio group when the event gives no mode, and says so", async () => {
    const { view, events } = await inc1("unboundNoProbe");
    const modeless = events.map((e) => ({ ...e, mode: null }));
    const v = run(attachedDiskMissing, view, modeless).bySubject.get(SUBJECT);
    expect(v?.summary).toContain("no block device; unbound, no /dev/vfio/63");
    expect(v?.blindSpots.join("\n")).toContain("gave no mode");
    const healthy = await inc1("healthyVfio");
    const quiet = run(
      attachedDiskMissing,
      healthy.view,
      healthy.events.map((e) => ({ ...e, mode: null })),
    );
    expect(quiet.verdicts).toEqual([]);
  });

  it("lowers confidence when vfio-pci is bound but its group node is missing (the capture may have raced a bind)", async () => {
    const spec = withX(healthyVfioReattachHost(), (f) => {
      const { vfioDev: _v, ...rest } = f;
      return rest;
    });
    spec.vfio = { groups: [62], devices: ["vfio0"] };
    const view = await diskView(spec);
    const v = run(attachedDiskMissing, view, raceEvents(view)).bySubject.get(SUBJECT);
    expect(v?.confidence, v?.summary).toBe("medium");
    expect(v?.summary).toContain("bound to vfio-pci but /dev/vfio/63 is absent");
    expect(v?.blindSpots.join("\n")).toContain("a bind may have raced the capture");
  });

  it("pins the verdict for a live controller with zero namespaces", async () => {
    const { view, events } = await inc1("zeroNamespaces");
    expect(run(attachedDiskMissing, view, events).bySubject.get(SUBJECT)).toMatchInlineSnapshot(`
      {
        "blindSpots": [],
        "confidence": "high",
        "detector": "attached-disk-missing",
        "evidence": [
          {
            "at": "2026-03-03T10:18:52.449Z",
            "bdf": "0000:3b:00.5",
            "diskId": "d-bp1reattach9k2m4n6q",
            "eventId": "ev-new-attach",
            "kind": "event",
            "mode": "host",
            "note": "attach of d-bp1reattach9k2m4n6q at 0000:3b:00.5, 67.6 s before the snapshot",
            "outcome": "succeeded",
            "type": "attach",
          },
          {
            "kind": "fact",
            "note": "driver bound to the disk's PCI function",
            "path": "sys/bus/pci/devices/0000:3b:00.5/driver",
            "raw": "nvme",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "note": "no /sys/block entry leads to 0000:3b:00.5",
            "path": "sys/block/",
            "raw": "(no entry on 0000:3b:00.5)",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "note": "state of controller nvme5 at 0000:3b:00.5",
            "path": "sys/class/nvme/nvme5/state",
            "raw": "live",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "note": "namespaces of nvme5",
            "path": "sys/class/nvme/nvme5/",
            "raw": "(no namespaces)",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "note": "driver_override: who may probe next",
            "path": "sys/bus/pci/devices/0000:3b:00.5/driver_override",
            "raw": "nvme",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "at": "2026-03-03T10:18:22.449Z",
            "bdf": "0000:3b:00.5",
            "diskId": "d-uf6a1b2c3d4e5f6g7h8",
            "eventId": "ev-old-detach",
            "kind": "event",
            "mode": null,
            "note": "detach of d-uf6a1b2c3d4e5f6g7h8 freed 0000:3b:00.5 before this attach",
            "outcome": "succeeded",
            "type": "detach",
          },
          {
            "at": "2026-03-03T10:16:42.449Z",
            "atErrorMs": 11,
            "kind": "fact",
            "note": "the trace covers every CPU from here, 100.0 s before the detach, with no loss in the window",
            "path": "sys/kernel/tracing/per_cpu/cpu17/stats",
            "raw": "oldest event ts: 1843100.000100",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
        ],
        "sinceMs": 1772533132449,
        "subject": "d-bp1reattach9k2m4n6q|ev-new-attach",
        "summary": "Disk d-bp1reattach9k2m4n6q (host mode) was attached at 0000:3b:00.5 at 2026-03-03T10:18:52.449Z (67.6 s ago) but the host shows no block device: sub-state 1c: controller nvme5 is live with zero namespaces: it came up before the disk was attached and the namespace was never rescanned. The trace covers the window from the detach of d-uf6a1b2c3d4e5f6g7h8 at 2026-03-03T10:18:22.449Z to the attach and shows no nvme probe on 0000:3b:00.5. Remedy: nvme ns-rescan /dev/nvme5 (or echo 1 > /sys/class/nvme/nvme5/rescan_controller).",
      }
    `);
  });
});
