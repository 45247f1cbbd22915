import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import type { StoredEvent } from "../../../../shared/db/events.js";
import { orphanGlobalmount } from "../../../../shared/detect/mount/orphan-globalmount.js";
import type { DetectorRun, Verdict } from "../../../../shared/detect/types.js";
import { type HostTreeSpec, healthyHost } from "../../../support/host-tree.js";
import {
  containerNs,
  DISK,
  DISK_BDF,
  DISK_SERIAL,
  GLOBALMOUNT,
  globalmountUnder,
  leakHost,
  NODE_AGENT_POD,
  NS,
  PUBLISH,
  podProcess,
  viewWith,
  withKubeletRoot,
} from "../../../support/mount-scenarios.js";
import { storedEvent } from "../../../support/views.js";

const HOUR = 3_600_000;
const HOST = `mnt:[${NS.host}]`;
const V1 =
  "/var/lib/kubelet/plugins/kubernetes.io/csi/pv/pvc-7d1e0f6a-8c2b-4f53-a9e0-3b6c5d4e2f10/globalmount";
const ctx = (r: DetectorRun) =>
  JSON.stringify(
    r.verdicts.map((v) => [v.subject, v.confidence, v.summary]),
    null,
    1,
  );

/** The pod was deleted and its publish mount is gone, but NodeUnstage never ran: the staging mount stays. */
function unstageFailedHost(): HostTreeSpec {
  const spec = healthyHost();
  spec.mountNamespaces[NS.host] = (spec.mountNamespaces[NS.host] ?? []).filter((l) => !l.includes(PUBLISH));
  spec.processes = spec.processes.filter((p) => p.pid !== 31337);
  delete spec.mountNamespaces[NS.mysqld];
  return spec;
}

type Events = "detached" | "attached" | "none";
function eventsFor(kind: Events, captureMs: number): StoredEvent[] {
  const attach = storedEvent({
    id: "att-1",
    type: "attach",
    diskId: DISK,
    bdf: DISK_BDF,
    serial: DISK_SERIAL,
    mode: "host",
    atMs: captureMs - 30 * HOUR,
  });
  if (kind === "none") return [];
  if (kind === "attached") return [attach];
  // The detach carries neither BDF nor serial: the disk is found through its attach.
  return [attach, storedEvent({ id: "det-1", type: "detach", diskId: DISK, atMs: captureMs - HOUR })];
}

async function detect(spec: HostTreeSpec, events: Events = "none", edits?: Parameters<typeof viewWith>[1]) {
  const { bundle, view } = await viewWith(spec, edits);
  return {
    run: orphanGlobalmount.detect({ view, events: eventsFor(events, bundle.capture.startedAtMs) }),
    at: bundle.capture.startedAtMs,
  };
}

function only(r: DetectorRun): Verdict {
  expect(r.verdicts, ctx(r)).toHaveLength(1);
  const [v] = r.verdicts;
  if (!v) throw new Error("no verdict");
  return v;
}

