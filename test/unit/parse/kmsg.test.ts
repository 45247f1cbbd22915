import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import type { EvidenceEntry } from "../../../shared/contracts/snapshot.js";
import { EvidenceReader } from "../../../shared/parse/evidence.js";
import {
  classifyKernelMessage,
  type KernelLog,
  type KernelLogRecord,
  kernelLogFacts,
  kernelMessageDevice,
  parseDmesg,
  parseKmsg,
  readKernelLog,
  unescapeKmsg,
} from "../../../shared/parse/kmsg.js";
import { issuesOf, MAX_LINE_CHARS } from "../../../shared/parse/result.js";
import { file } from "../../support/evidence.js";

const fixture = (path: string) => readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), "utf8");

/** One record on one line: where it is, its clock and priority, its text, its dictionary. */
function row(r: KernelLogRecord): string {
  const seq = r.seq === null ? "" : `#${r.seq} `;
  const prio = r.level === null ? "" : ` <${r.facility}.${r.level}>`;
  const dict = Object.keys(r.dict).length > 0 ? ` ${JSON.stringify(r.dict)}` : "";
  return `L${r.line} ${seq}${r.tsUsec ?? "-"}us${prio} ${JSON.stringify(r.text)}${dict}`;
}

function summary(log: KernelLog) {
  return {
    source: log.source,
    records: log.records.length,
    firstSeq: log.firstSeq,
    lastSeq: log.lastSeq,
    lost: log.lost,
    bootBreaks: log.bootBreaks,
  };
}

describe("parseKmsg and parseDmesg on real captures (kernel 6.18, util-linux 2.38.1)", () => {
  it.each([
    ["boot slice", "dev-kmsg-boot.txt", "dmesg-r-boot.txt", "dmesg-boot.txt", 172],
    ["tail", "dev-kmsg-tail.txt", "dmesg-r-tail.txt", "dmesg-tail.txt", 7],
  ])(
    "reads the %s of /dev/kmsg, dmesg -r and dmesg without issues, as the same records",
    (_n, k, r, d, n) => {
      const kmsg = parseKmsg(fixture(`real/kmsg/${k}`));
      const raw = parseDmesg(fixture(`real/kmsg/${r}`));
      const plain = parseDmesg(fixture(`real/kmsg/${d}`));
      expect([issuesOf(kmsg), issuesOf(raw), issuesOf(plain)]).toEqual([[], [], []]);
      expect([kmsg.value.source, raw.value.source, plain.value.source]).toEqual([
        "kmsg",
        "dmesg-raw",
        "dmesg",
      ]);
      const same = (l: KernelLog) => l.records.map((x) => [x.tsUsec, x.text]);
      expect(same(kmsg.value)).toHaveLength(n);
      expect(same(raw.value), "dmesg -r").toEqual(same(kmsg.value));
      expect(same(plain.value), "dmesg").toEqual(same(kmsg.value));
    },
  );

  it("reads the boot slice's records, escapes and PCI dictionaries like this", () => {
    const log = parseKmsg(fixture("real/kmsg/dev-kmsg-boot.txt")).value;
    expect(summary(log)).toMatchInlineSnapshot(`
      {
        "bootBreaks": [],
        "firstSeq": 150,
        "lastSeq": 321,
        "lost": [],
        "records": 172,
        "source": "kmsg",
      }
    `);
    const tabbed = log.records.filter((r) => r.text.includes("\t")).slice(0, 1);
    const withDict = log.records.filter((r) => Object.keys(r.dict).length > 0).slice(0, 3);
    expect([...tabbed, ...withDict].map(row)).toMatchInlineSnapshot(`
      [
        "L7 #156 102474us <0.6> "rcu: \\tMax phase no-delay instances is 1000."",
        "L48 #197 143476us <0.6> "acpi PNP0A08:00: _OSC: OS supports [ExtendedConfig ASPM ClockPM Segments MSI HPX-Type3]" {"SUBSYSTEM":"acpi","DEVICE":"+acpi:PNP0A08:00"}",
        "L51 #198 143477us <0.6> "acpi PNP0A08:00: PCIe port services disabled; not requesting _OSC control" {"SUBSYSTEM":"acpi","DEVICE":"+acpi:PNP0A08:00"}",
        "L54 #199 143479us <0.6> "acpi PNP0A08:00: _OSC: platform retains control of PCIe features (AE_NOT_FOUND)" {"SUBSYSTEM":"acpi","DEVICE":"+acpi:PNP0A08:00"}",
      ]
    `);
  });

  it("keeps /dev/kmsg's priority where util-linux 2.38 dmesg -r garbles user-facility records", () => {
    const kmsg = parseKmsg(fixture("real/kmsg/dev-kmsg-tail.txt")).value.records.slice(-3).map(row);
    const raw = parseDmesg(fixture("real/kmsg/dmesg-r-tail.txt")).value.records.slice(-3).map(row);
    expect({ kmsg, raw }).toMatchInlineSnapshot(`
      {
        "kmsg": [
          "L7 #348 637841001us <1.4> "faultline-fixture: two-line message"",
          "L8 #349 637841010us <1.4> "second line of it, with a backslash \\\\ and café"",
          "L9 #350 637841075us <1.6> "faultline-fixture: kernel-facility info line"",
        ],
        "raw": [
          "L5 637841001us <0.5> "faultline-fixture: two-line message"",
          "L6 637841010us <0.5> "second line of it, with a backslash \\\\ and café"",
          "L7 637841075us <0.7> "faultline-fixture: kernel-facility info line"",
        ],
      }
    `);
  });

  it("classifies the real enumeration lines (with the PCIe type newer kernels append)", () => {
    const facts = kernelLogFacts(parseKmsg(fixture("real/kmsg/dev-kmsg-boot.txt")).value);
    expect(facts.map((f) => `L${f.record.line} ${f.fact.kind} ${f.fact.device.bdf}`)).toMatchInlineSnapshot(`
      [
        "L76 pci_enumerated 0000:00:00.0",
        "L79 pci_enumerated 0000:00:01.0",
        "L85 pci_enumerated 0000:00:02.0",
        "L91 pci_enumerated 0000:00:03.0",
        "L97 pci_enumerated 0000:00:04.0",
        "L103 pci_enumerated 0000:00:05.0",
      ]
    `);
    expect(facts[0]?.fact).toMatchInlineSnapshot(`
      {
        "classCode": "060000",
        "detail": "conventional PCI endpoint",
        "device": {
          "bdf": "0000:00:00.0",
          "ctrl": null,
          "driver": "pci",
          "name": "0000:00:00.0",
        },
        "deviceId": "0d57",
        "headerType": "00",
        "kind": "pci_enumerated",
        "vendor": "8086",
      }
    `);
  });
});

