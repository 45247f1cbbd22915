import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { BDF_RE } from "../../../shared/contracts/events.js";
import { EvidenceEntry } from "../../../shared/contracts/snapshot.js";
import { EvidenceReader } from "../../../shared/parse/evidence.js";
import { ISSUE_CODES, issuesOf } from "../../../shared/parse/result.js";
import { readSysfs, type SysfsFact, type SysfsView } from "../../../shared/parse/sysfs.js";

type Evidence = Record<string, EvidenceEntry>;

const fixtureDir = (kind: "real" | "synthetic") => new URL(`../../fixtures/${kind}/sysfs/`, import.meta.url);
const loadFixture = (kind: "real" | "synthetic", name: string): Evidence => {
  const json: unknown = JSON.parse(readFileSync(new URL(name, fixtureDir(kind)), "utf8"));
  return z.object({ evidence: z.record(z.string(), EvidenceEntry) }).parse(json).evidence;
};
const read = (evidence: Evidence) => readSysfs(new EvidenceReader(evidence));

/** A fact as one token: its value, `-` for null, or `?reason` when unknown. */
function show<T>(fact: SysfsFact<T>, fmt: (v: T) => string = (v) => (v === null ? "-" : String(v))): string {
  if (fact.known) return fmt(fact.value);
  return `?${fact.why.reason === "error" ? fact.why.code : fact.why.reason}`;
}
const list = (names: readonly string[]) => `[${names.join(",")}]`;
const quoted = (v: string) => JSON.stringify(v);

/** One readable line per fact group, so a snapshot shows a whole host at a glance. */
function summarize(result: ReturnType<typeof readSysfs>): string[] {
  const v: SysfsView = result.value;
  const unreadable = (names: readonly string[]) => (names.length > 0 ? ` unreadable=${list(names)}` : "");
  return [
    ...v.blockDevices.map(
      (d) =>
        `block ${d.name} ${d.kind}${d.hidden ? " hidden" : ""} bdf=${d.bdf ?? "-"}` +
        `${d.hbaBdf ? ` hba=${d.hbaBdf}` : ""}${d.controller ? ` ctrl=${d.controller}` : ""}` +
        `${d.head ? ` head=${d.head}` : ""} devt=${show(d.devt)} size=${show(d.sizeSectors)}${unreadable(d.unreadable)}`,
    ),
    ...v.pciFunctions.map(
      (f) =>
        `pci ${f.bdf} ${show(f.vendor)}:${show(f.device)} class=${show(f.class)}${f.isNvmeClass ? " nvme-class" : ""}` +
        ` driver=${show(f.driver)} override=${show(f.driverOverride)} group=${show(f.iommuGroup)}` +
        ` physfn=${show(f.physfn)} nvme=${show(f.nvmeControllers, list)} vfio-dev=${show(f.vfioDev)}${unreadable(f.unreadable)}`,
    ),
    ...v.nvmeControllers.map(
      (c) =>
        `nvme ${c.name} bdf=${c.bdf ?? "-"} state=${show(c.state)} transport=${show(c.transport)}` +
        ` serial=${show(c.serial, quoted)} model=${show(c.model, quoted)} ns=${show(c.namespaces, list)}${unreadable(c.unreadable)}`,
    ),
    ...v.iommuGroups.map((g) => `group ${g.id} ${show(g.members, list)}`),
    `vfio present=${show(v.vfio.present)} container=${show(v.vfio.containerNode)}` +
      ` groups=${show(v.vfio.groupNodes, (n) => list(n.map((g) => g.name)))} cdevs=${show(v.vfio.cdevs, list)}`,
    ...Object.entries(v.coverage)
      .filter(([, c]) => !c.complete)
      .map(([name, c]) => `incomplete ${name} ${c.source} ${c.why?.reason ?? ""}`),
    ...issuesOf(result).map((i) => `issue ${i.code} ${i.path.join(" ")}: ${i.message}`),
  ];
}

function isFact(value: object): value is SysfsFact<unknown> {
  return "known" in value && typeof value.known === "boolean" && "source" in value;
}

/** Every fact in the view, with where it sits, for invariants over whole views. */
function allFacts(v: SysfsView): [string, SysfsFact<unknown>][] {
  const out: [string, SysfsFact<unknown>][] = [];
  const walk = (at: string, value: unknown) => {
    if (typeof value !== "object" || value === null) return;
    if (isFact(value)) {
      out.push([at, value]);
      return;
    }
    for (const [k, child] of Object.entries(value)) walk(`${at}.${k}`, child);
  };
  walk("view", v);
  return out;
}

/** Every PCI address the view names, for invariants over whole views. */
function allBdfs(v: SysfsView): string[] {
  return [
    ...v.blockDevices.flatMap((d) => [d.bdf, d.hbaBdf]),
    ...v.pciFunctions.flatMap((f) => [f.bdf, f.physfn.known ? f.physfn.value : null]),
    ...v.nvmeControllers.map((c) => c.bdf),
    ...v.iommuGroups.flatMap((g) => (g.members.known ? g.members.value : [])),
  ].filter((b): b is string => b !== null);
}

