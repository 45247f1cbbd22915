import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EvidenceEntry, HostNamespace } from "../../../shared/contracts/snapshot.js";
import { classifyKubeletPath } from "../../../shared/parse/csi-paths.js";
import { EvidenceReader } from "../../../shared/parse/evidence.js";
import {
  type MountNamespaceView,
  type ProcessTable,
  pinnedMountinfoPath,
  readMountNamespaces,
  readProcesses,
} from "../../../shared/parse/proc.js";
import { issuesOf } from "../../../shared/parse/result.js";
import { dir, file, link } from "../../support/evidence.js";

const fixture = (path: string) => readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), "utf8");

// ---- evidence builders, in the bundle layout (paths relative to the root, listings with a trailing slash)
type Evidence = Record<string, EvidenceEntry>;
const fail = (op: "read" | "readlink" | "readdir", code: string): EvidenceEntry => ({
  kind: "error",
  op,
  code,
  message: `${code} (synthetic)`,
});
const stat = (pid: number, comm: string, state: string, ppid: number, flags: number, start: number) =>
  `${pid} (${comm}) ${state} ${ppid} ${pid} ${pid} 0 -1 ${flags} 120 0 0 0 11 7 0 0 20 0 4 0 ${start} 2990080 410 18446744073709551615 1 1 0 0 0 0 0 0 0 0 0 0 17 1 0 0 0 0 0\n`;

interface Proc {
  pid: number;
  comm: string;
  ns: EvidenceEntry;
  cgroup?: string;
  cmdline?: string[];
  state?: string;
  ppid?: number;
  kthread?: boolean;
  fds?: Record<string, string | EvidenceEntry>;
  mountinfo?: EvidenceEntry;
}
function processEvidence(p: Proc): Evidence {
  const base = `proc/${p.pid}`;
  const e: Evidence = {
    [`${base}/comm`]: file(`${p.comm}\n`),
    [`${base}/stat`]: file(
      stat(p.pid, p.comm, p.state ?? "S", p.ppid ?? 1, p.kthread ? 2129984 : 4194560, 900 + p.pid),
    ),
    [`${base}/cgroup`]: file(p.cgroup ?? "0::/system.slice/kubelet.service\n"),
    [`${base}/cmdline`]: file(p.cmdline ? `${p.cmdline.join("\0")}\0` : ""),
    [`${base}/ns/mnt`]: p.ns,
    [`${base}/fd/`]: dir(["0", "1", "2", ...Object.keys(p.fds ?? {})]),
  };
  for (const [fd, target] of Object.entries(p.fds ?? {})) {
    e[`${base}/fd/${fd}`] = typeof target === "string" ? link(target) : target;
  }
  if (p.mountinfo) e[`${base}/mountinfo`] = p.mountinfo;
  return e;
}
function bundle(procs: Proc[], extra: Evidence = {}): EvidenceReader {
  const evidence: Evidence = { "proc/": dir(procs.map((p) => String(p.pid)).sort()) };
  for (const p of procs) Object.assign(evidence, processEvidence(p));
  return new EvidenceReader({ ...evidence, ...extra });
}

/** The reference scenario after NodeUnstage: the host unmounted the globalmount, two namespaces did not. */
const HOST = 4026531840;
const DAEMONSET = 4026532871;
const VMM = 4026533001;
const PINNED_SANDBOX = 4026533200;
const FD_PINNED = 4026533417;
const hostAfterUnstage = fixture("synthetic/proc/host-7a.mountinfo")
  .split("\n")
  .filter((l) => !l.includes("abc6ae95") && !l.includes("d-bp1g6qn7zcd3f8l2x9ab"))
  .join("\n");
const podCgroup = (uid: string, id: string) =>
  `0::/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${uid.replaceAll("-", "_")}.slice/cri-containerd-${id}.scope\n`;