describe("kernel logs of synthetic hosts", () => {
  it.each([
    ["incident-6.6-dev-kmsg.txt", parseKmsg, { source: "kmsg", records: 11, lost: 2, facts: 10 }],
    ["vmd-caller-dev-kmsg.txt", parseKmsg, { source: "kmsg", records: 5, lost: 1, facts: 5 }],
    ["alinux2-4.19-dmesg-r.txt", parseDmesg, { source: "dmesg-raw", records: 7, lost: 0, facts: 5 }],
    ["alinux2-4.19-dmesg.txt", parseDmesg, { source: "dmesg", records: 5, lost: 0, facts: 4 }],
    ["journal-short-monotonic.txt", parseDmesg, { source: "journal", records: 4, lost: 0, facts: 3 }],
  ] as const)("reads %s without issues", (file, parse, want) => {
    const r = parse(fixture(`synthetic/kmsg/${file}`));
    expect(issuesOf(r), file).toEqual([]);
    expect({
      source: r.value.source,
      records: r.value.records.length,
      lost: r.value.lost.length,
      facts: kernelLogFacts(r.value).length,
    }).toEqual(want);
  });

  it("reads the incident's /dev/kmsg: records, gaps and facts", () => {
    const log = parseKmsg(fixture("synthetic/kmsg/incident-6.6-dev-kmsg.txt")).value;
    expect({ ...summary(log), rows: log.records.map(row) }).toMatchInlineSnapshot(`
      {
        "bootBreaks": [],
        "firstSeq": 98160,
        "lastSeq": 98242,
        "lost": [
          {
            "afterSeq": 98161,
            "beforeSeq": 98230,
            "count": 68,
            "line": 7,
          },
          {
            "afterSeq": 98235,
            "beforeSeq": 98240,
            "count": 4,
            "line": 25,
          },
        ],
        "records": 11,
        "rows": [
          "L1 #98160 1843190220871us <0.4> "pcieport 0000:3a:00.0: pciehp: Slot(12): Card not present" {"SUBSYSTEM":"pci","DEVICE":"+pci:0000:3a:00.0"}",
          "L4 #98161 1843190221002us <0.6> "pci 0000:3b:00.3: Removing from iommu group 61" {"SUBSYSTEM":"pci","DEVICE":"+pci:0000:3b:00.3"}",
          "L7 #98230 1843211402117us <0.6> "pci 0000:3b:00.5: [1ded:5004] type 00 class 0x010802 PCIe Endpoint" {"SUBSYSTEM":"pci","DEVICE":"+pci:0000:3b:00.5"}",
          "L10 #98231 1843211402390us <0.6> "pci 0000:3b:00.5: Adding to iommu group 63" {"SUBSYSTEM":"pci","DEVICE":"+pci:0000:3b:00.5"}",
          "L13 #98232 1843212918502us <0.6> "nvme nvme5: pci function 0000:3b:00.5" {"SUBSYSTEM":"nvme","DEVICE":"c242:5"}",
          "L16 #98233 1843212931877us <0.4> "nvme nvme5: Device not ready; aborting initialisation, CSTS=0x0" {"SUBSYSTEM":"nvme","DEVICE":"c242:5"}",
          "L19 #98234 1843212931902us <0.4> "nvme nvme5: Removing after probe failure status: -19" {"SUBSYSTEM":"nvme","DEVICE":"c242:5"}",
          "L22 #98235 1843212932010us <0.3> "nvme 0000:3b:00.5: probe with driver nvme failed with error -12" {"SUBSYSTEM":"pci","DEVICE":"+pci:0000:3b:00.5"}",
          "L25 #98240 1843290000011us <0.5> "vfio-pci 0000:3b:00.4: Relaying device request to user (#10)" {"SUBSYSTEM":"pci","DEVICE":"+pci:0000:3b:00.4"}",
          "L28 #98241 1843290100452us <0.4> "vfio-pci 0000:3b:00.4: Device is currently in use, task \\"csi-plugin\\" (2931) blocked until device is released" {"SUBSYSTEM":"pci","DEVICE":"+pci:0000:3b:00.4"}",
          "L31 #98242 1843290200000us <1.4> "csi-plugin[2931]: unstage d-2ze5cz8kqm1h0r7v4tw1: write /sys/bus/pci/drivers/vfio-pci/unbind: \\"blocked\\"\\\\\\n"",
        ],
        "source": "kmsg",
      }
    `);
    expect(kernelLogFacts(log).map((f) => ({ line: f.record.line, ...f.fact }))).toMatchInlineSnapshot(`
      [
        {
          "device": {
            "bdf": "0000:3a:00.0",
            "ctrl": null,
            "driver": "pcieport",
            "name": "0000:3a:00.0",
          },
          "kind": "card_not_present",
          "line": 1,
          "slot": "12",
        },
        {
          "device": {
            "bdf": "0000:3b:00.3",
            "ctrl": null,
            "driver": "pci",
            "name": "0000:3b:00.3",
          },
          "group": 61,
          "kind": "iommu_group_removed",
          "line": 4,
        },
        {
          "classCode": "010802",
          "detail": "PCIe Endpoint",
          "device": {
            "bdf": "0000:3b:00.5",
            "ctrl": null,
            "driver": "pci",
            "name": "0000:3b:00.5",
          },
          "deviceId": "5004",
          "headerType": "00",
          "kind": "pci_enumerated",
          "line": 7,
          "vendor": "1ded",
        },
        {
          "device": {
            "bdf": "0000:3b:00.5",
            "ctrl": null,
            "driver": "pci",
            "name": "0000:3b:00.5",
          },
          "group": 63,
          "kind": "iommu_group_added",
          "line": 10,
        },
        {
          "bdf": "0000:3b:00.5",
          "ctrl": "nvme5",
          "device": {
            "bdf": null,
            "ctrl": "nvme5",
            "driver": "nvme",
            "name": "nvme5",
          },
          "kind": "nvme_pci_function",
          "line": 13,
        },
        {
          "device": {
            "bdf": null,
            "ctrl": "nvme5",
            "driver": "nvme",
            "name": "nvme5",
          },
          "kind": "nvme_not_ready",
          "line": 16,
          "stage": "initialisation",
        },
        {
          "ctrl": "nvme5",
          "device": {
            "bdf": null,
            "ctrl": "nvme5",
            "driver": "nvme",
            "name": "nvme5",
          },
          "kind": "nvme_removed_after_probe_failure",
          "line": 19,
          "status": -19,
        },
        {
          "bdf": "0000:3b:00.5",
          "device": {
            "bdf": "0000:3b:00.5",
            "ctrl": null,
            "driver": "nvme",
            "name": "0000:3b:00.5",
          },
          "driver": "nvme",
          "error": -12,
          "form": "dev_err",
          "kind": "probe_failed",
          "line": 22,
        },
        {
          "count": 10,
          "device": {
            "bdf": "0000:3b:00.4",
            "ctrl": null,
            "driver": "vfio-pci",
            "name": "0000:3b:00.4",
          },
          "kind": "vfio_request_relayed",
          "line": 25,
        },
        {
          "comm": "csi-plugin",
          "device": {
            "bdf": "0000:3b:00.4",
            "ctrl": null,
            "driver": "vfio-pci",
            "name": "0000:3b:00.4",
          },
          "kind": "vfio_device_in_use",
          "line": 28,
          "pid": 2931,
        },
      ]
    `);
  });

  it("reads /dev/kmsg with caller ids and a VMD (5-digit) PCI domain", () => {
    const log = parseKmsg(fixture("synthetic/kmsg/vmd-caller-dev-kmsg.txt")).value;
    expect(
      kernelLogFacts(log).map((f) => [f.record.seq, f.fact.kind, f.fact.device.bdf ?? f.fact.device.ctrl]),
    ).toMatchInlineSnapshot(`
      [
        [
          5120,
          "pci_enumerated",
          "10000:01:00.0",
        ],
        [
          5121,
          "iommu_group_added",
          "10000:01:00.0",
        ],
        [
          5122,
          "nvme_pci_function",
          "nvme11",
        ],
        [
          5123,
          "nvme_removed_after_probe_failure",
          "nvme11",
        ],
        [
          5130,
          "vfio_blocked_until_released",
          "10000:01:00.0",
        ],
      ]
    `);
  });

  it("joins indented continuation lines in dmesg -r and dmesg, and reads the older probe-failure form", () => {
    const raw = parseDmesg(fixture("synthetic/kmsg/alinux2-4.19-dmesg-r.txt")).value;
    const plain = parseDmesg(fixture("synthetic/kmsg/alinux2-4.19-dmesg.txt")).value;
    expect({ raw: raw.records.map(row), plain: plain.records.map(row) }).toMatchInlineSnapshot(`
      {
        "plain": [
          "L1 2210087114990us "pci 0000:5e:00.1: [1ded:5004] type 00 class 0x010802"",
          "L2 2210087120001us "nvme nvme2: pci function 0000:5e:00.1"",
          "L3 2210087201110us "nvme: probe of 0000:5e:00.1 failed with error -12"",
          "L4 2210088000001us "WARNING: CPU: 17 PID: 2931 at drivers/base/dd.c:537 really_probe+0x2ab/0x380\\nModules linked in: vfio_pci vfio_iommu_type1 nvme nvme_core"",
          "L6 2210090000001us "vfio-pci: probe of 0000:5e:00.2 failed with error -22"",
        ],
        "raw": [
          "L1 2210087114990us <0.6> "pci 0000:5e:00.1: [1ded:5004] type 00 class 0x010802"",
          "L2 2210087115202us <0.6> "pci 0000:5e:00.1: Adding to iommu group 88"",
          "L3 2210087120001us <0.6> "nvme nvme2: pci function 0000:5e:00.1"",
          "L4 2210087201110us <0.4> "nvme: probe of 0000:5e:00.1 failed with error -12"",
          "L5 2210088000001us <0.4> "WARNING: CPU: 17 PID: 2931 at drivers/base/dd.c:537 really_probe+0x2ab/0x380\\nModules linked in: vfio_pci vfio_iommu_type1 nvme nvme_core"",
          "L7 2210088000050us <0.4> "CPU: 17 PID: 2931 Comm: csi-plugin Not tainted 4.19.91-27.al7.x86_64 #1"",
          "L8 2210090000001us <0.3> "vfio-pci: probe of 0000:5e:00.2 failed with error -22"",
        ],
      }
    `);
    expect(
      kernelLogFacts(raw)
        .filter((f) => f.fact.kind === "probe_failed")
        .map((f) => f.fact),
    ).toMatchInlineSnapshot(`
      [
        {
          "bdf": "0000:5e:00.1",
          "device": {
            "bdf": "0000:5e:00.1",
            "ctrl": null,
            "driver": "nvme",
            "name": "0000:5e:00.1",
          },
          "driver": "nvme",
          "error": -12,
          "form": "pr_warn",
          "kind": "probe_failed",
        },
        {
          "bdf": "0000:5e:00.2",
          "device": {
            "bdf": "0000:5e:00.2",
            "ctrl": null,
            "driver": "vfio-pci",
            "name": "0000:5e:00.2",
          },
          "driver": "vfio-pci",
          "error": -22,
          "form": "pr_warn",
          "kind": "probe_failed",
        },
      ]
    `);
  });

  it("strips the journal's host and `kernel:` and marks the reboot", () => {
    const log = parseDmesg(fixture("synthetic/kmsg/journal-short-monotonic.txt")).value;
    expect({ ...summary(log), rows: log.records.map(row) }).toMatchInlineSnapshot(`
      {
        "bootBreaks": [
          5,
        ],
        "firstSeq": null,
        "lastSeq": null,
        "lost": [],
        "records": 4,
        "rows": [
          "L2 1204111us "pci 0000:3b:00.5: [1ded:5004] type 00 class 0x010802"",
          "L3 1843212918502us "nvme nvme5: pci function 0000:3b:00.5"",
          "L4 1843212931902us "nvme nvme5: Removing after probe failure status: -19"",
          "L6 0us "Linux version 5.10.134-16.al8.x86_64"",
        ],
        "source": "journal",
      }
    `);
  });
});

