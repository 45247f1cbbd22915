import { describe, expect, it } from "vitest";
import {
  type BlockDeviceLink,
  parseLsDevVfio,
  parseLsIommuGroupDevices,
  parseLsLSysBlock,
  type VfioNode,
} from "../../../../shared/parse/commands/ls.js";
import { issuesOf, type ParseResult } from "../../../../shared/parse/result.js";
import { commandFixture } from "./fixtures.js";

const links = (value: readonly BlockDeviceLink[]) => value.map((l) => `${l.line}: ${l.name} -> ${l.target}`);
const vfio = (value: readonly VfioNode[]) =>
  value.map((n) => `${n.line}: ${n.name} ${n.kind} group=${n.group} dev=${n.major},${n.minor}`);
const issueLines = <T>(r: ParseResult<T>) => issuesOf(r).map((i) => `${i.line}: ${i.code}: ${i.message}`);

describe("parseLsLSysBlock", () => {
  it("reads the real ls -l, single-entry and find -printf captures to the same links", () => {
    const byName = (name: string) => {
      const r = parseLsLSysBlock(commandFixture("real", name));
      expect(r.ok, JSON.stringify(issuesOf(r))).toBe(true);
      return Object.fromEntries(r.value.map((l) => [l.name.replace("/sys/block/", ""), l.target]));
    };
    const ls = byName("ls-l-sys-block.txt");
    expect(byName("find-sys-block-printf.txt")).toEqual(ls);
    expect(byName("ls-l-sys-block-vda.txt")).toEqual({ vda: ls.vda });
    expect(ls).toMatchInlineSnapshot(`
      {
        "loop0": "../devices/virtual/block/loop0",
        "loop1": "../devices/virtual/block/loop1",
        "loop2": "../devices/virtual/block/loop2",
        "loop3": "../devices/virtual/block/loop3",
        "loop4": "../devices/virtual/block/loop4",
        "loop5": "../devices/virtual/block/loop5",
        "loop6": "../devices/virtual/block/loop6",
        "loop7": "../devices/virtual/block/loop7",
        "vda": "../devices/pci0000:00/0000:00:02.0/virtio1/block/vda",
        "zram0": "../devices/virtual/block/zram0",
      }
    `);
  });

  it("undoes ls's TTY quoting and the pty's CRLF (real capture)", () => {
    const r = parseLsLSysBlock(commandFixture("real", "ls-l-tty-quoted.txt"));
    expect(issuesOf(r)).toEqual([]);
    expect(links(r.value)).toMatchInlineSnapshot(`
      [
        "2: disk one -> ../devices/virtual/block/loop 9",
        "3: vd'b -> ../devices/pci0000:00/0000:00:02.0/virtio1/block/vd'b",
      ]
    `);
  });

  it("reads multipath, VMD, old-date, localized and single-entry listings by the arrow, not by column", () => {
    const out = Object.fromEntries(
      [
        "ls-l-sys-block-multipath-vmd.txt",
        "ls-l-sys-block-localized.txt",
        "ls-l-sys-block-single-nvme.txt",
        "find-sys-block-printf-fabrics.txt",
      ].map((f) => {
        const r = parseLsLSysBlock(commandFixture("synthetic", f));
        return [f, { links: links(r.value), issues: issueLines(r) }];
      }),
    );
    expect(out).toMatchInlineSnapshot(`
      {
        "find-sys-block-printf-fabrics.txt": {
          "issues": [],
          "links": [
            "1: nvme0n1 -> ../devices/pci0000:16/0000:16:02.0/0000:17:00.0/nvme/nvme0/nvme0n1",
            "2: nvme2n1 -> ../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1",
            "3: nvme3n1 -> ../devices/virtual/nvme-fabrics/ctl/nvme3/nvme3n1",
            "4: vda -> ../devices/platform/LNRO0005:00/virtio0/block/vda",
          ],
        },
        "ls-l-sys-block-localized.txt": {
          "issues": [
            "6: missing: ls: cannot access '/sys/block/nvme5n1': No such file or directory",
          ],
          "links": [
            "2: nvme0n1 -> ../devices/pci0000:16/0000:16:02.0/0000:17:00.0/nvme/nvme0/nvme0n1",
            "3: nvme2n1 -> ../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1",
            "4: vdb -> ../devices/pci0000:00/0000:00:06.0/virtio3/block/vdb",
            "5: vdc -> ../devices/pci0000:00/0000:00:07.0/virtio4/block/vdc",
          ],
        },
        "ls-l-sys-block-multipath-vmd.txt": {
          "issues": [],
          "links": [
            "2: loop0 -> ../devices/virtual/block/loop0",
            "3: nvme0c0n1 -> ../devices/pci0000:16/0000:16:02.0/0000:17:00.0/nvme/nvme0/nvme0c0n1",
            "4: nvme0n1 -> ../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1",
            "5: nvme1n1 -> ../devices/pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:1d.0/10000:e1:00.0/nvme/nvme1/nvme1n1",
            "6: nvme2n1 -> ../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1",
            "7: sda -> ../devices/pci0000:00/0000:00:03.0/virtio0/host0/target0:0:1/0:0:1:0/block/sda",
            "8: xvda -> ../devices/vbd-51712/block/xvda",
          ],
        },
        "ls-l-sys-block-single-nvme.txt": {
          "issues": [],
          "links": [
            "1: /sys/block/nvme2n1 -> ../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1",
          ],
        },
      }
    `);
  });

  it.each([
    [
      "a cut final line",
      "total 0\nlrwxrwxrwx 1 root root 0 Mar  3 10:02 loop0 -> ../devices/virtual/block/loop0\nlrwxrwxrwx 1 root root 0 Mar  3 10:12 nvme2n1 -> ../devi",
      1,
      ["3: truncated"],
    ],
    ["a directory entry", "total 0\ndrwxr-xr-x 2 root root 0 Mar  3 10:02 queue\n", 0, ["2: malformed_line"]],
    [
      "an ls complaint",
      "ls: cannot access '/sys/block/nvme5n1': No such file or directory\n",
      0,
      ["1: missing"],
    ],
    ["a stray word", "vda\n", 0, ["1: malformed_line"]],
    [
      "a link without a target",
      "lrwxrwxrwx 1 root root 0 Mar  3 10:02 loop0 -> \n",
      0,
      ["1: malformed_line"],
    ],
  ])("reports %s with its line and keeps the good links", (_what, text, good, codes) => {
    const r = parseLsLSysBlock(text);
    expect(r.value, JSON.stringify(r.value)).toHaveLength(good);
    expect(issuesOf(r).map((i) => `${i.line}: ${i.code}`)).toEqual(codes);
  });
});

