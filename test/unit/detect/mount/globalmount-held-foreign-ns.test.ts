import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type EpisodeState, episodeId, reconcileEpisodes } from "../../../../shared/detect/episodes.js";
import { globalmountHeldForeignNs } from "../../../../shared/detect/mount/globalmount-held-foreign-ns.js";
import type { DetectorRun, Verdict } from "../../../../shared/detect/types.js";
import type { HostView } from "../../../../shared/view/host-view.js";
import { globalmountLeakHost, type HostTreeSpec, healthyHost } from "../../../support/host-tree.js";
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
  podProcess,
  setKernel,
  viewWith,
  withKubeletRoot,
} from "../../../support/mount-scenarios.js";
import { storedEvent } from "../../../support/views.js";

const run = (
  view: HostView,
  events = [] as Parameters<typeof globalmountHeldForeignNs.detect>[0]["events"],
) => globalmountHeldForeignNs.detect({ view, events });
const ctx = (r: DetectorRun) =>
  JSON.stringify(
    r.verdicts.map((v) => [v.subject, v.confidence, v.summary, v.blindSpots]),
    null,
    1,
  );
const AGENT = `mnt:[${NS.nodeAgent}]`;

function only(r: DetectorRun): Verdict {
  expect(r.verdicts, ctx(r)).toHaveLength(1);
  const [v] = r.verdicts;
  if (!v) throw new Error("no verdict");
  return v;
}