const synthetic = readdirSync(fixtureDir("synthetic")).filter((f) => f.endsWith(".json"));

describe("readSysfs over every fixture", () => {
  it.each([...synthetic.map((f) => ["synthetic", f] as const), ["real", "vm-kernel-6.18.json"] as const])(
    "%s/%s: valid BDFs only, and every known fact cites evidence that exists",
    (kind, name) => {
      const evidence = loadFixture(kind, name);
      const r = read(evidence);
      expect(issuesOf(r), JSON.stringify(issuesOf(r))).toEqual([]);
      for (const bdf of allBdfs(r.value)) expect(bdf, name).toMatch(BDF_RE);
      for (const [at, fact] of allFacts(r.value)) {
        if (fact.known) expect(Object.keys(evidence), `${name} ${at}`).toContain(fact.source);
      }
    },
  );
});

describe("readSysfs on the real capture (this machine, kernel 6.18)", () => {
  it("reads the virtio root disk, the loop and zram devices, and a host without NVMe, IOMMU or vfio", () => {
    expect(summarize(read(loadFixture("real", "vm-kernel-6.18.json")))).toMatchInlineSnapshot(`
      [
        "block loop0 virtual bdf=- devt=7:0 size=0",
        "block loop1 virtual bdf=- devt=7:1 size=0",
        "block loop2 virtual bdf=- devt=7:2 size=0",
        "block loop3 virtual bdf=- devt=7:3 size=0",
        "block loop4 virtual bdf=- devt=7:4 size=0",
        "block loop5 virtual bdf=- devt=7:5 size=0",
        "block loop6 virtual bdf=- devt=7:6 size=0",
        "block loop7 virtual bdf=- devt=7:7 size=0",
        "block vda virtio bdf=0000:00:02.0 devt=254:0 size=536870912",
        "block zram0 virtual bdf=- devt=253:0 size=0",
        "pci 0000:00:00.0 0x8086:0x0d57 class=0x060000 driver=- override=- group=- physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:01.0 0x1af4:0x1045 class=0xffff00 driver=virtio-pci override=- group=- physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:02.0 0x1af4:0x1042 class=0x018000 driver=virtio-pci override=- group=- physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:03.0 0x1af4:0x1041 class=0x020000 driver=virtio-pci override=- group=- physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:04.0 0x1af4:0x1053 class=0xffff00 driver=virtio-pci override=- group=- physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:05.0 0x1af4:0x1044 class=0xffff00 driver=virtio-pci override=- group=- physfn=- nvme=[] vfio-dev=-",
        "vfio present=false container=false groups=[] cdevs=[]",
      ]
    `);
  });
});

