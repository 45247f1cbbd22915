import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { BDF_RE } from "../../../shared/contracts/events.js";
import {
  bdfFromSysfsPath,
  classifyBlockDevice,
  isBdf,
  isNvmeClass,
  isVfioCdevName,
  normalizeBdf,
  nvmeNameShape,
  parseDevt,
  parseDriverOverride,
  parseHexAttribute,
  parseIommuGroupId,
  parseNvmeState,
  parseSizeSectors,
  parseSysfsTarget,
  parseSysfsTargetIn,
  parseVfioGroupNode,
  type SysfsTarget,
  trimSysfsString,
} from "../../../shared/parse/sysfs-values.js";

const none: SysfsTarget = {
  kind: "other",
  bdf: null,
  hbaBdf: null,
  controller: null,
  head: null,
  hidden: false,
};

/** One readable line per target, for snapshots of many targets at once. */
const row = (target: string) => {
  const t = parseSysfsTarget(target);
  const parts = [t.kind, t.bdf ?? "-"];
  if (t.hbaBdf) parts.push(`hba=${t.hbaBdf}`);
  if (t.controller) parts.push(`ctrl=${t.controller}`);
  if (t.head) parts.push(`head=${t.head}`);
  if (t.hidden) parts.push("hidden");
  return `${parts.join(" ")}  <- ${target}`;
};

