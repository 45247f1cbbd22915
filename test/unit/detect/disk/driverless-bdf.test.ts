import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../../../shared/db/events.js";
import { driverlessBdf } from "../../../../shared/detect/disk/driverless-bdf.js";
import type { HostView } from "../../../../shared/view/host-view.js";
import {
  DISK,
  decides,
  diskView,
  INC1,
  type Inc1Name,
  inc1,
  raceEvents,
  run,
  VMD_BDF,
  wallOf,
  withX,
  X,
} from "../../../support/disk-scenarios.js";
import type { HostTreeSpec } from "../../../support/host-tree.js";
import { storedEvent } from "../../../support/views.js";

const PAIR = `${X}|${DISK.new}`;

interface Case {
  why: string;
  scenario?: Inc1Name;
  spec?: () => HostTreeSpec;
  events?: (view: HostView) => StoredEvent[];
  subject: string;
  says: string[];
  blind?: string;
}

const FIRES: Case[] = [
  {
    why: "names the override residue and the kernel's failure line for an unbound vfio-mode disk",
    scenario: "covered",
    subject: PAIR,
    says: [
      "driver_override=nvme lets only nvme probe it, but the disk needs vfio-pci",
      '"nvme nvme5: Removing after probe failure status: -19"',
      "echo vfio-pci >",
    ],
  },
  {
    why: "gives the nvme remedy for an unbound host-mode disk",
    scenario: "coveredHostMode",
    subject: PAIR,
    says: [
      "(host mode)",
      "driver_override=nvme;",
      "echo nvme > /sys/bus/pci/devices/0000:3b:00.5/driver_override",
    ],
  },
  {
    why: "handles a VMD function in PCI domain 10000",
    scenario: "vmd",
    subject: `${VMD_BDF}|${DISK.new}`,
    says: [
      `${VMD_BDF}, the PCI function of disk ${DISK.new} (host mode)`,
      "nvme nvme7: Removing after probe failure",
    ],
  },
  {
    why: "says vfio-pci cannot bind a function without an IOMMU group",
    spec: () =>
      withX(INC1.unboundNoProbe.spec(), (f) => {
        const { iommuGroup: _g, ...rest } = f;
        return rest;
      }),
    subject: PAIR,
    says: ["it has no IOMMU group, so vfio-pci cannot bind"],
  },
  {
    why: "cannot name the expected driver when the attach gave no mode",
    scenario: "unboundNoProbe",
    events: (view) => raceEvents(view).map((e) => ({ ...e, mode: null })),
    subject: PAIR,
    says: ["echo <the disk's driver> >"],
    blind: "the attach event gave no mode",
  },
];

async function viewOf(c: {
  scenario?: Inc1Name;
  spec?: () => HostTreeSpec;
}): Promise<{ view: HostView; events: StoredEvent[] }> {
  if (c.scenario) return inc1(c.scenario);
  const view = await diskView((c.spec ?? INC1.covered.spec)());
  return { view, events: raceEvents(view) };
}

