import { execFileSync } from "node:child_process";
import {
  closeSync,
  constants,
  mkdtempSync,
  openSync,
  rmSync,
  symlinkSync,
  unlinkSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { SnapshotBundle } from "../../../shared/contracts/snapshot.js";
import { changeDigest } from "../../../shipper/bundle.js";
import { collectBundle } from "../../../shipper/collect.js";
import { nsfsMountPins } from "../../../shipper/collect-proc.js";
import { encodeFile } from "../../../shipper/collect-read.js";
import {
  GLOBALMOUNT,
  HOST_PRESETS,
  type HostPresetName,
  type HostTreeSpec,
  healthyHost,
  INCIDENT_BDF,
  NS,
  writeHostTree,
} from "../../support/host-tree.js";

const dirs: string[] = [];
const fifos: string[] = [];

afterEach(() => {
  // A reader blocked in open() on a FIFO holds a libuv thread; opening the write end releases it.
  for (const f of fifos.splice(0)) {
    try {
      closeSync(openSync(f, constants.O_RDWR | constants.O_NONBLOCK));
    } catch {}
  }
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

async function tree(spec: HostTreeSpec): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), "faultline-tree-"));
  dirs.push(dir);
  await writeHostTree(dir, spec);
  return dir;
}

async function collect(root: string, limits = {}): Promise<SnapshotBundle> {
  const r = await collectBundle({ root, version: "0.0.0-test", limits, nsenter: null });
  return r.bundle;
}

function pick(bundle: SnapshotBundle, prefix: string): Record<string, unknown> {
  return Object.fromEntries(Object.entries(bundle.evidence).filter(([k]) => k.startsWith(prefix)));
}

