import { describe, expect, it } from "vitest";
import { attachedDiskMissing } from "../../../../shared/detect/disk/attached-disk-missing.js";
import { reattachBdfRace } from "../../../../shared/detect/disk/reattach-bdf-race.js";
import { traceBlindSpot } from "../../../../shared/detect/disk/trace-blind-spot.js";
import type { Confidence } from "../../../../shared/detect/types.js";
import {
  DISK,
  decides,
  fromWire,
  INC1,
  type Inc1Name,
  inc1,
  rfc3339,
  run,
  wallOf,
  X,
} from "../../../support/disk-scenarios.js";
import { storedEvent } from "../../../support/views.js";

const SUBJECT = `${DISK.new}|ev-new-attach`;

interface FireCase {
  why: string;
  scenario: Inc1Name;
  confidence: Confidence;
  says: string[];
}

const FIRES: FireCase[] = [
  {
    why: "fires on the reference §0 incident as shipped, although CPU 33's buffer starts after the probe (presence needs no coverage)",
    scenario: "referencePreset",
    confidence: "high",
    says: [
      "kworker/17:2 (pid 1187)",
      '"nvme nvme5: pci function 0000:3b:00.5" 71 µs after it',
      "Removing after probe failure status: -19",
    ],
  },
  {
    why: "fires with high confidence on kmsg attribution, naming the kworker trigger, the bind_store by another task, and the R3 override residue",
    scenario: "covered",
    confidence: "high",
    says: [
      "csi-plugin pid 2931 wrote bind_store 0.5 ms before it",
      "1e:",
      "R3 override residue: driver_override=nvme",
      "never got its vfio group",
    ],
  },
  {
    why: "fires in host mode for a disk that never got its block device",
    scenario: "coveredHostMode",
    confidence: "high",
    says: ["(host mode)", "never got its block device", "Now: no block device (1e:"],
  },
  {
    why: "fires on a kprobe dev= argument and a negative kretprobe when the kernel log says nothing",
    scenario: "kprobe",
    confidence: "high",
    says: [`a kprobe recorded dev=${X}`, "nvme_probe returned -19"],
  },
  {
    why: "fires with medium confidence on inference alone: a silent -ENODEV probe, X the only candidate, no live controller left",
    scenario: "inferred",
    confidence: "medium",
    says: [
      "inferred: it was the only NVMe-class function",
      "0000:3b:00.4 (driver_override=vfio-pci)",
      "left no live controller",
    ],
  },
  {
    why: "adds R2 when the agent's vfio bind after the probe returned ENODEV",
    scenario: "bindRace",
    confidence: "high",
    says: ["R2 bind race: csi-plugin (pid 2931) then tried to bind vfio-pci and got ENODEV"],
  },
  {
    why: "reads a 4.19-style trace (4 flag columns) and the pr_warn failure form",
    scenario: "kernel419",
    confidence: "high",
    says: [`"nvme: probe of ${X} failed with error -19"`],
  },
  {
    why: "attributes by inference on a RHEL7 kernel that logs only `probe of X failed`",
    scenario: "rhel7",
    confidence: "medium",
    says: [`"nvme: probe of ${X} failed with error -12"`, "inferred"],
  },
  {
    why: "reads the dev_err failure form of upstream ≥6.10 kernels",
    scenario: "upstream6",
    confidence: "high",
    says: [`"nvme ${X}: probe with driver nvme failed with error -19"`],
  },
  {
    why: "handles a PCI domain beyond 0000 (VMD 10000:01:00.0) and a controller number unrelated to X",
    scenario: "vmd",
    confidence: "high",
    says: [
      "attached at 10000:01:00.0",
      '"nvme nvme7: pci function 10000:01:00.0"',
      "nvme nvme7: Removing after probe failure",
    ],
  },
];

interface DecoyCase {
  why: string;
  scenario: Inc1Name;
  decided: boolean;
  /** Which INC-1 detectors claim the attach instead (none for a disk that is fine or not attached). */
  claimedBy: ("attached-disk-missing" | "trace-blind-spot")[];
}

