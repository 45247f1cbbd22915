import { describe, expect, it } from "vitest";
import {
  decodeDevT,
  type LsofFile,
  type LsofOutput,
  parseLsof,
  parseLsofDefault,
  parseLsofFields,
} from "../../../../shared/parse/commands/lsof.js";
import { issuesOf, type ParseResult } from "../../../../shared/parse/result.js";
import { commandFixture } from "./fixtures.js";

const dev = (d: LsofFile["device"]) => (d ? `${d.major},${d.minor}` : "-");
/** One line per open file: what a reviewer needs to see change. */
const row = (f: LsofFile) =>
  [
    `${f.line}:`,
    f.tid === null ? `${f.pid}` : `${f.pid}/${f.tid}`,
    JSON.stringify(f.command) + (f.taskCommand === null ? "" : `/${JSON.stringify(f.taskCommand)}`),
    f.user ?? `uid=${f.uid}`,
    `fd=${f.fd}${f.access ?? ""}${f.lock ?? ""}`,
    f.type ?? "-",
    `dev=${dev(f.device)}`,
    `rdev=${dev(f.rdev)}`,
    f.sizeOff ? `${f.sizeOff.kind}=${f.sizeOff.value}` : "-",
    `ino=${f.inode ?? "-"}`,
    JSON.stringify(f.name) + (f.deleted ? " (deleted)" : ""),
  ].join(" ");
const summary = (r: ParseResult<LsofOutput>) => ({
  format: r.value.format,
  files: r.value.files.map(row),
  notes: r.value.notes,
  issues: issuesOf(r).map((i) => `${i.line}: ${i.code}: ${i.message}`),
});
const real = (name: string) => commandFixture("real", name);
const synthetic = (name: string) => commandFixture("synthetic", name);