describe("orphan-globalmount: fires", () => {
  it.each<{
    title: string;
    spec: () => HostTreeSpec;
    events: Events;
    subject: string;
    confidence: string;
    says: string[];
  }>([
    {
      title: "no pod publishes it and the control plane detached the disk: NodeUnstage never ran",
      spec: unstageFailedHost,
      events: "detached",
      subject: `${GLOBALMOUNT}|${HOST}`,
      confidence: "high",
      says: [
        `control plane detached disk ${DISK}`,
        `nvme2n1 (${DISK_BDF}, serial ${DISK_SERIAL}) is still here`,
        "fuser -vm /dev/nvme2n1",
      ],
    },
    {
      title: "no pod publishes it and the control plane has no record of the disk: low confidence",
      spec: unstageFailedHost,
      events: "none",
      subject: `${GLOBALMOUNT}|${HOST}`,
      confidence: "low",
      says: ["no attach for nvme2n1", "unless a pod is about to publish it"],
    },
    {
      title: "under a non-default kubelet root (/data/kubelet)",
      spec: () => withKubeletRoot(unstageFailedHost(), "/data/kubelet"),
      events: "detached",
      subject: `${globalmountUnder("/data/kubelet")}|${HOST}`,
      confidence: "high",
      says: [`${globalmountUnder("/data/kubelet")} is staged in the host mount namespace`],
    },
    {
      title:
        "both v1 and v2 staging paths of one volume mounted (in-place upgrade leftover), even while a pod uses it",
      spec: () => {
        const spec = healthyHost();
        spec.mountNamespaces[NS.host]?.push(
          `413 118 259:4 / ${V1} rw,relatime shared:233 - ext4 /dev/nvme2n1 rw`,
        );
        return spec;
      },
      events: "attached",
      subject: `${V1}|${HOST}`,
      confidence: "high",
      says: [`also staged at the v2 path ${GLOBALMOUNT}`, "in-place kubelet upgrade", "kubernetes#107065"],
    },
    {
      title: "its disk is gone from /sys/block (and a pod still publishes it)",
      spec: () => {
        const spec = healthyHost();
        spec.pci = spec.pci.filter((f) => f.bdf !== DISK_BDF);
        return spec;
      },
      events: "none",
      subject: `${GLOBALMOUNT}|${HOST}`,
      confidence: "high",
      says: [
        "Its disk is gone (no /sys/block entry has dev 259:4 or the name nvme2n1)",
        "1 pod publish mount(s) still use it",
      ],
    },
    {
      title: "its NVMe controller is dead",
      spec: () => {
        const spec = unstageFailedHost();
        for (const f of spec.pci) if (f.nvme?.name === "nvme2") f.nvme.state = "dead";
        return spec;
      },
      events: "attached",
      subject: `${GLOBALMOUNT}|${HOST}`,
      confidence: "high",
      says: ["Its disk is gone (its NVMe controller nvme2 is dead)"],
    },
    {
      title: "a foreign namespace's leaked copy of the publish path is no pod using it",
      spec: () => {
        const spec = unstageFailedHost();
        spec.mountNamespaces[NS.nodeAgent] = containerNs(1871, [
          "1893 1871 259:3 / /var/lib/kubelet rw,relatime - xfs /dev/nvme0n1p3 rw",
          `1922 1893 259:4 / ${PUBLISH} rw,relatime - ext4 /dev/nvme2n1 rw`,
        ]);
        return spec;
      },
      events: "detached",
      subject: `${GLOBALMOUNT}|${HOST}`,
      confidence: "high",
      says: ["No pod publishes it"],
    },
    {
      title: "a staging mount of a partition is judged by its disk",
      spec: () => {
        const spec = unstageFailedHost();
        spec.mountNamespaces[NS.host] = (spec.mountNamespaces[NS.host] ?? []).map((l) =>
          l.includes(GLOBALMOUNT)
            ? l.replace("259:4", "259:5").replace("/dev/nvme2n1 ", "/dev/nvme2n1p1 ")
            : l,
        );
        return spec;
      },
      events: "none",
      subject: `${GLOBALMOUNT}|${HOST}`,
      confidence: "low",
      says: ["nvme2n1p1 on nvme2n1", "fuser -vm"],
    },
  ])("$title", async ({ spec, events, subject, confidence, says }) => {
    const { run } = await detect(spec(), events);
    const v = only(run);
    expect(v.subject).toBe(subject);
    expect(v.confidence, v.summary).toBe(confidence);
    for (const s of says) expect(v.summary, v.summary).toContain(s);
  });

  it("dates the episode from the control-plane detach", async () => {
    const { run, at } = await detect(unstageFailedHost(), "detached");
    expect(only(run).sinceMs).toBe(at - HOUR);
  });

  it("a namespace running its own kubelet: its staging mounts are judged like the host's", async () => {
    const spec = unstageFailedHost();
    const nested = 4026534300;
    const staged = "/var/lib/kubelet/plugins/kubernetes.io/csi/pv/pvc-0000aaaa/globalmount";
    spec.mountNamespaces[nested] = containerNs(2301, [
      `2310 2301 259:4 / ${staged} rw,relatime shared:500 - ext4 /dev/nvme2n1 rw`,
    ]);
    spec.processes.push(podProcess({ pid: 53001, comm: "kubelet", podUid: NODE_AGENT_POD, mntNs: nested }));
    const { run } = await detect(spec, "detached");
    expect(
      run.verdicts.map((v) => v.subject),
      ctx(run),
    ).toEqual([`${GLOBALMOUNT}|${HOST}`, `${staged}|mnt:[${nested}]`]);
    expect(run.verdicts[1]?.summary).toContain("which runs its own kubelet");
  });
});