describe("readSysfs on synthetic hosts", () => {
  it("reference scenario (§0): incident BDF 0000:3b:00.5 unbound with a leftover nvme override, 3b:00.4 on vfio", () => {
    expect(summarize(read(loadFixture("synthetic", "reference-incident.json")))).toMatchInlineSnapshot(`
      [
        "block loop0 virtual bdf=- devt=7:0 size=0",
        "block nvme0n1 nvme bdf=0000:17:00.0 ctrl=nvme0 devt=259:0 size=3907029168",
        "block nvme2n1 nvme bdf=0000:3b:00.3 ctrl=nvme2 devt=259:4 size=838860800",
        "pci 0000:16:02.0 0x8086:0x2030 class=0x060400 driver=pcieport override=- group=23 physfn=- nvme=[] vfio-dev=-",
        "pci 0000:17:00.0 0x8086:0x0a54 class=0x010802 nvme-class driver=nvme override=- group=24 physfn=- nvme=[nvme0] vfio-dev=-",
        "pci 0000:3a:00.0 0x8086:0x2030 class=0x060400 driver=pcieport override=- group=59 physfn=- nvme=[] vfio-dev=-",
        "pci 0000:3b:00.0 0x1ded:0x5000 class=0x058000 driver=offload_pf override=- group=60 physfn=- nvme=[] vfio-dev=-",
        "pci 0000:3b:00.3 0x1ded:0x5004 class=0x010802 nvme-class driver=nvme override=- group=61 physfn=0000:3b:00.0 nvme=[nvme2] vfio-dev=-",
        "pci 0000:3b:00.4 0x1ded:0x5004 class=0x010802 nvme-class driver=vfio-pci override=vfio-pci group=62 physfn=0000:3b:00.0 nvme=[] vfio-dev=vfio0",
        "pci 0000:3b:00.5 0x1ded:0x5004 class=0x010802 nvme-class driver=- override=nvme group=63 physfn=0000:3b:00.0 nvme=[] vfio-dev=-",
        "nvme nvme0 bdf=0000:17:00.0 state=live transport=pcie serial="PHLJ9123004L2P0BGN" model="INTEL SSDPE2KX020T8" ns=[nvme0n1]",
        "nvme nvme2 bdf=0000:3b:00.3 state=live transport=pcie serial="bp1g6qn7zcd3f8l2x9ab" model="Alibaba Cloud Elastic Block Storage" ns=[nvme2n1]",
        "group 23 [0000:16:02.0]",
        "group 24 [0000:17:00.0]",
        "group 59 [0000:3a:00.0]",
        "group 60 [0000:3b:00.0]",
        "group 61 [0000:3b:00.3]",
        "group 62 [0000:3b:00.4]",
        "group 63 [0000:3b:00.5]",
        "vfio present=true container=true groups=[62] cdevs=[vfio0]",
      ]
    `);
  });

  it("native multipath: the head has no BDF, its hidden path devices carry one each", () => {
    expect(summarize(read(loadFixture("synthetic", "multipath.json")))).toMatchInlineSnapshot(`
      [
        "block nvme0c0n1 nvme-path hidden bdf=0000:5e:00.0 ctrl=nvme0 head=nvme0n1 devt=259:1 size=7501476528",
        "block nvme0c1n1 nvme-path hidden bdf=0001:af:00.0 ctrl=nvme1 head=nvme0n1 devt=259:2 size=7501476528",
        "block nvme0n1 nvme-head bdf=- devt=259:0 size=7501476528",
        "block nvme1n1 nvme bdf=0000:b7:00.0 ctrl=nvme2 devt=259:3 size=209715200",
        "pci 0000:5e:00.0 0x144d:0xa824 class=0x010802 nvme-class driver=nvme override=- group=40 physfn=- nvme=[nvme0] vfio-dev=-",
        "pci 0000:b7:00.0 0x1d0f:0x8061 class=0x010802 nvme-class driver=nvme override=- group=102 physfn=- nvme=[nvme2] vfio-dev=-",
        "pci 0001:af:00.0 0x144d:0xa824 class=0x010802 nvme-class driver=nvme override=- group=91 physfn=- nvme=[nvme1] vfio-dev=-",
        "nvme nvme0 bdf=0000:5e:00.0 state=live transport=pcie serial="S5XKNA0R700123" model="SAMSUNG MZWLR3T8HCLS-00A07" ns=[nvme0c0n1]",
        "nvme nvme1 bdf=0001:af:00.0 state=connecting transport=pcie serial="S5XKNA0R700123" model="SAMSUNG MZWLR3T8HCLS-00A07" ns=[nvme0c1n1]",
        "nvme nvme2 bdf=0000:b7:00.0 state=live transport=pcie serial="vol0a1b2c3d4e5f67890" model="Amazon Elastic Block Store" ns=[nvme1n1]",
        "group 102 [0000:b7:00.0]",
        "group 40 [0000:5e:00.0]",
        "group 91 [0001:af:00.0]",
        "vfio present=true container=true groups=[] cdevs=[]",
      ]
    `);
  });

  it("Intel VMD: NVMe functions in domain 10000 without IOMMU groups; SATA disk behind AHCI", () => {
    expect(summarize(read(loadFixture("synthetic", "vmd.json")))).toMatchInlineSnapshot(`
      [
        "block nvme0n1 nvme bdf=10000:e2:00.0 ctrl=nvme0 devt=259:0 size=1953525168",
        "block nvme1n1 nvme bdf=10000:e1:00.0 ctrl=nvme1 devt=259:2 size=1953525168",
        "block sda scsi bdf=- hba=0000:00:17.0 devt=8:0 size=7814037168",
        "pci 0000:00:0e.0 0x8086:0x467f class=0x010400 driver=vmd override=- group=9 physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:17.0 0x8086:0x7ae2 class=0x010601 driver=ahci override=- group=11 physfn=- nvme=[] vfio-dev=-",
        "pci 10000:e0:06.0 0x8086:0x464d class=0x060400 driver=pcieport override=- group=- physfn=- nvme=[] vfio-dev=-",
        "pci 10000:e0:1d.0 0x8086:0x7ab0 class=0x060400 driver=pcieport override=- group=- physfn=- nvme=[] vfio-dev=-",
        "pci 10000:e1:00.0 0x144d:0xa80a class=0x010802 nvme-class driver=nvme override=- group=- physfn=- nvme=[nvme1] vfio-dev=-",
        "pci 10000:e2:00.0 0x1e0f:0x0009 class=0x010802 nvme-class driver=nvme override=- group=- physfn=- nvme=[nvme0] vfio-dev=-",
        "nvme nvme0 bdf=10000:e2:00.0 state=live transport=pcie serial="X2KF71PBZ9L1" model="KIOXIA EXCERIA PLUS G2 SSD" ns=[nvme0n1]",
        "nvme nvme1 bdf=10000:e1:00.0 state=live transport=pcie serial="S6B0NL0T123456A" model="Samsung SSD 980 PRO 1TB" ns=[nvme1n1]",
        "group 11 [0000:00:17.0]",
        "group 9 [0000:00:0e.0]",
        "vfio present=false container=false groups=[] cdevs=[]",
      ]
    `);
  });

  it("controller numbers apart from namespace numbers; a live controller with zero namespaces", () => {
    expect(summarize(read(loadFixture("synthetic", "renumbered-controller.json")))).toMatchInlineSnapshot(`
      [
        "block nvme3n1 nvme bdf=0000:3b:00.5 ctrl=nvme5 devt=259:7 size=41943040",
        "block nvme4n1 nvme bdf=0000:3b:00.7 ctrl=nvme4 devt=259:5 size=0",
        "pci 0000:3b:00.0 0x1ded:0x5000 class=0x058000 driver=offload_pf override=- group=60 physfn=- nvme=[] vfio-dev=-",
        "pci 0000:3b:00.5 0x1ded:0x5004 class=0x010802 nvme-class driver=nvme override=- group=63 physfn=0000:3b:00.0 nvme=[nvme5] vfio-dev=-",
        "pci 0000:3b:00.6 0x1ded:0x5004 class=0x010802 nvme-class driver=nvme override=- group=64 physfn=0000:3b:00.0 nvme=[nvme6] vfio-dev=-",
        "pci 0000:3b:00.7 0x1ded:0x5004 class=0x010802 nvme-class driver=nvme override=- group=65 physfn=0000:3b:00.0 nvme=[nvme4] vfio-dev=-",
        "nvme nvme4 bdf=0000:3b:00.7 state=deleting transport=pcie serial="bp18f3k2m9x0c4v7n1qa" model="Alibaba Cloud Elastic Block Storage" ns=[nvme4n1]",
        "nvme nvme5 bdf=0000:3b:00.5 state=live transport=pcie serial="2ze5cz8kqm1h0r7v4tw1" model="Alibaba Cloud Elastic Block Storage" ns=[nvme3n1]",
        "nvme nvme6 bdf=0000:3b:00.6 state=live transport=pcie serial="bp1g6qn7zcd3f8l2x9ab" model="Alibaba Cloud Elastic Block Storage" ns=[]",
        "group 60 [0000:3b:00.0]",
        "group 63 [0000:3b:00.5]",
        "group 64 [0000:3b:00.6]",
        "group 65 [0000:3b:00.7]",
        "vfio present=true container=true groups=[] cdevs=[]",
      ]
    `);
  });

  it("reads that timed out or failed stay unknown and are listed, never read as false", () => {
    expect(summarize(read(loadFixture("synthetic", "timeout.json")))).toMatchInlineSnapshot(`
      [
        "block nvme2n1 nvme bdf=0000:86:00.3 ctrl=nvme2 devt=259:2 size=?timeout unreadable=[sizeSectors]",
        "pci 0000:86:00.0 0x1ded:0x5000 class=0x058000 driver=offload_pf override=- group=30 physfn=- nvme=[] vfio-dev=-",
        "pci 0000:86:00.3 0x1ded:0x5004 class=0x010802 nvme-class driver=?timeout override=- group=33 physfn=0000:86:00.0 nvme=[nvme2] vfio-dev=- unreadable=[driver]",
        "nvme nvme2 bdf=0000:86:00.3 state=resetting transport=pcie serial=?timeout model=?timeout ns=?ENODEV unreadable=[serial,model,namespaces]",
        "group 30 [0000:86:00.0]",
        "group 33 [0000:86:00.3]",
        "vfio present=true container=true groups=[] cdevs=[]",
      ]
    `);
  });

  it("a VM: virtio over PCI and MMIO, SCSI behind its HBA, NVMe/TCP, vfio no-IOMMU, no driver_override file", () => {
    expect(summarize(read(loadFixture("synthetic", "vm-mixed.json")))).toMatchInlineSnapshot(`
      [
        "block dm-0 virtual bdf=- devt=253:0 size=83877888",
        "block nvme0n1 nvme bdf=- ctrl=nvme0 devt=259:0 size=2097152000",
        "block sdb scsi bdf=- hba=0000:00:03.0 devt=8:16 size=419430400",
        "block vda virtio bdf=0000:00:04.0 devt=252:0 size=83886080",
        "block vdb virtio bdf=0000:00:06.0 devt=252:16 size=2147483648",
        "block vdc virtio bdf=- devt=252:32 size=20971520",
        "pci 0000:00:00.0 0x8086:0x1237 class=0x060000 driver=- override=?ENOENT group=- physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:03.0 0x1af4:0x1048 class=0x010000 driver=virtio-pci override=?ENOENT group=- physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:04.0 0x1af4:0x1001 class=0x010000 driver=virtio-pci override=?ENOENT group=- physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:05.0 0x1af4:0x1041 class=0x020000 driver=vfio-pci override=?ENOENT group=0 physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:06.0 0x1af4:0x1042 class=0x018000 driver=virtio-pci override=?ENOENT group=- physfn=- nvme=[] vfio-dev=-",
        "nvme nvme0 bdf=- state=live transport=tcp serial="a3f1c9e07b5d2468" model="Linux" ns=[nvme0n1]",
        "group 0 [0000:00:05.0]",
        "vfio present=true container=true groups=[noiommu-0] cdevs=[]",
      ]
    `);
  });

  it("a Xen guest: blkfront disks with no PCI function", () => {
    expect(summarize(read(loadFixture("synthetic", "xen-hvm.json")))).toMatchInlineSnapshot(`
      [
        "block xvda xen bdf=- devt=202:0 size=16777216",
        "block xvdf xen bdf=- devt=202:80 size=104857600",
        "pci 0000:00:00.0 0x8086:0x1237 class=0x060000 driver=- override=- group=- physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:01.1 0x8086:0x7010 class=0x010180 driver=ata_piix override=- group=- physfn=- nvme=[] vfio-dev=-",
        "pci 0000:00:03.0 0x5853:0x0001 class=0xff8000 driver=xen-platform-pci override=- group=- physfn=- nvme=[] vfio-dev=-",
        "vfio present=false container=false groups=[] cdevs=[]",
      ]
    `);
  });

  it("keeps the evidence path of every fact of the incident BDF", () => {
    const fn = read(loadFixture("synthetic", "reference-incident.json")).value.pciFunctions.find(
      (f) => f.bdf === "0000:3b:00.5",
    );
    expect(fn).toMatchInlineSnapshot(`
      {
        "bdf": "0000:3b:00.5",
        "class": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/class",
          "value": "0x010802",
        },
        "device": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/device",
          "value": "0x5004",
        },
        "driver": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/driver",
          "value": null,
        },
        "driverOverride": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/driver_override",
          "value": "nvme",
        },
        "iommuGroup": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/iommu_group",
          "value": "63",
        },
        "isNvmeClass": true,
        "nvmeControllers": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/nvme/",
          "value": [],
        },
        "physfn": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/physfn",
          "value": "0000:3b:00.0",
        },
        "source": "sys/bus/pci/devices/0000:3b:00.5",
        "subsystemDevice": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/subsystem_device",
          "value": "0x5004",
        },
        "subsystemVendor": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/subsystem_vendor",
          "value": "0x1ded",
        },
        "target": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5",
          "value": "../../../devices/pci0000:3a/0000:3a:00.0/0000:3b:00.5",
        },
        "unreadable": [],
        "vendor": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/vendor",
          "value": "0x1ded",
        },
        "vfioDev": {
          "known": true,
          "source": "sys/bus/pci/devices/0000:3b:00.5/vfio-dev/",
          "value": null,
        },
      }
    `);
  });
});

