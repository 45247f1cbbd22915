import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../../../shared/db/events.js";
import { wrongDriverBound } from "../../../../shared/detect/disk/wrong-driver-bound.js";
import type { Confidence } from "../../../../shared/detect/types.js";
import type { HostView } from "../../../../shared/view/host-view.js";
import {
  DISK,
  decides,
  diskView,
  healthyHostReattachHost,
  healthyVfioReattachHost,
  type Inc1Name,
  inc1,
  raceEvents,
  run,
  withX,
  X,
} from "../../../support/disk-scenarios.js";
import type { HostTreeSpec } from "../../../support/host-tree.js";

const PAIR = `${X}|${DISK.new}`;

interface Case {
  why: string;
  scenario?: Inc1Name;
  spec?: () => HostTreeSpec;
  mode?: "vfio" | "host";
  subject: string;
  confidence: Confidence;
  says: string[];
}

const FIRES: Case[] = [
  {
    why: "nvme bound where the vfio-mode disk needs vfio-pci (1a)",
    scenario: "nvmeGrabbedVfio",
    subject: PAIR,
    confidence: "high",
    says: [
      "bound to nvme where vfio-pci is expected",
      "driver_override=nvme will bind nvme on the next probe",
    ],
  },
  {
    why: "vfio-pci bound where the host-mode disk needs nvme, with the override that put it there (1b)",
    scenario: "vfioInHostMode",
    subject: PAIR,
    confidence: "high",
    says: [
      "bound to vfio-pci where nvme is expected",
      "driver_override=vfio-pci will bind vfio-pci on the next probe, but the disk needs nvme",
    ],
  },
  {
    why: "an override that will rebind a healthy host-mode disk to vfio-pci (pending)",
    spec: () => withX(healthyHostReattachHost(), (f) => ({ ...f, driverOverride: "vfio-pci" })),
    mode: "host",
    subject: PAIR,
    confidence: "medium",
    says: ["driver_override=vfio-pci will bind vfio-pci on the next probe, but the disk needs nvme"],
  },
  {
    why: "an override that disagrees with the bound driver on a function no disk is attached to",
    spec: () => {
      const spec = healthyVfioReattachHost();
      spec.pci = spec.pci.map((f) => (f.bdf === "0000:3b:00.3" ? { ...f, driverOverride: "vfio-pci" } : f));
      return spec;
    },
    subject: "0000:3b:00.3|-",
    confidence: "medium",
    says: ["driver_override=vfio-pci while nvme is bound: the next unbind/reprobe binds vfio-pci"],
  },
  {
    why: "vfio-pci bound with no override: a dynid bind (heuristic)",
    spec: () =>
      withX(healthyVfioReattachHost(), (f) => {
        const { driverOverride: _o, ...rest } = f;
        return rest;
      }),
    subject: PAIR,
    confidence: "low",
    says: ["vfio-pci is bound with no driver_override: a vfio-pci dynid (new_id) or ids= bound it"],
  },
  {
    why: "the override residue on an unbound vfio-mode disk (R3)",
    scenario: "covered",
    subject: PAIR,
    confidence: "medium",
    says: ["driver_override=nvme will bind nvme on the next probe, but the disk needs vfio-pci"],
  },
];

async function viewOf(c: Case): Promise<{ view: HostView; events: StoredEvent[] }> {
  if (c.scenario) return inc1(c.scenario);
  const view = await diskView((c.spec ?? healthyVfioReattachHost)());
  return { view, events: raceEvents(view, c.mode ? { mode: c.mode } : {}) };
}

describe("wrong-driver-bound", () => {
  it.each(FIRES)("fires on $why", async (c) => {
    const { view, events } = await viewOf(c);
    const r = run(wrongDriverBound, view, events);
    const v = r.bySubject.get(c.subject);
    expect(v, JSON.stringify([...r.bySubject.keys()])).toBeDefined();
    expect(v?.confidence, v?.summary).toBe(c.confidence);
    for (const s of c.says) expect(v?.summary, `summary should say ${s}`).toContain(s);
    expect(decides(r, c.subject)).toBe(true);
  });

  it("stays quiet on a healthy vfio re-attach, the local boot NVMe and a non-disk vfio-pci function without override", async () => {
    const spec = healthyVfioReattachHost();
    spec.pci.push({
      bdf: "0000:5e:00.0",
      parent: "pci0000:5d/0000:5d:00.0",
      vendor: "0x10de",
      device: "0x20b5",
      class: "0x030200",
      driver: "vfio-pci",
      iommuGroup: 70,
    });
    const view = await diskView(spec);
    const r = run(wrongDriverBound, view, raceEvents(view));
    expect(r.verdicts.map((v) => v.summary)).toEqual([]);
    expect(decides(r, PAIR)).toBe(true);
    expect(decides(r, "0000:17:00.0|-")).toBe(true);
  });

  it.each([
    { why: "a healthy host re-attach with override nvme", scenario: "healthyHost" as const, decided: true },
    { why: "a disk inside its grace", scenario: "inGrace" as const, decided: false },
  ])("stays quiet on $why", async ({ scenario, decided }) => {
    const { view, events } = await inc1(scenario);
    const r = run(wrongDriverBound, view, events);
    expect(r.verdicts.map((v) => v.summary)).toEqual([]);
    expect(decides(r, PAIR)).toBe(decided);
    expect(decides(r, `${X}|-`), "an attached BDF is no longer `<bdf>|-`").toBe(true);
  });

  it("pins the verdict for vfio-pci bound in host mode", async () => {
    const { view, events } = await inc1("vfioInHostMode");
    expect(run(wrongDriverBound, view, events).bySubject.get(PAIR)).toMatchInlineSnapshot(`
      {
        "blindSpots": [],
        "confidence": "high",
        "detector": "wrong-driver-bound",
        "evidence": [
          {
            "at": "2026-03-03T10:18:52.449Z",
            "bdf": "0000:3b:00.5",
            "diskId": "d-bp1reattach9k2m4n6q",
            "eventId": "ev-new-attach",
            "kind": "event",
            "mode": "host",
            "note": "attach in host mode at 0000:3b:00.5, 67.6 s before the snapshot",
            "outcome": "succeeded",
            "type": "attach",
          },
          {
            "kind": "fact",
            "note": "bound driver",
            "path": "sys/bus/pci/devices/0000:3b:00.5/driver",
            "raw": "vfio-pci",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "note": "driver_override",
            "path": "sys/bus/pci/devices/0000:3b:00.5/driver_override",
            "raw": "vfio-pci",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
        ],
        "sinceMs": 1772533132449,
        "subject": "0000:3b:00.5|d-bp1reattach9k2m4n6q",
        "summary": "0000:3b:00.5 (disk d-bp1reattach9k2m4n6q (host mode)): bound to vfio-pci where nvme is expected (no block device can appear); driver_override=vfio-pci will bind vfio-pci on the next probe, but the disk needs nvme. Remedy: echo nvme > /sys/bus/pci/devices/0000:3b:00.5/driver_override; unbind the current driver if it is not nvme; echo 0000:3b:00.5 > /sys/bus/pci/drivers_probe; re-read the driver link.",
      }
    `);
  });
});