describe("parseSysfsTarget", () => {
  it.each<[string, string, Partial<SysfsTarget>]>([
    [
      "reads the BDF before /nvme/ for a directly attached namespace",
      "../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1",
      { kind: "nvme", bdf: "0000:3b:00.3", controller: "nvme2" },
    ],
    [
      "takes the controller from the path when the namespace is numbered after the subsystem",
      "../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.5/nvme/nvme5/nvme3n1",
      { kind: "nvme", bdf: "0000:3b:00.5", controller: "nvme5" },
    ],
    [
      "flags a native-multipath path device as hidden and names the head it serves",
      "../devices/pci0000:ae/0000:ae:02.0/0000:b7:00.0/nvme/nvme6/nvme10c65n1",
      { kind: "nvme-path", bdf: "0000:b7:00.0", controller: "nvme6", head: "nvme10n1", hidden: true },
    ],
    [
      "gives a multipath head no BDF of its own",
      "../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1",
      { kind: "nvme-head" },
    ],
    [
      "reads an Intel VMD domain of five hex digits",
      "../devices/pci0000:00/0000:00:0e.0/pci10000:e0/10000:e0:06.0/10000:e1:00.0/nvme/nvme1/nvme1n1",
      { kind: "nvme", bdf: "10000:e1:00.0", controller: "nvme1" },
    ],
    [
      "reads an eight-digit domain",
      "../devices/pci1234abcd:00/1234abcd:00:02.0/nvme/nvme0/nvme0n1",
      { kind: "nvme", bdf: "1234abcd:00:02.0", controller: "nvme0" },
    ],
    [
      "reads a Hyper-V vPCI function under its VMBus device",
      "../devices/LNXSYSTM:00/LNXSYBUS:00/ACPI0004:00/VMBUS:00/6c4e6f39-d7a4-4a77-bd3a-4a4d4d9e1b32/pci6c4e:00/6c4e:00:00.0/nvme/nvme0/nvme0n1",
      { kind: "nvme", bdf: "6c4e:00:00.0", controller: "nvme0" },
    ],
    [
      "gives an NVMe-over-fabrics namespace its controller but no BDF",
      "../devices/virtual/nvme-fabrics/ctl/nvme3/nvme3n1",
      { kind: "nvme", controller: "nvme3" },
    ],
    [
      "reads the controller link of /sys/class/nvme",
      "../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2",
      { kind: "nvme", bdf: "0000:3b:00.3", controller: "nvme2" },
    ],
    [
      "reads the BDF before virtioN for virtio-blk over PCI (this machine's root disk)",
      "../devices/pci0000:00/0000:00:02.0/virtio1/block/vda",
      { kind: "virtio", bdf: "0000:00:02.0" },
    ],
    [
      "gives virtio-blk over MMIO no BDF",
      "../devices/platform/LNRO0005:00/virtio0/block/vda",
      { kind: "virtio" },
    ],
    [
      "reports a virtio-scsi disk's PCI function as the HBA, not the disk",
      "../devices/pci0000:00/0000:00:03.0/virtio0/host0/target0:0:1/0:0:1:0/block/sdb",
      { kind: "scsi", hbaBdf: "0000:00:03.0" },
    ],
    [
      "reports the AHCI controller of a SATA disk as the HBA",
      "../devices/pci0000:00/0000:00:17.0/ata3/host2/target2:0:0/2:0:0:0/block/sda",
      { kind: "scsi", hbaBdf: "0000:00:17.0" },
    ],
    [
      "reports the USB host controller of a USB disk as the HBA",
      "../devices/pci0000:00/0000:00:14.0/usb2/2-1/2-1:1.0/host6/target6:0:0/6:0:0:0/block/sdc",
      { kind: "scsi", hbaBdf: "0000:00:14.0" },
    ],
    [
      "gives an iSCSI disk no PCI function at all",
      "../devices/platform/host3/session1/target3:0:0/3:0:0:0/block/sdd",
      { kind: "scsi" },
    ],
    ["reads a Xen blkfront disk as xen", "../devices/vbd-51712/block/xvda", { kind: "xen" }],
    ["reads loop devices as virtual (this machine)", "../devices/virtual/block/loop0", { kind: "virtual" }],
    ["reads device-mapper as virtual", "/sys/devices/virtual/block/dm-0", { kind: "virtual" }],
    [
      "keeps an unknown bus's PCI ancestor as the HBA, never as the disk",
      "../devices/pci0000:00/0000:00:1e.6/mmc_host/mmc0/mmc0:0001/block/mmcblk0",
      { kind: "other", hbaBdf: "0000:00:1e.6" },
    ],
    [
      "reads a PCI function link to the function it names",
      "../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.5",
      { bdf: "0000:3b:00.5" },
    ],
    ["reads a physfn link", "../0000:3b:00.0", { bdf: "0000:3b:00.0" }],
    [
      "reads an absolute path with a trailing slash",
      "/sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1/",
      { kind: "nvme", bdf: "0000:3b:00.3", controller: "nvme2" },
    ],
    [
      "lowercases a BDF written in uppercase",
      "../devices/pci0000:3A/0000:3A:00.0/0000:3B:00.3/nvme/nvme2/nvme2n1",
      { kind: "nvme", bdf: "0000:3b:00.3", controller: "nvme2" },
    ],
    ["does not take a root bus name for a BDF", "../devices/pci0000:3a", {}],
    ["rejects device numbers past 1f", "../../../devices/pci0000:3a/0000:3b:20.0", {}],
    ["rejects function numbers past 7", "../../../devices/pci0000:3a/0000:3b:00.8", {}],
    ["rejects a three-digit domain", "../../../devices/pci000:3a/000:3b:00.1", {}],
    ["rejects a nine-digit domain", "../../../devices/pci0/123456789:3b:00.1", {}],
    ["reads an empty target as nothing", "", {}],
  ])("%s", (_title, target, expected) => {
    expect(parseSysfsTarget(target), target).toEqual({ ...none, ...expected });
  });

  it("pins the reading of the reference samples (evidence-formats §1)", () => {
    expect(
      [
        "../devices/virtual/block/loop0",
        "../devices/pci0000:16/0000:16:02.0/0000:17:00.0/nvme/nvme0/nvme0n1",
        "../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1",
        "../devices/pci0000:00/0000:00:04.0/virtio1/block/vda",
        "../devices/pci0000:00/0000:00:06.0/virtio3/block/vdb",
        "../devices/pci0000:16/0000:16:02.0/0000:17:00.0/nvme/nvme0/nvme0c0n1",
        "../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1",
        "../devices/virtual/nvme-fabrics/ctl/nvme4/nvme4n1",
        "../devices/platform/LNRO0005:00/virtio0/block/vda",
        "../devices/pci0000:00/0000:00:03.0/virtio0/host0/target0:0:1/0:0:1:0/block/sdb",
        "../devices/vbd-51712/block/xvda",
        "../../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.4",
        "../../../../kernel/iommu_groups/63",
        "../../../../bus/pci/drivers/nvme",
      ].map(row),
    ).toMatchInlineSnapshot(`
      [
        "virtual -  <- ../devices/virtual/block/loop0",
        "nvme 0000:17:00.0 ctrl=nvme0  <- ../devices/pci0000:16/0000:16:02.0/0000:17:00.0/nvme/nvme0/nvme0n1",
        "nvme 0000:3b:00.3 ctrl=nvme2  <- ../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1",
        "virtio 0000:00:04.0  <- ../devices/pci0000:00/0000:00:04.0/virtio1/block/vda",
        "virtio 0000:00:06.0  <- ../devices/pci0000:00/0000:00:06.0/virtio3/block/vdb",
        "nvme-path 0000:17:00.0 ctrl=nvme0 head=nvme0n1 hidden  <- ../devices/pci0000:16/0000:16:02.0/0000:17:00.0/nvme/nvme0/nvme0c0n1",
        "nvme-head -  <- ../devices/virtual/nvme-subsystem/nvme-subsys0/nvme0n1",
        "nvme - ctrl=nvme4  <- ../devices/virtual/nvme-fabrics/ctl/nvme4/nvme4n1",
        "virtio -  <- ../devices/platform/LNRO0005:00/virtio0/block/vda",
        "scsi - hba=0000:00:03.0  <- ../devices/pci0000:00/0000:00:03.0/virtio0/host0/target0:0:1/0:0:1:0/block/sdb",
        "xen -  <- ../devices/vbd-51712/block/xvda",
        "other 0000:3b:00.4  <- ../../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.4",
        "other -  <- ../../../../kernel/iommu_groups/63",
        "other -  <- ../../../../bus/pci/drivers/nvme",
      ]
    `);
  });

  it("agrees with parseSysfsTargetIn over a list of targets, one per line", () => {
    const lines = [
      "../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/nvme2n1",
      "",
      "/",
      "../devices/virtual/block/loop0",
      "0000:3b:00.5",
      "../devices/pci0000:00/0000:00:03.0/virtio0/host0/target0:0:1/0:0:1:0/block/sdb",
    ];
    const text = lines.join("\n");
    let start = 0;
    for (const line of lines) {
      expect(parseSysfsTargetIn(text, start, start + line.length), line).toEqual(parseSysfsTarget(line));
      start += line.length + 1;
    }
  });

  it("exposes the BDF and the kind on their own", () => {
    const target = "../devices/pci0000:00/0000:00:03.0/virtio0/host0/target0:0:1/0:0:1:0/block/sdb";
    expect(bdfFromSysfsPath(target)).toBeNull();
    expect(classifyBlockDevice(target)).toBe("scsi");
    expect(bdfFromSysfsPath("../devices/pci0000:00/0000:00:02.0/virtio1/block/vda")).toBe("0000:00:02.0");
  });
});