/** The §0 host with some entries replaced (or removed when set to undefined). */
function reference(changes: Record<string, EvidenceEntry | undefined> = {}): Evidence {
  const evidence = { ...loadFixture("synthetic", "reference-incident.json") };
  for (const [k, v] of Object.entries(changes)) {
    if (v === undefined) delete evidence[k];
    else evidence[k] = v;
  }
  return evidence;
}
const file = (data: string): EvidenceEntry => ({ kind: "file", data, encoding: "utf8", bytes: data.length });
const link = (target: string): EvidenceEntry => ({ kind: "link", target });
const dir = (names: string[], capped?: boolean): EvidenceEntry =>
  capped ? { kind: "dir", names, capped } : { kind: "dir", names };
const enoent = (op: "read" | "readlink" | "readdir"): EvidenceEntry => ({
  kind: "error",
  op,
  code: "ENOENT",
  message: "ENOENT: no such file or directory",
});
const timeout = (op: "read" | "readlink" | "readdir"): EvidenceEntry => ({
  kind: "timeout",
  op,
  afterMs: 2000,
});
const incident = "sys/bus/pci/devices/0000:3b:00.5";
const fnOf = (r: ReturnType<typeof readSysfs>, bdf: string) =>
  r.value.pciFunctions.find((f) => f.bdf === bdf);

