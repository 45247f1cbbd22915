import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { type EpisodeState, episodeId, reconcileEpisodes } from "../../../../shared/detect/episodes.js";
import { vfioGroupHeldByDeadProcess } from "../../../../shared/detect/mount/vfio-group-held-by-dead-process.js";
import type { DetectorRun, Verdict } from "../../../../shared/detect/types.js";
import type { HostView } from "../../../../shared/view/host-view.js";
import { healthyHost } from "../../../support/host-tree.js";
import {
  NS,
  OLD_UNBIND_KMSG,
  STUCK_UNBIND_KMSG,
  type VfioOptions,
  VMM_POD,
  vfioHost,
  viewWith,
} from "../../../support/mount-scenarios.js";
import { storedEvent } from "../../../support/views.js";

const SUBJECT = "group 62|pid 48213|160000000";
const ctx = (r: DetectorRun) =>
  JSON.stringify(
    r.verdicts.map((v) => [v.subject, v.confidence, v.summary, v.blindSpots]),
    null,
    1,
  );
const run = (view: HostView) => vfioGroupHeldByDeadProcess.detect({ view, events: [] });

function only(r: DetectorRun): Verdict {
  expect(r.verdicts, ctx(r)).toHaveLength(1);
  const [v] = r.verdicts;
  if (!v) throw new Error("no verdict");
  return v;
}

describe("vfio-group-held-by-dead-process: fires", () => {
  it.each<{ title: string; o: VfioOptions; confidence: string; says: string[]; kmsgLines: number }>([
    {
      title: "a zombie holder",
      o: { state: "Z" },
      confidence: "high",
      says: [
        "/dev/vfio/62 (IOMMU group 62: 0000:3b:00.4)",
        "has exited (state Z)",
        "reaping needs its parent 48190",
      ],
      kmsgLines: 0,
    },
    {
      title: "a D-state holder with the kernel's stuck-unbind lines since it started",
      o: { state: "D", kmsg: STUCK_UNBIND_KMSG },
      confidence: "high",
      says: [
        "uninterruptible sleep (state D)",
        "an unbind is already stuck behind it (2 line(s)",
        "blocked task csi-plugin (2931, state S)",
        "cat /proc/48213/stack",
      ],
      kmsgLines: 2,
    },
    {
      title: "a D-state holder without kernel log lines: medium, one snapshot may be a momentary wait",
      o: { state: "D" },
      confidence: "medium",
      says: ["state D"],
      kmsgLines: 0,
    },
    {
      title: "a D-state holder whose only stuck-unbind line predates it (an earlier VM's): not escalated",
      o: { state: "D", kmsg: OLD_UNBIND_KMSG },
      confidence: "medium",
      says: ["state D"],
      kmsgLines: 0,
    },
    {
      title: "a holder whose pod is gone (no other process, no kubelet pods/<uid> mount)",
      o: { state: "S", podEvidence: "none" },
      confidence: "medium",
      says: [`its pod ${VMM_POD} is gone`, "Kill pid 48213"],
      kmsgLines: 0,
    },
    {
      title: "an orphaned holder with the stuck-unbind lines",
      o: { state: "S", podEvidence: "none", kmsg: STUCK_UNBIND_KMSG },
      confidence: "high",
      says: [`its pod ${VMM_POD} is gone`, "an unbind is already stuck behind it"],
      kmsgLines: 2,
    },
    {
      title: "a D-state holder of the iommufd device cdev (never opens the group node)",
      o: { state: "D", viaCdev: true },
      confidence: "medium",
      says: ["/dev/vfio/devices/vfio0 (IOMMU group 62: 0000:3b:00.4)"],
      kmsgLines: 0,
    },
  ])("$title", async ({ o, confidence, says, kmsgLines }) => {
    const { view } = await viewWith(vfioHost(o));
    const v = only(run(view));
    expect(v.subject).toBe(SUBJECT);
    expect(v.confidence, v.summary).toBe(confidence);
    for (const s of says) expect(v.summary, v.summary).toContain(s);
    expect(v.evidence.filter((e) => e.kind === "fact" && e.path === "dev/kmsg")).toHaveLength(kmsgLines);
  });

  it("a pod mount left only in another container's private copy of /var/lib/kubelet does not keep the pod alive", async () => {
    const spec = vfioHost({ state: "S", podEvidence: "none" });
    spec.mountNamespaces[NS.nodeAgent]?.push(
      `1930 1893 0:150 / /var/lib/kubelet/pods/${VMM_POD}/volumes/kubernetes.io~projected/kube-api-access-9zq4x rw,relatime - tmpfs tmpfs rw`,
    );
    const { view } = await viewWith(spec);
    const v = only(run(view));
    expect(v.summary).toContain(`its pod ${VMM_POD} is gone`);
  });

  it("names the disk attached in the held group and dates the episode from the first stuck-unbind line", async () => {
    const { bundle, view } = await viewWith(vfioHost({ state: "D", kmsg: STUCK_UNBIND_KMSG }));
    const attach = storedEvent({
      type: "attach",
      diskId: "d-2ze5cz8kqm1h0r7v4tw1",
      bdf: "0000:3b:00.4",
      mode: "vfio",
      atMs: bundle.capture.startedAtMs - 3_600_000,
    });
    const v = only(vfioGroupHeldByDeadProcess.detect({ view, events: [attach] }));
    expect(v.summary).toContain("0000:3b:00.4, disk d-2ze5cz8kqm1h0r7v4tw1");
    const kmsg = view.clock.toWall(1843290.000011);
    expect(v.sinceMs).toBe(kmsg?.ms);
  });
});

