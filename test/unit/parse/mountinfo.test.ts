import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyKubeletPath } from "../../../shared/parse/csi-paths.js";
import { type Mount, parseMountinfo, unescapeMountField } from "../../../shared/parse/mountinfo.js";
import { pinnedNamespaceOf } from "../../../shared/parse/proc.js";
import { issuesOf, MAX_LINE_CHARS } from "../../../shared/parse/result.js";

const fixture = (path: string) => readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), "utf8");

/** One readable row per mount, for snapshots that show a whole file at a glance. */
const rows = (mounts: readonly Mount[]) =>
  mounts.map((m) =>
    [
      m.mountId,
      m.parentId,
      m.devt,
      JSON.stringify(m.root) + (m.rootDeleted ? " (deleted)" : ""),
      JSON.stringify(m.mountPoint),
      m.propagation +
        (m.peerGroup === null ? "" : ` peer=${m.peerGroup}`) +
        (m.masterGroup === null ? "" : ` master=${m.masterGroup}`),
      m.fsSubtype === null ? m.fsType : `${m.fsType}.${m.fsSubtype}`,
      JSON.stringify(m.source),
    ].join(" "),
  );

describe("parseMountinfo on real captures (this machine, kernel 6.18)", () => {
  it("reads the host namespace after the unmount: every line, the nsfs pin and the escaped space", () => {
    const r = parseMountinfo(fixture("real/proc/host-after-umount.mountinfo"));
    expect(issuesOf(r)).toEqual([]);
    expect(rows(r.value)).toMatchInlineSnapshot(`
      [
        "22 27 0:21 "/" "/proc" private proc "proc"",
        "23 27 0:22 "/" "/sys" private sysfs "sysfs"",
        "24 27 0:6 "/" "/dev" private devtmpfs "devtmpfs"",
        "25 24 0:23 "/" "/dev/shm" private tmpfs "tmpfs"",
        "26 24 0:24 "/" "/dev/pts" private devpts "devpts"",
        "27 1 254:0 "/" "/" private ext4 "/dev/vda"",
        "28 27 0:25 "/" "/mnt/sandboxing/model_tools_env/v1/python" private tmpfs "model_tools_unavailable"",
        "29 26 0:26 "/" "/dev/pts" private devpts "devpts"",
        "30 25 0:27 "/" "/dev/shm" private tmpfs "tmpfs"",
        "31 23 0:28 "/" "/sys/fs/cgroup" private tmpfs "tmpfs"",
        "32 31 0:29 "/" "/sys/fs/cgroup/cpu" private cgroup "cgroup"",
        "33 31 0:30 "/" "/sys/fs/cgroup/cpuacct" private cgroup "cgroup"",
        "34 31 0:31 "/" "/sys/fs/cgroup/cpuset" private cgroup "cgroup"",
        "35 31 0:32 "/" "/sys/fs/cgroup/memory" private cgroup "cgroup"",
        "36 31 0:33 "/" "/sys/fs/cgroup/devices" private cgroup "cgroup"",
        "37 31 0:34 "/" "/sys/fs/cgroup/freezer" private cgroup "cgroup"",
        "38 31 0:35 "/" "/sys/fs/cgroup/blkio" private cgroup "cgroup"",
        "39 31 0:36 "/" "/sys/fs/cgroup/pids" private cgroup "cgroup"",
        "40 31 0:37 "/" "/sys/fs/cgroup/systemd" private cgroup "cgroup"",
        "41 31 0:38 "/" "/sys/fs/cgroup/unified" private cgroup2 "cgroup2"",
        "85 27 0:4 "mnt:[4026532178]" "/tmp/fl-test/pinned-ns" private nsfs "nsfs"",
        "109 27 0:42 "/" "/tmp/fl-test/with space" private tmpfs "fl test space"",
      ]
    `);
  });

  it("keeps the globalmount in the private namespace that copied it before the host unmounted it", () => {
    const holder = parseMountinfo(fixture("real/proc/foreign-ns-holder.mountinfo"));
    const host = parseMountinfo(fixture("real/proc/host-after-umount.mountinfo"));
    const staging = (ms: readonly Mount[]) =>
      ms.filter((m) => classifyKubeletPath(m.mountPoint)?.kind === "staging");
    expect(issuesOf(holder)).toEqual([]);
    expect(staging(host.value), "host namespace no longer has it").toEqual([]);
    expect(staging(holder.value)).toMatchInlineSnapshot(`
      [
        {
          "devt": "0:39",
          "evidencePath": null,
          "fsSubtype": null,
          "fsType": "tmpfs",
          "line": 21,
          "major": 0,
          "masterGroup": null,
          "minor": 39,
          "mountId": 64,
          "mountPoint": "/tmp/fl-test/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount",
          "options": "rw,relatime",
          "otherTags": [],
          "parentId": 44,
          "peerGroup": null,
          "propagateFrom": null,
          "propagation": "private",
          "raw": "64 44 0:39 / /tmp/fl-test/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount rw,relatime - tmpfs fl-test-vol rw,size=1024k",
          "readOnly": false,
          "root": "/",
          "rootDeleted": false,
          "source": "fl-test-vol",
          "superOptions": "rw,size=1024k",
        },
      ]
    `);
  });

  it("reads PID 1's mountinfo (readable although its ns link is not) identically to the host's", () => {
    const pid1 = parseMountinfo(fixture("real/proc/pid1.mountinfo"));
    const host = parseMountinfo(fixture("real/proc/host-after-umount.mountinfo"));
    expect(rows(pid1.value)).toEqual(rows(host.value));
  });

  it("reads the mountinfo of a namespace pinned only by an nsfs bind mount (via nsenter)", () => {
    const r = parseMountinfo(fixture("real/proc/pinned-ns.mountinfo"));
    expect(issuesOf(r)).toEqual([]);
    expect(
      r.value.map((m) => classifyKubeletPath(m.mountPoint)).filter((k) => k !== null),
    ).toMatchInlineSnapshot(`
      [
        {
          "driver": null,
          "kind": "staging",
          "pv": "pvc-7d1e0f6a-8c2b-4f53-a9e0-3b6c5d4e2f10",
          "root": "/tmp/fl-test/data/kubelet",
          "version": 1,
          "volumeHash": null,
        },
      ]
    `);
  });
});