const leakNode: Proc[] = [
  {
    pid: 1,
    comm: "systemd",
    ns: link(`mnt:[${HOST}]`),
    cgroup: "0::/init.scope\n",
    cmdline: ["/sbin/init"],
    ppid: 0,
    mountinfo: file(hostAfterUnstage),
  },
  { pid: 2, comm: "kthreadd", ns: link(`mnt:[${HOST}]`), cgroup: "0::/\n", ppid: 0, kthread: true },
  {
    pid: 1204,
    comm: "kubelet",
    ns: link(`mnt:[${HOST}]`),
    cmdline: ["/usr/bin/kubelet", "--root-dir=/var/lib/kubelet"],
  },
  {
    pid: 3310,
    comm: "sandbox-mgr",
    ns: link(`mnt:[${HOST}]`),
    fds: { "7": `mnt:[${FD_PINNED}]`, "8": "socket:[83921]" },
    // The host's mountinfo was shipped for PID 1 already; this one would be a second copy.
    mountinfo: file(hostAfterUnstage),
  },
  {
    pid: 5005,
    comm: "csi-node-driver",
    ns: fail("readlink", "ESRCH"), // exited during capture
    cgroup: podCgroup(
      "5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11",
      "ffef6824a162b37177e4ed1f6b6f4561724475180cf326c2a07ba4b5f044ec94",
    ),
  },
  {
    pid: 48213,
    comm: "cloud-hyperviso",
    ns: link(`mnt:[${VMM}]`),
    cgroup: podCgroup(
      "0d6f2c1a-9e8b-4a7c-b5d4-3e2f1a0b9c8d",
      "3def6468d50e94b50ee02c39360d60a0606b02daae5add8b6aea543e54047564",
    ),
    cmdline: ["/usr/bin/cloud-hypervisor", "--api-socket", "/run/vc/vm/3f2a9c41e7b0/clh-api.sock"],
    fds: {
      "17": "/dev/vfio/vfio",
      "18": "/dev/vfio/62",
      "19": "/dev/vfio/devices/vfio0",
      "20": "/dev/vfio/63 (deleted)",
      "21": fail("readlink", "ENOENT"), // closed between readdir and readlink
    },
    mountinfo: file(fixture("synthetic/proc/kata-7c.mountinfo")),
  },
  {
    pid: 77102,
    comm: "csi-plugin",
    ns: link(`mnt:[${DAEMONSET}]`),
    cgroup: podCgroup(
      "c2a4b0e1-6f3d-4e8a-9b7c-1d2e3f4a5b6c",
      "225ef64e9ecabbad5b4da660887c5e41bc0e9f9aecb44cd68421d0fd8a2283f7",
    ),
    cmdline: ["/bin/plugin.csi.alibabacloud.com", "--endpoint=unix://csi/csi.sock"],
    mountinfo: file(fixture("synthetic/proc/daemonset-7b.mountinfo")),
  },
  {
    pid: 77150,
    comm: "csi-plugin",
    ns: link(`mnt:[${DAEMONSET}]`),
    cgroup: podCgroup(
      "c2a4b0e1-6f3d-4e8a-9b7c-1d2e3f4a5b6c",
      "225ef64e9ecabbad5b4da660887c5e41bc0e9f9aecb44cd68421d0fd8a2283f7",
    ),
    ppid: 77102,
  },
  { pid: 6006, comm: "pause", ns: fail("readlink", "EACCES"), cmdline: ["/pause"] },
];
const leakExtra: Evidence = {
  [pinnedMountinfoPath(PINNED_SANDBOX)]: file(fixture("synthetic/proc/pinned-sandbox.mountinfo")),
  "proc/5005/stat": fail("read", "ESRCH"),
};
const hostFromPid1: HostNamespace = {
  mnt: `mnt:[${HOST}]`,
  source: "proc/1/ns/mnt",
  reason: "PID 1's mount namespace",
};

/** A namespace view reduced to what a reviewer checks: who, which file, and the CSI mounts seen. */
function summary(view: MountNamespaceView) {
  return {
    host: view.host,
    namespaces: view.namespaces.map((ns) => ({
      inode: ns.inode,
      isHost: ns.isHost,
      pids: ns.pids.join(" "),
      ...(ns.pidsInferred.length ? { pidsInferred: ns.pidsInferred.join(" ") } : {}),
      pins: ns.pins.map((p) =>
        p.kind === "fd" ? `fd ${p.evidencePath}` : `nsfs ${p.evidencePath}:${p.line} ${p.mountPoint}`,
      ),
      mountinfo: ns.mountinfo?.evidencePath ?? null,
      mounts: ns.mounts.length,
      csi: ns.mounts.flatMap((m) => {
        const k = classifyKubeletPath(m.mountPoint);
        return k ? [`${k.kind} ${m.devt} ${m.propagation} ${m.evidencePath}:${m.line}`] : [];
      }),
    })),
    unscanned: view.unscanned,
    pinnedWithoutProcess: view.pinnedWithoutProcess,
    unknownNsPids: view.unknownNsPids,
  };
}

/** What could not be read, fd links of one errno folded into one entry (PID 1 here has 74 EACCES fds). */
function gaps(p: ProcessTable["processes"][number]): string {
  const out: string[] = [];
  const fdErrors = new Map<string, number>();
  for (const u of p.unreadable) {
    const what = u.path.slice(u.path.indexOf("/", 5) + 1);
    const why = u.why.reason === "error" ? u.why.code : u.why.reason;
    if (/^fd\/\d+$/.test(what)) fdErrors.set(why, (fdErrors.get(why) ?? 0) + 1);
    else out.push(`${what}:${why}`);
  }
  for (const [why, n] of fdErrors) out.push(`fd/*:${why}x${n}`);
  return out.join(",");
}