describe("globalmount-held-foreign-ns: fires", () => {
  it.each<{ title: string; spec: () => HostTreeSpec; subject: string; says: string[]; never?: string[] }>([
    {
      title:
        "RHEL7 (may_detach_mounts=0): a private copy under a private /var/lib/kubelet bind makes removal fail with EBUSY",
      spec: () => leakHost({ kernel: "rhel7" }),
      subject: `${GLOBALMOUNT}|${AGENT}`,
      says: [
        "is gone from the host mount namespace",
        `pid 77102 node-agent (pod ${NODE_AGENT_POD}`,
        "private bind of the host's /var/lib/kubelet",
        "mountPropagation None",
        "fs.may_detach_mounts=0 (RHEL7 family)",
        "fails with EBUSY",
        `nvme2n1 (${DISK_BDF}, serial ${DISK_SERIAL})`,
        `nsenter -t 77102 -m umount ${GLOBALMOUNT}`,
        "HostToContainer",
        "Never force-detach",
      ],
      never: ["lazily"],
    },
    {
      title: "RHEL 7.0-7.3 (no sysctl, kernel 3.10 predates lazy detach): removal fails with EBUSY",
      spec: () => leakHost({ kernel: "rhel7-old" }),
      subject: `${GLOBALMOUNT}|${AGENT}`,
      says: ["predates lazy detach (3.18)", "fails with EBUSY"],
    },
    {
      title: "upstream kernel (may_detach_mounts absent): removal succeeds lazily but the disk stays pinned",
      spec: () => leakHost({ kernel: "upstream" }),
      subject: `${GLOBALMOUNT}|${AGENT}`,
      says: ["upstream semantics", "succeeds and detaches this copy lazily", "the disk stays pinned"],
      never: ["EBUSY while"],
    },
    {
      title: "may_detach_mounts=1: removal succeeds lazily",
      spec: () => leakHost({ kernel: "upstream-mdm1" }),
      subject: `${GLOBALMOUNT}|${AGENT}`,
      says: ["fs.may_detach_mounts=1", "detaches this copy lazily"],
    },
    {
      title:
        "a container that sees the kubelet dir under /host: matched, named by the host's path, unmounted by its own",
      spec: () => leakHost({ seenAt: "/host/var/lib/kubelet" }),
      subject: `${GLOBALMOUNT}|${AGENT}`,
      says: [
        "(seen there as /host/var/lib/kubelet/plugins/",
        `nsenter -t 77102 -m umount /host/var/lib/kubelet/plugins/kubernetes.io/csi/`,
        "private bind of the host's /var/lib/kubelet",
      ],
    },
    {
      title: "a non-default kubelet root (/data/kubelet)",
      spec: () => withKubeletRoot(leakHost(), "/data/kubelet"),
      subject: `${globalmountUnder("/data/kubelet")}|${AGENT}`,
      says: [`${globalmountUnder("/data/kubelet")} is gone`, "private bind of the host's /data/kubelet"],
    },
    {
      title: "a kubelet root with a space, escaped as \\040 in mountinfo, is unescaped in the subject",
      spec: () => withKubeletRoot(leakHost(), "/data/k8s root/kubelet"),
      subject: `${globalmountUnder("/data/k8s root/kubelet")}|${AGENT}`,
      says: [`${globalmountUnder("/data/k8s root/kubelet")} is gone`],
      never: ["\\040"],
    },
    {
      title: "a master:N copy under a slave parent should have followed the unmount: look for a re-mount",
      spec: () => leakHost({ copyTags: "master:233", parentTags: "master:60" }),
      subject: `${GLOBALMOUNT}|${AGENT}`,
      says: ["master:233", "should have followed the host unmount", "re-mount inside the namespace"],
      never: ["mountPropagation None"],
    },
    {
      title: "a private copy under a slave parent was made private inside the namespace",
      spec: () => leakHost({ parentTags: "master:60" }),
      subject: `${GLOBALMOUNT}|${AGENT}`,
      says: ["private although its parent /var/lib/kubelet is master:60"],
    },
    {
      title: "a copy on the container's own filesystem: host removal neither fails nor detaches it",
      spec: () => {
        const spec = leakHost();
        spec.mountNamespaces[NS.nodeAgent] = containerNs(1871, [
          `1921 1871 259:4 / ${GLOBALMOUNT} rw,relatime - ext4 /dev/nvme2n1 rw`,
        ]);
        return spec;
      },
      subject: `${GLOBALMOUNT}|${AGENT}`,
      says: ["sits on the namespace's own filesystem", "neither fails nor detaches it"],
      never: ["EBUSY while"],
    },
    {
      title: "a Bidirectional (shared:N) copy: the plugin kept its own mount",
      spec: () => leakHost({ copyTags: "shared:233", parentTags: "shared:60" }),
      subject: `${GLOBALMOUNT}|${AGENT}`,
      says: ["shared:233", "Bidirectional"],
      never: ["HostToContainer"],
    },
  ])("$title", async ({ spec, subject, says, never }) => {
    const { view } = await viewWith(spec());
    const v = only(run(view));
    expect(v.subject).toBe(subject);
    expect(v.confidence, v.summary).toBe("high");
    for (const s of says) expect(v.summary, v.summary).toContain(s);
    for (const s of never ?? []) expect(v.summary, v.summary).not.toContain(s);
  });

  it("the reference §0 preset: the DaemonSet's private copy and the CSI plugin's leftover Bidirectional copy are two episodes", async () => {
    const { view } = await viewWith(globalmountLeakHost());
    const r = run(view);
    expect(
      r.verdicts.map((v) => v.subject),
      ctx(r),
    ).toEqual([`${GLOBALMOUNT}|mnt:[${NS.csiPlugin}]`, `${GLOBALMOUNT}|${AGENT}`]);
    // The namespace pinned by /run/mntns/leak was not entered: a blind spot on each verdict, never a verdict.
    for (const v of r.verdicts) {
      expect(v.blindSpots.join("\n"), v.subject).toContain(
        `mnt:[${NS.pinned}] (no process; pinned by an nsfs bind mount at /run/mntns/leak`,
      );
    }
    expect(r.decided === "all" ? "all" : r.decided.has(`${GLOBALMOUNT}|mnt:[${NS.pinned}]`)).toBe(false);
  });

  it("a pinned namespace with no process (mount-namespace capture), entered by the shipper: release the pin", async () => {
    const spec = leakHost();
    const agentNs = spec.mountNamespaces[NS.nodeAgent] ?? [];
    spec.processes = spec.processes.filter((p) => p.pid !== 77102);
    delete spec.mountNamespaces[NS.nodeAgent];
    spec.mountNamespaces[NS.host]?.push(
      `610 34 0:4 mnt:[${NS.pinned}] /run/mntns/leak rw shared:250 - nsfs nsfs rw`,
    );
    const { view } = await viewWith(spec, { pinned: { [NS.pinned]: agentNs } });
    const v = only(run(view));
    expect(v.subject).toBe(`${GLOBALMOUNT}|mnt:[${NS.pinned}]`);
    for (const s of [
      `No process lives in mnt:[${NS.pinned}]`,
      `an nsfs bind mount at /run/mntns/leak in mnt:[${NS.host}]`,
      "mount-namespace capture",
      `umount /run/mntns/leak in mnt:[${NS.host}]`,
    ]) {
      expect(v.summary, v.summary).toContain(s);
    }
    expect(v.evidence.map((e) => (e.kind === "fact" ? e.path : e.eventId))).toContain(
      `faultline/pinned-ns/${NS.pinned}/mountinfo`,
    );
  });

  it("a container holding the same filesystem at another path (matched by major:minor + root) is a medium-confidence holder", async () => {
    const spec = leakHost();
    const ns = 4026534100;
    spec.mountNamespaces[ns] = containerNs(2101, [
      `2110 2101 259:4 / /data rw,relatime - ext4 /dev/nvme2n1 rw`,
    ]);
    spec.processes.push(
      podProcess({ pid: 52001, comm: "backup", podUid: "aaaabbbb-cccc-4ddd-8eee-ffff00001111", mntNs: ns }),
    );
    const { view } = await viewWith(spec);
    const r = run(view);
    const copy = r.verdicts.find((v) => v.subject === `${GLOBALMOUNT}|mnt:[${ns}]`);
    expect(copy, ctx(r)).toBeDefined();
    expect(copy?.confidence).toBe("medium");
    expect(copy?.summary).toContain(
      "at /data (the same filesystem; the namespace does not show the staging path itself)",
    );
  });

  it("the host staged the path again from another disk: the copy of the earlier filesystem is still a leak", async () => {
    const spec = leakHost();
    spec.mountNamespaces[NS.host]?.push(
      `480 118 259:7 / ${GLOBALMOUNT} rw,relatime shared:260 - ext4 /dev/nvme3n1 rw`,
    );
    const { view } = await viewWith(spec);
    const v = only(run(view));
    expect(v.summary).toContain(`The host has ${GLOBALMOUNT} mounted again from another filesystem (259:7)`);
  });

  it("a holder whose mountinfo the size cap cut still fires on the lines that arrived", async () => {
    const first = await viewWith(leakHost());
    const entry = first.bundle.evidence["proc/77102/mountinfo"];
    if (entry?.kind !== "file") throw new Error("no mountinfo for the holder");
    const { view } = await viewWith(leakHost(), {
      evidence: { "proc/77102/mountinfo": { ...entry, capped: true } },
    });
    const v = only(run(view));
    expect(v.subject).toBe(`${GLOBALMOUNT}|${AGENT}`);
  });

  it("names the disk the control plane detached while the copy still pins it", async () => {
    const { bundle, view } = await viewWith(leakHost());
    const at = bundle.capture.startedAtMs;
    const events = [
      storedEvent({
        type: "attach",
        diskId: DISK,
        bdf: DISK_BDF,
        serial: DISK_SERIAL,
        mode: "host",
        atMs: at - 86_400_000,
      }),
      storedEvent({ type: "detach", diskId: DISK, bdf: DISK_BDF, atMs: at - 600_000 }),
    ];
    const v = only(run(view, events));
    expect(v.summary).toContain(
      `which the control plane detached (disk ${DISK}) at ${new Date(at - 600_000).toISOString()}`,
    );
    expect(v.evidence.some((e) => e.kind === "event" && e.type === "detach")).toBe(true);
  });

  it("says the disk is gone when its block device left /sys/block", async () => {
    const spec = leakHost();
    spec.pci = spec.pci.filter((f) => f.bdf !== DISK_BDF);
    const { view } = await viewWith(spec);
    const v = only(run(view));
    expect(v.summary).toContain("Its disk is gone (no /sys/block entry has dev 259:4 or the name nvme2n1)");
  });
});

