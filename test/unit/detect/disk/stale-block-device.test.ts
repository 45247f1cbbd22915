import { describe, expect, it } from "vitest";
import type { StoredEvent } from "../../../../shared/db/events.js";
import { staleBlockDevice } from "../../../../shared/detect/disk/stale-block-device.js";
import type { Confidence } from "../../../../shared/detect/types.js";
import type { HostView } from "../../../../shared/view/host-view.js";
import {
  CAPTURE_MS,
  DISK,
  diskView,
  healthyHostReattachHost,
  healthyVfioReattachHost,
  K,
  raceEvents,
  run,
  serialOf,
  unlistPci,
  VMD_BDF,
  wallOf,
  X,
} from "../../../support/disk-scenarios.js";
import type { HostTreeSpec } from "../../../support/host-tree.js";
import { storedEvent } from "../../../support/views.js";

const MOUNTED_BDF = "0000:3b:00.3";

/** The reference host-mounted disk (nvme2n1 on 0000:3b:00.3), attached long ago and detached `agoSec` before capture. */
function mountedDiskDetached(view: HostView, opts: { agoSec: number; serial: boolean }): StoredEvent[] {
  return [
    storedEvent({
      id: "ev-mounted-attach",
      type: "attach",
      diskId: DISK.hostMounted,
      bdf: MOUNTED_BDF,
      mode: "host",
      serial: opts.serial ? serialOf(DISK.hostMounted) : null,
      atMs: wallOf(view, K.early - 3600),
    }),
    storedEvent({
      id: "ev-mounted-detach",
      type: "detach",
      diskId: DISK.hostMounted,
      bdf: MOUNTED_BDF,
      atMs: CAPTURE_MS - opts.agoSec * 1000,
    }),
  ];
}

/** d-new attached at X without a serial, then detached 5 min before capture. */
function newDiskDetached(view: HostView): StoredEvent[] {
  return [
    storedEvent({
      id: "ev-new-attach",
      type: "attach",
      diskId: DISK.new,
      bdf: X,
      mode: "host",
      atMs: wallOf(view, K.early - 3600),
    }),
    storedEvent({
      id: "ev-new-detach",
      type: "detach",
      diskId: DISK.new,
      bdf: X,
      atMs: CAPTURE_MS - 300_000,
    }),
  ];
}

/** X's controller nvme5 (holding nvme3n1) changed by `edit`. */
function xController(
  edit: (c: { state: "live" | "dead" | "deleting"; sizeSectors: number }) => void,
): () => HostTreeSpec {
  return () => {
    const spec = healthyHostReattachHost();
    const f = spec.pci.find((p) => p.bdf === X);
    const ns = f?.nvme?.namespaces[0];
    if (f?.nvme && ns) {
      const c: { state: "live" | "dead" | "deleting"; sizeSectors: number } = {
        state: "live",
        sizeSectors: ns.sizeSectors,
      };
      edit(c);
      f.nvme.state = c.state;
      ns.sizeSectors = c.sizeSectors;
    }
    return spec;
  };
}

interface Case {
  why: string;
  spec: () => HostTreeSpec;
  patch?: (dir: string) => void;
  events: (view: HostView) => StoredEvent[];
  subject: string;
  confidence: Confidence;
  says: string[];
}