describe("parseLsof on real captures", () => {
  it.each([
    ["lsof-default-tmpfs.txt", "default"],
    ["lsof-default-threads.txt", "default"],
    ["lsof-default-devnull.txt", "default"],
    ["lsof-default-users.txt", "default"],
    ["lsof-F-tmpfs.txt", "fields"],
    ["lsof-F0-tmpfs.txt", "fields"],
    ["lsof-F-devnull.txt", "fields"],
    ["lsof-F0-users.txt", "fields"],
    ["lsof-w-unheld.txt", "empty"],
  ])("detects %s as %s output and reads it cleanly", (file, format) => {
    const r = parseLsof(real(file));
    expect(r.ok, JSON.stringify(issuesOf(r))).toBe(true);
    expect(r.value.format).toBe(format);
  });

  it.each([
    ["lsof-default-tmpfs.txt", "lsof-F-tmpfs.txt"],
    ["lsof-default-tmpfs.txt", "lsof-F0-tmpfs.txt"],
    ["lsof-default-devnull.txt", "lsof-F-devnull.txt"],
    ["lsof-default-users.txt", "lsof-F0-users.txt"],
  ])("reads the same holders from %s and %s", (columns, fields) => {
    // Default output gives no process-wide device for CHR/BLK, -F gives no mode unless asked: compare the rest.
    const key = (f: LsofFile, device = f.device) =>
      `${f.pid} ${f.fd} ${f.type} ${f.inode} ${dev(device ?? f.rdev)} ${f.name} ${f.deleted}`;
    // Each capture also lists the lsof process that made it, under its own pid.
    const notLsof = (f: LsofFile) => f.command !== "lsof";
    const a = parseLsof(real(columns)).value.files.filter(notLsof);
    const b = parseLsof(real(fields)).value.files.filter(notLsof);
    // Not a spread of the file: -F files read their fields through getters (parseLsofFields).
    expect(a.map((f) => key(f))).toEqual(b.map((f) => key(f, f.type === "CHR" ? null : f.device)));
  });

  it("pins the real tmpfs holders: cwd, r/w files, a blank in a name, a deleted file", () => {
    expect(summary(parseLsof(real("lsof-default-tmpfs.txt")))).toMatchInlineSnapshot(`
      {
        "files": [
          "2: 8 "sleep" root fd=cwd DIR dev=0,43 rdev=- size=100 ino=1 "/tmp/flcap/m"",
          "3: 8 "sleep" root fd=7r REG dev=0,43 rdev=- size=5 ino=2 "/tmp/flcap/m/data.log"",
          "4: 8 "sleep" root fd=8w REG dev=0,43 rdev=- size=0 ino=4 "/tmp/flcap/m/out.log"",
          "5: 9 "sleep" root fd=3r REG dev=0,43 rdev=- size=2 ino=3 "/tmp/flcap/m/with space.txt"",
          "6: 10 "sleep" root fd=5w REG dev=0,43 rdev=- size=0 ino=5 "/tmp/flcap/m/gone.tmp" (deleted)",
          "7: 12 "node" root fd=18r REG dev=0,43 rdev=- size=5 ino=2 "/tmp/flcap/podbind/data.log"",
        ],
        "format": "default",
        "issues": [],
        "notes": [],
      }
    `);
    expect(summary(parseLsof(real("lsof-F0-tmpfs.txt"))).files).toMatchInlineSnapshot(`
      [
        "2: 8 "sleep" uid=0 fd=cwd DIR dev=0,43 rdev=- - ino=1 "/tmp/flcap/m"",
        "3: 8 "sleep" uid=0 fd=7 REG dev=0,43 rdev=- - ino=2 "/tmp/flcap/m/data.log"",
        "4: 8 "sleep" uid=0 fd=8 REG dev=0,43 rdev=- - ino=4 "/tmp/flcap/m/out.log"",
        "6: 9 "sleep" uid=0 fd=3 REG dev=0,43 rdev=- - ino=3 "/tmp/flcap/m/with space.txt"",
        "8: 10 "sleep" uid=0 fd=5 REG dev=0,43 rdev=- - ino=5 "/tmp/flcap/m/gone.tmp" (deleted)",
        "10: 12 "node" uid=0 fd=18 REG dev=0,43 rdev=- - ino=2 "/tmp/flcap/podbind/data.log"",
      ]
    `);
  });

  it("pins threads, users without a name, escaped command names and stderr notes", () => {
    expect(summary(parseLsof(real("lsof-default-threads.txt"))).files.slice(0, 3)).toMatchInlineSnapshot(`
      [
        "2: 12 "node" root fd=18r REG dev=0,43 rdev=- size=5 ino=2 "/tmp/flcap/podbind/data.log"",
        "3: 12/15 "node"/"node" root fd=18r REG dev=0,43 rdev=- size=5 ino=2 "/tmp/flcap/podbind/data.log"",
        "4: 12/16 "node"/"node" root fd=18r REG dev=0,43 rdev=- size=5 ino=2 "/tmp/flcap/podbind/data.log"",
      ]
    `);
    expect(summary(parseLsof(real("lsof-default-users.txt")))).toMatchInlineSnapshot(`
      {
        "files": [
          "4: 5 "sleep" nobody fd=3r REG dev=0,40 rdev=- size=5 ino=2 "/tmp/flcap5/m/a.log"",
          "5: 6 "sleep" uid=12345 fd=4w REG dev=0,40 rdev=- size=5 ino=2 "/tmp/flcap5/m/a.log"",
          "6: 7 "ib pg" root fd=5u REG dev=0,40 rdev=- size=5 ino=2 "/tmp/flcap5/m/a.log"",
          "7: 10 "sleep" root fd=5u REG dev=0,40 rdev=- size=5 ino=2 "/tmp/flcap5/m/a.log"",
        ],
        "format": "default",
        "issues": [],
        "notes": [
          "lsof: no pwd entry for UID 12345",
          "lsof: no pwd entry for UID 12345",
        ],
      }
    `);
    expect(summary(parseLsof(real("lsof-F0-users.txt")))).toMatchInlineSnapshot(`
      {
        "files": [
          "3: 5 "sleep" nobody fd=3r REG dev=0,40 rdev=- - ino=2 "/tmp/flcap5/m/a.log"",
          "5: 6 "sleep" uid=12345 fd=4w REG dev=0,40 rdev=- - ino=2 "/tmp/flcap5/m/a.log"",
          "7: 7 "ib pg flush" root fd=5u REG dev=0,40 rdev=- - ino=2 "/tmp/flcap5/m/a.log"",
          "9: 10 "sleep" root fd=5u REG dev=0,40 rdev=- - ino=2 "/tmp/flcap5/m/a.log"",
        ],
        "format": "fields",
        "issues": [],
        "notes": [
          "lsof: no pwd entry for UID 12345",
        ],
      }
    `);
  });

  it("keeps devtmpfs as the device and the char device as rdev for /dev/null", () => {
    const [first] = parseLsof(real("lsof-F-devnull.txt")).value.files;
    expect(first).toMatchObject({
      type: "CHR",
      device: { major: 0, minor: 6 },
      rdev: { major: 1, minor: 3 },
    });
    const [column] = parseLsof(real("lsof-default-devnull.txt")).value.files;
    expect(column).toMatchObject({ type: "CHR", device: null, rdev: { major: 1, minor: 3 } });
  });
});