describe("driverless-bdf", () => {
  it.each(FIRES)("fires and $why", async (c) => {
    const base = await viewOf(c);
    const events = c.events ? c.events(base.view) : base.events;
    const r = run(driverlessBdf, base.view, events);
    const v = r.bySubject.get(c.subject);
    expect(v, JSON.stringify([...r.bySubject.keys()])).toBeDefined();
    expect(v?.confidence).toBe("high");
    for (const s of c.says) expect(v?.summary, `summary should say ${s}`).toContain(s);
    if (c.blind) expect(v?.blindSpots.join("\n")).toContain(c.blind);
    expect(r.verdicts, "one verdict per driverless attached function").toHaveLength(1);
  });

  const QUIET: { why: string; scenario: Inc1Name; decided: boolean }[] = [
    { why: "vfio-pci is bound (healthy vfio re-attach)", scenario: "healthyVfio", decided: true },
    {
      why: "nvme is bound (healthy host re-attach, nvme5 holding nvme3n1)",
      scenario: "healthyHost",
      decided: true,
    },
    {
      why: "nvme grabbed the function (a wrong driver is still a driver)",
      scenario: "nvmeGrabbedVfio",
      decided: true,
    },
    {
      why: "the function is not on the bus at all (attached-disk-missing 1g)",
      scenario: "notOnBus",
      decided: true,
    },
    { why: "the disk is still inside its grace", scenario: "inGrace", decided: false },
    { why: "the attach failed", scenario: "failedAttach", decided: false },
  ];

  it.each(QUIET)("stays quiet when $why", async ({ scenario, decided }) => {
    const { view, events } = await inc1(scenario);
    const r = run(driverlessBdf, view, events);
    expect(r.verdicts.map((v) => v.summary)).toEqual([]);
    expect(decides(r, PAIR)).toBe(decided);
  });

  it("ignores an unbound function no disk is attached to", async () => {
    const { view } = await inc1("vmd");
    expect(view.pci.get(VMD_BDF)?.driver).toBeNull();
    expect(run(driverlessBdf, view, raceEvents(view)).verdicts.map((v) => v.subject)).toEqual([PAIR]);
  });

  it("clears when the control plane detaches the disk", async () => {
    const { view, events } = await inc1("covered");
    const detached = [
      ...events,
      storedEvent({
        id: "ev-new-detach",
        type: "detach",
        diskId: DISK.new,
        bdf: X,
        atMs: wallOf(view, 1843290),
      }),
    ];
    const r = run(driverlessBdf, view, detached);
    expect(r.verdicts).toEqual([]);
    expect(decides(r, PAIR)).toBe(true);
  });

  it("pins the verdict for the reference incident", async () => {
    const { view, events } = await inc1("covered");
    expect(run(driverlessBdf, view, events).bySubject.get(PAIR)).toMatchInlineSnapshot(`
      {
        "blindSpots": [],
        "confidence": "high",
        "detector": "driverless-bdf",
        "evidence": [
          {
            "at": "2026-03-03T10:18:52.449Z",
            "bdf": "0000:3b:00.5",
            "diskId": "d-bp1reattach9k2m4n6q",
            "eventId": "ev-new-attach",
            "kind": "event",
            "mode": "vfio",
            "note": "attach of d-bp1reattach9k2m4n6q at 0000:3b:00.5, 67.6 s before the snapshot",
            "outcome": "succeeded",
            "type": "attach",
          },
          {
            "kind": "fact",
            "note": "no driver is bound",
            "path": "sys/bus/pci/devices/0000:3b:00.5/driver",
            "raw": "(no driver link: unbound)",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "note": "driver_override: the only driver allowed to probe it, when set",
            "path": "sys/bus/pci/devices/0000:3b:00.5/driver_override",
            "raw": "nvme",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "note": "IOMMU group",
            "path": "sys/bus/pci/devices/0000:3b:00.5/iommu_group",
            "raw": "63",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "at": "2026-03-03T10:18:35.367Z",
            "atErrorMs": 6,
            "kind": "fact",
            "line": 6,
            "note": "kernel log line about the function",
            "path": "dev/kmsg",
            "raw": "6,98230,1843212918502,-;nvme nvme5: pci function 0000:3b:00.5",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "at": "2026-03-03T10:18:35.381Z",
            "atErrorMs": 6,
            "kind": "fact",
            "line": 7,
            "note": "kernel log line about the function",
            "path": "dev/kmsg",
            "raw": "4,98231,1843212931877,-;nvme nvme5: Device not ready; aborting initialisation, CSTS=0x0",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "at": "2026-03-03T10:18:35.381Z",
            "atErrorMs": 6,
            "kind": "fact",
            "line": 8,
            "note": "kernel log line about the function",
            "path": "dev/kmsg",
            "raw": "4,98232,1843212931902,-;nvme nvme5: Removing after probe failure status: -19",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
        ],
        "sinceMs": 1772533132449,
        "subject": "0000:3b:00.5|d-bp1reattach9k2m4n6q",
        "summary": "0000:3b:00.5, the PCI function of disk d-bp1reattach9k2m4n6q (vfio mode) attached at 2026-03-03T10:18:52.449Z (67.6 s ago), has no driver bound: driver_override=nvme lets only nvme probe it, but the disk needs vfio-pci (override residue); the kernel logged "nvme nvme5: Removing after probe failure status: -19". Remedy: echo vfio-pci > /sys/bus/pci/devices/0000:3b:00.5/driver_override; echo 0000:3b:00.5 > /sys/bus/pci/drivers_probe; then re-read the driver link (drivers_probe reports success even when nothing binds).",
      }
    `);
  });
});