describe("orphan-globalmount: does not fire", () => {
  it.each<{ title: string; spec: () => HostTreeSpec; events: Events }>([
    { title: "a staged volume a pod publishes", spec: healthyHost, events: "none" },
    {
      title: "an unpublished staging mount whose disk the control plane has attached",
      spec: unstageFailedHost,
      events: "attached",
    },
    {
      title: "a copy left only in a foreign namespace (globalmount-held-foreign-ns's episode)",
      spec: () => leakHost(),
      events: "detached",
    },
  ])("$title", async ({ spec, events }) => {
    const { run } = await detect(spec(), events);
    expect(run.verdicts, ctx(run)).toEqual([]);
    expect(run.decided).toBe("all");
  });

  it("a tmpfs on the staging path (no disk to explain it) is left undecided", async () => {
    const spec = unstageFailedHost();
    spec.mountNamespaces[NS.host] = (spec.mountNamespaces[NS.host] ?? []).map((l) =>
      l.includes(GLOBALMOUNT)
        ? `412 118 0:88 / ${GLOBALMOUNT} rw,relatime shared:233 - tmpfs tmpfs rw,size=4k`
        : l,
    );
    const { run } = await detect(spec, "none");
    expect(run.verdicts, ctx(run)).toEqual([]);
    expect(run.decided !== "all" && !run.decided.has(`${GLOBALMOUNT}|${HOST}`), "tmpfs staging decided").toBe(
      true,
    );
  });

  it("without the host's mount table nothing is decided", async () => {
    const { run } = await detect(unstageFailedHost(), "detached", { evidence: { "proc/1/mountinfo": null } });
    expect(run.verdicts, ctx(run)).toEqual([]);
    expect(run.decided).not.toBe("all");
    for (const ns of [HOST, `mnt:[${NS.nodeAgent}]`]) {
      expect(run.decided !== "all" && run.decided.has(`${GLOBALMOUNT}|${ns}`), ns).toBe(false);
    }
  });
});

describe("orphan-globalmount: the full verdict", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-03-03T10:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("pins the NodeUnstage-never-ran verdict", async () => {
    const { run } = await detect(unstageFailedHost(), "detached");
    expect(only(run)).toMatchInlineSnapshot(`
      {
        "blindSpots": [
          "vol_data.json is not shipped: the staging directory's volume handle and a staging dir without it cannot be checked",
        ],
        "confidence": "high",
        "detector": "orphan-globalmount",
        "evidence": [
          {
            "kind": "fact",
            "line": 8,
            "note": "the staging mount in mnt:[4026531840]",
            "path": "proc/1/mountinfo",
            "raw": "412 118 259:4 / /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount rw,relatime shared:233 - ext4 /dev/nvme2n1 rw",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "kind": "fact",
            "note": "the staging mount's device: nvme2n1 (0000:3b:00.3, serial bp1g6qn7zcd3f8l2x9ab)",
            "path": "sys/block/nvme2n1/dev",
            "raw": "259:4",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "at": "2026-03-03T09:00:00.000Z",
            "bdf": null,
            "diskId": "d-bp1g6qn7zcd3f8l2x9ab",
            "eventId": "det-1",
            "kind": "event",
            "mode": null,
            "note": "the control plane detached the disk this staging mount holds",
            "outcome": "succeeded",
            "type": "detach",
          },
        ],
        "sinceMs": 1772528400000,
        "subject": "/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount|mnt:[4026531840]",
        "summary": "/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount is staged in the host mount namespace (ext4 /dev/nvme2n1, 259:4). No pod publishes it and the control plane detached disk d-bp1g6qn7zcd3f8l2x9ab at 2026-03-03T09:00:00.000Z, yet nvme2n1 (0000:3b:00.3, serial bp1g6qn7zcd3f8l2x9ab) is still here and staged: NodeUnstage never ran or failed. Check kubelet and CSI logs for the volume, check \`fuser -vm /dev/nvme2n1\`, then unmount the staging path.",
      }
    `);
  });
});