describe("parseMountinfo on synthetic hosts (reference samples 7.a-7.c, varied)", () => {
  it("host namespace: staging, publish, raw block, escapes, nsfs pins, overlay, fuse subtype, 0..3 tags", () => {
    const r = parseMountinfo(fixture("synthetic/proc/host-7a.mountinfo"), {
      evidencePath: "proc/1/mountinfo",
    });
    expect(issuesOf(r)).toEqual([]);
    expect(rows(r.value)).toMatchInlineSnapshot(`
      [
        "25 1 259:2 "/" "/" shared peer=1 ext4 "/dev/nvme0n1p2"",
        "26 25 0:5 "/" "/dev" shared peer=2 devtmpfs "devtmpfs"",
        "27 25 0:22 "/" "/sys" shared peer=7 sysfs "sysfs"",
        "28 25 0:24 "/" "/proc" shared peer=13 proc "proc"",
        "29 25 0:26 "/" "/run" shared peer=5 tmpfs "tmpfs"",
        "30 27 0:27 "/" "/sys/fs/cgroup" shared peer=9 cgroup2 "cgroup2"",
        "412 25 259:4 "/" "/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount" shared peer=233 ext4 "/dev/nvme2n1"",
        "437 25 259:4 "/" "/var/lib/kubelet/pods/5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11/volumes/kubernetes.io~csi/d-bp1g6qn7zcd3f8l2x9ab/mount" shared peer=233 ext4 "/dev/nvme2n1"",
        "451 25 0:5 "/nvme3n1" "/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/staging/pvc-7d1e0f6a-8c2b-4f53-a9e0-3b6c5d4e2f10/nvme3n1" shared peer=2 devtmpfs "devtmpfs"",
        "452 25 0:5 "/nvme3n1" "/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/pvc-7d1e0f6a-8c2b-4f53-a9e0-3b6c5d4e2f10/c2a4b0e1-6f3d-4e8a-9b7c-1d2e3f4a5b6c" shared peer=2 devtmpfs "devtmpfs"",
        "502 25 259:2 "/mnt/data disk" "/srv/data disk" shared peer=1 ext4 "/dev/nvme0n1p2"",
        "510 29 0:4 "mnt:[4026533200]" "/run/kata-containers/sandbox-ns/3f2a9c41e7b0" private nsfs "nsfs"",
        "511 29 0:4 "net:[4026532990]" "/run/netns/cni-8e1f2a3b-4c5d-6e7f-8091-a2b3c4d5e6f7" shared peer=410 nsfs "nsfs"",
        "520 29 0:95 "/" "/run/containerd/io.containerd.runtime.v2.task/k8s.io/225ef64e9ecabbad5b4da660887c5e41bc0e9f9aecb44cd68421d0fd8a2283f7/rootfs" shared peer=300 overlay "overlay"",
        "530 25 0:96 "/" "/var/lib/kubelet/pods/5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11/volumes/kubernetes.io~projected/kube-api-access-x7k2p" shared peer=301 tmpfs "tmpfs"",
        "540 25 0:97 "/" "/mnt/sshfs" shared peer=320 fuse.sshfs "backup@10.0.3.4:/srv"",
        "541 25 0:98 "/" "/mnt/tab\\tand\\nnewline\\\\back" unbindable tmpfs "my src"",
        "542 25 0:99 "/" "/mnt/empty-source" shared+slave peer=330 master=12 tmpfs """,
        "543 25 0:100 "/" "/mnt/future" shared peer=331 tmpfs "tmpfs"",
      ]
    `);
  });

  it("DaemonSet namespace: private copies under a hostPath, a HostToContainer copy under /host", () => {
    const r = parseMountinfo(fixture("synthetic/proc/daemonset-7b.mountinfo"));
    expect(issuesOf(r)).toEqual([]);
    expect(rows(r.value)).toMatchInlineSnapshot(`
      [
        "1871 1850 0:210 "/" "/" private overlay "overlay"",
        "1872 1871 0:212 "/" "/proc" private proc "proc"",
        "1873 1871 0:213 "/" "/dev" private tmpfs "tmpfs"",
        "1874 1873 0:214 "/" "/dev/shm" private tmpfs "shm"",
        "1880 1871 259:2 "/var/lib/containerd/io.containerd.grpc.v1.cri/sandboxes/8d45af51c25902c39a579d1b60738182d0670cb00e0ac6f7cdf648d50d3f9347/hostname" "/etc/hostname" private ext4 "/dev/nvme0n1p2"",
        "1893 1871 259:2 "/var/lib/kubelet" "/var/lib/kubelet" private ext4 "/dev/nvme0n1p2"",
        "1921 1893 259:4 "/" "/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount" private ext4 "/dev/nvme2n1"",
        "1922 1893 259:7 "/" "/var/lib/kubelet/plugins/kubernetes.io/csi/pv/pvc-0b9c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d/globalmount" private xfs "/dev/nvme4n1"",
        "1930 1871 259:2 "/var/lib/kubelet" "/host/var/lib/kubelet" slave master=1 ext4 "/dev/nvme0n1p2"",
        "1931 1930 259:4 "/" "/host/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d/globalmount" slave master=233 ext4 "/dev/nvme2n1"",
        "1940 1871 0:215 "/" "/var/run/secrets/kubernetes.io/serviceaccount" private tmpfs "tmpfs"",
      ]
    `);
  });

  it("sandbox namespace: a bind of a deleted device node is flagged rootDeleted", () => {
    const r = parseMountinfo(fixture("synthetic/proc/kata-7c.mountinfo"));
    expect(issuesOf(r)).toEqual([]);
    expect(rows(r.value)).toMatchInlineSnapshot(`
      [
        "2001 1990 0:230 "/" "/" private overlay "overlay"",
        "2005 2001 0:231 "/" "/proc" private proc "proc"",
        "2011 2001 0:5 "/nvme3n1" (deleted) "/run/kata-containers/shared/sandboxes/3f2a9c41e7b0/nvme3n1" private devtmpfs "devtmpfs"",
        "2012 2001 0:5 "/vfio/62" "/run/kata-containers/shared/sandboxes/3f2a9c41e7b0/vfio/62" private devtmpfs "devtmpfs"",
        "2013 2001 259:9 "/" "/run/kata-containers/shared/sandboxes/3f2a9c41e7b0/mounts/data vol" private ext4 "/dev/nvme5n1"",
      ]
    `);
  });

  it("keeps every field of a line, the raw line, its number and the evidence path", () => {
    const r = parseMountinfo(fixture("synthetic/proc/host-7a.mountinfo"), {
      evidencePath: "proc/1/mountinfo",
    });
    expect(r.value.find((m) => m.mountId === 542)).toMatchInlineSnapshot(`
      {
        "devt": "0:99",
        "evidencePath": "proc/1/mountinfo",
        "fsSubtype": null,
        "fsType": "tmpfs",
        "line": 18,
        "major": 0,
        "masterGroup": 12,
        "minor": 99,
        "mountId": 542,
        "mountPoint": "/mnt/empty-source",
        "options": "rw,relatime",
        "otherTags": [],
        "parentId": 25,
        "peerGroup": 330,
        "propagateFrom": 1,
        "propagation": "shared+slave",
        "raw": "542 25 0:99 / /mnt/empty-source rw,relatime shared:330 master:12 propagate_from:1 - tmpfs  rw,size=1k",
        "readOnly": false,
        "root": "/",
        "rootDeleted": false,
        "source": "",
        "superOptions": "rw,size=1k",
      }
    `);
  });
});