describe("collectBundle on synthetic host trees", () => {
  const expected: Record<HostPresetName, string[]> = {
    healthy: [
      "proc/sys/kernel/hostname",
      "proc/sys/kernel/random/boot_id",
      "sys/class/dmi/id/board_asset_tag",
      "sys/block/",
      "sys/block/nvme2n1",
      "sys/block/nvme2n1/dev",
      "sys/bus/pci/devices/0000:3b:00.3/nvme/nvme2/serial",
      "sys/bus/pci/devices/0000:3b:00.4/vfio-dev/",
      "sys/class/nvme/nvme2/",
      "sys/class/nvme/nvme2/transport",
      "sys/kernel/iommu_groups/62/devices/0000:3b:00.4",
      "dev/vfio/",
      "dev/vfio/devices/",
      "dev/kmsg",
      "sys/kernel/tracing/trace",
      "sys/kernel/tracing/per_cpu/cpu0/stats",
      "sys/kernel/tracing/options/record-tgid",
      "proc/48213/fd/31",
      "proc/1/mountinfo",
      "proc/77102/mountinfo",
    ],
    reattachRace: [
      `sys/bus/pci/devices/${INCIDENT_BDF}/driver_override`,
      `sys/bus/pci/devices/${INCIDENT_BDF}/driver`,
      "sys/kernel/iommu_groups/63/devices/0000:3b:00.5",
      "proc/1187/stat",
      "sys/kernel/tracing/per_cpu/cpu47/stats",
    ],
    globalmountLeak: ["proc/sys/fs/may_detach_mounts", "proc/77102/mountinfo", "proc/77102/ns/mnt"],
  };

  const presets = ["healthy", "reattachRace", "globalmountLeak"] as const satisfies readonly HostPresetName[];
  it.each(presets)("%s: the bundle validates and holds the evidence the detectors read", async (name) => {
    const bundle = await collect(await tree(HOST_PRESETS[name]()));
    const parsed = SnapshotBundle.safeParse(bundle);
    expect(parsed.success, JSON.stringify(parsed.error?.issues.slice(0, 3))).toBe(true);
    const missing = expected[name].filter((p) => !(p in bundle.evidence));
    expect(missing, `missing from ${name}`).toEqual([]);
    expect(bundle.hostId, "host id from the DMI asset tag").toBe("i-bp1hc4ud2m7xz0e9k5w3");
    expect(bundle.shipper.hostIdSource).toBe("dmi");
    expect(bundle.capture.hostNamespace).toEqual({
      mnt: `mnt:[${NS.host}]`,
      source: "proc/1/ns/mnt",
      reason: "PID 1's mount namespace",
    });
  });

  it("records the incident function raw: unbound (driver ENOENT), override nvme, no nvme or vfio-dev subtree", async () => {
    const bundle = await collect(await tree(HOST_PRESETS.reattachRace()));
    expect(pick(bundle, `sys/bus/pci/devices/${INCIDENT_BDF}`)).toMatchInlineSnapshot(`
      {
        "sys/bus/pci/devices/0000:3b:00.5": {
          "kind": "link",
          "target": "../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.5",
        },
        "sys/bus/pci/devices/0000:3b:00.5/class": {
          "bytes": 9,
          "data": "0x010802
      ",
          "kind": "file",
        },
        "sys/bus/pci/devices/0000:3b:00.5/device": {
          "bytes": 7,
          "data": "0x5004
      ",
          "kind": "file",
        },
        "sys/bus/pci/devices/0000:3b:00.5/driver": {
          "code": "ENOENT",
          "kind": "error",
          "message": "no such file or directory",
          "op": "readlink",
        },
        "sys/bus/pci/devices/0000:3b:00.5/driver_override": {
          "bytes": 5,
          "data": "nvme
      ",
          "kind": "file",
        },
        "sys/bus/pci/devices/0000:3b:00.5/iommu_group": {
          "kind": "link",
          "target": "../../../../kernel/iommu_groups/63",
        },
        "sys/bus/pci/devices/0000:3b:00.5/nvme/": {
          "code": "ENOENT",
          "kind": "error",
          "message": "no such file or directory",
          "op": "readdir",
        },
        "sys/bus/pci/devices/0000:3b:00.5/physfn": {
          "kind": "link",
          "target": "../0000:3b:00.0",
        },
        "sys/bus/pci/devices/0000:3b:00.5/subsystem_device": {
          "bytes": 7,
          "data": "0x5004
      ",
          "kind": "file",
        },
        "sys/bus/pci/devices/0000:3b:00.5/subsystem_vendor": {
          "bytes": 7,
          "data": "0x1ded
      ",
          "kind": "file",
        },
        "sys/bus/pci/devices/0000:3b:00.5/vendor": {
          "bytes": 7,
          "data": "0x1ded
      ",
          "kind": "file",
        },
        "sys/bus/pci/devices/0000:3b:00.5/vfio-dev/": {
          "code": "ENOENT",
          "kind": "error",
          "message": "no such file or directory",
          "op": "readdir",
        },
      }
    `);
  });

  it("keeps only vfio and namespace fd links, and one mountinfo per mount namespace plus PID 1's", async () => {
    const bundle = await collect(await tree(HOST_PRESETS.healthy()));
    const fds = Object.entries(bundle.evidence)
      .filter(([k, e]) => /^proc\/\d+\/fd\/\d+$/.test(k) && e.kind === "link")
      .map(([k, e]) => `${k} -> ${e.kind === "link" ? e.target : ""}`);
    expect(fds).toMatchInlineSnapshot(`
      [
        "proc/48213/fd/30 -> /dev/vfio/vfio",
        "proc/48213/fd/31 -> /dev/vfio/62",
        "proc/48213/fd/32 -> anon_inode:[vfio-device]",
        "proc/48377/fd/30 -> /dev/vfio/vfio",
        "proc/48377/fd/31 -> /dev/vfio/63",
        "proc/48377/fd/32 -> anon_inode:[vfio-device]",
      ]
    `);
    const mountinfo = Object.keys(bundle.evidence).filter((k) => k.endsWith("/mountinfo"));
    expect(mountinfo).toMatchInlineSnapshot(`
      [
        "proc/1/mountinfo",
        "proc/2931/mountinfo",
        "proc/31337/mountinfo",
        "proc/48213/mountinfo",
        "proc/48377/mountinfo",
        "proc/77102/mountinfo",
      ]
    `);
    expect(bundle.evidence["proc/1100/fd/"], "the fd listing itself is kept").toEqual({
      kind: "dir",
      names: ["3", "9"],
    });
  });

  it("ships the leaking namespace's mountinfo with the globalmount the host's lacks, and names the pin it could not read", async () => {
    const bundle = await collect(await tree(HOST_PRESETS.globalmountLeak()));
    const text = (path: string): string => {
      const e = bundle.evidence[path];
      return e?.kind === "file" ? e.data : "";
    };
    expect(text("proc/77102/mountinfo")).toContain(GLOBALMOUNT);
    expect(text("proc/1/mountinfo")).not.toContain(GLOBALMOUNT);
    expect(bundle.capture.gaps).toMatchInlineSnapshot(`
      [
        "pinned mount namespace mnt:[4026533200] (nsfs mount at /run/mntns/leak in proc/1/mountinfo) has no live process; not read: --root is not this shipper's live /proc",
      ]
    `);
  });

  it("anchors the trace clock and boottime with wall-clock brackets", async () => {
    const before = Date.now();
    const bundle = await collect(await tree(healthyHost()));
    const anchors = bundle.capture.anchors.map(({ wallBeforeMs, wallAfterMs, ...a }) => {
      expect(wallBeforeMs, JSON.stringify(a)).toBeGreaterThanOrEqual(before);
      expect(wallAfterMs, JSON.stringify(a)).toBeGreaterThanOrEqual(wallBeforeMs);
      return a;
    });
    expect(anchors).toMatchInlineSnapshot(`
      [
        {
          "clock": "boottime",
          "source": "proc/uptime",
          "value": 1843297.55,
        },
        {
          "clock": "trace",
          "source": "sys/kernel/tracing/per_cpu/cpu0/stats",
          "value": 1843297.55102,
        },
      ]
    `);
    expect(bundle.capture.btime).toBe(1_770_689_545);
    expect(bundle.capture.sections.map((s) => s.name)).toMatchInlineSnapshot(`
      [
        "identity",
        "block",
        "pci",
        "nvme",
        "iommu",
        "vfio",
        "trace",
        "kmsg",
        "processes",
        "namespaces",
      ]
    `);
  });

  it("falls back to the debugfs tracing path and records a gap when there is no tracefs at all", async () => {
    const spec = healthyHost();
    if (spec.trace) spec.trace.dir = "sys/kernel/debug/tracing";
    const debugfs = await collect(await tree(spec));
    expect(debugfs.evidence["sys/kernel/debug/tracing/trace"]?.kind).toBe("file");
    const { trace: _none, ...noTrace } = healthyHost();
    const bare = await collect(await tree(noTrace));
    expect(bare.evidence["sys/kernel/tracing/trace"]).toMatchObject({ kind: "error", code: "ENOENT" });
    expect(bare.capture.gaps.join("\n")).toContain("no ftrace");
  });

  it.each([
    ["a real instance id", "i-8vb0ch3k2v", "i-8vb0ch3k2v", "dmi"],
    ["a vendor placeholder", "Default string", "node-1", "hostname"],
    ["no asset tag file", undefined, "node-1", "hostname"],
  ] as const)("takes the host id from %s", async (_what, tag, hostId, source) => {
    const spec = healthyHost();
    if (tag === undefined) delete spec.boardAssetTag;
    else spec.boardAssetTag = tag;
    const bundle = await collect(await tree(spec));
    expect({ hostId: bundle.hostId, source: bundle.shipper.hostIdSource }).toEqual({ hostId, source });
  });
});