describe("globalmount-held-foreign-ns: does not fire", () => {
  it.each<{ title: string; spec: () => HostTreeSpec }>([
    {
      title:
        "a legit pod: the host stages it (shared:233) and the container's copy is master:233 of that peer group",
      spec: () => setKernel(healthyHost(), "rhel7"),
    },
    {
      title: "a private copy while the host still stages the volume (not a leak until the host unmounts)",
      spec: () => {
        const spec = healthyHost();
        spec.mountNamespaces[NS.nodeAgent] = containerNs(1871, [
          "1893 1871 259:3 / /var/lib/kubelet rw,relatime - xfs /dev/nvme0n1p3 rw",
          `1921 1893 259:4 / ${GLOBALMOUNT} rw,relatime - ext4 /dev/nvme2n1 rw`,
        ]);
        return spec;
      },
    },
    {
      title: "a namespace running its own kubelet (nested node) owns its staging mounts",
      spec: () => {
        const spec = leakHost();
        spec.processes.push({
          ...podProcess({ pid: 77150, comm: "kubelet", podUid: NODE_AGENT_POD, mntNs: NS.nodeAgent }),
        });
        return spec;
      },
    },
  ])("$title", async ({ spec }) => {
    const { view } = await viewWith(spec());
    const r = run(view);
    expect(r.verdicts, ctx(r)).toEqual([]);
    expect(r.decided).toBe("all");
  });

  it("a holder namespace whose mountinfo was not shipped: no verdict, a blind spot, and its subject stays undecided", async () => {
    const spec = leakHost();
    const other = 4026534200;
    spec.mountNamespaces[other] = containerNs(2201, [
      "2210 2201 259:3 / /var/lib/kubelet rw,relatime - xfs /dev/nvme0n1p3 rw",
      `2211 2210 259:4 / ${GLOBALMOUNT} rw,relatime - ext4 /dev/nvme2n1 rw`,
    ]);
    spec.processes.push(
      podProcess({
        pid: 52101,
        comm: "log-agent",
        podUid: "12345678-1234-4234-8234-123456789abc",
        mntNs: other,
      }),
    );
    const { view } = await viewWith(spec, { evidence: { "proc/77102/mountinfo": null } });
    const r = run(view);
    expect(
      r.verdicts.map((v) => v.subject),
      ctx(r),
    ).toEqual([`${GLOBALMOUNT}|mnt:[${other}]`]);
    expect(r.verdicts[0]?.blindSpots.join("\n")).toContain(
      `${AGENT} (pids 77102): its mountinfo was not shipped`,
    );
    expect(
      r.decided === "all" || r.decided.has(`${GLOBALMOUNT}|${AGENT}`),
      "unscanned namespace decided",
    ).toBe(false);
    expect(r.decided !== "all" && r.decided.has(`${GLOBALMOUNT}|mnt:[${other}]`)).toBe(true);
  });

  it("without the host's mount table nothing is decided", async () => {
    const { view } = await viewWith(leakHost(), { evidence: { "proc/1/mountinfo": null } });
    const r = run(view);
    expect(r.verdicts, ctx(r)).toEqual([]);
    expect(r.decided).not.toBe("all");
    for (const ns of [AGENT, `mnt:[${NS.host}]`, `mnt:[${NS.csiPlugin}]`]) {
      expect(r.decided !== "all" && r.decided.has(`${GLOBALMOUNT}|${ns}`), ns).toBe(false);
    }
  });
});