/** A PCI address with a domain of 4 to 8 hex digits, as the kernel prints it (`%04x:%02x:%02x.%d`). */
const arbBdf = fc
  .record({
    domain: fc.oneof(fc.integer({ min: 0, max: 0xffff }), fc.integer({ min: 0x10000, max: 0xffffffff })),
    bus: fc.integer({ min: 0, max: 0xff }),
    dev: fc.integer({ min: 0, max: 0x1f }),
    fn: fc.integer({ min: 0, max: 7 }),
  })
  .map(
    ({ domain, bus, dev, fn }) =>
      `${domain.toString(16).padStart(4, "0")}:${bus.toString(16).padStart(2, "0")}:${dev.toString(16).padStart(2, "0")}.${fn}`,
  );

/** A device path `pci<dom>:<bus>/<root port>/[bridges/]<bdf>` under /sys/devices. */
const arbChain = fc.tuple(arbBdf, fc.array(arbBdf, { maxLength: 3 })).map(([bdf, bridges]) => ({
  bdf,
  chain: `pci${bdf.slice(0, bdf.length - 5)}/${[...bridges, bdf].join("/")}`,
}));

const arbTargetCase = fc.oneof(
  fc.tuple(arbChain, fc.nat(99), fc.nat(99)).map(([{ bdf, chain }, c, n]) => ({
    target: `../devices/${chain}/nvme/nvme${c}/nvme${n}n1`,
    want: { ...none, kind: "nvme" as const, bdf, controller: `nvme${c}` },
  })),
  fc.tuple(arbChain, fc.nat(99), fc.nat(99)).map(([{ bdf, chain }, s, c]) => ({
    target: `../devices/${chain}/nvme/nvme${c}/nvme${s}c${c}n2`,
    want: {
      ...none,
      kind: "nvme-path" as const,
      bdf,
      controller: `nvme${c}`,
      head: `nvme${s}n2`,
      hidden: true,
    },
  })),
  fc.tuple(arbChain, fc.nat(99)).map(([{ bdf, chain }, c]) => ({
    target: `../../devices/${chain}/nvme/nvme${c}`,
    want: { ...none, kind: "nvme" as const, bdf, controller: `nvme${c}` },
  })),
  fc.tuple(arbChain, fc.nat(15)).map(([{ bdf, chain }, v]) => ({
    target: `../devices/${chain}/virtio${v}/block/vd${String.fromCharCode(97 + v)}`,
    want: { ...none, kind: "virtio" as const, bdf },
  })),
  fc.tuple(arbChain, fc.nat(7)).map(([{ bdf, chain }, h]) => ({
    target: `../devices/${chain}/virtio0/host${h}/target${h}:0:1/${h}:0:1:0/block/sdb`,
    want: { ...none, kind: "scsi" as const, hbaBdf: bdf },
  })),
  arbChain.map(({ bdf, chain }) => ({ target: `../../../devices/${chain}`, want: { ...none, bdf } })),
);