describe("parseLsof on the VFIO scenario", () => {
  it("pins the holders of /dev/vfio/62 in every format", () => {
    const out = Object.fromEntries(
      [
        "lsof-dev-vfio-62.txt",
        "lsof-F-dev-vfio-62.txt",
        "lsof-F0-dev-vfio-62-tasks.txt",
        "lsof-default-warnings.txt",
      ].map((f) => [f, summary(parseLsof(synthetic(f)))]),
    );
    expect(out).toMatchInlineSnapshot(`
      {
        "lsof-F-dev-vfio-62.txt": {
          "files": [
            "5: 48213 "cloud-hyperviso" root fd=31u CHR dev=0,6 rdev=243,0 - ino=967 "/dev/vfio/62"",
            "13: 48213 "cloud-hyperviso" root fd=33u CHR dev=0,6 rdev=511,0 - ino=1043 "/dev/vfio/devices/vfio0"",
          ],
          "format": "fields",
          "issues": [],
          "notes": [],
        },
        "lsof-F0-dev-vfio-62-tasks.txt": {
          "files": [
            "2: 48213 "cloud-hyperviso" uid=0 fd=31u CHR dev=0,6 rdev=243,0 - ino=967 "/dev/vfio/62"",
            "4: 48213/48220 "cloud-hyperviso"/"vcpu0" uid=0 fd=31u CHR dev=0,6 rdev=243,0 - ino=967 "/dev/vfio/62"",
          ],
          "format": "fields",
          "issues": [],
          "notes": [],
        },
        "lsof-default-warnings.txt": {
          "files": [
            "6: 4410 "kata-agen" uid=999 fd=cwd DIR dev=259,4 rdev=- size=4096 ino=2 "/var/lib/kubelet/pods/5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11/volumes/kubernetes.io~csi/d-bp1g6qn7zcd3f8l2x9ab/mount"",
            "7: 31337 "mysqld" mysql fd=12uW REG dev=259,4 rdev=- size=50331648 ino=1310723 "/var/lib/kubelet/pods/5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11/volumes/kubernetes.io~csi/d-bp1g6qn7zcd3f8l2x9ab/mount/ibdata1"",
            "8: 31337/31342 "mysqld"/"ib_io_wr" mysql fd=14u REG dev=259,4 rdev=- offset=4096 ino=1310725 "/var/lib/kubelet/pods/5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11/volumes/kubernetes.io~csi/d-bp1g6qn7zcd3f8l2x9ab/mount/ib logfile0" (deleted)",
            "9: 31337/31343 "mysqld"/"ib_pg_flush" mysql fd=mem REG dev=259,4 rdev=- size=524288 ino=1310730 "/var/lib/kubelet/pods/5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11/volumes/kubernetes.io~csi/d-bp1g6qn7zcd3f8l2x9ab/mount/#ib_16384_0.dblwr"",
            "10: 48213/48220 "cloud-hyp"/"vcpu0" root fd=31u CHR dev=- rdev=243,0 offset=0 ino=967 "/dev/vfio/62"",
            "11: 1204 "container" root fd=87u unix dev=- rdev=- offset=0 ino=77102 "/run/containerd/containerd.sock.ttrpc type=STREAM (CONNECTED)"",
            "12: 912 "kubelet" root fd=NOFD - dev=- rdev=- - ino=- "/proc/912/fd (opendir: Permission denied)"",
          ],
          "format": "default",
          "issues": [],
          "notes": [
            "lsof: WARNING: can't stat() overlay file system /run/containerd/io.containerd.runtime.v2.task/k8s.io/5b1c0e/rootfs Output information may be incomplete.",
            "lsof: WARNING: can't stat() nsfs file system /run/netns/cni-8e1f0c2a Output information may be incomplete.",
          ],
        },
        "lsof-dev-vfio-62.txt": {
          "files": [
            "2: 48213 "cloud-hyp" root fd=31u CHR dev=- rdev=243,0 offset=0 ino=967 "/dev/vfio/62"",
          ],
          "format": "default",
          "issues": [],
          "notes": [],
        },
      }
    `);
  });
});