describe("globalmount-held-foreign-ns: episodes", () => {
  const subject = `${GLOBALMOUNT}|${AGENT}`;
  const openEpisode = (hostId: string): EpisodeState => ({
    id: episodeId({ hostId, detector: "globalmount-held-foreign-ns", subject }),
    detector: "globalmount-held-foreign-ns",
    subject,
    status: "open",
    firstSeenMs: 1,
    lastSeenMs: 1,
    firstSnapshotMs: 1,
    resolvedAtMs: null,
    regressions: 0,
  });
  const reconcile = (view: HostView) => {
    const r = run(view);
    return reconcileEpisodes({
      hostId: view.hostId,
      stored: [openEpisode(view.hostId)],
      verdicts: r.verdicts,
      decided: new Map([["globalmount-held-foreign-ns", r.decided]]),
      snapshotMs: view.capturedAtMs,
      latestSnapshotMs: 1,
    }).map((c) => c.kind);
  };

  it.each<{ title: string; view: () => Promise<HostView>; changes: string[] }>([
    {
      title: "the same leak seen again only moves lastSeen",
      view: async () => (await viewWith(leakHost())).view,
      changes: ["seen"],
    },
    {
      title: "resolves once the holder no longer mounts it",
      view: async () => {
        const spec = leakHost();
        spec.mountNamespaces[NS.nodeAgent] = (spec.mountNamespaces[NS.nodeAgent] ?? []).filter(
          (l) => !l.includes("globalmount"),
        );
        return (await viewWith(spec)).view;
      },
      changes: ["resolved"],
    },
    {
      title: "resolves once the holder namespace is gone from a complete scan",
      view: async () => {
        const spec = leakHost();
        spec.processes = spec.processes.filter((p) => p.pid !== 77102);
        return (await viewWith(spec)).view;
      },
      changes: ["resolved"],
    },
    {
      title: "stays open when the holder's mountinfo was not shipped (unknown is never cleared)",
      view: async () => (await viewWith(leakHost(), { evidence: { "proc/77102/mountinfo": null } })).view,
      changes: [],
    },
  ])("$title", async ({ view, changes }) => {
    expect(reconcile(await view())).toEqual(changes);
  });
});