const FIRES: Case[] = [
  {
    why: "shows the serial of a disk the control plane detached, mounted in four namespaces",
    spec: healthyVfioReattachHost,
    events: (v) => mountedDiskDetached(v, { agoSec: 300, serial: true }),
    subject: `nvme2n1|${DISK.hostMounted}`,
    confidence: "high",
    says: [
      `serial ${serialOf(DISK.hostMounted)}, the serial of disk ${DISK.hostMounted}`,
      "still mounted (5 mount(s) in 4 namespace(s)",
      "nsenter -t <pid> -m umount",
    ],
  },
  {
    why: "sits on a BDF a detach freed (events without serials), unmounted: medium",
    spec: healthyHostReattachHost,
    events: newDiskDetached,
    subject: `nvme3n1|${DISK.new}`,
    confidence: "medium",
    says: [`which the detach of disk ${DISK.new}`, "Nothing mounts it"],
  },
  {
    why: "lost its PCI function (surprise removal) while still mounted",
    spec: healthyVfioReattachHost,
    patch: unlistPci(MOUNTED_BDF),
    events: () => [],
    subject: `nvme2n1|${MOUNTED_BDF}`,
    confidence: "high",
    says: [`its PCI function ${MOUNTED_BDF} is gone from /sys/bus/pci/devices`, "still mounted"],
  },
  {
    why: "has a dead controller whose number differs from the namespace's (nvme5 holding nvme3n1)",
    spec: xController((c) => {
      c.state = "dead";
    }),
    events: () => [],
    subject: `nvme3n1|${X}`,
    confidence: "medium",
    says: ["its controller nvme5 is dead"],
  },
  {
    why: "has size 0",
    spec: xController((c) => {
      c.sizeSectors = 0;
    }),
    events: () => [],
    subject: `nvme3n1|${X}`,
    confidence: "medium",
    says: ["its size is 0"],
  },
  {
    why: "sits on a VMD function (domain 10000) whose controller is deleting",
    spec: () => {
      const spec = healthyVfioReattachHost();
      spec.pci.push({
        bdf: VMD_BDF,
        parent: "pci10000:00/10000:00:02.0",
        vendor: "0x1ded",
        device: "0x5004",
        class: "0x010802",
        driver: "nvme",
        iommuGroup: 80,
        nvme: {
          name: "nvme7",
          state: "deleting",
          serial: "vmd0disk",
          model: "Alibaba Cloud Elastic Block Storage",
          namespaces: [{ name: "nvme4n1", dev: "259:12", sizeSectors: 2048 }],
        },
      });
      return spec;
    },
    events: () => [],
    subject: `nvme4n1|${VMD_BDF}`,
    confidence: "medium",
    says: ["on 10000:01:00.0", "its controller nvme7 is deleting"],
  },
];