describe("parseMountinfo fields", () => {
  const line = (optional: string) =>
    `36 35 98:0 /mnt1 /mnt2 rw,noatime ${optional}- ext3 /dev/root rw,errors=continue\n`;
  it.each([
    ["", { propagation: "private", peerGroup: null, masterGroup: null, propagateFrom: null, otherTags: [] }],
    [
      "shared:1 ",
      { propagation: "shared", peerGroup: 1, masterGroup: null, propagateFrom: null, otherTags: [] },
    ],
    [
      "master:233 ",
      { propagation: "slave", peerGroup: null, masterGroup: 233, propagateFrom: null, otherTags: [] },
    ],
    [
      "master:5 propagate_from:2 ",
      { propagation: "slave", peerGroup: null, masterGroup: 5, propagateFrom: 2, otherTags: [] },
    ],
    [
      "shared:7 master:5 ",
      { propagation: "shared+slave", peerGroup: 7, masterGroup: 5, propagateFrom: null, otherTags: [] },
    ],
    [
      "unbindable ",
      { propagation: "unbindable", peerGroup: null, masterGroup: null, propagateFrom: null, otherTags: [] },
    ],
    [
      "shared:3 peer_of:9 x ",
      {
        propagation: "shared",
        peerGroup: 3,
        masterGroup: null,
        propagateFrom: null,
        otherTags: ["peer_of:9", "x"],
      },
    ],
  ])("optional fields %j give %j", (optional, expected) => {
    const r = parseMountinfo(line(optional));
    expect(issuesOf(r)).toEqual([]);
    expect(r.value[0]).toMatchObject(expected);
  });

  it.each([
    ["/srv/data\\040disk", "/srv/data disk"],
    ["/a\\011b\\012c\\134d", "/a\tb\nc\\d"],
    ["\\040\\040", "  "],
    ["/no/escapes", "/no/escapes"],
    ["/short\\04", "/short\\04"], // not three digits: kept as written
    ["/not\\08octal", "/not\\08octal"],
    ["/high\\377", "/high\\377"], // the kernel escapes only ASCII: not an escape it writes
    ["/end\\", "/end\\"],
    ["/two\\134\\040", "/two\\ "],
  ])("unescapes %j as %j", (field, expected) => {
    expect(unescapeMountField(field)).toBe(expected);
  });

  it.each([
    ["ext4", "ext4", null],
    ["fuse.sshfs", "fuse", "sshfs"],
    ["fuse.rclone.s3", "fuse", "rclone.s3"],
  ])("splits the type %j into %j and subtype %j", (type, fsType, fsSubtype) => {
    const m = parseMountinfo(`1 0 0:1 / / rw - ${type} src rw\n`).value[0];
    expect({ fsType: m?.fsType, fsSubtype: m?.fsSubtype }).toEqual({ fsType, fsSubtype });
  });

  it.each([
    ["mnt:[4026533200]", "nsfs", { type: "mnt", inode: 4026533200 }],
    ["net:[4026532990]", "nsfs", { type: "net", inode: 4026532990 }],
    ["/", "nsfs", null],
    ["mnt:[4026533200]", "tmpfs", null],
    ["mnt:[12x]", "nsfs", null],
  ])("reads the pinned namespace of root %j on %s", (root, type, expected) => {
    const m = parseMountinfo(`85 27 0:4 ${root} /run/pin rw - ${type} ${type} rw\n`).value[0];
    expect(m && pinnedNamespaceOf(m)).toEqual(expected);
  });

  it("reads an empty mount source (two spaces in a row) and an empty super-options field", () => {
    const m = parseMountinfo("542 25 0:99 / /mnt/e rw - tmpfs  \n").value[0];
    expect(m).toMatchObject({ fsType: "tmpfs", source: "", superOptions: "" });
  });

  it("serialises every field: the strings are read from the line when asked for, JSON included", () => {
    const text = "451 25 0:5 /nvme3n1//deleted /a\\040b rw,nosuid shared:3 - fuse.sshfs src rw\n";
    const [m] = parseMountinfo(text, { evidencePath: "proc/1/mountinfo" }).value;
    expect(JSON.parse(JSON.stringify(m))).toEqual({
      mountId: 451,
      parentId: 25,
      major: 0,
      minor: 5,
      devt: "0:5",
      root: "/nvme3n1",
      rootDeleted: true,
      mountPoint: "/a b",
      options: "rw,nosuid",
      readOnly: false,
      otherTags: [],
      propagation: "shared",
      peerGroup: 3,
      masterGroup: null,
      propagateFrom: null,
      fsType: "fuse",
      fsSubtype: "sshfs",
      source: "src",
      superOptions: "rw",
      line: 1,
      raw: text.slice(0, -1),
      evidencePath: "proc/1/mountinfo",
    });
  });

  it("keeps every row of a file with thousands of short lines (rows are stored in growing chunks)", () => {
    const lines = Array.from(
      { length: 2500 },
      (_, i) => `${i + 100} 1 0:${i} /r${i} /m${i} r${i % 2 ? "o" : "w"} shared:${i + 1} - t${i} s${i} o${i}`,
    );
    const r = parseMountinfo(`${lines.join("\n")}\n`);
    expect(r.ok).toBe(true);
    expect(r.value).toHaveLength(2500);
    r.value.forEach((m, i) => {
      expect([m.mountId, m.minor, m.root, m.mountPoint, m.readOnly, m.peerGroup, m.fsType, m.source]).toEqual(
        [i + 100, i, `/r${i}`, `/m${i}`, i % 2 === 1, i + 1, `t${i}`, `s${i}`],
      );
      expect(m.superOptions).toBe(`o${i}`);
      expect(m.line).toBe(i + 1);
    });
  });

  it("reads a CRLF line as if it were LF", () => {
    expect(parseMountinfo("1 0 0:1 / / rw - ext4 /dev/x rw\r\n").value[0]?.superOptions).toBe("rw");
  });
});