describe("parseSysfsTarget properties", () => {
  it("recovers the function, controller and kind of any well-formed target, in either case", () => {
    fc.assert(
      fc.property(arbTargetCase, fc.boolean(), ({ target, want }, upper) => {
        const input = upper
          ? target.replace(/[0-9a-f]{4,8}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]/g, (m) => m.toUpperCase())
          : target;
        expect(parseSysfsTarget(input), input).toEqual(want);
      }),
    );
  });

  it("never reads a BDF out of a cut target that is not a whole component of what is left", () => {
    fc.assert(
      fc.property(arbTargetCase, fc.nat(), ({ target, want }, cut) => {
        const prefix = target.slice(0, cut % (target.length + 1));
        const got = parseSysfsTarget(prefix);
        const components = prefix.split("/");
        for (const bdf of [got.bdf, got.hbaBdf]) {
          if (bdf === null) continue;
          expect(components, `${prefix} -> ${bdf}`).toContain(bdf);
        }
        // Cutting only ever shortens the path: the function read, if any, is one the full target holds.
        if (got.bdf !== null && got.kind !== "other") expect(got.bdf, prefix).toBe(want.bdf);
      }),
    );
  });

  const sysfsAlphabet = fc.constantFrom(
    ..."/.:-0123456789abcdefABnvmecblkoirtus".split(""),
    "nvme",
    "../",
    "virtio",
  );
  it.each([
    ["arbitrary strings", fc.string({ unit: "binary", maxLength: 300 })],
    ["strings over the sysfs path alphabet", fc.string({ unit: sysfsAlphabet, maxLength: 80 })],
    [
      "random bytes decoded as UTF-8",
      fc.uint8Array({ maxLength: 300 }).map((b) => new TextDecoder().decode(b)),
    ],
  ])("returns only valid, present BDFs and nvme controller names for %s", (_name, arb) => {
    fc.assert(
      fc.property(arb, (input) => {
        const got = parseSysfsTarget(input);
        const components = input.toLowerCase().split("/");
        for (const bdf of [got.bdf, got.hbaBdf]) {
          if (bdf === null) continue;
          expect(bdf, input).toMatch(BDF_RE);
          expect(components, input).toContain(bdf);
        }
        if (got.controller !== null) expect(got.controller, input).toMatch(/^nvme\d+$/);
        if (got.head !== null) expect(got.head, input).toMatch(/^nvme\d+n\d+$/);
        expect(got.hidden, input).toBe(got.kind === "nvme-path");
      }),
    );
  });

  it.each([
    ["slashes", "/".repeat(10 << 20)],
    ["digits", "1".repeat(10 << 20)],
    ["one long component", `../devices/${"a".repeat(10 << 20)}/block/vda`],
    ["many components", "0000:00:00.0/".repeat((10 << 20) / 13)],
    ["an nvme-shaped name", `nvme${"1".repeat(10 << 20)}n1`],
  ])("reads a 10 MB target of %s without trouble", (_name, input) => {
    const got = parseSysfsTarget(input);
    expect(got.kind).toMatch(/^[a-z-]+$/);
  });
});