describe("vfio-group-held-by-dead-process: does not fire", () => {
  it.each<{ title: string; o: VfioOptions }>([
    {
      title: "a healthy holder (state S) whose pod has another process",
      o: { state: "S", podEvidence: "process" },
    },
    {
      title: "a healthy holder whose pod only shows as a kubelet pods/<uid> mount",
      o: { state: "S", podEvidence: "mount" },
    },
    {
      title: "a healthy holder with an old stuck-unbind line (an earlier VM's)",
      o: { state: "S", kmsg: OLD_UNBIND_KMSG },
    },
  ])("$title", async ({ o }) => {
    const { view } = await viewWith(vfioHost(o));
    const r = run(view);
    expect(r.verdicts, ctx(r)).toEqual([]);
    expect(r.decided !== "all" && r.decided.has(SUBJECT), "the healthy holder is decided").toBe(true);
  });

  it("holders whose cgroup names no pod (the §0 kata VMs) are not judged orphans", async () => {
    const { view } = await viewWith(healthyHost());
    const r = run(view);
    expect(r.verdicts, ctx(r)).toEqual([]);
  });
});

describe("vfio-group-held-by-dead-process: episodes", () => {
  const open = (hostId: string): EpisodeState => ({
    id: episodeId({ hostId, detector: "vfio-group-held-by-dead-process", subject: SUBJECT }),
    detector: "vfio-group-held-by-dead-process",
    subject: SUBJECT,
    status: "open",
    firstSeenMs: 1,
    lastSeenMs: 1,
    firstSnapshotMs: 1,
    resolvedAtMs: null,
    regressions: 0,
  });

  it.each<{ title: string; view: () => Promise<HostView>; changes: string[] }>([
    {
      title: "the same zombie seen again only moves lastSeen",
      view: async () => (await viewWith(vfioHost({ state: "Z" }))).view,
      changes: ["seen"],
    },
    {
      title: "resolves when the holder is gone from a complete process scan",
      view: async () => {
        const spec = vfioHost({ state: "Z" });
        spec.processes = spec.processes.filter((p) => p.pid !== 48213);
        return (await viewWith(spec)).view;
      },
      changes: ["resolved"],
    },
    {
      title: "resolves when the pid now names another process (starttime differs)",
      view: async () => {
        const spec = vfioHost({ state: "S" });
        for (const p of spec.processes) if (p.pid === 48213) p.starttime = 184_000_000;
        return (await viewWith(spec)).view;
      },
      changes: ["resolved"],
    },
    {
      title: "stays open when the holder's fds could not be read",
      view: async () =>
        (
          await viewWith(vfioHost({ state: "Z" }), {
            evidence: {
              "proc/48213/fd/": {
                kind: "error",
                op: "readdir",
                code: "EACCES",
                message: "Permission denied",
              },
            },
          })
        ).view,
      changes: [],
    },
  ])("$title", async ({ view, changes }) => {
    const v = await view();
    const r = run(v);
    const got = reconcileEpisodes({
      hostId: v.hostId,
      stored: [open(v.hostId)],
      verdicts: r.verdicts,
      decided: new Map([["vfio-group-held-by-dead-process", r.decided]]),
      snapshotMs: v.capturedAtMs,
      latestSnapshotMs: 1,
    });
    expect(
      got.map((c) => c.kind),
      ctx(r),
    ).toEqual(changes);
  });
});