describe("classifyKernelMessage", () => {
  const nvme5 = { driver: "nvme", name: "nvme5", bdf: null, ctrl: "nvme5" };
  const pciX = { driver: "pci", name: "0000:3b:00.5", bdf: "0000:3b:00.5", ctrl: null };
  const vfio4 = { driver: "vfio-pci", name: "0000:3b:00.4", bdf: "0000:3b:00.4", ctrl: null };
  it.each([
    [
      "pcieport 0000:3a:00.0: pciehp: Slot(12): Card not present",
      {
        kind: "card_not_present",
        device: { driver: "pcieport", name: "0000:3a:00.0", bdf: "0000:3a:00.0", ctrl: null },
        slot: "12",
      },
    ],
    [
      "pci 0000:3b:00.5: [1ded:5004] type 00 class 0x010802",
      {
        kind: "pci_enumerated",
        device: pciX,
        vendor: "1ded",
        deviceId: "5004",
        headerType: "00",
        classCode: "010802",
        detail: null,
      },
    ],
    ["pci 0000:3b:00.5: Adding to iommu group 63", { kind: "iommu_group_added", device: pciX, group: 63 }],
    [
      "pci 0000:3b:00.5: Removing from iommu group 63",
      { kind: "iommu_group_removed", device: pciX, group: 63 },
    ],
    [
      "nvme nvme5: pci function 0000:3b:00.5",
      { kind: "nvme_pci_function", device: nvme5, ctrl: "nvme5", bdf: "0000:3b:00.5" },
    ],
    [
      "nvme nvme5: Device not ready; aborting initialisation, CSTS=0x0",
      { kind: "nvme_not_ready", device: nvme5, stage: "initialisation" },
    ],
    [
      "nvme nvme5: Device not ready; aborting reset",
      { kind: "nvme_not_ready", device: nvme5, stage: "reset" },
    ],
    [
      "nvme nvme5: Removing after probe failure status: -19",
      { kind: "nvme_removed_after_probe_failure", device: nvme5, ctrl: "nvme5", status: -19 },
    ],
    [
      "nvme 0000:3b:00.5: probe with driver nvme failed with error -12",
      {
        kind: "probe_failed",
        device: { ...pciX, driver: "nvme" },
        bdf: "0000:3b:00.5",
        driver: "nvme",
        error: -12,
        form: "dev_err",
      },
    ],
    [
      "nvme: probe of 0000:3B:00.5 failed with error -12",
      {
        kind: "probe_failed",
        device: { driver: "nvme", name: "0000:3B:00.5", bdf: "0000:3b:00.5", ctrl: null },
        bdf: "0000:3b:00.5",
        driver: "nvme",
        error: -12,
        form: "pr_warn",
      },
    ],
    [
      "vfio-pci 0000:3b:00.4: Relaying device request to user (#10)",
      { kind: "vfio_request_relayed", device: vfio4, count: 10 },
    ],
    [
      'vfio-pci 0000:3b:00.4: Device is currently in use, task "csi-plugin" (2931) blocked until device is released',
      { kind: "vfio_device_in_use", device: vfio4, comm: "csi-plugin", pid: 2931 },
    ],
    [
      'vfio-pci 0000:3b:00.4: Device is currently in use, task "a "quoted" one" (7) blocked until device is released',
      { kind: "vfio_device_in_use", device: vfio4, comm: 'a "quoted" one', pid: 7 },
    ],
    [
      "vfio-pci 0000:3b:00.4: No device request channel registered, blocked until released by user",
      { kind: "vfio_blocked_until_released", device: vfio4 },
    ],
  ])("classifies %j", (text, want) => {
    expect(classifyKernelMessage(text), text).toEqual(want);
  });

  it.each([
    "nvme nvme5: pci function not-a-bdf",
    "nvme 0000:3b:00.5: pci function 0000:3b:00.5",
    "nvme nvme5: Removing after probe failure status: lots",
    "pci 0000:3b:00.5: [1ded:5004] type 00 class 0x01080",
    "pci 0000:3b:00.5: BAR 0 [mem 0x4000080000-0x40000fffff 64bit]",
    "EXT4-fs (vda): mounted filesystem",
    "random: crng reseeded due to virtual machine fork",
    "Linux version 6.18.44",
    "",
  ])("returns null for %j", (text) => {
    expect(classifyKernelMessage(text)).toBeNull();
  });

  it.each([
    ["nvme nvme5: pci function 0000:3b:00.5", { driver: "nvme", name: "nvme5", bdf: null, ctrl: "nvme5" }],
    ["virtio_blk virtio1: [vda] new size", { driver: "virtio_blk", name: "virtio1", bdf: null, ctrl: null }],
    ["pci 10000:01:00.0: Adding", { driver: "pci", name: "10000:01:00.0", bdf: "10000:01:00.0", ctrl: null }],
    ["EXT4-fs (vda): mounted", null],
    ["rcu: \tRCU restricting CPUs", null],
  ])("reads the device prefix of %j", (text, want) => {
    expect(kernelMessageDevice(text)?.device ?? null).toEqual(want);
  });
});