const processRows = (t: ProcessTable) =>
  t.processes.map(
    (p) =>
      `${p.pid} ${JSON.stringify(p.comm)} ${p.state} ppid=${p.ppid} mnt=${p.mntNs} pod=${p.podUid} ${p.qos} ${p.runtime} ` +
      `vfio=[${p.vfioFds.map((f) => `${f.fd}:${f.kind}:${f.group}${f.deleted ? "(deleted)" : ""}`)}] ` +
      `nsfd=[${p.nsFds.map((f) => `${f.fd}:${f.inode}`)}] gaps=[${gaps(p)}]`,
  );

describe("readProcesses", () => {
  it("builds the table of the synthetic leak node: pods, QoS, vfio holders, namespace fds, gaps", () => {
    const r = readProcesses(bundle(leakNode, leakExtra));
    expect(issuesOf(r)).toEqual([]);
    expect(r.value.listing).toBe("complete");
    expect(processRows(r.value)).toMatchInlineSnapshot(`
      [
        "1 "systemd" S ppid=0 mnt=4026531840 pod=null null null vfio=[] nsfd=[] gaps=[]",
        "2 "kthreadd" S ppid=0 mnt=4026531840 pod=null null null vfio=[] nsfd=[] gaps=[]",
        "1204 "kubelet" S ppid=1 mnt=4026531840 pod=null null null vfio=[] nsfd=[] gaps=[]",
        "3310 "sandbox-mgr" S ppid=1 mnt=4026531840 pod=null null null vfio=[] nsfd=[7:4026533417] gaps=[]",
        "5005 "csi-node-driver" null ppid=null mnt=null pod=5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11 burstable containerd vfio=[] nsfd=[] gaps=[stat:ESRCH,ns/mnt:ESRCH]",
        "6006 "pause" S ppid=1 mnt=null pod=null null null vfio=[] nsfd=[] gaps=[ns/mnt:EACCES]",
        "48213 "cloud-hyperviso" S ppid=1 mnt=4026533001 pod=0d6f2c1a-9e8b-4a7c-b5d4-3e2f1a0b9c8d burstable containerd vfio=[17:vfio-container:null,18:vfio-group:62,19:vfio-device:null,20:vfio-group:63(deleted)] nsfd=[] gaps=[fd/*:ENOENTx1]",
        "77102 "csi-plugin" S ppid=1 mnt=4026532871 pod=c2a4b0e1-6f3d-4e8a-9b7c-1d2e3f4a5b6c burstable containerd vfio=[] nsfd=[] gaps=[]",
        "77150 "csi-plugin" S ppid=77102 mnt=4026532871 pod=c2a4b0e1-6f3d-4e8a-9b7c-1d2e3f4a5b6c burstable containerd vfio=[] nsfd=[] gaps=[]",
      ]
    `);
  });

  it("keeps the evidence path of every vfio fd, so a holder can be cited", () => {
    const vmm = readProcesses(bundle(leakNode, leakExtra)).value.processes.find((p) => p.pid === 48213);
    expect(vmm?.vfioFds).toMatchInlineSnapshot(`
      [
        {
          "deleted": false,
          "evidencePath": "proc/48213/fd/17",
          "fd": 17,
          "group": null,
          "kind": "vfio-container",
          "path": "/dev/vfio/vfio",
        },
        {
          "deleted": false,
          "evidencePath": "proc/48213/fd/18",
          "fd": 18,
          "group": 62,
          "kind": "vfio-group",
          "path": "/dev/vfio/62",
        },
        {
          "deleted": false,
          "evidencePath": "proc/48213/fd/19",
          "fd": 19,
          "group": null,
          "kind": "vfio-device",
          "path": "/dev/vfio/devices/vfio0",
        },
        {
          "deleted": true,
          "evidencePath": "proc/48213/fd/20",
          "fd": 20,
          "group": 63,
          "kind": "vfio-group",
          "path": "/dev/vfio/63 (deleted)",
        },
      ]
    `);
    expect(vmm?.evidence).toMatchInlineSnapshot(`
      {
        "cgroup": "proc/48213/cgroup",
        "cmdline": "proc/48213/cmdline",
        "comm": "proc/48213/comm",
        "fd": "proc/48213/fd/",
        "mntNs": "proc/48213/ns/mnt",
        "stat": "proc/48213/stat",
      }
    `);
  });

  it("reads the real capture: PID 1's ns link and fds are EACCES, the fd-holder pins a namespace", () => {
    const real = JSON.parse(fixture("real/proc/namespaces-evidence.json")) as { evidence: Evidence };
    const r = readProcesses(new EvidenceReader(real.evidence));
    expect(issuesOf(r)).toEqual([]);
    expect(processRows(r.value)).toMatchInlineSnapshot(`
      [
        "1 "process_api" S ppid=0 mnt=null pod=null null null vfio=[] nsfd=[] gaps=[cmdline:absent,ns/mnt:EACCES,fd/*:EACCESx72]",
        "2 "kthreadd" S ppid=0 mnt=4026531832 pod=null null null vfio=[] nsfd=[] gaps=[]",
        "8192 "bash" S ppid=8148 mnt=4026531832 pod=null null null vfio=[] nsfd=[] gaps=[]",
        "8199 "sleep" S ppid=8192 mnt=4026532177 pod=null null null vfio=[] nsfd=[] gaps=[]",
        "8236 "a) (b" S ppid=8192 mnt=4026531832 pod=null null null vfio=[] nsfd=[9:4026532179] gaps=[]",
        "8245 "node" R ppid=8192 mnt=4026531832 pod=null null null vfio=[] nsfd=[] gaps=[fd/*:ENOENTx1]",
      ]
    `);
  });

  it("takes pids from paths when the proc/ listing was not shipped, and files parse issues under their path", () => {
    const reader = new EvidenceReader({
      "proc/42/stat": file("42 (x) S 1\n"),
      "proc/42/cgroup": file("junk\n"),
      "proc/43/ns/mnt": link("net:[4026532990]"),
    });
    const r = readProcesses(reader);
    expect(r.value.listing).toBe("absent");
    expect(r.value.processes.map((p) => p.pid)).toEqual([42, 43]);
    expect(issuesOf(r)).toMatchInlineSnapshot(`
      [
        {
          "code": "missing",
          "line": 1,
          "message": "4 fields; expected at least 22",
          "path": [
            "proc/42/stat",
          ],
        },
        {
          "code": "malformed_line",
          "line": 1,
          "message": "expected hierarchy-ID:controllers:path",
          "path": [
            "proc/42/cgroup",
          ],
        },
        {
          "code": "invalid_field",
          "message": "ns/mnt target "net:[4026532990]" is not mnt:[N]",
          "path": [
            "proc/43/ns/mnt",
          ],
        },
      ]
    `);
  });

  it("reads each process's own cgroup when neighbours share or nearly share one, and files a shared file's issues under each", () => {
    const pod = (uid: string, id: string) =>
      `0::/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod${uid}.slice/cri-containerd-${id}.scope\n`;
    const uidA = "aaaaaaaa_1111_2222_3333_444444444444";
    const uidB = "bbbbbbbb_1111_2222_3333_444444444444";
    const idA = "a".repeat(64);
    const idB = "b".repeat(64);
    const reader = new EvidenceReader({
      "proc/1/cgroup": file(pod(uidA, idA)),
      "proc/2/cgroup": file(pod(uidA, idA)),
      "proc/3/cgroup": file(pod(uidB, idB)), // the same length as the one before
      "proc/4/cgroup": file(pod(uidA, idA)),
      "proc/5/cgroup": file("0::/\n"),
      "proc/6/cgroup": file("junk\n0::/\n"),
      "proc/7/cgroup": file("junk\n0::/\n"),
    });
    const r = readProcesses(reader);
    expect(
      r.value.processes.map((p) => [p.pid, p.podUid?.slice(0, 8) ?? null, p.containerId?.[0] ?? null]),
    ).toEqual([
      [1, "aaaaaaaa", "a"],
      [2, "aaaaaaaa", "a"],
      [3, "bbbbbbbb", "b"],
      [4, "aaaaaaaa", "a"],
      [5, null, null],
      [6, null, null],
      [7, null, null],
    ]);
    expect(
      issuesOf(r)
        .filter((i) => i.code === "malformed_line")
        .map((i) => i.path),
    ).toEqual([["proc/6/cgroup"], ["proc/7/cgroup"]]);
  });

  it("marks a capped fd listing as a gap: missing fds are unknown, not absent", () => {
    const reader = new EvidenceReader({
      "proc/9/fd/": { kind: "dir", names: ["0", "1"], capped: true },
      "proc/9/fd/1": link("/dev/vfio/62"),
    });
    const p = readProcesses(reader).value.processes[0];
    expect(p?.vfioFds.map((f) => f.group)).toEqual([62]);
    expect(p?.unreadable).toContainEqual({ path: "proc/9/fd/", why: { reason: "capped" } });
  });
});

