import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { describeCgroupPath, parseCgroup } from "../../../shared/parse/cgroup.js";
import { issuesOf, MAX_ISSUES, MAX_LINE_CHARS } from "../../../shared/parse/result.js";

const fixture = (path: string) => readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), "utf8");
const realEvidence = JSON.parse(fixture("real/proc/namespaces-evidence.json")) as {
  pids: { self: number };
  evidence: Record<string, { kind: string; data?: string }>;
};

/** What a cgroup file says about its process, without the per-line entries. */
const owner = (text: string) => {
  const r = parseCgroup(text);
  const { entries, ...rest } = r.value;
  return { ...rest, lines: entries.length, issues: issuesOf(r) };
};

const C1 = "225ef64e9ecabbad5b4da660887c5e41bc0e9f9aecb44cd68421d0fd8a2283f7";
const C2 = "9b24028d16bc9753f4f837746c63dc2ce2c973d135293681b7db6e8e5dadb80a";
const C3 = "a1b70330683520b933e22c248cc641d3e89fc26c19f2998e504f8984c2cba785";
const C4 = "3def6468d50e94b50ee02c39360d60a0606b02daae5add8b6aea543e54047564";
const C5 = "c9463eb4c86871c75d95681853bd12560d5f748e8ed37d6f072188a6d1fa8636";
const C6 = "4e8e4293e7c2877005eb5bc3e8c2bddfd0bf214947e7c1499ea85a6159e43ae0";
const C7 = "d5ede0969dac56c9e926037d95cd01796e3f9a2b31163d27836850d4eccaebe9";

describe("parseCgroup on synthetic processes (both kubelet cgroup drivers, three runtimes, v1/v2)", () => {
  it.each([
    [
      "containerd-systemd-v2",
      {
        version: "v2",
        podUid: "5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11",
        qos: "burstable",
        containerId: C1,
        runtime: "containerd",
        lines: 1,
      },
    ],
    [
      "crio-systemd-hybrid", // `0::/` on a hybrid host: the pod is read from the first v1 line
      {
        version: "hybrid",
        podUid: "0d6f2c1a-9e8b-4a7c-b5d4-3e2f1a0b9c8d",
        qos: "besteffort",
        containerId: C2,
        runtime: "cri-o",
        lines: 13,
      },
    ],
    [
      "docker-cgroupfs-v1", // cgroupfs driver names no runtime for a bare id
      {
        version: "v1",
        podUid: "c2a4b0e1-6f3d-4e8a-9b7c-1d2e3f4a5b6c",
        qos: "burstable",
        containerId: C3,
        runtime: null,
        lines: 11,
      },
    ],
    [
      "containerd-cgroupfs-guaranteed-v2",
      {
        version: "v2",
        podUid: "7b3e9f2a-1c4d-4e5f-8a9b-0c1d2e3f4a5b",
        qos: "guaranteed",
        containerId: C4,
        runtime: null,
        lines: 1,
      },
    ],
    [
      "crio-cgroupfs-besteffort-v2",
      {
        version: "v2",
        podUid: "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
        qos: "besteffort",
        containerId: C5,
        runtime: "cri-o",
        lines: 1,
      },
    ],
    [
      "static-pod-guaranteed-v2", // static pods get a 32-hex UID (hash of the manifest)
      {
        version: "v2",
        podUid: "3c5e9b7f8a9f4c1e8b7d6a5c4b3a2910",
        qos: "guaranteed",
        containerId: C6,
        runtime: "containerd",
        lines: 1,
      },
    ],
    [
      "kind-nested-v2",
      {
        version: "v2",
        podUid: "1a2b3c4d-5e6f-4a7b-8c9d-0e1f2a3b4c5d",
        qos: "besteffort",
        containerId: C7,
        runtime: "containerd",
        lines: 1,
      },
    ],
    [
      "nested-init-scope-v2",
      {
        version: "v2",
        podUid: "5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11",
        qos: "burstable",
        containerId: C1,
        runtime: "containerd",
        lines: 1,
      },
    ],
    [
      "crio-conmon-v2", // the container monitor runs in the pod but is not the container
      {
        version: "v2",
        podUid: "0d6f2c1a-9e8b-4a7c-b5d4-3e2f1a0b9c8d",
        qos: "burstable",
        containerId: null,
        runtime: null,
        lines: 1,
      },
    ],
    [
      "docker-plain-v2",
      { version: "v2", podUid: null, qos: null, containerId: C1, runtime: "docker", lines: 1 },
    ],
    [
      "host-daemon-v2",
      { version: "v2", podUid: null, qos: null, containerId: null, runtime: null, ownerPath: null, lines: 1 },
    ],
  ])("%s", (name, expected) => {
    const got = owner(fixture(`synthetic/proc/cgroup/${name}.cgroup`));
    expect(got, JSON.stringify(got)).toMatchObject({ ...expected, issues: [] });
  });

  it("keeps every line: hierarchy id, controllers (named hierarchies as written) and path", () => {
    const r = parseCgroup(fixture("synthetic/proc/cgroup/crio-systemd-hybrid.cgroup"));
    expect(
      r.value.entries.map((e) => `${e.line} ${e.hierarchyId} [${e.controllers}] ${e.path.length}`),
    ).toMatchInlineSnapshot(`
      [
        "1 12 [hugetlb] 183",
        "2 11 [cpuset] 183",
        "3 10 [memory] 183",
        "4 9 [perf_event] 183",
        "5 8 [net_cls,net_prio] 183",
        "6 7 [pids] 183",
        "7 6 [freezer] 183",
        "8 5 [devices] 183",
        "9 4 [blkio] 183",
        "10 3 [cpu,cpuacct] 183",
        "11 2 [rdma] 183",
        "12 1 [name=systemd] 183",
        "13 0 [] 1",
      ]
    `);
  });
});