describe("parseMountinfo on damaged input", () => {
  const good = "25 1 259:2 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p2 rw\n";
  it.each([
    ["x 1 259:2 / / rw - ext4 /dev/x rw", "invalid_field", "bad mount id"],
    ["25 -1 259:2 / / rw - ext4 /dev/x rw", "invalid_field", "bad parent id"],
    ["25 1 2592 / / rw - ext4 /dev/x rw", "invalid_field", "bad major:minor"],
    ["25 1 259: / / rw - ext4 /dev/x rw", "invalid_field", "bad major:minor"],
    ["25 1 259:2 / / rw", "malformed_line", "fewer than 6 fields before the separator"],
    // The long fields are searched in the text: a search past the line end must not read the next line.
    ["25 1 259:2 /srv", "malformed_line", "fewer than 6 fields before the separator"],
    ["25 1 259:2 /srv /mnt", "malformed_line", "fewer than 6 fields before the separator"],
    ["25 1 259:2 / /mnt", "malformed_line", "fewer than 6 fields before the separator"],
    ["25 1 259:2 / / rw\r", "malformed_line", "fewer than 6 fields before the separator"],
    ["25 1 259:2 / / rw shared:1 ext4 /dev/x rw", "missing", "no ` - ` separator"],
    ["25 1 259:2 / / rw - ext4 /dev/x", "malformed_line", "fewer than 3 fields after the separator"],
    ["25 1 259:2 / / rw shared:x - ext4 /dev/x rw", "invalid_field", "bad optional field shared:x"],
    // Peer group ids are C ints in the kernel.
    [
      "25 1 259:2 / / rw master:2147483648 - ext4 /dev/x rw",
      "invalid_field",
      "bad optional field master:2147483648",
    ],
  ])("reports %j as %s on its line and keeps the lines around it", (bad, code, message) => {
    const r = parseMountinfo(`${good}${bad}\n${good}`);
    expect(issuesOf(r)).toEqual([{ code, message, line: 2, path: [] }]);
    const kept = code === "invalid_field" && message.startsWith("bad optional") ? 3 : 2;
    expect(r.value.map((m) => m.line)).toEqual(kept === 3 ? [1, 2, 3] : [1, 3]);
  });

  it("reads a short file right after a longer one (the window's shared buffer holds the longer file's bytes)", () => {
    const long = `${"36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - ext3 /dev/root rw,errors=continue\n".repeat(40)}`;
    const short = "7 1 0:5 / /a rw - tmpfs t rw\n";
    expect(parseMountinfo(long).value).toHaveLength(40);
    const r = parseMountinfo(short);
    expect(r.ok).toBe(true);
    expect(r.value.map((m) => [m.mountId, m.mountPoint, m.fsType, m.source, m.superOptions])).toEqual([
      [7, "/a", "tmpfs", "t", "rw"],
    ]);
  });

  it("reads ids and device numbers past a C int as written (kept out of the row, read from the text)", () => {
    const [m] = parseMountinfo(
      "99999999999 2147483648 4294967296:2147483647 / /a rw - fuse.sshfs x rw\n",
    ).value;
    expect({
      mountId: m?.mountId,
      parentId: m?.parentId,
      major: m?.major,
      minor: m?.minor,
      fsType: m?.fsType,
      fsSubtype: m?.fsSubtype,
    }).toEqual({
      mountId: 99999999999,
      parentId: 2147483648,
      major: 4294967296,
      minor: 2147483647,
      fsType: "fuse",
      fsSubtype: "sshfs",
    });
  });

  it("drops a final line without its newline as truncated, never half-read", () => {
    const r = parseMountinfo(`${good}25 1 259:4 / /var/lib/kubelet/plugins/kubernetes.io/csi/x`);
    expect(r.value).toHaveLength(1);
    expect(issuesOf(r)).toEqual([
      { code: "truncated", message: "last line has no newline; dropped", line: 2, path: [] },
    ]);
  });

  it("skips a line longer than MAX_LINE_CHARS as too_large and reads on", () => {
    const r = parseMountinfo(`${"9".repeat(MAX_LINE_CHARS + 1)}\n${good}`, {
      evidencePath: "proc/9/mountinfo",
    });
    expect(r.value.map((m) => m.line)).toEqual([2]);
    expect(issuesOf(r)).toMatchObject([{ code: "too_large", line: 1, path: ["proc/9/mountinfo"] }]);
  });

  it("ignores blank lines", () => {
    expect(parseMountinfo(`\n${good}\n`).ok).toBe(true);
  });
});