type PciFunction = SysfsView["pciFunctions"][number];
const showAny = (fact: SysfsFact<unknown>) =>
  show(fact, (v) => (v === null ? "-" : Array.isArray(v) ? list(v) : String(v)));

describe("readSysfs fact semantics", () => {
  it.each<
    [string, Record<string, EvidenceEntry | undefined>, (f: PciFunction) => SysfsFact<unknown>, string]
  >([
    ["a missing driver link (ENOENT) is unbound", {}, (f) => f.driver, "-"],
    [
      "a driver link that timed out is unknown",
      { [`${incident}/driver`]: timeout("readlink") },
      (f) => f.driver,
      "?timeout",
    ],
    [
      "a driver link not collected is unknown",
      { [`${incident}/driver`]: undefined },
      (f) => f.driver,
      "?absent",
    ],
    [
      "a driver link is read by its basename",
      { [`${incident}/driver`]: link("../../../../bus/pci/drivers/vfio-pci") },
      (f) => f.driver,
      "vfio-pci",
    ],
    [
      "driver_override `(null)` is unset",
      { [`${incident}/driver_override`]: file("(null)\n") },
      (f) => f.driverOverride,
      "-",
    ],
    [
      "an empty driver_override is unset",
      { [`${incident}/driver_override`]: file("\n") },
      (f) => f.driverOverride,
      "-",
    ],
    [
      "a kernel without driver_override leaves it unknown",
      { [`${incident}/driver_override`]: enoent("read") },
      (f) => f.driverOverride,
      "?ENOENT",
    ],
    [
      "no iommu_group link is no group",
      { [`${incident}/iommu_group`]: enoent("readlink") },
      (f) => f.iommuGroup,
      "-",
    ],
    ["no physfn link is not a VF", { [`${incident}/physfn`]: enoent("readlink") }, (f) => f.physfn, "-"],
    [
      "an nvme/ listing that failed is unknown",
      { [`${incident}/nvme/`]: { kind: "error", op: "readdir", code: "EIO", message: "EIO" } },
      (f) => f.nvmeControllers,
      "?EIO",
    ],
    ["no vfio-dev/ is no cdev when /dev/vfio was read", {}, (f) => f.vfioDev, "-"],
    [
      "an nvme/ not collected is empty when another driver is bound (nvme/ exists only under nvme)",
      {
        [`${incident}/nvme/`]: undefined,
        [`${incident}/driver`]: link("../../../../bus/pci/drivers/ixgbevf"),
      },
      (f) => f.nvmeControllers,
      "[]",
    ],
    [
      "an nvme/ not collected stays unknown while nvme is bound",
      { [`${incident}/nvme/`]: undefined, [`${incident}/driver`]: link("../../../../bus/pci/drivers/nvme") },
      (f) => f.nvmeControllers,
      "?absent",
    ],
    [
      "a vfio-dev/ not collected is no cdev when no vfio driver is bound",
      { [`${incident}/vfio-dev/`]: undefined },
      (f) => f.vfioDev,
      "-",
    ],
    [
      "a vfio-dev/ not collected stays unknown while vfio-pci is bound",
      {
        [`${incident}/vfio-dev/`]: undefined,
        [`${incident}/driver`]: link("../../../../bus/pci/drivers/vfio-pci"),
      },
      (f) => f.vfioDev,
      "?absent",
    ],
    [
      "no vfio-dev/ is unknown when /dev/vfio could not be read",
      { "dev/vfio/": timeout("readdir") },
      (f) => f.vfioDev,
      "?ENOENT",
    ],
  ])("%s", (_title, changes, pick, want) => {
    const fn = fnOf(read(reference(changes)), "0000:3b:00.5");
    expect(fn && showAny(pick(fn)), JSON.stringify(changes)).toBe(want);
  });

  it("lists timed-out and failed reads as unreadable, but not missing optional files", () => {
    const r = read(
      reference({
        [`${incident}/driver`]: timeout("readlink"),
        [`${incident}/vendor`]: { kind: "error", op: "read", code: "EIO", message: "EIO" },
        [`${incident}/driver_override`]: enoent("read"),
        [`${incident}/subsystem_device`]: undefined,
      }),
    );
    expect(fnOf(r, "0000:3b:00.5")?.unreadable).toEqual(["vendor", "driver"]);
    expect(issuesOf(r)).toEqual([]);
  });

  it.each<[string, Record<string, EvidenceEntry | undefined>, string[]]>([
    [
      "an invalid vendor id",
      { [`${incident}/vendor`]: file("1ded\n") },
      ['invalid_field sys/bus/pci/devices/0000:3b:00.5/vendor: unreadable value "1ded"'],
    ],
    [
      "an invalid dev",
      { "sys/block/nvme2n1/dev": file("259-4\n") },
      ['invalid_field sys/block/nvme2n1/dev: unreadable value "259-4"'],
    ],
    [
      "an invalid size",
      { "sys/block/nvme2n1/size": file("lots\n") },
      ['invalid_field sys/block/nvme2n1/size: unreadable value "lots"'],
    ],
    [
      "a link recorded as a file",
      { [`${incident}/driver`]: file("nvme\n") },
      ["invalid_field sys/bus/pci/devices/0000:3b:00.5/driver: expected a link, recorded as a file"],
    ],
    [
      "a listing cut by the entry cap",
      { "sys/bus/pci/devices/": dir(["0000:16:02.0"], true) },
      ["truncated sys/bus/pci/devices/: listing cut by the entry cap"],
    ],
    [
      "an attribute cut by the size cap",
      { [`${incident}/class`]: { kind: "file", data: "0x01", encoding: "utf8", bytes: 4, capped: true } },
      ["truncated sys/bus/pci/devices/0000:3b:00.5/class: value cut by the size cap"],
    ],
    [
      "a name in a listing that is not a BDF",
      { "sys/kernel/iommu_groups/63/devices/": dir(["0000:3b:00.5", "3b:00.5"]) },
      ['invalid_field sys/kernel/iommu_groups/63/devices/: "3b:00.5" is not a PCI address'],
    ],
    [
      "a group directory that is not a number",
      { "sys/kernel/iommu_groups/": dir(["23", "24", "59", "60", "61", "62", "63", "x"]) },
      ['invalid_field sys/kernel/iommu_groups/: "x" is not a group id'],
    ],
    [
      "bytes that are not UTF-8",
      { "sys/class/nvme/nvme2/model": { kind: "file", data: "/w==", encoding: "base64", bytes: 2 } },
      ["non_utf8 sys/class/nvme/nvme2/model: bytes that are not UTF-8 were replaced"],
    ],
    [
      "an unknown controller state",
      { "sys/class/nvme/nvme2/state": file("unknown state\n") },
      ['unsupported sys/class/nvme/nvme2/state: unknown controller state "unknown state"'],
    ],
    ["sys/block/ not collected", { "sys/block/": undefined }, ["missing sys/block/: not collected"]],
    [
      "a controller whose address contradicts its link",
      { "sys/class/nvme/nvme2/address": file("0000:3b:00.6\n") },
      [
        "inconsistent sys/class/nvme/nvme2/address: nvme2: address 0000:3b:00.6 but the link names 0000:3b:00.3",
        "inconsistent sys/block/nvme2n1: nvme2n1: its path names 0000:3b:00.3 but controller nvme2 is at 0000:3b:00.6",
        "inconsistent sys/bus/pci/devices/0000:3b:00.3/nvme/: 0000:3b:00.3 lists nvme2, which is at 0000:3b:00.6",
      ],
    ],
    [
      "a function missing from its group's members",
      { "sys/kernel/iommu_groups/63/devices/": dir([]) },
      [
        "inconsistent sys/kernel/iommu_groups/63/devices/: 0000:3b:00.5 is in group 63, which does not list it",
      ],
    ],
    [
      "a function in a group that is not listed",
      { [`${incident}/iommu_group`]: link("../../../../kernel/iommu_groups/99") },
      [
        "inconsistent sys/bus/pci/devices/0000:3b:00.5/iommu_group: 0000:3b:00.5 is in group 99, which is not listed",
      ],
    ],
  ])("reports %s as an issue citing the evidence key", (_title, changes, want) => {
    const r = read(reference(changes));
    expect(r.ok, "ok").toBe(false);
    expect(issuesOf(r).map((i) => `${i.code} ${i.path.join(" ")}: ${i.message}`)).toEqual(want);
  });

  it("marks a section incomplete when its listing could not be read, and lists nothing from it", () => {
    const r = read(reference({ "sys/bus/pci/devices/": timeout("readdir") }));
    expect(r.value.coverage.pciFunctions).toEqual({
      source: "sys/bus/pci/devices/",
      complete: false,
      why: { reason: "timeout", afterMs: 2000 },
    });
    expect(r.value.pciFunctions).toEqual([]);
    // Controllers are still read from /sys/class/nvme.
    expect(r.value.nvmeControllers.map((c) => c.name)).toEqual(["nvme0", "nvme2"]);
  });

  it.each([
    ["sorted", ["nvme0", "nvme2"], ["nvme0", "nvme2"]],
    ["unsorted", ["nvme2", "nvme0"], ["nvme2", "nvme0"]],
    ["with duplicates, first occurrence kept", ["nvme2", "nvme0", "nvme2", "nvme0"], ["nvme2", "nvme0"]],
    ["sorted with a repeat", ["nvme0", "nvme0", "nvme2"], ["nvme0", "nvme2"]],
    ["with unusable names", ["", ".", "..", "a/b", "nvme0", "nvme2"], ["nvme0", "nvme2"]],
  ])("reads a %s listing's usable names once each, in its order", (_title, names, want) => {
    const r = read(reference({ "sys/class/nvme/": dir(names) }));
    expect(r.value.nvmeControllers.map((c) => c.name)).toEqual(want);
  });

  it("reads a controller from the PCI function's nvme/ when /sys/class/nvme lacks it", () => {
    const r = read(
      reference({
        "sys/class/nvme/": dir(["nvme0"]),
        "sys/class/nvme/nvme2": undefined,
        "sys/class/nvme/nvme2/": undefined,
        "sys/class/nvme/nvme2/address": undefined,
        "sys/class/nvme/nvme2/state": undefined,
        "sys/class/nvme/nvme2/serial": undefined,
        "sys/class/nvme/nvme2/model": undefined,
        "sys/class/nvme/nvme2/transport": undefined,
      }),
    );
    const ctrl = r.value.nvmeControllers.find((c) => c.name === "nvme2");
    expect(ctrl?.source).toBe("sys/bus/pci/devices/0000:3b:00.3/nvme/nvme2");
    expect([ctrl?.bdf, ctrl && show(ctrl.state), ctrl && show(ctrl.serial)]).toEqual([
      "0000:3b:00.3",
      "live",
      "bp1g6qn7zcd3f8l2x9ab",
    ]);
  });
});