describe("parseCgroup on real processes (this machine: hybrid v1 + v2, no Kubernetes)", () => {
  it("reads the capturing process's file: a memory cgroup path, no pod", () => {
    const text = realEvidence.evidence[`proc/${realEvidence.pids.self}/cgroup`]?.data ?? "";
    expect(owner(text)).toMatchObject({ version: "hybrid", podUid: null, containerId: null, issues: [] });
    expect(
      parseCgroup(text).value.entries.map((e) => `${e.line} ${e.hierarchyId} [${e.controllers}] ${e.path}`),
    ).toMatchInlineSnapshot(`
        [
          "1 9 [name=systemd] /",
          "2 8 [pids] /",
          "3 7 [blkio] /",
          "4 6 [freezer] /",
          "5 5 [devices] /",
          "6 4 [memory] /process_api/5cdbfafd2b78d6cfa09e2a45386cac32",
          "7 3 [cpuset] /",
          "8 2 [cpuacct] /",
          "9 1 [cpu] /",
          "10 0 [] /",
        ]
      `);
  });

  it("reads PID 1 and kthreadd as hybrid with root paths", () => {
    for (const pid of [1, 2]) {
      const r = parseCgroup(realEvidence.evidence[`proc/${pid}/cgroup`]?.data ?? "");
      expect(r.ok, `pid ${pid}`).toBe(true);
      expect(r.value.version).toBe("hybrid");
      expect(r.value.entries.every((e) => e.path === "/")).toBe(true);
    }
  });
});