describe("vfio-group-held-by-dead-process: the full verdict", () => {
  beforeEach(() => {
    vi.useFakeTimers({ toFake: ["Date"], now: new Date("2026-03-03T10:00:00Z") });
  });
  afterEach(() => {
    vi.useRealTimers();
  });

  it("pins the D-state holder with the kernel's stuck-unbind lines and the unbinder stuck in D", async () => {
    const spec = vfioHost({ state: "D", kmsg: STUCK_UNBIND_KMSG });
    for (const p of spec.processes) if (p.pid === 2931) p.state = "D";
    const { view } = await viewWith(spec);
    expect(only(run(view))).toMatchInlineSnapshot(`
      {
        "blindSpots": [
          "the kernel log lost records (seq gaps) since the holder started: escalation lines may be missing",
        ],
        "confidence": "high",
        "detector": "vfio-group-held-by-dead-process",
        "evidence": [
          {
            "kind": "fact",
            "note": "fd 31 of pid 48213 cloud-hyperviso (pod 3f2a9c41-e7b0-4d2c-8a6f-1b2c3d4e5f60, container 555555555555) holds group 62",
            "path": "proc/48213/fd/31",
            "raw": "/dev/vfio/62",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "kind": "fact",
            "note": "state (field 3) of pid 48213; starttime 160000000 ticks",
            "path": "proc/48213/stat",
            "raw": "D",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "kind": "fact",
            "note": "members of IOMMU group 62",
            "path": "sys/kernel/iommu_groups/62/devices/",
            "raw": "0000:3b:00.4",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "at": "2026-03-03T09:59:52.449Z",
            "atErrorMs": 2,
            "kind": "fact",
            "line": 6,
            "note": "release of a group member is blocked behind a holder",
            "path": "dev/kmsg",
            "raw": "vfio-pci 0000:3b:00.4: Relaying device request to user (#10)",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
          {
            "at": "2026-03-03T09:59:52.549Z",
            "atErrorMs": 2,
            "kind": "fact",
            "line": 7,
            "note": "release of a group member is blocked behind a holder",
            "path": "dev/kmsg",
            "raw": "vfio-pci 0000:3b:00.4: Device is currently in use, task "csi-plugin" (2931) blocked until device is released",
            "snapshotKey": "snapshots/i-test/2026-03-03/1772532000000-0000000000000000000000000000000000000000000000000000000000000000.json.gz",
          },
        ],
        "sinceMs": 1772531992449,
        "subject": "group 62|pid 48213|160000000",
        "summary": "/dev/vfio/62 (IOMMU group 62: 0000:3b:00.4) is held open by pid 48213 cloud-hyperviso (pod 3f2a9c41-e7b0-4d2c-8a6f-1b2c3d4e5f60, container 555555555555), and it is stuck in uninterruptible sleep (state D) and cannot release the group or be killed until that wait ends. Nothing else can open the group (EBUSY) and unbinding vfio-pci from a member blocks until it is released. The kernel log says an unbind is already stuck behind it (2 line(s) since 2026-03-03T09:59:52.449Z, e.g. "vfio-pci 0000:3b:00.4: Relaying device request to user (#10)"); blocked task csi-plugin (2931, state D: stuck writing unbind). Check \`cat /proc/48213/stack\`: a D-state holder cannot be killed; if the wait does not end, the host needs a reboot before the group is usable. Do not detach or reattach a disk at these BDFs until the group is free: a reused BDF then unbinds the wrong disk (alibaba-cloud-csi-driver#1686).",
      }
    `);
  });
});