describe("collectBundle when reads misbehave", () => {
  const devDir = (root: string, bdf: string): string =>
    join(root, "sys/devices/pci0000:3a/0000:3a:00.0", bdf);

  it("records a read that blocks (FIFO with no writer) as a timeout and skips the rest of that device", async () => {
    const root = await tree(healthyHost());
    const vendor = join(devDir(root, "0000:3b:00.3"), "vendor");
    unlinkSync(vendor);
    execFileSync("mkfifo", [vendor]);
    fifos.push(vendor);
    const started = Date.now();
    const bundle = await collect(root, { readTimeoutMs: 200 });
    expect(bundle.evidence["sys/bus/pci/devices/0000:3b:00.3/vendor"]).toEqual({
      kind: "timeout",
      op: "read",
      afterMs: 200,
    });
    expect(bundle.evidence["sys/bus/pci/devices/0000:3b:00.3/nvme/"]).toMatchObject({
      kind: "error",
      code: "SKIPPED",
      message: "not read: a read of sys/bus/pci/devices/0000:3b:00.3/vendor timed out after 200 ms",
    });
    expect(
      bundle.evidence["sys/bus/pci/devices/0000:3b:00.4/vendor"],
      "other devices are read",
    ).toMatchObject({
      kind: "file",
    });
    expect(Date.now() - started, "the capture does not wait for the stuck read").toBeLessThan(10_000);
  });

  it("records a dangling link read as a file as ENOENT and goes on", async () => {
    const root = await tree(healthyHost());
    const model = join(devDir(root, "0000:3b:00.3"), "nvme/nvme2/model");
    unlinkSync(model);
    symlinkSync("../../../../../../gone/model", model);
    const bundle = await collect(root);
    expect(bundle.evidence["sys/bus/pci/devices/0000:3b:00.3/nvme/nvme2/model"]).toEqual({
      kind: "error",
      op: "read",
      code: "ENOENT",
      message: "no such file or directory",
    });
    expect(bundle.evidence["sys/bus/pci/devices/0000:3b:00.3/nvme/nvme2/serial"]?.kind).toBe("file");
  });

  it("caps an over-size file at the limit on a character boundary and marks it capped", async () => {
    const spec = healthyHost();
    const many = Array.from(
      { length: 400 },
      (_, i) => `${900 + i} 34 0:${60 + i} / /run/k8s/pods/é-${i} rw shared:${300 + i} - tmpfs tmpfs rw`,
    );
    spec.mountNamespaces[NS.host] = [...(spec.mountNamespaces[NS.host] ?? []), ...many];
    const bundle = await collect(await tree(spec), { maxFileBytes: 4097 });
    const e = bundle.evidence["proc/1/mountinfo"];
    expect(e?.kind).toBe("file");
    if (e?.kind !== "file") return;
    // Text: no `encoding` field (absent means UTF-8).
    expect({ capped: e.capped, encoding: e.encoding }).toEqual({ capped: true, encoding: undefined });
    expect(e.bytes).toBeLessThanOrEqual(4097);
    expect(e.bytes).toBeGreaterThanOrEqual(4094);
    expect(Buffer.byteLength(e.data)).toBe(e.bytes);
  });

  it("stores content that is not UTF-8 as base64", async () => {
    const root = await tree(healthyHost());
    writeFileSync(join(root, "proc/1523/comm"), Buffer.from([0x6b, 0x75, 0xff, 0xfe, 0x0a]));
    const bundle = await collect(root);
    expect(bundle.evidence["proc/1523/comm"]).toEqual({
      kind: "file",
      data: "a3X//go=",
      encoding: "base64",
      bytes: 5,
    });
  });

  it("stops at the entry cap with a gap instead of growing the bundle", async () => {
    const bundle = await collect(await tree(healthyHost()), { maxEntries: 60 });
    expect(Object.keys(bundle.evidence).length).toBeLessThanOrEqual(60);
    expect(bundle.capture.gaps.join("\n")).toMatch(/entry cap 60 reached/);
    expect(bundle.capture.limits).toEqual({ maxFileBytes: 1048576, readTimeoutMs: 2000, maxEntries: 60 });
  });

  it("skips subtrees that hung in an earlier capture without touching them", async () => {
    const root = await tree(healthyHost());
    const r = await collectBundle({
      root,
      version: "0",
      nsenter: null,
      knownStuck: new Map([["pci:0000:3b:00.3", "not read: hung at 10:00"]]),
    });
    expect(r.bundle.evidence["sys/bus/pci/devices/0000:3b:00.3/class"]).toMatchObject({ code: "SKIPPED" });
    expect(
      r.bundle.evidence["sys/block/nvme2n1/dev"],
      "same function, reached through /sys/block",
    ).toMatchObject({
      code: "SKIPPED",
    });
    expect(r.timedOutSubtrees.has("pci:0000:3b:00.3"), "still reported for the next capture").toBe(true);
  });
});