describe("parseLsDevVfio", () => {
  it("types every entry of the short, column and long listings", () => {
    const out = Object.fromEntries(
      [
        "ls-dev-vfio-columns.txt",
        "ls-dev-vfio-one-per-line.txt",
        "ls-l-dev-vfio.txt",
        "ls-l-dev-vfio-devices.txt",
      ].map((f) => {
        const r = parseLsDevVfio(commandFixture("synthetic", f));
        return [f, { nodes: vfio(r.value), issues: issueLines(r) }];
      }),
    );
    expect(out).toMatchInlineSnapshot(`
      {
        "ls-dev-vfio-columns.txt": {
          "issues": [],
          "nodes": [
            "1: 62 group group=62 dev=null,null",
            "1: 118 group group=118 dev=null,null",
            "1: devices devices-dir group=null dev=null,null",
            "1: noiommu-7 noiommu group=7 dev=null,null",
            "1: vfio container group=null dev=null,null",
          ],
        },
        "ls-dev-vfio-one-per-line.txt": {
          "issues": [],
          "nodes": [
            "1: 62 group group=62 dev=null,null",
            "2: 63 group group=63 dev=null,null",
            "3: devices devices-dir group=null dev=null,null",
            "4: vfio container group=null dev=null,null",
          ],
        },
        "ls-l-dev-vfio-devices.txt": {
          "issues": [],
          "nodes": [
            "2: vfio0 other group=null dev=511,0",
            "3: vfio1 other group=null dev=511,1",
          ],
        },
        "ls-l-dev-vfio.txt": {
          "issues": [],
          "nodes": [
            "2: 62 group group=62 dev=243,0",
            "3: 118 group group=118 dev=243,1",
            "4: devices devices-dir group=null dev=null,null",
            "5: noiommu-7 noiommu group=7 dev=243,2",
            "6: vfio container group=null dev=10,196",
          ],
        },
      }
    `);
  });

  it("reads the real 'no /dev/vfio' answer as a missing issue and no entries", () => {
    const r = parseLsDevVfio(commandFixture("real", "ls-dev-vfio-absent.txt"));
    expect(r.value).toEqual([]);
    expect(issueLines(r)).toEqual(["1: missing: ls: cannot access '/dev/vfio': No such file or directory"]);
  });

  it.each([
    ["62", { kind: "group", group: 62 }],
    ["noiommu-63", { kind: "noiommu", group: 63 }],
    ["noiommu-x", { kind: "other", group: null }],
    ["vfio", { kind: "container", group: null }],
    ["devices", { kind: "devices-dir", group: null }],
    ["vfio0", { kind: "other", group: null }],
  ])("names %s a %o", (name, want) => {
    expect(parseLsDevVfio(`${name}\n`).value[0]).toMatchObject(want);
  });

  it("flags a container node that is not the misc device 10,196", () => {
    const r = parseLsDevVfio("crw-rw-rw- 1 root root 10, 197 Mar  1 08:00 vfio\n");
    expect(r.value[0]).toMatchObject({ kind: "container", major: 10, minor: 197 });
    expect(issueLines(r)).toEqual(["1: inconsistent: /dev/vfio/vfio is 10,197, expected 10,196"]);
  });

  it("reads a device number written without the blank after the comma", () => {
    expect(parseLsDevVfio("crw------- 1 root root 243,12 Mar  3 10:15 77\n").value[0]).toMatchObject({
      group: 77,
      major: 243,
      minor: 12,
    });
  });
});

