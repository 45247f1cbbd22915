import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../../../shared/db/events.js";
import { diskSerialMismatch } from "../../../../shared/detect/disk/disk-serial-mismatch.js";
import type { Confidence } from "../../../../shared/detect/types.js";
import type { HostView } from "../../../../shared/view/host-view.js";
import {
  DISK,
  decides,
  diskView,
  healthyHostReattachHost,
  inc1,
  K,
  raceEvents,
  run,
  serialOf,
  X,
} from "../../../support/disk-scenarios.js";
import type { HostTreeSpec } from "../../../support/host-tree.js";

const PAIR = `${X}|${DISK.new}`;

/** The healthy host re-attach with X's controller nvme5 showing `serial`. */
function xSerial(serial: string): () => HostTreeSpec {
  return () => {
    const spec = healthyHostReattachHost();
    const f = spec.pci.find((p) => p.bdf === X);
    if (f?.nvme) f.nvme.serial = serial;
    return spec;
  };
}

const hostEvents = (v: HostView): StoredEvent[] => raceEvents(v, { mode: "host" });

interface Case {
  why: string;
  spec: () => HostTreeSpec;
  events: (view: HostView) => StoredEvent[];
  confidence: Confidence;
  says: string[];
  blind?: string;
}

const FIRES: Case[] = [
  {
    why: "X still shows the serial of the disk detached from it (BDF reuse)",
    spec: xSerial(serialOf(DISK.old)),
    events: hostEvents,
    confidence: "high",
    says: [
      `shows NVMe serial ${serialOf(DISK.old)} (nvme5)`,
      `with serial ${serialOf(DISK.new)}`,
      `That serial belongs to disk ${DISK.old} (attached at ${X}`,
      ", detached at ",
      "match by serial",
    ],
  },
  {
    why: "the attach gave no serial but X shows another disk's",
    spec: xSerial(serialOf(DISK.old)),
    events: (v) => hostEvents(v).map((e) => (e.id === "ev-new-attach" ? { ...e, serial: null } : e)),
    confidence: "medium",
    says: [`That serial belongs to disk ${DISK.old}`],
    blind: "the attach event carries no serial",
  },
  {
    why: "X shows a serial no event knows",
    spec: xSerial("zz9unknown0serial000"),
    events: hostEvents,
    confidence: "high",
    says: ["shows NVMe serial zz9unknown0serial000 (nvme5)"],
  },
];

describe("disk-serial-mismatch", () => {
  it.each(FIRES)("fires when $why", async (c) => {
    const view = await diskView(c.spec());
    const r = run(diskSerialMismatch, view, c.events(view));
    const v = r.bySubject.get(PAIR);
    expect(v, JSON.stringify([...r.bySubject.keys()])).toBeDefined();
    expect(v?.confidence, v?.summary).toBe(c.confidence);
    for (const s of c.says) expect(v?.summary, `summary should say ${s}`).toContain(s);
    if (c.blind) expect(v?.blindSpots.join("\n")).toContain(c.blind);
    else expect(v?.blindSpots).toEqual([]);
    expect(decides(r, PAIR)).toBe(true);
  });

  it.each([
    { why: "the serial matches (padded to 20 by the kernel)", spec: healthyHostReattachHost, decided: true },
    {
      why: "the serial differs only in case",
      spec: xSerial(serialOf(DISK.new).toUpperCase()),
      decided: true,
    },
  ])("stays quiet when $why", async ({ spec, decided }) => {
    const view = await diskView(spec());
    const r = run(diskSerialMismatch, view, hostEvents(view));
    expect(r.verdicts.map((v) => v.summary)).toEqual([]);
    expect(decides(r, PAIR)).toBe(decided);
  });

  it("cannot decide without a controller at X (unbound) and leaves an open episode alone", async () => {
    const { view, events } = await inc1("covered");
    const r = run(diskSerialMismatch, view, events);
    expect(r.verdicts).toEqual([]);
    expect(decides(r, PAIR)).toBe(false);
    expect(decides(r, `${X}|${DISK.old}`), "the detached disk's pair is over").toBe(true);
  });

  it("waits for the grace to pass", async () => {
    const view = await diskView(xSerial(serialOf(DISK.old))());
    const r = run(diskSerialMismatch, view, raceEvents(view, { mode: "host", attachSec: K.now - 20 }));
    expect(r.verdicts).toEqual([]);
    expect(decides(r, PAIR)).toBe(false);
  });

  it("pins the verdict for a reused BDF", async () => {
    const view = await diskView(xSerial(serialOf(DISK.old))());
    expect(run(diskSerialMismatch, view, hostEvents(view)).bySubject.get(PAIR)).toMatchInlineSnapshot(`
      {
        "blindSpots": [],
        "confidence": "high",
        "detector": "disk-serial-mismatch",
        "evidence": [
          {
            "at": "2026-03-03T10:18:52.449Z",
            "bdf": "0000:3b:00.5",
            "diskId": "d-bp1reattach9k2m4n6q",
            "eventId": "ev-new-attach",
            "kind": "event",
            "mode": "host",
            "note": "attach of d-bp1reattach9k2m4n6q at 0000:3b:00.5 with serial bp1reattach9k2m4n6q",
            "outcome": "succeeded",
            "type": "attach",
          },
          {
            "kind": "fact",
            "note": "serial of nvme5, the controller at 0000:3b:00.5",
            "path": "sys/class/nvme/nvme5/serial",
            "raw": "uf6a1b2c3d4e5f6g7h8",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "at": "2026-03-03T10:06:42.449Z",
            "bdf": "0000:3b:00.5",
            "diskId": "d-uf6a1b2c3d4e5f6g7h8",
            "eventId": "ev-old-attach",
            "kind": "event",
            "mode": "host",
            "note": "attach that gave disk d-uf6a1b2c3d4e5f6g7h8 serial uf6a1b2c3d4e5f6g7h8",
            "outcome": "succeeded",
            "type": "attach",
          },
          {
            "at": "2026-03-03T10:18:22.449Z",
            "bdf": "0000:3b:00.5",
            "diskId": "d-uf6a1b2c3d4e5f6g7h8",
            "eventId": "ev-old-detach",
            "kind": "event",
            "mode": null,
            "note": "detach of d-uf6a1b2c3d4e5f6g7h8",
            "outcome": "succeeded",
            "type": "detach",
          },
        ],
        "sinceMs": 1772533132449,
        "subject": "0000:3b:00.5|d-bp1reattach9k2m4n6q",
        "summary": "0000:3b:00.5 shows NVMe serial uf6a1b2c3d4e5f6g7h8 (nvme5), but the control plane attached disk d-bp1reattach9k2m4n6q (host mode) there at 2026-03-03T10:18:52.449Z (67.6 s ago) with serial bp1reattach9k2m4n6q. That serial belongs to disk d-uf6a1b2c3d4e5f6g7h8 (attached at 0000:3b:00.5 at 2026-03-03T10:06:42.449Z, detached at 2026-03-03T10:18:22.449Z): the BDF was reused (typically after a force-detach) and the host still runs the previous disk's controller. Anything keyed by BDF alone (unbind, bind, mount by path) now acts on the wrong disk: match by serial, and clear what still uses the old disk (see stale-block-device) before rebinding.",
      }
    `);
  });
});