describe("stale-block-device", () => {
  it.each(FIRES)("fires when a block device $why", async (c) => {
    const view = await diskView(c.spec(), c.patch ? { patch: c.patch } : {});
    const r = run(staleBlockDevice, view, c.events(view));
    const v = r.bySubject.get(c.subject);
    expect(v, JSON.stringify([...r.bySubject.keys()])).toBeDefined();
    expect(v?.confidence, v?.summary).toBe(c.confidence);
    for (const s of c.says) expect(v?.summary, `summary should say ${s}`).toContain(s);
    expect(r.verdicts, "only the stale device").toHaveLength(1);
  });

  const QUIET: { why: string; spec: () => HostTreeSpec; events: (view: HostView) => StoredEvent[] }[] = [
    {
      why: "the only size-0 device is loop0 (not a disk) and every disk is attached",
      spec: healthyVfioReattachHost,
      events: () => [],
    },
    {
      why: "the disk was detached 30 s ago (teardown still running)",
      spec: healthyVfioReattachHost,
      events: (v) => mountedDiskDetached(v, { agoSec: 30, serial: true }),
    },
    {
      why: "a new disk was attached on the freed BDF since (its serial is the new disk's)",
      spec: healthyHostReattachHost,
      events: (v) => raceEvents(v, { mode: "host" }),
    },
  ];

  it.each(QUIET)("stays quiet when $why", async ({ spec, events }) => {
    const view = await diskView(spec());
    const r = run(staleBlockDevice, view, events(view));
    expect(r.verdicts.map((v) => v.summary)).toEqual([]);
    expect(
      r.decided,
      "a complete /sys/block listing decides every subject (a vanished device is cleared)",
    ).toBe("all");
  });

  it("pins the verdict for a detached disk still mounted in other namespaces", async () => {
    const view = await diskView(healthyVfioReattachHost());
    const v = run(
      staleBlockDevice,
      view,
      mountedDiskDetached(view, { agoSec: 300, serial: true }),
    ).bySubject.get(`nvme2n1|${DISK.hostMounted}`);
    expect(v).toMatchInlineSnapshot(`
      {
        "blindSpots": [],
        "confidence": "high",
        "detector": "stale-block-device",
        "evidence": [
          {
            "kind": "fact",
            "note": "/sys/block/nvme2n1 link",
            "path": "sys/block/nvme2n1",
            "raw": "../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "at": "2026-03-03T10:15:00.000Z",
            "bdf": "0000:3b:00.3",
            "diskId": "d-bp1g6qn7zcd3f8l2x9ab",
            "eventId": "ev-mounted-detach",
            "kind": "event",
            "mode": null,
            "note": "detach of d-bp1g6qn7zcd3f8l2x9ab",
            "outcome": "succeeded",
            "type": "detach",
          },
          {
            "at": "2026-03-03T09:16:42.449Z",
            "bdf": "0000:3b:00.3",
            "diskId": "d-bp1g6qn7zcd3f8l2x9ab",
            "eventId": "ev-mounted-attach",
            "kind": "event",
            "mode": "host",
            "note": "the attach that gave d-bp1g6qn7zcd3f8l2x9ab serial bp1g6qn7zcd3f8l2x9ab",
            "outcome": "succeeded",
            "type": "attach",
          },
          {
            "kind": "fact",
            "note": "serial of nvme2, the controller of nvme2n1",
            "path": "sys/class/nvme/nvme2/serial",
            "raw": "bp1g6qn7zcd3f8l2x9ab",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "line": 8,
            "note": "259:4 is mounted at /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount in the host (pids 1, 2, 1100, 1187, 1523)",
            "path": "proc/1/mountinfo",
            "raw": "412 118 259:4 / /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount rw,relatime shared:233 - ext4 /dev/nvme2n1 rw",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "line": 9,
            "note": "259:4 is mounted at /var/lib/kubelet/pods/5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11/volumes/kubernetes.io~csi/d-bp1g6qn7zcd3f8l2x9ab/mount in the host (pids 1, 2, 1100, 1187, 1523)",
            "path": "proc/1/mountinfo",
            "raw": "437 118 259:4 / /var/lib/kubelet/pods/5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11/volumes/kubernetes.io~csi/d-bp1g6qn7zcd3f8l2x9ab/mount rw,relatime shared:233 - ext4 /dev/nvme2n1 rw",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "line": 5,
            "note": "259:4 is mounted at /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount in mount namespace mnt:[4026532650] (pids 2931)",
            "path": "proc/2931/mountinfo",
            "raw": "1709 1708 259:4 / /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount rw,relatime shared:233 - ext4 /dev/nvme2n1 rw",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "line": 4,
            "note": "259:4 is mounted at /var/lib/mysql in mount namespace mnt:[4026532700] (pids 31337)",
            "path": "proc/31337/mountinfo",
            "raw": "1807 1801 259:4 / /var/lib/mysql rw,relatime - ext4 /dev/nvme2n1 rw",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
          {
            "kind": "fact",
            "line": 5,
            "note": "259:4 is mounted at /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount in mount namespace mnt:[4026532871] (pids 77102)",
            "path": "proc/77102/mountinfo",
            "raw": "1921 1893 259:4 / /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount rw,relatime master:233 - ext4 /dev/nvme2n1 rw",
            "snapshotKey": "snapshots/i-disk/test/1772533200000.json.gz",
          },
        ],
        "sinceMs": 1772532900000,
        "subject": "nvme2n1|d-bp1g6qn7zcd3f8l2x9ab",
        "summary": "Block device nvme2n1 (259:4) on 0000:3b:00.3 is stale: it shows serial bp1g6qn7zcd3f8l2x9ab, the serial of disk d-bp1g6qn7zcd3f8l2x9ab, which the control plane detached at 2026-03-03T10:15:00.000Z (5.0 min ago). It is still mounted (5 mount(s) in 4 namespace(s), e.g. /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount): I/O there will fail; unmount it in every holder namespace (nsenter -t <pid> -m umount <path>) before the BDF is reused.",
      }
    `);
  });
});