describe("classifyKubeletPath", () => {
  const hash = "abc6ae95e659cfe68d03b326d5f9fc584d6d69c0ec480a1d23e1fce0c2f6b02d";
  const uid = "5f0c9a7e-3b1d-4c2e-9f61-0d8e2a7b4c11";
  const pv = "pvc-7d1e0f6a-8c2b-4f53-a9e0-3b6c5d4e2f10";
  it.each([
    [
      `/var/lib/kubelet/plugins/kubernetes.io/csi/diskplugin.csi.alibabacloud.com/${hash}/globalmount`,
      {
        kind: "staging",
        version: 2,
        root: "/var/lib/kubelet",
        driver: "diskplugin.csi.alibabacloud.com",
        volumeHash: hash,
        pv: null,
      },
    ],
    [
      `/data/kubelet/plugins/kubernetes.io/csi/disk.csi.aws.com/${hash}/globalmount/`,
      {
        kind: "staging",
        version: 2,
        root: "/data/kubelet",
        driver: "disk.csi.aws.com",
        volumeHash: hash,
        pv: null,
      },
    ],
    [
      `/var/lib/kubelet/plugins/kubernetes.io/csi/pv/${pv}/globalmount`,
      { kind: "staging", version: 1, root: "/var/lib/kubelet", driver: null, volumeHash: null, pv },
    ],
    [
      `/host/var/lib/kubelet/plugins/kubernetes.io/csi/pv/${hash}/globalmount`,
      {
        kind: "staging",
        version: 1,
        root: "/host/var/lib/kubelet",
        driver: null,
        volumeHash: null,
        pv: hash,
      },
    ],
    [
      `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~csi/d-bp1g6qn7zcd3f8l2x9ab/mount`,
      { kind: "publish", root: "/var/lib/kubelet", podUid: uid, pv: "d-bp1g6qn7zcd3f8l2x9ab" },
    ],
    [
      "/k/pods/3c5e9b7f8a9f4c1e8b7d6a5c4b3a2910/volumes/kubernetes.io~csi/pv-static/mount",
      { kind: "publish", root: "/k", podUid: "3c5e9b7f8a9f4c1e8b7d6a5c4b3a2910", pv: "pv-static" },
    ],
    [
      `/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/staging/${pv}`,
      { kind: "block-staging", root: "/var/lib/kubelet", pv, entry: null },
    ],
    [
      `/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/staging/${pv}/nvme3n1`,
      { kind: "block-staging", root: "/var/lib/kubelet", pv, entry: "nvme3n1" },
    ],
    [
      `/var/lib/kubelet/plugins/kubernetes.io/csi/volumeDevices/publish/${pv}/${uid}`,
      { kind: "block-publish", root: "/var/lib/kubelet", pv, podUid: uid },
    ],
    [
      `/data/kubelet/plugins/kubernetes.io/csi/volumeDevices/${pv}/dev/${uid}`,
      { kind: "block-map", root: "/data/kubelet", pv, podUid: uid },
    ],
    [
      `/var/lib/kubelet/pods/${uid}/volumeDevices/kubernetes.io~csi/${pv}`,
      { kind: "pod-device", root: "/var/lib/kubelet", podUid: uid, pv },
    ],
    // The kubelet root is whatever precedes the fixed tail, even when it repeats a marker.
    [
      `/pods/x/plugins/kubernetes.io/csi/drv/${hash}/globalmount`,
      { kind: "staging", version: 2, root: "/pods/x", driver: "drv", volumeHash: hash, pv: null },
    ],
  ])("classifies %s", (path, expected) => {
    expect(classifyKubeletPath(path)).toEqual(expected);
  });

  it.each([
    `/plugins/kubernetes.io/csi/drv/${hash}/globalmount`, // empty kubelet root
    `/var/lib/kubelet/plugins/kubernetes.io/csi/drv/${hash.toUpperCase()}/globalmount`, // hash not lowercase hex
    `/var/lib/kubelet/plugins/kubernetes.io/csi/drv/${hash.slice(1)}/globalmount`, // 63 digits
    `/var/lib/kubelet/plugins/kubernetes.io/csi/drv/${hash}/globalmount/sub`, // below the staging dir
    `/var/lib/kubelet/plugins/kubernetes.io/csi//${hash}/globalmount`, // empty driver
    `/var/lib/kubelet/pods/not-a-uid/volumes/kubernetes.io~csi/pv/mount`,
    `/var/lib/kubelet/pods/${uid}/volumes/kubernetes.io~empty-dir/cache`,
    `var/lib/kubelet/plugins/kubernetes.io/csi/pv/${pv}/globalmount`, // relative
    "/",
    "",
  ])("returns null for %j", (path) => {
    expect(classifyKubeletPath(path)).toBeNull();
  });

  it("classifies the mount points of a node with a non-default kubelet root", () => {
    const r = parseMountinfo(fixture("synthetic/proc/data-kubelet-root.mountinfo"));
    const classified = r.value.flatMap((m) => {
      const k = classifyKubeletPath(m.mountPoint);
      return k ? [{ mountId: m.mountId, ...k }] : [];
    });
    expect(classified).toMatchInlineSnapshot(`
      [
        {
          "driver": null,
          "kind": "staging",
          "mountId": 612,
          "pv": "pvc-0b9c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
          "root": "/data/kubelet",
          "version": 1,
          "volumeHash": null,
        },
        {
          "driver": "disk.csi.aws.com",
          "kind": "staging",
          "mountId": 613,
          "pv": null,
          "root": "/data/kubelet",
          "version": 2,
          "volumeHash": "8f79647af3e1bfe5c9f9f6bac4b28f46941f2668aaa6576dec88802dd05656f1",
        },
        {
          "kind": "publish",
          "mountId": 614,
          "podUid": "0d6f2c1a-9e8b-4a7c-b5d4-3e2f1a0b9c8d",
          "pv": "pvc-0b9c1d2e-3f40-4a5b-8c6d-7e8f9a0b1c2d",
          "root": "/data/kubelet",
        },
        {
          "kind": "block-map",
          "mountId": 620,
          "podUid": "0d6f2c1a-9e8b-4a7c-b5d4-3e2f1a0b9c8d",
          "pv": "pvc-9a8b7c6d-5e4f-4a3b-9c2d-1e0f9a8b7c6d",
          "root": "/data/kubelet",
        },
      ]
    `);
  });

  it("stays linear on a long path full of markers", () => {
    const root = `/x${"/plugins/kubernetes.io/csi/pv".repeat(100_000)}`;
    expect(classifyKubeletPath(`${root}/plugins/kubernetes.io/csi/pv/vol/globalmount`)).toEqual({
      kind: "staging",
      version: 1,
      root,
      driver: null,
      volumeHash: null,
      pv: "vol",
    });
  });
});