const arbKey = fc.oneof(
  fc.constantFrom(
    "sys/block/",
    "sys/block/nvme2n1",
    "sys/block/nvme2n1/dev",
    "sys/block/nvme2n1/size",
    "sys/bus/pci/devices/",
    `${incident}`,
    `${incident}/vendor`,
    `${incident}/class`,
    `${incident}/driver`,
    `${incident}/driver_override`,
    `${incident}/iommu_group`,
    `${incident}/physfn`,
    `${incident}/nvme/`,
    `${incident}/vfio-dev/`,
    `${incident}/nvme/nvme5/state`,
    "sys/class/nvme/",
    "sys/class/nvme/nvme5",
    "sys/class/nvme/nvme5/",
    "sys/class/nvme/nvme5/address",
    "sys/class/nvme/nvme5/state",
    "sys/kernel/iommu_groups/",
    "sys/kernel/iommu_groups/63/devices/",
    "dev/vfio/",
    "dev/vfio/devices/",
  ),
  fc.string({ maxLength: 40 }),
);
const arbName = fc.oneof(
  fc.constantFrom(
    "nvme2n1",
    "nvme5",
    "0000:3b:00.5",
    "63",
    "vfio",
    "devices",
    "vfio0",
    "noiommu-1",
    "",
    ".",
    "a/b",
  ),
  fc.string({ maxLength: 20 }),
);
const arbEntry: fc.Arbitrary<EvidenceEntry> = fc.oneof(
  fc.record({
    kind: fc.constant("file" as const),
    data: fc.oneof(
      fc.string({ unit: "binary", maxLength: 60 }),
      fc.constantFrom("0x1ded\n", "259:4\n", "(null)\n", "live\n"),
    ),
    encoding: fc.constant("utf8" as const),
    bytes: fc.nat(100),
    capped: fc.option(fc.boolean(), { nil: undefined }),
  }),
  fc.record({
    kind: fc.constant("file" as const),
    data: fc.base64String({ maxLength: 40 }),
    encoding: fc.constant("base64" as const),
    bytes: fc.nat(100),
  }),
  fc.record({
    kind: fc.constant("link" as const),
    target: fc.oneof(
      fc.string({ maxLength: 80 }),
      fc.constantFrom(
        "../../../../bus/pci/drivers/nvme",
        "../../../../kernel/iommu_groups/63",
        "../0000:3b:00.0",
      ),
    ),
  }),
  fc.record({
    kind: fc.constant("dir" as const),
    names: fc.array(arbName, { maxLength: 6 }),
    capped: fc.option(fc.boolean(), { nil: undefined }),
  }),
  fc.record({
    kind: fc.constant("error" as const),
    op: fc.constantFrom("read" as const, "readlink" as const, "readdir" as const, "stat" as const),
    code: fc.constantFrom("ENOENT", "EIO", "EACCES", "ENODEV"),
    message: fc.string({ maxLength: 20 }),
  }),
  fc.record({
    kind: fc.constant("timeout" as const),
    op: fc.constantFrom("read" as const, "readdir" as const),
    afterMs: fc.nat(5000),
  }),
);