describe("unescapeKmsg", () => {
  it.each([
    ["plain", "plain"],
    ["rcu: \\x09RCU restricting", "rcu: \tRCU restricting"],
    ["a backslash \\x5c and caf\\xc3\\xa9", "a backslash \\ and café"],
    ["quote \\x22x\\x22 and newline\\x0a", 'quote "x" and newline\n'],
    ["bad \\xzz and \\x4", "bad \\xzz and \\x4"],
    ["invalid utf-8 \\xff\\xfe", "invalid utf-8 \uFFFD\uFFFD"],
  ])("%j -> %j", (text, want) => {
    expect(unescapeKmsg(text)).toBe(want);
  });
});

describe("kernel log parsers on damaged input", () => {
  it("drops a /dev/kmsg record cut mid-line and says so", () => {
    const text = fixture("synthetic/kmsg/incident-6.6-dev-kmsg.txt");
    const r = parseKmsg(text.slice(0, text.indexOf("nvme nvme5: Removing")));
    expect(issuesOf(r).map((i) => [i.code, i.line])).toEqual([["truncated", 19]]);
    expect(r.value.records.at(-1)?.seq).toBe(98233);
  });

  it("reports malformed /dev/kmsg lines, orphan dictionary lines and a seq that goes back", () => {
    const text = [
      " SUBSYSTEM=pci",
      "6,100,5000,-;first",
      "6,99,5001,-;went back",
      "6,x,5002,-;bad seq",
      " DEVICE=+pci:0000:00:02.0",
      "6,101,5003,-no semicolon",
      "6,102,5004,-;last",
      " =novalue",
      "",
    ].join("\n");
    const r = parseKmsg(text);
    expect(issuesOf(r).map((i) => `${i.code}@${i.line}: ${i.message}`)).toMatchInlineSnapshot(`
      [
        "malformed_line@1: dictionary line with no readable record above it",
        "inconsistent@3: seq went back from 100 to 99 (two reads, or a reboot)",
        "malformed_line@4: not a kmsg record: "6,x,5002,-;bad seq"",
        "malformed_line@5: dictionary line with no readable record above it",
        "malformed_line@6: kmsg record without ";": "6,101,5003,-no semicolon"",
        "malformed_line@8: dictionary line without KEY=: " =novalue"",
      ]
    `);
    expect(r.value.records.map(row)).toMatchInlineSnapshot(`
      [
        "L2 #100 5000us <0.6> "first"",
        "L3 #99 5001us <0.6> "went back"",
        "L7 #102 5004us <0.6> "last"",
      ]
    `);
  });

  it("reports malformed dmesg lines and continuation lines with no record", () => {
    const text = [
      "   orphan continuation",
      "<x>[    1.000000] bad prio",
      "[  1.0x] bad ts",
      "free text",
      "[    2.000000] ok",
      "",
    ].join("\n");
    const r = parseDmesg(text);
    expect(issuesOf(r).map((i) => [i.code, i.line])).toEqual([
      ["malformed_line", 1],
      ["malformed_line", 2],
      ["malformed_line", 3],
      ["malformed_line", 4],
    ]);
    expect(r.value.records.map(row)).toEqual(['L5 2000000us "ok"']);
  });

  it("reads dmesg -r lines printed without timestamps (printk.time=0)", () => {
    const r = parseDmesg("<6>pci 0000:00:02.0: Adding to iommu group 2\n");
    expect(issuesOf(r)).toEqual([]);
    expect(r.value.records.map(row)).toEqual(['L1 -us <0.6> "pci 0000:00:02.0: Adding to iommu group 2"']);
  });

  it("undoes a long run of escapes (a quarter-million bytes) without running out of stack", () => {
    const r = parseKmsg(`6,1,1,-;${"\\x09".repeat(250_000)}\n`);
    expect(issuesOf(r)).toEqual([]);
    expect(r.value.records[0]?.text).toBe("\t".repeat(250_000));
  });

  it("skips a line over the size limit", () => {
    const r = parseKmsg(`6,1,1,-;${"x".repeat(MAX_LINE_CHARS)}\n6,2,2,-;next\n`);
    expect(issuesOf(r).map((i) => [i.code, i.line])).toEqual([["too_large", 1]]);
    expect(r.value.records.map((x) => x.seq)).toEqual([2]);
  });
});