describe("describeCgroupPath", () => {
  it.each([
    ["/", null],
    ["/user.slice/user-1000.slice/session-3.scope", null],
    ["/kubepods.slice/kubepods-burstable.slice", null], // QoS parent only
    ["/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-podnot_a_uid.slice/x.scope", null],
    ["/kubepods/burstable/pod5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c1/abc", null], // 35 characters
    [`/kubepods/burstable/pod5F0C9A7E-3B1D-4C2E-9F61-0D8E2A7B4C11/${C1}`, { podUid: null, containerId: C1 }], // UIDs are lower case
    [`/docker/${C2}`, { podUid: null, containerId: C2, runtime: "docker" }],
    [`/system.slice/crio-${C2}.scope`, { podUid: null, containerId: C2, runtime: "cri-o" }],
    [`/kubepods/podcafe/${C3}`, { podUid: null, containerId: C3 }], // short pod dir: not a UID
    // The shortest path that names a pod (shorter ones are not searched at all).
    [`kubepods/pod${C1.slice(0, 32)}`, { podUid: C1.slice(0, 32), qos: "guaranteed", containerId: null }],
    [`kubepods/pod${C1.slice(0, 31)}`, null],
    // systemd driver: the UID is the last 32 or 36 characters before `.slice`, right after `-pod`.
    [
      `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod${C1.slice(0, 35)}.slice`,
      null, // 35 characters
    ],
    [
      `/kubepods.slice/kubepods-pod-pod${C1.slice(0, 32)}.slice`,
      { podUid: C1.slice(0, 32), qos: "guaranteed" }, // the last `-pod` counts
    ],
    [`/kubepods.slice/kubepods-besteffort-pod0d6f2c1a_9e8b_4a7c_b5d4_3e2f1a0b9c8d0.slice`, null], // 37 characters
    [
      `/kubepods.slice/kubepods-besteffort.slice/kubepods-besteffort-pod0d6f2c1a_9e8b_4a7c_b5d4_3e2f1a0b9c8d.slice/docker-${C4}.scope`,
      {
        podUid: "0d6f2c1a-9e8b-4a7c-b5d4-3e2f1a0b9c8d",
        qos: "besteffort",
        containerId: C4,
        runtime: "docker",
      },
    ],
    // A scope's prefix is told by the length left for a 64-hex id.
    [`/system.slice/cri-containerd-${C1.slice(0, 63)}.scope`, null],
    [`/system.slice/crio-conmon-${C1}.scope`, null],
    [`/system.slice/docker-${C1}0.scope`, null],
  ])("reads %s as %j", (path, expected) => {
    const got = describeCgroupPath(path);
    if (expected === null) expect(got).toEqual({ podUid: null, qos: null, containerId: null, runtime: null });
    else expect(got).toMatchObject(expected);
  });
});

describe("describeCgroupPath reads the path's bytes", () => {
  const UID = "5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11";
  const at = (s: string, i: number, c: string) => `${s.slice(0, i)}${c}${s.slice(i + c.length)}`;

  // Each character just outside (or at the edge of) 0-9 and a-f, and non-ASCII ones whose low byte
  // is a hex digit (U+0130, U+0161), in a container id, a static pod UID and a pod UID.
  it.each([
    ["/", false],
    [":", false],
    ["@", false],
    ["`", false],
    ["g", false],
    ["A", false],
    ["F", false],
    ["é", false],
    ["\u0130", false],
    ["\u0161", false],
    ["0", true],
    ["9", true],
    ["a", true],
    ["f", true],
  ])("takes %j in an id or UID only if it is a lowercase hex digit", (c, hex) => {
    for (const i of [0, 3, 31, 63]) {
      expect(
        describeCgroupPath(`/kubepods/burstable/pod${UID}/${at(C1, i, c)}`).containerId,
        `id at ${i}`,
      ).toBe(hex ? at(C1, i, c) : null);
    }
    const staticUid = at(C2.slice(0, 32), 17, c);
    expect(describeCgroupPath(`/kubepods/pod${staticUid}/${C1}`).podUid).toBe(hex ? staticUid : null);
    const uid = at(UID, 35, c);
    expect(describeCgroupPath(`/kubepods/pod${uid}/${C1}`).podUid).toBe(hex ? uid : null);
  });

  it.each([
    ["dashes", UID, UID],
    ["the systemd slice's underscores", UID.replaceAll("-", "_"), UID],
    ["underscores elsewhere", `${UID.slice(0, 30)}_${UID.slice(31)}`, `${UID.slice(0, 30)}-${UID.slice(31)}`],
    ["dashes only", "-".repeat(36), "-".repeat(36)],
  ])("reads a 36-character UID with %s, dashes for underscores", (_what, written, uid) => {
    expect(describeCgroupPath(`/kubepods/besteffort/pod${written}/${C1}`).podUid).toBe(uid);
  });

  it("reads a path longer than the shared byte buffer", () => {
    const deep = `/kubepods/burstable/pod${UID}/${"nested/".repeat(700)}${C1}`;
    expect(deep.length).toBeGreaterThan(4096);
    expect(describeCgroupPath(deep)).toEqual({
      podUid: UID,
      qos: "burstable",
      containerId: C1,
      runtime: null,
    });
  });

  it("finds kubepods anywhere in a slice name, not only at its start", () => {
    const slice = `/x.slice/kubelet-kubepods-besteffort-pod${UID.replaceAll("-", "_")}.slice`;
    expect(describeCgroupPath(slice)).toMatchObject({ podUid: UID, qos: "besteffort" });
    expect(
      describeCgroupPath(`/x.slice/kubelet-other-pod${UID.replaceAll("-", "_")}.slice`).podUid,
    ).toBeNull();
  });
});