describe("readSysfs properties", () => {
  it("never throws on random evidence records and keeps every invariant of the view", () => {
    fc.assert(
      fc.property(fc.dictionary(arbKey, arbEntry, { maxKeys: 30 }), (evidence) => {
        const r = read(evidence);
        for (const bdf of allBdfs(r.value)) expect(bdf).toMatch(BDF_RE);
        for (const [at, fact] of allFacts(r.value)) {
          expect(typeof fact.source, at).toBe("string");
          if (!fact.known)
            expect(fact.why.reason, at).toMatch(/^(absent|error|timeout|wrong_kind|capped|invalid)$/);
        }
        for (const issue of issuesOf(r)) {
          expect(ISSUE_CODES).toContain(issue.code);
          expect(issue.path.length, issue.message).toBeGreaterThan(0);
        }
      }),
    );
  });

  it("never throws when any entry of a real host is damaged", () => {
    const base = loadFixture("synthetic", "reference-incident.json");
    const keys = Object.keys(base);
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.constantFrom(...keys), arbEntry), { maxLength: 8 }), (changes) => {
        const r = read({ ...base, ...Object.fromEntries(changes) });
        for (const bdf of allBdfs(r.value)) expect(bdf).toMatch(BDF_RE);
        // Damage never makes a fact known with a value it did not read: unknowns say why.
        for (const [at, fact] of allFacts(r.value)) if (!fact.known) expect(fact.why, at).toBeDefined();
      }),
    );
  });

  it("reads a 10 MB attribute and a 10 MB listing name without trouble", () => {
    const big = "9".repeat(10 << 20);
    const r = read(
      reference({ "sys/block/nvme2n1/size": file(big), "sys/block/": dir(["loop0", "nvme2n1", big]) }),
    );
    expect(issuesOf(r).map((i) => i.code)).toContain("invalid_field");
    expect(r.value.blockDevices.map((d) => d.name.length)).toEqual([5, 7, big.length]);
  });
});