describe("parseMountinfo properties", () => {
  const real = fixture("real/proc/host-after-umount.mountinfo");
  const linesWithin = (text: string) => (i: { line?: number }) =>
    i.line === undefined || (i.line >= 1 && i.line <= text.split("\n").length);

  it("never throws on arbitrary strings, and every issue names a line that exists", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 400 }), (text) => {
        const r = parseMountinfo(text);
        expect(issuesOf(r).every(linesWithin(text))).toBe(true);
        for (const m of r.value)
          expect(m.raw, "a mount comes from a line of the input").toBe(text.split(/\r?\n/)[m.line - 1]);
      }),
    );
  });

  it("never throws on random bytes decoded as UTF-8 (invalid sequences replaced)", () => {
    const decoder = new TextDecoder();
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const text = decoder.decode(bytes);
        expect(issuesOf(parseMountinfo(text)).every(linesWithin(text))).toBe(true);
      }),
    );
  });

  it("never throws on lines built from mountinfo-like tokens", () => {
    const token = fc.constantFrom(
      "25",
      "1",
      "259:2",
      "/",
      "-",
      "shared:1",
      "master:x",
      "\\040",
      "rw",
      "ext4",
      "",
      ":",
      "mnt:[4]",
    );
    fc.assert(
      fc.property(
        fc.array(
          fc.array(token, { maxLength: 14 }).map((t) => t.join(" ")),
          { maxLength: 8 },
        ),
        (lines) => {
          const text = `${lines.join("\n")}\n`;
          const r = parseMountinfo(text);
          expect(issuesOf(r).every(linesWithin(text))).toBe(true);
        },
      ),
    );
  });

  it("reads a cut file as exactly its complete lines and reports the cut line as truncated", () => {
    const full = parseMountinfo(real).value;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: real.length }), (cut) => {
        const text = real.slice(0, cut);
        const r = parseMountinfo(text);
        const complete = text.lastIndexOf("\n") + 1;
        const expected = full.filter((m) => real.indexOf(m.raw) + m.raw.length < complete);
        expect(r.value.map((m) => m.raw)).toEqual(expected.map((m) => m.raw));
        if (complete < text.length) expect(issuesOf(r).map((i) => i.code)).toEqual(["truncated"]);
        else expect(r.ok).toBe(true);
      }),
    );
  });

  it("handles a 10 MB single line as too_large, with or without its newline", () => {
    const line = `25 1 259:2 / /${"a".repeat(10 * 1024 * 1024)} rw - ext4 /dev/x rw`;
    expect(issuesOf(parseMountinfo(`${line}\n`)).map((i) => [i.code, i.line])).toEqual([["too_large", 1]]);
    expect(issuesOf(parseMountinfo(line)).map((i) => [i.code, i.line])).toEqual([["truncated", 1]]);
  });

  it("classifyKubeletPath never throws on arbitrary strings and only returns absolute roots", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 300 }), (path) => {
        const k = classifyKubeletPath(path);
        if (k) expect(k.root.startsWith("/") && k.root.length > 1).toBe(true);
      }),
    );
  });

  it("classifyKubeletPath finds the staging path under any kubelet root", () => {
    const component = fc.stringMatching(/^[a-z0-9._-]{1,12}$/);
    fc.assert(
      fc.property(fc.array(component, { minLength: 1, maxLength: 6 }), component, (rootParts, driver) => {
        const root = `/${rootParts.join("/")}`;
        const hash = "1f53effa4020908054d563192ec10c1a14f4effb79407f061058022ea582b759";
        const k = classifyKubeletPath(`${root}/plugins/kubernetes.io/csi/${driver}/${hash}/globalmount`);
        expect(k).toEqual(
          driver === "pv"
            ? { kind: "staging", version: 1, root, driver: null, volumeHash: null, pv: hash }
            : { kind: "staging", version: 2, root, driver, volumeHash: hash, pv: null },
        );
      }),
    );
  });
});