describe("decodeDevT", () => {
  it.each([
    [0x6, "0,6"],
    [0x103, "1,3"],
    [0xf300, "243,0"],
    [0x1ff00, "511,0"],
    [0x10300, "259,0"], // nvme0n1
    [0x10304, "259,4"],
    [0x10082c, "8,300"], // minor bits above the low 8 sit at bit 20 and up
  ])("decodes %i as %s", (devt, want) => {
    expect(dev(decodeDevT(devt))).toBe(want);
  });
});

describe("parseLsofFields files", () => {
  it("reads every set of a capture longer than a chunk of rows, with the process fields of its time", () => {
    // Short sets (the first chunk is sized for long ones, so it grows) across several chunks; the
    // command changes half way, which the sets after it see, and the set still open when it came.
    const sets = 5000;
    let text = "p7\ncfirst\nu0\n";
    for (let i = 0; i < sets; i++) {
      if (i === sets / 2) text += "csecond\n";
      text += `f${i}\nn/${i}\n`;
    }
    const r = parseLsofFields(text);
    expect(r.ok, JSON.stringify(issuesOf(r))).toBe(true);
    const got = r.value.files.map((f) => `${f.line} ${f.pid} ${f.command} ${f.fd} ${f.name}`);
    const want = Array.from({ length: sets }, (_, i) => {
      const line = 4 + 2 * i + (i >= sets / 2 ? 1 : 0);
      return `${line} 7 ${i < sets / 2 - 1 ? "first" : "second"} ${i} /${i}`;
    });
    expect(got).toEqual(want);
  });

  it("gives JSON with every field, numbers past 32 bits included", () => {
    const text =
      "p4294967\ncdd\nLroot\nu65534\nK12\nMworker\n" +
      "f3\nau\nlW\ntREG\nD0xffffffff\nr0x0\ns0x123456789abcd\ni999999999999999\nn/data/x (deleted)\n" +
      "fmem\nt\no0t4294967297\nn/lib/y\n";
    const r = parseLsofFields(text);
    expect(r.ok, JSON.stringify(issuesOf(r))).toBe(true);
    expect(JSON.parse(JSON.stringify(r.value.files))).toEqual([
      {
        pid: 4294967,
        tid: 12,
        command: "dd",
        taskCommand: "worker",
        user: "root",
        uid: 65534,
        fd: "3",
        access: "u",
        lock: "W",
        type: "REG",
        device: decodeDevT(0xffffffff),
        rdev: { major: 0, minor: 0 },
        sizeOff: { kind: "offset", value: 0x123456789abcd },
        inode: 999999999999999,
        name: "/data/x",
        deleted: true,
        line: 7,
      },
      {
        pid: 4294967,
        tid: 12,
        command: "dd",
        taskCommand: "worker",
        user: "root",
        uid: 65534,
        fd: "mem",
        access: null,
        lock: null,
        type: "",
        device: null,
        rdev: null,
        sizeOff: { kind: "offset", value: 4294967297 },
        inode: null,
        name: "/lib/y",
        deleted: false,
        line: 16,
      },
    ]);
  });
});