describe("sysfs attribute values", () => {
  it.each([
    ["0x1ded\n", 4, "0x1ded"],
    ["0x1DED", 4, "0x1ded"],
    ["0X8086", 4, "0x8086"],
    ["  0x5004 \n", 4, "0x5004"],
    ["0x010802\n", 6, "0x010802"],
    ["0x18000", 6, null],
    ["1ded", 4, null],
    ["0x1dedd", 4, null],
    ["0xzzzz", 4, null],
    ["", 4, null],
  ])("parseHexAttribute(%j, %i) = %j", (value, digits, want) => {
    expect(parseHexAttribute(value, digits)).toBe(want);
  });

  it.each([
    ["0x010802", true],
    ["0x010802\n", true],
    ["0x018000", false],
    ["0x010000", false],
    ["garbage", false],
  ])("isNvmeClass(%j) = %s", (value, want) => {
    expect(isNvmeClass(value)).toBe(want);
  });

  it.each([
    ["(null)\n", null],
    ["(null)", null],
    ["\n", null],
    ["", null],
    ["nvme\n", "nvme"],
    ["vfio-pci\n", "vfio-pci"],
  ])("parseDriverOverride(%j) = %j: `(null)` and empty both mean unset", (value, want) => {
    expect(parseDriverOverride(value)).toBe(want);
  });

  it.each([
    ["259:4\n", "259:4"],
    ["7:0", "7:0"],
    ["259-4", null],
    [":4", null],
    ["259:", null],
    ["259:4:1", null],
    ["a:b", null],
  ])("parseDevt(%j) = %j", (value, want) => {
    expect(parseDevt(value)).toBe(want);
  });

  it.each([
    ["838860800\n", 838860800],
    ["0\n", 0],
    ["7501476528", 7501476528],
    ["-1", null],
    ["12a", null],
    ["", null],
    ["99999999999999999", null],
  ])("parseSizeSectors(%j) = %j", (value, want) => {
    expect(parseSizeSectors(value)).toBe(want);
  });

  it.each([
    ["live\n", "live"],
    ["deleting (no IO)\n", "deleting (no IO)"],
    ["dead", "dead"],
    ["unknown state\n", null],
    ["LIVE", null],
  ])("parseNvmeState(%j) = %j", (value, want) => {
    expect(parseNvmeState(value)).toBe(want);
  });

  it.each([
    ["bp1g6qn7zcd3f8l2x9ab    \n", "bp1g6qn7zcd3f8l2x9ab"],
    ["Alibaba Cloud Elastic Block Storage     \n", "Alibaba Cloud Elastic Block Storage"],
    ["S5XKNA0R700123\u0000\u0000", "S5XKNA0R700123"],
    ["  \t\n", ""],
  ])("trimSysfsString(%j) strips the padding of fixed-width fields", (value, want) => {
    expect(trimSysfsString(value)).toBe(want);
  });

  it.each([
    ["63", "63"],
    ["../../../../kernel/iommu_groups/63", "63"],
    ["../../../../kernel/iommu_groups/63/", "63"],
    ["../../../../kernel/iommu_groups/x", null],
    ["", null],
  ])("parseIommuGroupId(%j) = %j", (value, want) => {
    expect(parseIommuGroupId(value)).toBe(want);
  });

  it.each([
    ["62", { group: "62", noiommu: false }],
    ["noiommu-0", { group: "0", noiommu: true }],
    ["vfio", null],
    ["devices", null],
    ["noiommu-", null],
  ])("parseVfioGroupNode(%j) = %j", (name, want) => {
    expect(parseVfioGroupNode(name)).toEqual(want);
  });

  it.each([
    ["vfio0", true],
    ["vfio12", true],
    ["vfio", false],
    ["vfio-dev", false],
  ])("isVfioCdevName(%j) = %s", (name, want) => {
    expect(isVfioCdevName(name)).toBe(want);
  });

  it.each([
    ["nvme5", "controller"],
    ["nvme5n1", "namespace"],
    ["nvme0c5n1", "path"],
    ["ng5n1", null],
    ["nvme5n1p1", null],
    ["nvme-subsys0", null],
    ["nvme", null],
  ])("nvmeNameShape(%j) = %j", (name, want) => {
    expect(nvmeNameShape(name)).toBe(want);
  });

  it.each([
    ["0000:3b:00.5", "0000:3b:00.5"],
    ["0000:3B:00.5\n", "0000:3b:00.5"],
    ["10000:e1:00.0", "10000:e1:00.0"],
    ["3b:00.5", null],
    ["0000:3b:00.5/x", null],
    ["x/0000:3b:00.5", null],
  ])("normalizeBdf(%j) = %j", (text, want) => {
    expect(normalizeBdf(text)).toBe(want);
    expect(isBdf(text)).toBe(want !== null && want === text);
  });

  it.each([
    ["arbitrary strings", fc.string({ unit: "binary", maxLength: 200 })],
    [
      "random bytes decoded as UTF-8",
      fc.uint8Array({ maxLength: 200 }).map((b) => new TextDecoder().decode(b)),
    ],
  ])("attribute parsers return well-formed values or null for %s", (_name, arb) => {
    fc.assert(
      fc.property(arb, (v) => {
        const hex = parseHexAttribute(v, 4);
        if (hex !== null) expect(hex).toMatch(/^0x[0-9a-f]{4}$/);
        const devt = parseDevt(v);
        if (devt !== null) expect(devt).toMatch(/^\d+:\d+$/);
        const size = parseSizeSectors(v);
        if (size !== null) expect(Number.isSafeInteger(size) && size >= 0).toBe(true);
        const override = parseDriverOverride(v);
        if (override !== null) expect(override).toBe(trimSysfsString(override));
        const bdf = normalizeBdf(v);
        if (bdf !== null) expect(bdf).toMatch(BDF_RE);
        parseNvmeState(v);
        parseIommuGroupId(v);
        parseVfioGroupNode(v);
        nvmeNameShape(v);
      }),
    );
  });

  it("reads 10 MB attribute values without trouble", () => {
    const big = `0x${"1".repeat(10 << 20)}\n`;
    expect(parseHexAttribute(big, 4)).toBeNull();
    expect(parseDevt(big)).toBeNull();
    expect(parseSizeSectors(big)).toBeNull();
    expect(parseNvmeState(big)).toBeNull();
    expect(trimSysfsString(` ${big}`)).toHaveLength(big.length - 1);
  });
});