describe("change digest", () => {
  const noise: [string, (s: HostTreeSpec) => void][] = [
    [
      "uptime, /proc/stat and per-process CPU counters",
      (s) => {
        s.uptimeSec += 600;
        for (const p of s.processes) p.utime = (p.utime ?? 0) + 5000;
      },
    ],
    [
      "the trace clock's now ts",
      (s) => {
        if (s.trace) s.trace.nowTs += 600;
      },
    ],
    [
      "a short-lived process coming and going",
      (s) => {
        s.processes.push({
          pid: 99_001,
          comm: "sh",
          cmdline: ["/bin/sh", "-c", "true"],
          ppid: 1523,
          starttime: 184_400_000,
          cgroup: "0::/system.slice/kubelet.service\n",
          mntNs: NS.host,
        });
      },
    ],
    [
      "the namespace representative changing pid",
      (s) => {
        s.processes.push({
          pid: 2001,
          comm: "csi-helper",
          cmdline: ["/helper"],
          ppid: 2890,
          starttime: 100,
          cgroup: "0::/kubepods.slice\n",
          mntNs: NS.csiPlugin,
        });
      },
    ],
  ];
  const signal: [string, (s: HostTreeSpec) => void][] = [
    [
      "the incident function losing its driver",
      (s) => {
        const f = s.pci.find((p) => p.bdf === INCIDENT_BDF);
        if (f) delete f.driver;
      },
    ],
    [
      "a new kernel log record",
      (s) => {
        s.kmsg.push("4,98231,1843290000000,-;nvme nvme5: Removing after probe failure status: -19");
      },
    ],
    [
      "a mount appearing in a container namespace",
      (s) => {
        s.mountNamespaces[NS.nodeAgent]?.push("1999 1871 259:9 / /mnt/extra rw - ext4 /dev/nvme9n1 rw");
      },
    ],
    [
      "a process opening a vfio group",
      (s) => {
        const p = s.processes.find((x) => x.pid === 2931);
        if (p) p.fds = { ...p.fds, 12: "/dev/vfio/63" };
      },
    ],
    ["a label", () => {}],
  ];

  async function digestOf(spec: HostTreeSpec, labels: Record<string, string> = {}): Promise<string> {
    const r = await collectBundle({ root: await tree(spec), version: "0", nsenter: null, labels });
    return changeDigest(r.bundle);
  }

  it.each(noise)("does not move with %s", async (_what, mutate) => {
    const spec = healthyHost();
    const first = await digestOf(spec);
    mutate(spec);
    expect(await digestOf(spec)).toBe(first);
  });

  it.each(signal)("moves with %s", async (what, mutate) => {
    const spec = healthyHost();
    const first = await digestOf(spec);
    mutate(spec);
    expect(await digestOf(spec, what === "a label" ? { zone: "cn-hangzhou-k" } : {})).not.toBe(first);
  });
});