describe("parseLsofFields damage", () => {
  const vfio = "p48213\nccloud-hyperviso\nu0\nf31\nau\ntCHR\nD0x6\nr0xf300\ni967\nn/dev/vfio/62\n";

  it.each([
    ["mid-file: the file being read is dropped", vfio.slice(0, vfio.indexOf("i967") + 2), 0],
    ["at the start of the next set: the finished file is kept", `${vfio}p4`, 1],
    ["between two fields of the last file", vfio.slice(0, vfio.indexOf("i967")), 0],
    ["in the middle of the name field", vfio.slice(0, -3), 0],
  ])("drops a cut %s and reports it", (_what, text, kept) => {
    const r = parseLsofFields(text);
    expect(r.value.files).toHaveLength(kept);
    expect(issuesOf(r).map((i) => i.code)).toEqual(["truncated"]);
  });

  it("drops a -F0 set cut before its newline", () => {
    const full = synthetic("lsof-F0-dev-vfio-62-tasks.txt");
    const r = parseLsofFields(full.slice(0, -1));
    expect(r.value.files.map((f) => f.tid)).toEqual([null]);
    expect(issuesOf(r).map((i) => `${i.line}: ${i.code}`)).toEqual(["4: truncated"]);
  });

  it.each([
    ["an unknown field id", `${vfio}#junk\n`, "11: malformed_line"],
    ["a file set before any process", "f3\ntREG\nn/x\n", "1: malformed_line"],
    ["a pid that is not a number", "pabc\nf3\n", "1: invalid_field"],
    ["a device that is not hex", "p1\nf3\nDzz\nn/x\n", "3: invalid_field"],
  ])("reports %s with its line", (_what, text, want) => {
    expect(issuesOf(parseLsofFields(text)).map((i) => `${i.line}: ${i.code}`)).toContain(want);
  });

  it("keeps stderr lines merged into -F output as notes", () => {
    const r = parseLsof(
      `lsof: WARNING: can't stat() nsfs file system /run/netns/x\n      Output information may be incomplete.\n${vfio}`,
    );
    expect(r.ok).toBe(true);
    expect(r.value.notes).toEqual([
      "lsof: WARNING: can't stat() nsfs file system /run/netns/x Output information may be incomplete.",
    ]);
    expect(r.value.files).toHaveLength(1);
  });
});

describe("parseLsofDefault damage", () => {
  const header = "COMMAND     PID USER   FD   TYPE DEVICE SIZE/OFF NODE NAME\n";

  it("reads a row whose blanks were squeezed by a copy and paste", () => {
    const r = parseLsofDefault(`${header}cloud-hyp 48213 root 31u CHR 243,0 0t0 967 /dev/vfio/62\n`);
    expect(r.ok).toBe(true);
    expect(r.value.files.map(row)).toEqual([
      '2: 48213 "cloud-hyp" root fd=31u CHR dev=- rdev=243,0 offset=0 ino=967 "/dev/vfio/62"',
    ]);
  });

  it.each([
    ["a garbage row", `${header}garbage\n`, "2: malformed_line"],
    ["a missing header", "cloud-hyp 48213 root 31u CHR 243,0 0t0 967 /dev/vfio/62\n", "1: missing"],
    ["a cut row", `${header}cloud-hyp 48213 root   31u   CHR  243,0      0t0  967 /dev/vf`, "2: truncated"],
  ])("reports %s with its line", (_what, text, want) => {
    const r = parseLsofDefault(text);
    expect(r.value.files).toEqual([]);
    expect(issuesOf(r).map((i) => `${i.line}: ${i.code}`)).toEqual([want]);
  });
});