describe("readMountNamespaces", () => {
  it("finds the globalmount the host unmounted in a DaemonSet namespace and a process-less pinned one", () => {
    const r = readMountNamespaces({ reader: bundle(leakNode, leakExtra), hostNamespace: hostFromPid1 });
    expect(issuesOf(r)).toEqual([]);
    expect(summary(r.value)).toMatchInlineSnapshot(`
      {
        "host": {
          "inode": 4026531840,
          "inodeInferred": false,
          "reason": "PID 1's mount namespace",
          "source": "proc/1/ns/mnt",
        },
        "namespaces": [
          {
            "csi": [
              "block-staging 0:5 shared proc/1/mountinfo:7",
              "block-publish 0:5 shared proc/1/mountinfo:8",
            ],
            "inode": 4026531840,
            "isHost": true,
            "mountinfo": "proc/1/mountinfo",
            "mounts": 17,
            "pids": "1 2 1204 3310",
            "pins": [],
          },
          {
            "csi": [
              "staging 259:4 private proc/77102/mountinfo:7",
              "staging 259:7 private proc/77102/mountinfo:8",
              "staging 259:4 slave proc/77102/mountinfo:10",
            ],
            "inode": 4026532871,
            "isHost": false,
            "mountinfo": "proc/77102/mountinfo",
            "mounts": 11,
            "pids": "77102 77150",
            "pins": [],
          },
          {
            "csi": [],
            "inode": 4026533001,
            "isHost": false,
            "mountinfo": "proc/48213/mountinfo",
            "mounts": 5,
            "pids": "48213",
            "pins": [],
          },
          {
            "csi": [
              "staging 259:4 private faultline/pinned-ns/4026533200/mountinfo:4",
            ],
            "inode": 4026533200,
            "isHost": false,
            "mountinfo": "faultline/pinned-ns/4026533200/mountinfo",
            "mounts": 4,
            "pids": "",
            "pins": [
              "nsfs proc/1/mountinfo:10 /run/kata-containers/sandbox-ns/3f2a9c41e7b0",
            ],
          },
          {
            "csi": [],
            "inode": 4026533417,
            "isHost": false,
            "mountinfo": null,
            "mounts": 0,
            "pids": "",
            "pins": [
              "fd proc/3310/fd/7",
            ],
          },
        ],
        "pinnedWithoutProcess": [
          4026533200,
          4026533417,
        ],
        "unknownNsPids": [
          5005,
          6006,
        ],
        "unscanned": [
          4026533417,
        ],
      }
    `);
  });

  it("reads the real capture: live holder, nsfs pin with its nsenter mountinfo, fd pin unscanned, PID 1 matched by mount ids", () => {
    const real = JSON.parse(fixture("real/proc/namespaces-evidence.json")) as {
      hostNamespace: HostNamespace;
      evidence: Evidence;
    };
    const r = readMountNamespaces({
      reader: new EvidenceReader(real.evidence),
      hostNamespace: real.hostNamespace,
    });
    expect(issuesOf(r)).toEqual([]);
    expect(summary(r.value)).toMatchInlineSnapshot(`
      {
        "host": {
          "inode": 4026531832,
          "inodeInferred": false,
          "reason": "proc/1/ns/mnt unreadable (EACCES); took the capturing process's namespace",
          "source": "proc/self/ns/mnt",
        },
        "namespaces": [
          {
            "csi": [],
            "inode": 4026531832,
            "isHost": true,
            "mountinfo": "proc/8245/mountinfo",
            "mounts": 22,
            "pids": "1 2 8192 8236 8245",
            "pidsInferred": "1",
            "pins": [],
          },
          {
            "csi": [
              "staging 0:39 private proc/8199/mountinfo:21",
            ],
            "inode": 4026532177,
            "isHost": false,
            "mountinfo": "proc/8199/mountinfo",
            "mounts": 21,
            "pids": "8199",
            "pins": [],
          },
          {
            "csi": [
              "staging 0:40 private faultline/pinned-ns/4026532178/mountinfo:21",
            ],
            "inode": 4026532178,
            "isHost": false,
            "mountinfo": "faultline/pinned-ns/4026532178/mountinfo",
            "mounts": 21,
            "pids": "",
            "pins": [
              "nsfs proc/8245/mountinfo:21 /tmp/fl-test/pinned-ns",
            ],
          },
          {
            "csi": [],
            "inode": 4026532179,
            "isHost": false,
            "mountinfo": null,
            "mounts": 0,
            "pids": "",
            "pins": [
              "fd proc/8236/fd/9",
            ],
          },
        ],
        "pinnedWithoutProcess": [
          4026532178,
          4026532179,
        ],
        "unknownNsPids": [],
        "unscanned": [
          4026532179,
        ],
      }
    `);
  });

  it("uses a process table built by the caller instead of reading it again", () => {
    const reader = bundle(leakNode, leakExtra);
    const processes = readProcesses(reader).value;
    const a = readMountNamespaces({ reader, hostNamespace: hostFromPid1, processes });
    const b = readMountNamespaces({ reader, hostNamespace: hostFromPid1 });
    expect(a).toEqual(b);
  });

  const hostMi = file(fixture("synthetic/proc/host-7a.mountinfo"));
  const report = (reader: EvidenceReader, hostNamespace: HostNamespace) => {
    const r = readMountNamespaces({ reader, hostNamespace });
    return { issues: issuesOf(r), ...summary(r.value) };
  };

  it("takes PID 1's mountinfo as the host's when the shipper names PID 1 but could not read its link", () => {
    const reader = bundle([{ pid: 1, comm: "init", ns: fail("readlink", "EACCES"), mountinfo: hostMi }]);
    const r = report(reader, {
      mnt: null,
      source: "proc/1/ns/mnt",
      reason: "proc/1/ns/mnt unreadable (EACCES); proc/1/mountinfo is the host's mount table",
    });
    expect(r).toMatchInlineSnapshot(`
      {
        "host": {
          "inode": null,
          "inodeInferred": false,
          "reason": "proc/1/ns/mnt unreadable (EACCES); proc/1/mountinfo is the host's mount table",
          "source": "proc/1/ns/mnt",
        },
        "issues": [],
        "namespaces": [
          {
            "csi": [
              "staging 259:4 shared proc/1/mountinfo:7",
              "publish 259:4 shared proc/1/mountinfo:8",
              "block-staging 0:5 shared proc/1/mountinfo:9",
              "block-publish 0:5 shared proc/1/mountinfo:10",
            ],
            "inode": null,
            "isHost": true,
            "mountinfo": "proc/1/mountinfo",
            "mounts": 19,
            "pids": "1",
            "pins": [],
          },
          {
            "csi": [],
            "inode": 4026533200,
            "isHost": false,
            "mountinfo": null,
            "mounts": 0,
            "pids": "",
            "pins": [
              "nsfs proc/1/mountinfo:12 /run/kata-containers/sandbox-ns/3f2a9c41e7b0",
            ],
          },
        ],
        "pinnedWithoutProcess": [
          4026533200,
        ],
        "unknownNsPids": [],
        "unscanned": [
          4026533200,
        ],
      }
    `);
  });

  it("names the host's inode by matching PID 1's mountinfo to a namespace with a readable link", () => {
    const reader = bundle([
      { pid: 1, comm: "init", ns: fail("readlink", "EACCES"), mountinfo: hostMi },
      { pid: 900, comm: "faultline", ns: link(`mnt:[${HOST}]`), mountinfo: hostMi },
    ]);
    const r = readMountNamespaces({
      reader,
      hostNamespace: { mnt: null, source: "proc/1/ns/mnt", reason: "EACCES" },
    });
    expect(issuesOf(r)).toEqual([]);
    expect(r.value.host).toMatchObject({ inode: HOST, inodeInferred: true });
    expect(r.value.namespaces[0]).toMatchObject({
      inode: HOST,
      isHost: true,
      pids: [1, 900],
      pidsInferred: [1],
    });
  });

  it("reports an unknown host namespace when the shipper named none and PID 1 is not its source", () => {
    const reader = bundle([{ pid: 1, comm: "init", ns: fail("readlink", "EACCES"), mountinfo: hostMi }]);
    const r = report(reader, { mnt: null, source: "proc/self/ns/mnt", reason: "proc/self/ns/mnt: ENOENT" });
    expect({
      host: r.host,
      issues: r.issues,
      namespaces: r.namespaces.map((n) => `${n.inode} host=${n.isHost} ${n.mountinfo}`),
    }).toMatchInlineSnapshot(`
      {
        "host": {
          "inode": null,
          "inodeInferred": false,
          "reason": "proc/self/ns/mnt: ENOENT",
          "source": "proc/self/ns/mnt",
        },
        "issues": [
          {
            "code": "missing",
            "message": "host mount namespace unknown: proc/self/ns/mnt: ENOENT",
            "path": [
              "proc/self/ns/mnt",
            ],
          },
        ],
        "namespaces": [
          "4026533200 host=false null",
          "null host=false proc/1/mountinfo",
        ],
      }
    `);
  });

  it("reports a host namespace with no mountinfo shipped as unscanned", () => {
    const reader = bundle([{ pid: 1, comm: "init", ns: link(`mnt:[${HOST}]`) }]);
    expect(report(reader, hostFromPid1)).toMatchInlineSnapshot(`
      {
        "host": {
          "inode": 4026531840,
          "inodeInferred": false,
          "reason": "PID 1's mount namespace",
          "source": "proc/1/ns/mnt",
        },
        "issues": [
          {
            "code": "missing",
            "message": "no mountinfo shipped for the host namespace mnt:[4026531840]",
            "path": [
              "proc/1/ns/mnt",
            ],
          },
        ],
        "namespaces": [
          {
            "csi": [],
            "inode": 4026531840,
            "isHost": true,
            "mountinfo": null,
            "mounts": 0,
            "pids": "1",
            "pins": [],
          },
        ],
        "pinnedWithoutProcess": [],
        "unknownNsPids": [],
        "unscanned": [
          4026531840,
        ],
      }
    `);
  });

  it("keeps a host namespace that no listed process is in, and scans what pins other namespaces", () => {
    const reader = bundle([{ pid: 500, comm: "x", ns: link(`mnt:[${DAEMONSET}]`), mountinfo: hostMi }]);
    const r = report(reader, {
      mnt: `mnt:[${HOST}]`,
      source: "proc/self/ns/mnt",
      reason: "shipper's own namespace",
    });
    expect({
      issues: r.issues,
      namespaces: r.namespaces.map((n) => `${n.inode} host=${n.isHost} pids=${n.pids} ${n.mountinfo}`),
    }).toMatchInlineSnapshot(`
        {
          "issues": [
            {
              "code": "missing",
              "message": "no mountinfo shipped for the host namespace mnt:[4026531840]",
              "path": [
                "proc/self/ns/mnt",
              ],
            },
          ],
          "namespaces": [
            "4026531840 host=true pids= null",
            "4026532871 host=false pids=500 proc/500/mountinfo",
            "4026533200 host=false pids= null",
          ],
        }
      `);
  });

  it("prefers PID 1's mountinfo for the host when the host is PID 1's namespace", () => {
    const r = readMountNamespaces({ reader: bundle(leakNode, leakExtra), hostNamespace: hostFromPid1 });
    expect(r.value.namespaces[0]?.mountinfo).toEqual({
      evidencePath: "proc/1/mountinfo",
      pid: 1,
      capped: false,
    });
  });

  it("prefers a non-empty, uncapped mountinfo over a dying process's empty one", () => {
    const mi = fixture("synthetic/proc/daemonset-7b.mountinfo");
    const reader = bundle([
      { pid: 10, comm: "a", ns: link(`mnt:[${DAEMONSET}]`), mountinfo: file("") },
      { pid: 11, comm: "b", ns: link(`mnt:[${DAEMONSET}]`), mountinfo: file(mi.slice(0, 200), true) },
      { pid: 12, comm: "c", ns: link(`mnt:[${DAEMONSET}]`), mountinfo: file(mi) },
    ]);
    const r = readMountNamespaces({
      reader,
      hostNamespace: { mnt: `mnt:[${DAEMONSET}]`, source: "proc/self/ns/mnt", reason: "" },
    });
    expect(r.value.namespaces[0]?.mountinfo?.evidencePath).toBe("proc/12/mountinfo");
  });

  it("tries PID 1 first for the host, then its processes in order, then the pinned copy", () => {
    const mi = fixture("synthetic/proc/daemonset-7b.mountinfo");
    const hostNamespace = { mnt: `mnt:[${DAEMONSET}]`, source: "proc/1/ns/mnt", reason: "" };
    const procs = (mountinfos: (EvidenceEntry | undefined)[]): Proc[] =>
      [1, 20, 21].map((pid, i) => ({
        pid,
        comm: "a",
        ns: link(`mnt:[${DAEMONSET}]`),
        mountinfo: mountinfos[i],
      }));
    const pinned = { [pinnedMountinfoPath(DAEMONSET)]: file(mi) };
    const used = (reader: EvidenceReader) =>
      readMountNamespaces({ reader, hostNamespace }).value.namespaces[0]?.mountinfo?.evidencePath;
    const capped = file(mi, true);
    expect(used(bundle(procs([file(mi), file(mi), file(mi)]), pinned))).toBe("proc/1/mountinfo");
    expect(used(bundle(procs([capped, file(mi), file(mi)]), pinned))).toBe("proc/20/mountinfo");
    expect(used(bundle(procs([capped, undefined, file(mi)]), pinned))).toBe("proc/21/mountinfo");
    expect(used(bundle(procs([capped, undefined, capped]), pinned))).toBe(pinnedMountinfoPath(DAEMONSET));
    expect(used(bundle(procs([capped, undefined, capped])))).toBe("proc/1/mountinfo");
    expect(used(bundle(procs([undefined, undefined, undefined])))).toBeUndefined();
  });

  it("reports a capped mountinfo's cut line and the mounts whose parent is missing (a racing read)", () => {
    const mi = fixture("synthetic/proc/daemonset-7b.mountinfo").split("\n");
    // Line 3 read twice, the /var/lib/kubelet bind (1893) skipped, the last line cut by the cap.
    const damaged = [...mi.slice(0, 3), mi[2], mi[3], mi[4], ...mi.slice(6)].join("\n").slice(0, -40);
    const reader = bundle([
      { pid: 10, comm: "a", ns: link(`mnt:[${DAEMONSET}]`), mountinfo: file(damaged, true) },
    ]);
    const r = readMountNamespaces({
      reader,
      hostNamespace: { mnt: `mnt:[${DAEMONSET}]`, source: "proc/self/ns/mnt", reason: "" },
    });
    expect(r.value.namespaces[0]?.mountinfo?.capped).toBe(true);
    expect(
      issuesOf(r).map((i) => `${i.code} ${i.path.join("/")}:${i.line} ${i.message}`),
    ).toMatchInlineSnapshot(`
      [
        "truncated proc/10/mountinfo:11 last line has no newline; dropped",
        "inconsistent proc/10/mountinfo:4 mount id 1873 listed twice",
        "inconsistent proc/10/mountinfo:7 parent mount 1893 is not listed",
        "inconsistent proc/10/mountinfo:8 parent mount 1893 is not listed",
      ]
    `);
  });
});