describe("parseCgroup on damaged input", () => {
  const good = `0::/kubepods.slice/kubepods-pod3c5e9b7f8a9f4c1e8b7d6a5c4b3a2910.slice/cri-containerd-${C6}.scope\n`;
  it.each([
    ["no colons at all", "malformed_line"],
    ["4:memory", "malformed_line"],
    ["x:memory:/", "invalid_field"],
    [":memory:/", "invalid_field"],
    ["1x:memory:/", "invalid_field"],
    ["1234567890123456:memory:/", "invalid_field"], // over 15 digits
    ["12 memory /", "malformed_line"],
  ])("reports %j as %s on its line and keeps the rest", (bad, code) => {
    const r = parseCgroup(`${bad}\n${good}`);
    expect(issuesOf(r)).toMatchObject([{ code, line: 1 }]);
    expect(r.value.podUid).toBe("3c5e9b7f8a9f4c1e8b7d6a5c4b3a2910");
  });

  it("on a hybrid host, takes the pod from a later v1 line when earlier ones repeat a container-only path", () => {
    const docker = `/docker/${C2}`;
    const pod = `/kubepods/besteffort/pod9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b/${C5}`;
    const text = `4:memory:${docker}\n3:pids:${docker}\n2:cpu:${pod}\n1:name=systemd:${docker}\n0::/\n`;
    expect(owner(text)).toMatchObject({
      version: "hybrid",
      ownerPath: pod,
      podUid: "9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b",
      containerId: C5,
      issues: [],
    });
    // Without a pod anywhere, the first path naming a container is kept.
    expect(owner(`2:memory:/\n1:pids:${docker}\n0::${`/docker/${C1}`}\n`)).toMatchObject({
      ownerPath: `/docker/${C1}`,
      containerId: C1,
      runtime: "docker",
    });
  });

  it("keeps each line's fields, read back from the file text, and shows them as plain fields", () => {
    const r = parseCgroup("3:cpu,cpuacct:/a:b\nbad\n0::/\n");
    expect(r.value.entries.map((e) => [e.hierarchyId, e.controllers, e.path, e.line])).toEqual([
      [3, "cpu,cpuacct", "/a:b", 1],
      [0, "", "/", 3],
    ]);
    expect(JSON.parse(JSON.stringify(r.value.entries))).toEqual([
      { hierarchyId: 3, controllers: "cpu,cpuacct", path: "/a:b", line: 1 },
      { hierarchyId: 0, controllers: "", path: "/", line: 3 },
    ]);
    expect(r.value.entries[0]).toMatchInlineSnapshot(`
      {
        "controllers": "cpu,cpuacct",
        "hierarchyId": 3,
        "line": 1,
        "path": "/a:b",
      }
    `);
  });

  // Lines in file order (v1 lines come first in the kernel's file); the v2 pod wins wherever it is.
  const podA = `/kubepods/besteffort/pod9e8d7c6b-5a4f-4e3d-8c2b-1a0f9e8d7c6b/${C5}`;
  const podB = `/kubepods/burstable/pod5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11/${C1}`;
  const ctrA = `/docker/${C2}`;
  const ctrB = `/system.slice/crio-${C3}.scope`;
  it.each([
    ["a v2 pod over an earlier v1 pod", [`2:cpu:${podA}`, `0::${podB}`], podB],
    ["the first v1 pod over a v2 container", [`2:cpu:${ctrA}`, `1:pids:${podA}`, `0::${ctrB}`], podA],
    ["a v2 container over an earlier v1 container", [`2:cpu:${ctrA}`, `0::${ctrB}`], ctrB],
    [
      "the first v1 container when v2 names nothing",
      [`3:cpu:/`, `2:cpu:${ctrA}`, `1:pids:${ctrB}`, "0::/"],
      ctrA,
    ],
    ["the first of two v2 pods", [`0::${podA}`, `0::${podB}`], podA],
    ["a v2 pod after a v2 container", [`0::${ctrA}`, `0::${podB}`], podB],
    [
      "the first v1 pod after repeats of a container path",
      [`3:cpu:${ctrA}`, `2:pids:${ctrA}`, `1:x:${podB}`],
      podB,
    ],
    ["nothing", ["1:cpu:/", "0::/init.scope"], null],
  ])("takes the owner from %s", (_what, lines, ownerPath) => {
    const r = parseCgroup(`${lines.join("\n")}\n`);
    expect(r.value.ownerPath).toBe(ownerPath);
    const owner = ownerPath === null ? null : describeCgroupPath(ownerPath);
    expect(r.value).toMatchObject(owner ?? { podUid: null, qos: null, containerId: null, runtime: null });
  });

  it("reads a hierarchy id with leading zeros, as the kernel never writes but a number allows", () => {
    expect(parseCgroup("007:memory:/\n").value.entries[0]).toMatchObject({
      hierarchyId: 7,
      controllers: "memory",
    });
  });

  it("stays linear on many lines without a colon (each search for one would run to the end of the file)", () => {
    const lines = 200_000;
    const r = parseCgroup("no colons here\n".repeat(lines));
    expect(r.value.entries).toEqual([]);
    expect(issuesOf(r)[0]).toMatchObject({ code: "malformed_line", line: 1 });
    expect(issuesOf(r).at(-1)?.message).toContain(`${lines - MAX_ISSUES}`);
  });

  it("keeps colons inside the path", () => {
    expect(parseCgroup("0::/weird:path:x\n").value.entries[0]?.path).toBe("/weird:path:x");
  });

  it("drops a final line without its newline as truncated (it may name the wrong pod)", () => {
    const r = parseCgroup(good.slice(0, 60));
    expect(r.value).toMatchObject({ entries: [], podUid: null, version: null });
    expect(issuesOf(r)).toEqual([
      { code: "truncated", message: "last line has no newline; dropped", line: 1, path: [] },
    ]);
  });

  it("reads an empty file (a zombie) as nothing, with no issue", () => {
    expect(parseCgroup("")).toEqual({
      ok: true,
      value: {
        entries: [],
        version: null,
        ownerPath: null,
        podUid: null,
        qos: null,
        containerId: null,
        runtime: null,
      },
    });
  });
});