describe("globalmount-held-foreign-ns: the full verdict", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-03-03T10:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("pins the RHEL7 INC-2 verdict: evidence chain, blind spots and remedy", async () => {
    const spec = leakHost({ kernel: "rhel7" });
    spec.mountNamespaces[NS.host]?.push(
      `610 34 0:4 mnt:[${NS.pinned}] /run/mntns/leak rw shared:250 - nsfs nsfs rw`,
    );
    const { view } = await viewWith(spec);
    expect(only(run(view))).toMatchInlineSnapshot(`
      {
        "blindSpots": [
          "mnt:[4026533200] (no process; pinned by an nsfs bind mount at /run/mntns/leak in mnt:[4026531840]): its mountinfo was not shipped (the shipper could not enter the pinned namespace); it may hold staging mounts too",
        ],
        "confidence": "high",
        "detector": "globalmount-held-foreign-ns",
        "evidence": [
          {
            "kind": "fact",
            "line": 5,
            "note": "mnt:[4026532871] still mounts the staging path; propagation private (no tag)",
            "path": "proc/77102/mountinfo",
            "raw": "1921 1893 259:4 / /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount rw,relatime - ext4 /dev/nvme2n1 rw",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "kind": "fact",
            "line": 4,
            "note": "parent of the copy: propagation private (no tag), a bind of the host's /var/lib/kubelet",
            "path": "proc/77102/mountinfo",
            "raw": "1893 1871 259:3 / /var/lib/kubelet rw,relatime - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "kind": "fact",
            "line": 7,
            "note": "host namespace: nothing is mounted at /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount; the deepest host mount containing it is this one",
            "path": "proc/1/mountinfo",
            "raw": "118 25 259:3 / /var/lib/kubelet rw,relatime shared:60 - xfs /dev/nvme0n1p3 rw,attr2,inode64,logbufs=8,logbsize=32k,noquota",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "kind": "fact",
            "note": "pid 77102 node-agent (pod 0f0e0d0c-0b0a-4090-8070-605040302010, container 9e9e9e9e9e9e) lives in the holder namespace",
            "path": "proc/77102/ns/mnt",
            "raw": "mnt:[4026532871]",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "kind": "fact",
            "note": "0: a mount point in any namespace blocks rmdir with EBUSY",
            "path": "proc/sys/fs/may_detach_mounts",
            "raw": "0",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "kind": "fact",
            "note": "the copy's device: nvme2n1 (0000:3b:00.3, serial bp1g6qn7zcd3f8l2x9ab)",
            "path": "sys/block/nvme2n1/dev",
            "raw": "259:4",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
        ],
        "subject": "/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount|mnt:[4026532871]",
        "summary": "/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount is gone from the host mount namespace but mnt:[4026532871] still mounts it (ext4 /dev/nvme2n1, 259:4). Held by pid 77102 node-agent (pod 0f0e0d0c-0b0a-4090-8070-605040302010, container 9e9e9e9e9e9e). The copy is private under /var/lib/kubelet, a private bind of the host's /var/lib/kubelet: a hostPath volume with mountPropagation None copied the host's mounts when the container started, and the host's unmount never reached it (koordinator#2641 pattern). With fs.may_detach_mounts=0 (RHEL7 family), removing the staging directory on the host (rm, kubelet's unstage cleanup) fails with EBUSY while this copy exists. The copy pins nvme2n1 (0000:3b:00.3, serial bp1g6qn7zcd3f8l2x9ab). Fix: give the holder pod's hostPath volume mountPropagation: HostToContainer and restart it, or run \`nsenter -t 77102 -m umount /var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount\`, then retry NodeUnstage. Never force-detach the disk while a copy is mounted.",
      }
    `);
  });
});