describe("bundle readers: properties", () => {
  const pathArb = fc.oneof(
    fc.constantFrom(
      "proc/",
      "proc/1/stat",
      "proc/1/ns/mnt",
      "proc/1/mountinfo",
      "proc/1/fd/",
      "proc/1/fd/3",
      "proc/7/cgroup",
      "proc/7/ns/mnt",
      "proc/7/mountinfo",
      "proc/7/fd/9",
      "faultline/pinned-ns/4026533200/mountinfo",
    ),
    fc.string({ maxLength: 20 }).map((s) => `proc/${s}`),
  );
  const entryArb: fc.Arbitrary<EvidenceEntry> = fc.oneof(
    fc.string({ unit: "binary", maxLength: 200 }).map((d) => file(d)),
    fc
      .constantFrom("mnt:[4026531840]", "mnt:[4026533200]", "/dev/vfio/62", "net:[1]", "mnt:[x]", "")
      .map(link),
    fc.array(fc.constantFrom("1", "7", "3", "9", "x", "self"), { maxLength: 5 }).map(dir),
    fc.constantFrom("EACCES", "ESRCH", "ENOENT").map((c) => fail("readlink", c)),
    fc.constant<EvidenceEntry>({ kind: "timeout", op: "read", afterMs: 2000 }),
  );

  it("never throw on arbitrary evidence records, and only report pids the evidence names", () => {
    fc.assert(
      fc.property(
        fc.dictionary(pathArb, entryArb, { maxKeys: 12 }),
        fc.option(fc.constantFrom("mnt:[4026531840]", "junk")),
        (evidence, mnt) => {
          const reader = new EvidenceReader(evidence);
          const procs = readProcesses(reader);
          const view = readMountNamespaces({
            reader,
            hostNamespace: { mnt, source: "proc/1/ns/mnt", reason: "test" },
          });
          const named = JSON.stringify(evidence);
          for (const p of procs.value.processes) expect(named).toContain(String(p.pid));
          for (const ns of view.value.namespaces)
            for (const pid of ns.pids) expect(named).toContain(String(pid));
        },
      ),
    );
  });
});