describe("parseLsIommuGroupDevices", () => {
  it.each([
    ["ls-iommu-group-63.txt", ["0000:3b:00.5"]],
    ["ls-l-iommu-group-70.txt", ["0000:5e:00.0", "0000:5e:00.1"]],
    ["ls-iommu-group-vmd.txt", ["10000:e1:00.0", "10000:e1:00.1", "10000:e2:00.0"]],
  ])("lists the members of %s", (file, bdfs) => {
    const r = parseLsIommuGroupDevices(commandFixture("synthetic", file));
    expect(r.ok, JSON.stringify(issuesOf(r))).toBe(true);
    expect(r.value).toEqual(bdfs);
  });

  it.each([
    ["an uppercase address, lowercased", "0000:3B:00.5\n", ["0000:3b:00.5"], []],
    ["a 3-digit domain", "000:3b:00.5\n", [], ["1: invalid_field"]],
    ["a function above 7", "0000:3b:00.8\n", [], ["1: invalid_field"]],
    [
      "a link to another function",
      "lrwxrwxrwx 1 root root 0 Mar  3 10:15 0000:5e:00.0 -> ../../../../devices/pci0000:5d/0000:5d:00.0/0000:5e:00.1\n",
      ["0000:5e:00.0"],
      ["1: inconsistent"],
    ],
    [
      "a listing of two groups",
      "/sys/kernel/iommu_groups/62/devices:\n0000:3b:00.4\n",
      ["0000:3b:00.4"],
      ["1: unsupported"],
    ],
    ["a cut line", "0000:3b:00.4\n0000:3b:0", ["0000:3b:00.4"], ["2: truncated"]],
  ])("handles %s", (_what, text, bdfs, codes) => {
    const r = parseLsIommuGroupDevices(text);
    expect(r.value).toEqual(bdfs);
    expect(issuesOf(r).map((i) => `${i.line}: ${i.code}`)).toEqual(codes);
  });
});