describe("kernel log parsers on large logs", () => {
  const WINDOW = 4 * 1024 * 1024;

  it("reads a dictionary whose lines straddle the end of a byte window (4 MB)", () => {
    const record = "pci 0000:3b:00.5: [1ded:5004] type 00 class 0x010802";
    const first = " SUBSYSTEM=pci";
    const second = " DEVICE=+pci:0000:3b:00.5";
    const line = (seq: number, message: string) => `6,${seq},${seq * 1000},-;${message}\n`;
    // Records up to where the dictionary's first line ends just inside the window and its second one
    // crosses the window's end.
    const start = WINDOW - (line(9_999_999, record).length + first.length) - 3;
    const fill: string[] = [];
    let size = 0;
    let seq = 1;
    while (start - size > 200) {
      const l = line(seq++, "x".repeat(60));
      fill.push(l);
      size += l.length;
    }
    const pad = line(seq++, "");
    fill.push(line(seq - 1, "x".repeat(start - size - pad.length)));
    const text = `${fill.join("")}${line(9_999_999, record)}${first}\n${second}\n${line(10_000_000, "after")}`;
    expect(text.indexOf(`${first}\n`) + first.length).toBeLessThan(WINDOW);
    expect(text.indexOf(`${second}\n`) + second.length).toBeGreaterThanOrEqual(WINDOW);
    const r = parseKmsg(text);
    expect(issuesOf(r)).toEqual([]);
    const records = r.value.records;
    expect(records.slice(-2).map((x) => [x.text, x.dict])).toEqual([
      [record, { SUBSYSTEM: "pci", DEVICE: "+pci:0000:3b:00.5" }],
      ["after", {}],
    ]);
  });

  it("reads logs of several byte windows like the records they repeat", () => {
    const kmsg = fixture("real/kmsg/dev-kmsg-boot.txt");
    const dmesg = fixture("real/kmsg/dmesg-r-boot.txt");
    for (const [text, parse] of [
      [kmsg, parseKmsg],
      [dmesg, parseDmesg],
    ] as const) {
      const one = parse(text).value.records.map(({ line: _l, seq: _s, ...rest }) => JSON.stringify(rest));
      const times = Math.ceil((9 * 1024 * 1024) / text.length);
      const r = parse(text.repeat(times));
      // /dev/kmsg's seq starts over with each copy; nothing else is wrong.
      expect(issuesOf(r).filter((i) => i.code !== "inconsistent" && !/more issues/.test(i.message))).toEqual(
        [],
      );
      expect(r.value.recordCount).toBe(one.length * times);
      const wrong = r.value.records.flatMap(({ line, seq: _s, ...rest }, i) =>
        JSON.stringify(rest) === one[i % one.length] ? [] : [line],
      );
      expect(wrong).toEqual([]);
    }
  });

  it("builds records once and hands kernelLogFacts the same objects", () => {
    const log = parseKmsg(fixture("synthetic/kmsg/incident-6.6-dev-kmsg.txt")).value;
    expect(log.recordCount).toBe(11);
    const facts = kernelLogFacts(log);
    const records = log.records;
    expect(log.records).toBe(records);
    expect(facts.every((f) => records.includes(f.record))).toBe(true);
    expect(kernelLogFacts(log).map((f) => f.record)).toEqual(facts.map((f) => f.record));
    expect({ ...log }.records).toBe(records);
    expect(JSON.parse(JSON.stringify(log)).records).toHaveLength(11);
  });
});