const DECOYS: DecoyCase[] = [
  {
    why: "a probe 2 s before the detach freed X is not the race: the disk is attached-disk-missing",
    scenario: "probeBeforeDetach",
    decided: true,
    claimedBy: ["attached-disk-missing"],
  },
  {
    why: "a probe the kernel attributes to another BDF (0000:3b:00.6) is not the race",
    scenario: "probeOnOtherBdf",
    decided: true,
    claimedBy: ["attached-disk-missing"],
  },
  {
    why: "a healthy vfio re-attach (group node present) clears it",
    scenario: "healthyVfio",
    decided: true,
    claimedBy: [],
  },
  {
    why: "a healthy host re-attach (nvme5 holds nvme3n1, probed after the attach) clears it",
    scenario: "healthyHost",
    decided: true,
    claimedBy: [],
  },
  {
    why: "a disk inside its 60 s grace is neither flagged nor decided",
    scenario: "inGrace",
    decided: false,
    claimedBy: [],
  },
  {
    why: "a wrapped trace that starts after the detach leaves it undecided: trace-blind-spot and attached-disk-missing instead",
    scenario: "wrapped",
    decided: false,
    claimedBy: ["attached-disk-missing", "trace-blind-spot"],
  },
  {
    why: "a host with no trace at all leaves it undecided: trace-blind-spot and attached-disk-missing instead",
    scenario: "noTrace",
    decided: false,
    claimedBy: ["attached-disk-missing", "trace-blind-spot"],
  },
  { why: "a failed attach event attaches nothing", scenario: "failedAttach", decided: false, claimedBy: [] },
];