describe("parseCgroup properties", () => {
  const lineCount = (text: string) => text.split("\n").length;

  it("never throws on arbitrary strings, and every issue names a line that exists", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (text) => {
        const r = parseCgroup(text);
        for (const i of issuesOf(r)) expect(i.line).toBeLessThanOrEqual(lineCount(text));
        for (const e of r.value.entries) expect(e.line).toBeLessThanOrEqual(lineCount(text));
      }),
    );
  });

  it("never throws on random bytes decoded as UTF-8", () => {
    const decoder = new TextDecoder();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => void parseCgroup(decoder.decode(bytes))),
    );
  });

  it("reads a cut file as its complete lines only", () => {
    const text = fixture("synthetic/proc/cgroup/docker-cgroupfs-v1.cgroup");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length }), (cut) => {
        const part = text.slice(0, cut);
        const r = parseCgroup(part);
        expect(r.value.entries.length).toBe(part.split("\n").length - 1);
        expect(r.ok).toBe(part.length === 0 || part.endsWith("\n"));
      }),
    );
  });

  it("names the pod of any UID in either driver's layout", () => {
    fc.assert(
      fc.property(fc.uuid(), fc.constantFrom("", "burstable", "besteffort"), (uid, qos) => {
        const slice = `/kubepods.slice${qos ? `/kubepods-${qos}.slice` : ""}/kubepods${qos ? `-${qos}` : ""}-pod${uid.replaceAll("-", "_")}.slice/cri-containerd-${C1}.scope`;
        const cgroupfs = `/kubepods${qos ? `/${qos}` : ""}/pod${uid}/${C1}`;
        for (const path of [slice, cgroupfs]) {
          expect(describeCgroupPath(path), path).toMatchObject({
            podUid: uid,
            qos: qos || "guaranteed",
            containerId: C1,
          });
        }
      }),
    );
  });

  it("handles a 10 MB single line as too_large, with or without its newline", () => {
    const line = `0::/${"a".repeat(10 * 1024 * 1024)}`;
    expect(issuesOf(parseCgroup(`${line}\n`)).map((i) => [i.code, i.line])).toEqual([["too_large", 1]]);
    expect(issuesOf(parseCgroup(line)).map((i) => [i.code, i.line])).toEqual([["truncated", 1]]);
    expect(MAX_LINE_CHARS).toBeLessThan(line.length);
  });
});