describe("readKernelLog", () => {
  it("reads dev/kmsg from the bundle", () => {
    const r = readKernelLog(
      new EvidenceReader({ "dev/kmsg": file(fixture("synthetic/kmsg/vmd-caller-dev-kmsg.txt")) }),
    );
    expect(issuesOf(r)).toEqual([]);
    expect(r.value && summary(r.value)).toMatchInlineSnapshot(`
      {
        "bootBreaks": [],
        "firstSeq": 5120,
        "lastSeq": 5130,
        "lost": [
          {
            "afterSeq": 5123,
            "beforeSeq": 5130,
            "count": 6,
            "line": 5,
          },
        ],
        "records": 5,
        "source": "kmsg",
      }
    `);
  });

  it("is null without issues when the bundle has no kernel log", () => {
    expect(readKernelLog(new EvidenceReader({}))).toEqual({ ok: true, value: null });
  });

  it.each<[EvidenceEntry, string]>([
    [
      { kind: "error", op: "read", code: "EACCES", message: "Permission denied" },
      "dev/kmsg not readable: EACCES Permission denied",
    ],
    [{ kind: "timeout", op: "read", afterMs: 2000 }, "dev/kmsg not readable: timed out after 2000 ms"],
    [{ kind: "dir", names: [] }, "dev/kmsg not readable: shipped as dir"],
  ])("reports an unreadable dev/kmsg (%j)", (entry, message) => {
    expect(readKernelLog(new EvidenceReader({ "dev/kmsg": entry }))).toEqual({
      ok: false,
      value: null,
      issues: [{ code: "missing", path: ["dev/kmsg"], message }],
    });
  });

  it("reports a capped dev/kmsg and the record the cap cut", () => {
    const r = readKernelLog(new EvidenceReader({ "dev/kmsg": file("6,1,1,-;one\n6,2,2,-;tw", true) }));
    expect(issuesOf(r).map((i) => [i.code, i.path, i.line ?? null])).toEqual([
      ["truncated", ["dev/kmsg"], 2],
      ["truncated", ["dev/kmsg"], null],
    ]);
    expect(r.value?.records.length).toBe(1);
  });
});