describe("reattach-bdf-race", () => {
  it.each(FIRES)("$why", async ({ scenario, confidence, says }) => {
    const { view, events } = await inc1(scenario);
    const r = run(reattachBdfRace, view, events);
    const v = r.bySubject.get(SUBJECT);
    expect(v, JSON.stringify(r.verdicts.map((x) => x.subject))).toBeDefined();
    expect(v?.confidence, v?.summary).toBe(confidence);
    for (const s of says) expect(v?.summary, `summary should say ${s}`).toContain(s);
    expect(v?.sinceMs).toBe(events.find((e) => e.id === "ev-new-attach")?.atMs);
    expect(decides(r, SUBJECT)).toBe(true);
    // Exclusive with attached-disk-missing: one attach, one explanation.
    expect(run(attachedDiskMissing, view, events).bySubject.has(SUBJECT)).toBe(false);
  });

  it.each(DECOYS)("does not fire: $why", async ({ scenario, decided, claimedBy }) => {
    const { view, events } = await inc1(scenario);
    const r = run(reattachBdfRace, view, events);
    expect(r.verdicts, r.verdicts.map((v) => v.summary).join("\n")).toEqual([]);
    expect(decides(r, SUBJECT), `decided ${SUBJECT}`).toBe(decided);
    const claimed = [attachedDiskMissing, traceBlindSpot]
      .filter((d) => run(d, view, events).bySubject.has(SUBJECT))
      .map((d) => d.id);
    expect(claimed).toEqual(claimedBy);
  });

  it("gives the same verdict for events in several time zones, duplicated and out of order", async () => {
    const { view, events } = await inc1("covered");
    const canonical = run(reattachBdfRace, view, events).verdicts;
    const offsets = [480, -300, 330];
    const wire = events.map((e, i) =>
      fromWire({
        id: e.id,
        type: e.type,
        outcome: e.outcome,
        diskId: e.diskId,
        instanceId: "i-disk",
        ...(e.bdf ? { bdf: e.bdf.toUpperCase() } : {}),
        ...(e.serial ? { serial: e.serial } : {}),
        ...(e.mode ? { mode: e.mode } : {}),
        at: rfc3339(e.atMs, offsets[i % offsets.length] ?? 0),
      }),
    );
    expect(wire[0]?.raw, "the wire form keeps its offset").toMatch(/\+08:00/);
    const scrambled = [wire[2], wire[0], wire[1], wire[2], wire[1]].filter((e) => e !== undefined);
    expect(run(reattachBdfRace, view, scrambled).verdicts).toEqual(canonical);
  });

  it("clears once the control plane detaches the disk", async () => {
    const { view, events } = await inc1("covered");
    const later = [
      ...events,
      storedEvent({
        id: "ev-new-detach",
        type: "detach",
        diskId: DISK.new,
        bdf: X,
        atMs: wallOf(view, 1843290),
      }),
    ];
    const r = run(reattachBdfRace, view, later);
    expect(r.verdicts).toEqual([]);
    expect(decides(r, SUBJECT)).toBe(true);
  });

  it("every missing attach past its grace is claimed by exactly one of reattach-bdf-race and attached-disk-missing", async () => {
    for (const name of Object.keys(INC1) as Inc1Name[]) {
      const { view, events } = await inc1(name);
      const race = run(reattachBdfRace, view, events).bySubject.has(SUBJECT);
      const missing = run(attachedDiskMissing, view, events).bySubject.has(SUBJECT);
      expect(race && missing, `${name}: both claim it`).toBe(false);
    }
  });

  it("does not fire without a detach that freed X in the event window", async () => {
    const { view, events } = await inc1("covered");
    const r = run(
      reattachBdfRace,
      view,
      events.filter((e) => e.id === "ev-new-attach"),
    );
    expect(r.verdicts).toEqual([]);
    expect(decides(r, SUBJECT), "unknown, not cleared").toBe(false);
  });

  it("pins the verdict for the reference incident", async () => {
    const { view, events } = await inc1("covered");
    const v = run(reattachBdfRace, view, events).bySubject.get(SUBJECT);
    expect(v).toMatchInlineSnapshot(`
      {
        "blindSpots": [],
        "confidence": "high",
        "detector": "reattach-bdf-race",
        "evidence": [
          {
            "at": "2026-03-03T10:18:22.449Z",
            "bdf": "0000:3b:00.5",
            "diskId": "d-uf6a1b2c3d4e5f6g7h8",
            "eventId": "ev-old-detach",
            "kind": "event",
            "mode": null,
            "note": "detach of d-uf6a1b2c3d4e5f6g7h8 freed 0000:3b:00.5: the race window opens",
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
            "note": "attach of d-bp1reattach9k2m4n6q landed on 0000:3b:00.5: the window closes 1.0 s later",
            "outcome": "succeeded",
            "type": "attach",
          },
          {
            "at": "2026-03-03T10:18:35.367Z",
            "atErrorMs": 6,
            "kind": "fact",
            "line": 16,
            "note": "nvme_probe in the race window by kworker/17:2-1187 (kworker)",
            "path": "sys/kernel/tracing/trace",
            "raw": "    kworker/17:2-1187    [017] ..... 1843212.918431: nvme_probe <-local_pci_probe",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "at": "2026-03-03T10:18:35.367Z",
            "atErrorMs": 6,
            "kind": "fact",
            "line": 6,
            "note": "attributes the probe to 0000:3b:00.5 (71 µs from the trace entry, same clock base)",
            "path": "dev/kmsg",
            "raw": "6,98230,1843212918502,-;nvme nvme5: pci function 0000:3b:00.5",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "at": "2026-03-03T10:18:35.367Z",
            "atErrorMs": 6,
            "kind": "fact",
            "line": 15,
            "note": "bind_store by another task within 100 ms before the probe",
            "path": "sys/kernel/tracing/trace",
            "raw": "      csi-plugin-2931    [017] ..... 1843212.917902: bind_store <-drv_attr_store",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "at": "2026-03-03T10:18:35.381Z",
            "atErrorMs": 6,
            "kind": "fact",
            "line": 7,
            "note": "probe failure within 60 s of the probe",
            "path": "dev/kmsg",
            "raw": "4,98231,1843212931877,-;nvme nvme5: Device not ready; aborting initialisation, CSTS=0x0",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "at": "2026-03-03T10:18:35.381Z",
            "atErrorMs": 6,
            "kind": "fact",
            "line": 8,
            "note": "probe failure within 60 s of the probe",
            "path": "dev/kmsg",
            "raw": "4,98232,1843212931902,-;nvme nvme5: Removing after probe failure status: -19",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "note": "driver bound to the disk's PCI function",
            "path": "sys/bus/pci/devices/0000:3b:00.5/driver",
            "raw": "(no driver link: unbound)",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "note": "no node for group 63: no vfio driver holds 0000:3b:00.5",
            "path": "dev/vfio/",
            "raw": "62",
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
            "kind": "fact",
            "note": "IOMMU group (vfio-pci needs one)",
            "path": "sys/bus/pci/devices/0000:3b:00.5/iommu_group",
            "raw": "63",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
        ],
        "sinceMs": 1772533132449,
        "subject": "d-bp1reattach9k2m4n6q|ev-new-attach",
        "summary": "Disk d-bp1reattach9k2m4n6q (vfio mode) was attached at 0000:3b:00.5 at 2026-03-03T10:18:52.449Z and never got its vfio group: after the detach of d-uf6a1b2c3d4e5f6g7h8 at 2026-03-03T10:18:22.449Z freed 0000:3b:00.5, nvme_probe at 2026-03-03T10:18:35.367Z ±6 ms (12.9 s after the detach and 17.1 s before the attach) from kworker/17:2 (pid 1187) with no bind_store by that task in the 100 ms before: autoprobe, async probe or the work_on_cpu hop of a bind (csi-plugin pid 2931 wrote bind_store 0.5 ms before it); the kernel logged "nvme nvme5: pci function 0000:3b:00.5" 71 µs after it; the probe failed ("nvme nvme5: Device not ready; aborting initialisation, CSTS=0x0", "nvme nvme5: Removing after probe failure status: -19"). Now: unbound, no /dev/vfio/63 (1e: no driver is bound to 0000:3b:00.5: a probe failed or was rejected (driver_override=nvme lets only nvme probe it, but the disk needs vfio-pci; the kernel log has 2 probe-failure line(s) for it)). R3 override residue: driver_override=nvme names the wrong driver for vfio mode and decides the next autoprobe. Remedy: echo vfio-pci > /sys/bus/pci/devices/0000:3b:00.5/driver_override, echo 0000:3b:00.5 > /sys/bus/pci/drivers_probe, then re-read the driver link (drivers_probe reports success even when nothing binds).",
      }
    `);
  });
});