describe("readMountNamespaces: mount id checks", () => {
  interface Line {
    id: number;
    parent: number;
    root: boolean;
  }
  /** The §7.4 checks as first written, with a Set: what the byte-array marks must match. */
  const expected = (path: string, lines: Line[]): string[] => {
    const out: string[] = [];
    const ids = new Set<number>();
    lines.forEach((l, i) => {
      if (ids.has(l.id)) out.push(`${path}:${i + 1} mount id ${l.id} listed twice`);
      ids.add(l.id);
    });
    lines.forEach((l, i) => {
      if (!l.root && !ids.has(l.parent)) out.push(`${path}:${i + 1} parent mount ${l.parent} is not listed`);
    });
    return out;
  };
  const mountinfo = (lines: Line[]) =>
    file(
      lines
        .map((l, i) => `${l.id} ${l.parent} 0:${i} / ${l.root ? "/" : `/m${i}`} rw - tmpfs tmpfs rw\n`)
        .join(""),
    );
  const idArb = fc.oneof(
    fc.integer({ min: 0, max: 40 }),
    fc.integer({ min: 2000, max: 2100 }),
    fc.integer({ min: 0, max: 2 ** 31 - 1 }),
    fc.constantFrom(2 ** 31, 2 ** 40 + 1, 999_999_999_999_999),
  );
  const linesArb = fc.array(fc.record({ id: idArb, parent: idArb, root: fc.boolean() }), { maxLength: 40 });

  it("reports the same duplicates and missing parents as a Set, for dense, sparse and huge ids", () => {
    fc.assert(
      fc.property(linesArb, linesArb, (a, b) => {
        // Two namespaces read one after the other: the second must not see the first one's ids.
        const reader = bundle([
          { pid: 10, comm: "a", ns: link(`mnt:[${DAEMONSET}]`), mountinfo: mountinfo(a) },
          { pid: 11, comm: "b", ns: link(`mnt:[${VMM}]`), mountinfo: mountinfo(b) },
        ]);
        const r = readMountNamespaces({
          reader,
          hostNamespace: { mnt: `mnt:[${DAEMONSET}]`, source: "proc/self/ns/mnt", reason: "" },
        });
        const got = issuesOf(r)
          .filter((i) => i.code === "inconsistent")
          .map((i) => `${i.path.join("/")}:${i.line} ${i.message}`);
        expect(got).toEqual([...expected("proc/10/mountinfo", a), ...expected("proc/11/mountinfo", b)]);
      }),
      { numRuns: 500 },
    );
  });
});