describe("small helpers", () => {
  it.each([
    ["ascii", Buffer.from("0x1ded\n"), false, { kind: "file", data: "0x1ded\n", bytes: 7 }],
    [
      "a cap inside a 2-byte character",
      Buffer.from("ab\u00e9"),
      true,
      { kind: "file", data: "ab", bytes: 2, capped: true },
    ],
    [
      "invalid UTF-8",
      Buffer.from([0xc3, 0x28]),
      false,
      { kind: "file", data: "wyg=", encoding: "base64", bytes: 2 },
    ],
  ] as const)("encodeFile: %s", (_what, bytes, capped, entry) => {
    expect(encodeFile(bytes.subarray(0, capped ? 3 : bytes.length), capped).entry).toEqual(entry);
  });

  it("nsfsMountPins finds mount-namespace nsfs mounts and unescapes their mount points", () => {
    const text = [
      "520 34 0:4 net:[4026532980] /run/netns/cni-1 rw shared:240 - nsfs nsfs rw",
      "610 34 0:4 mnt:[4026533200] /run/mntns/a\\040b rw shared:250 - nsfs nsfs rw",
      "25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw",
    ].join("\n");
    expect(nsfsMountPins(text, 1)).toEqual([{ inode: "4026533200", mountPoint: "/run/mntns/a b", pid: 1 }]);
  });
});
