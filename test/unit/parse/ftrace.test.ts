import { readdirSync, readFileSync, statSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import type { EvidenceEntry } from "../../../shared/contracts/snapshot.js";
import { EvidenceReader } from "../../../shared/parse/evidence.js";
import {
  parseFtraceFilter,
  parsePerCpuStats,
  parseTrace,
  parseTraceClock,
  readTrace,
  type Trace,
  type TraceEvent,
  traceCoverage,
  traceCovers,
} from "../../../shared/parse/ftrace.js";
import { issuesOf, MAX_LINE_CHARS } from "../../../shared/parse/result.js";

const FIXTURES = fileURLToPath(new URL("../../fixtures/", import.meta.url));
const fixture = (path: string) => readFileSync(join(FIXTURES, path), "utf8");

/** One event on one line, every field that is set, so a snapshot shows the whole parse compactly. */
function row(ev: TraceEvent): string {
  const parts = [
    `L${ev.line}`,
    `[${ev.cpu}]`,
    ev.tsRaw === null ? `${ev.ts}s` : `${ev.tsRaw}t`,
    `${ev.comm}/${ev.pid}`,
  ];
  if (ev.tgid !== null) parts.push(`tgid=${ev.tgid}`);
  parts.push(`flags=${ev.flags ?? "-"}`, ev.kind);
  if (ev.event !== null) parts.push(`event=${ev.event}`);
  if (ev.func !== ev.event) parts.push(ev.func === "" ? '""' : ev.func);
  if (ev.module !== null) parts.push(`[${ev.module}]`);
  if (ev.parent !== null) parts.push(`<-${ev.parent}`);
  if (Object.keys(ev.args).length > 0) parts.push(JSON.stringify(ev.args));
  if (ev.ret !== null) parts.push(`ret=${ev.ret}`);
  if (ev.kind === "marker" || ev.kind === "other") parts.push(JSON.stringify(ev.text));
  return parts.join(" ");
}

function summary(text: string, maxRows = 100) {
  const r = parseTrace(text);
  const t: Trace = r.value;
  return {
    issues: issuesOf(r).map((i) => `${i.code}@${i.line ?? "-"}: ${i.message}`),
    header: t.header,
    tsUnit: t.tsUnit,
    events: t.events.length,
    rows: t.events.slice(0, maxRows).map(row),
    lost: t.lost,
    bufferStarted: t.bufferStarted,
    wallAnchors: t.wallAnchors.map((a) => `L${a.line} [${a.cpu}] ${a.ts} -> ${a.wall}`),
    graphReturns: t.graphReturns.map((g) => `L${g.line} [${g.cpu}] ${g.func} = ${g.retText} (${g.ret})`),
  };
}

/** Builds bundle evidence from a directory laid out like the host (`sys/kernel/tracing/...`). */
function evidenceFromDir(dir: string, prefix = ""): Record<string, EvidenceEntry> {
  const out: Record<string, EvidenceEntry> = {};
  const walk = (abs: string, rel: string) => {
    const names = readdirSync(abs).sort();
    out[`${rel}`] = { kind: "dir", names };
    for (const name of names) {
      const path = join(abs, name);
      if (statSync(path).isDirectory()) walk(path, `${rel}${name}/`);
      else {
        const data = readFileSync(path, "utf8");
        out[`${rel}${name}`] = { kind: "file", data, encoding: "utf8", bytes: Buffer.byteLength(data) };
      }
    }
  };
  walk(join(FIXTURES, dir), prefix);
  return out;
}

describe("parseTrace on real tracefs captures (kernel 6.18, nop tracer, markers, sched events)", () => {
  it.each([
    ["local-default", { events: 22, flagColumns: 5, tgidColumn: false, tsUnit: "seconds", wallAnchors: 2 }],
    ["notirq-tgid", { events: 22, flagColumns: 0, tgidColumn: true, tsUnit: "seconds", wallAnchors: 2 }],
    ["tgid", { events: 22, flagColumns: 5, tgidColumn: true, tsUnit: "seconds", wallAnchors: 2 }],
    ["clock-counter", { events: 22, flagColumns: 5, tgidColumn: false, tsUnit: "ticks", wallAnchors: 2 }],
    ["clock-uptime", { events: 22, flagColumns: 5, tgidColumn: false, tsUnit: "ticks", wallAnchors: 2 }],
    ["clock-x86-tsc", { events: 22, flagColumns: 5, tgidColumn: false, tsUnit: "ticks", wallAnchors: 2 }],
    ["clock-global", { events: 22, flagColumns: 5, tgidColumn: false, tsUnit: "seconds", wallAnchors: 2 }],
    ["wrapped", { events: 355, flagColumns: 5, tgidColumn: false, tsUnit: "seconds", wallAnchors: 2 }],
  ])("reads every line of %s without issues", (name, want) => {
    const s = summary(fixture(`real/ftrace/${name}/trace`), 0);
    expect(s.issues, name).toEqual([]);
    expect(
      {
        events: s.events,
        flagColumns: s.header.flagColumns,
        tgidColumn: s.header.tgidColumn,
        tsUnit: s.tsUnit,
        wallAnchors: s.wallAnchors.length,
      },
      name,
    ).toEqual(want);
  });

  it("parses the first lines of each capture like this", () => {
    const dirs = ["local-default", "notirq-tgid", "tgid", "clock-counter", "clock-uptime", "clock-x86-tsc"];
    const firstRows = Object.fromEntries(
      dirs.map((d) => [
        d,
        parseTrace(fixture(`real/ftrace/${d}/trace`))
          .value.events.slice(4, 6)
          .map(row),
      ]),
    );
    expect(firstRows).toMatchInlineSnapshot(`
      {
        "clock-counter": [
          "L17 [0] 7t sh/6789 flags=...1. marker event=tracing_mark_write "WALL 1795716245.353706864"",
          "L18 [0] 8t sh/6789 flags=..... other event=sched_process_exit {"comm":"sh","pid":"6789","prio":"120","group_dead":"true"} "comm=sh pid=6789 prio=120 group_dead=true"",
        ],
        "clock-uptime": [
          "L17 [0] 62086t sh/6809 flags=..... other event=sched_process_exit {"comm":"sh","pid":"6809","prio":"120","group_dead":"true"} "comm=sh pid=6809 prio=120 group_dead=true"",
          "L18 [0] 62086t true/6811 flags=..... other event=sched_process_exec {"filename":"/usr/bin/taskset","pid":"6811","old_pid":"6811"} "filename=/usr/bin/taskset pid=6811 old_pid=6811"",
        ],
        "clock-x86-tsc": [
          "L17 [0] 1304310129478t sh/6829 flags=...1. marker event=tracing_mark_write "WALL 1795716245.541367351"",
          "L18 [0] 1304310141234t sh/6829 flags=..... other event=sched_process_exit {"comm":"sh","pid":"6829","prio":"120","group_dead":"true"} "comm=sh pid=6829 prio=120 group_dead=true"",
        ],
        "local-default": [
          "L17 [0] 620.708886s sh/6729 flags=...1. marker event=tracing_mark_write "WALL 1795716245.174463273"",
          "L18 [0] 620.708894s sh/6729 flags=..... other event=sched_process_exit {"comm":"sh","pid":"6729","prio":"120","group_dead":"true"} "comm=sh pid=6729 prio=120 group_dead=true"",
        ],
        "notirq-tgid": [
          "L11 [0] 620.771334s sh/6749 tgid=6749 flags=- marker event=tracing_mark_write "WALL 1795716245.237026733"",
          "L12 [0] 620.77134s sh/6749 tgid=6749 flags=- other event=sched_process_exit {"comm":"sh","pid":"6749","prio":"120","group_dead":"true"} "comm=sh pid=6749 prio=120 group_dead=true"",
        ],
        "tgid": [
          "L17 [0] 620.811426s sh/6769 tgid=6769 flags=...1. marker event=tracing_mark_write "WALL 1795716245.277126263"",
          "L18 [0] 620.811431s sh/6769 tgid=6769 flags=..... other event=sched_process_exit {"comm":"sh","pid":"6769","prio":"120","group_dead":"true"} "comm=sh pid=6769 prio=120 group_dead=true"",
        ],
      }
    `);
  });

  it("reads the wrapped capture's header counters and its buffer-started annotation", () => {
    const s = summary(fixture("real/ftrace/wrapped/trace"), 0);
    expect({ header: s.header, bufferStarted: s.bufferStarted }).toMatchInlineSnapshot(`
      {
        "bufferStarted": [
          {
            "cpu": 0,
            "line": 163,
          },
        ],
        "header": {
          "cpus": 2,
          "entriesInBuffer": 355,
          "entriesWritten": 834,
          "flagColumns": 5,
          "overwritten": 479,
          "tgidColumn": false,
          "tracer": "nop",
        },
      }
    `);
  });

  it("reads the consuming per-CPU reader of a wrapped buffer: a LOST marker with its count", () => {
    expect(summary(fixture("real/ftrace/wrapped-trace-pipe-cpu0.txt"), 2)).toMatchInlineSnapshot(`
      {
        "bufferStarted": [],
        "events": 189,
        "graphReturns": [],
        "header": {
          "cpus": null,
          "entriesInBuffer": null,
          "entriesWritten": null,
          "flagColumns": null,
          "overwritten": null,
          "tgidColumn": null,
          "tracer": null,
        },
        "issues": [],
        "lost": [
          {
            "beforeTs": 621.299035,
            "count": 113,
            "cpu": 0,
            "line": 1,
          },
        ],
        "rows": [
          "L2 [0] 621.299035s sh/6917 flags=...1. marker event=tracing_mark_write "pipe fill 112"",
          "L3 [0] 621.29904s sh/6917 flags=...1. marker event=tracing_mark_write "pipe fill 113"",
        ],
        "tsUnit": "seconds",
        "wallAnchors": [],
      }
    `);
  });
});

describe("parseTrace on synthetic host traces", () => {
  const SYNTHETIC = {
    "current-kernel": "current-kernel/sys/kernel/tracing/trace",
    "alinux2-4.19": "alinux2-4.19/sys/kernel/debug/tracing/trace",
    "no-irq-info": "no-irq-info/trace",
    tgid: "tgid/trace",
    kprobes: "kprobes/trace",
    "lost-events": "lost-events/trace_pipe",
    "late-coverage": "late-coverage/sys/kernel/tracing/trace",
    "funcgraph-retval": "funcgraph-retval/trace",
  } as const;

  it.each([
    [
      "current-kernel",
      "5 flag columns; comms with spaces, dashes, slashes",
      { events: 11, flagColumns: 5, tracer: "function" },
    ],
    [
      "alinux2-4.19",
      "4 flag columns, 5-wide pids, sym-offset, modules",
      { events: 5, flagColumns: 4, tracer: "function" },
    ],
    ["no-irq-info", "no flag columns", { events: 3, flagColumns: 0, tracer: "function" }],
    ["tgid", "TGID column, known and (-------)", { events: 4, flagColumns: 5, tracer: "function" }],
    [
      "kprobes",
      "kprobe/kretprobe with split strings, a WALL marker",
      { events: 9, flagColumns: 5, tracer: "nop" },
    ],
    ["lost-events", "trace_pipe: no header, LOST markers", { events: 4, flagColumns: null, tracer: null }],
    ["late-coverage", "wrapped flood with buffer-started", { events: 6, flagColumns: 5, tracer: "function" }],
    [
      "funcgraph-retval",
      "function_graph return values only",
      { events: 0, flagColumns: null, tracer: "function_graph" },
    ],
  ] as const)("reads %s (%s) without issues", (name, _what, want) => {
    const s = summary(fixture(`synthetic/ftrace/${SYNTHETIC[name]}`));
    expect(s.issues, name).toEqual([]);
    expect({ events: s.events, flagColumns: s.header.flagColumns, tracer: s.header.tracer }, name).toEqual(
      want,
    );
  });

  it("parses each synthetic trace like this", () => {
    const all = Object.fromEntries(
      Object.entries(SYNTHETIC).map(([name, path]) => {
        const s = summary(fixture(`synthetic/ftrace/${path}`));
        const extra = {
          ...(s.lost.length > 0 ? { lost: s.lost } : {}),
          ...(s.bufferStarted.length > 0 ? { bufferStarted: s.bufferStarted } : {}),
          ...(s.wallAnchors.length > 0 ? { wallAnchors: s.wallAnchors } : {}),
          ...(s.graphReturns.length > 0 ? { graphReturns: s.graphReturns } : {}),
        };
        return [name, { header: s.header, rows: s.rows, ...extra }];
      }),
    );
    expect(all).toMatchInlineSnapshot(`
      {
        "alinux2-4.19": {
          "header": {
            "cpus": 64,
            "entriesInBuffer": 5,
            "entriesWritten": 5,
            "flagColumns": 4,
            "overwritten": 0,
            "tgidColumn": false,
            "tracer": "function",
          },
          "rows": [
            "L12 [17] 2210087.114211s csi-plugin/2931 flags=.... function bind_store <-drv_attr_store",
            "L13 [17] 2210087.114731s csi-plugin/2931 flags=.... function nvme_probe [nvme] <-local_pci_probe",
            "L14 [41] 2210090.002231s kworker/u128:1/30411 flags=.N.. function nvme_probe [nvme] <-local_pci_probe",
            "L15 [3] 2210090.100001s systemd-udevd/1022 flags=d... function vfio_pci_probe [vfio_pci] <-local_pci_probe",
            "L16 [17] 2210091.5s csi-plugin/2931 flags=...1 function nvme_reset_work [nvme] <-process_one_work",
          ],
        },
        "current-kernel": {
          "header": {
            "cpus": 96,
            "entriesInBuffer": 11,
            "entriesWritten": 11,
            "flagColumns": 5,
            "overwritten": 0,
            "tgidColumn": false,
            "tracer": "function",
          },
          "rows": [
            "L13 [17] 1843212.917902s csi-plugin/2931 flags=..... function bind_store <-drv_attr_store",
            "L14 [17] 1843212.918431s csi-plugin/2931 flags=..... function nvme_probe <-local_pci_probe",
            "L15 [17] 1843240.11422s kworker/17:2/1187 flags=..... function nvme_probe <-local_pci_probe",
            "L16 [5] 1843240.201877s systemd-udevd/812 flags=..... function drivers_probe_store <-bus_attr_store",
            "L17 [33] 1843241.0065s cloud-hyperviso/40213 flags=d..1. function unbind_store <-drv_attr_store",
            "L18 [33] 1843241.006512s csi-plugin/2931 flags=..... function bind_store <-drv_attr_store",
            "L19 [90] 1843241.105001s Socket Thread/77120 flags=..... function bind_store <-drv_attr_store",
            "L20 [11] 1843244.00015s jbd2/nvme2n1-8/1234 flags=..... function unbind_store <-drv_attr_store",
            "L21 [88] 1843250.000017s irq/88-pciehp/355 flags=...1. function nvme_probe <-local_pci_probe",
            "L22 [11] 1843251.330001s <...>/51234 flags=..... function bind_store <-drv_attr_store",
            "L23 [2] 1843251.4s <idle>/0 flags=dNh2. function nvme_probe <-local_pci_probe",
          ],
        },
        "funcgraph-retval": {
          "graphReturns": [
            "L7 [33] __driver_probe_device = -16 (-16)",
            "L8 [33] device_driver_attach = -16 (-16)",
            "L9 [33] bind_store = -16 (-16)",
            "L14 [17] nvme_probe = -19 (-19)",
            "L15 [17] mutex_unlock = 0x0 (0)",
          ],
          "header": {
            "cpus": null,
            "entriesInBuffer": null,
            "entriesWritten": null,
            "flagColumns": null,
            "overwritten": null,
            "tgidColumn": null,
            "tracer": "function_graph",
          },
          "rows": [],
        },
        "kprobes": {
          "header": {
            "cpus": 96,
            "entriesInBuffer": 9,
            "entriesWritten": 9,
            "flagColumns": 5,
            "overwritten": 0,
            "tgidColumn": false,
            "tracer": "nop",
          },
          "rows": [
            "L13 [17] 1843240.11422s kworker/17:2/1187 flags=..... kretprobe event=nvme_probe_ret nvme_probe [nvme] <-local_pci_probe {"ret":"-19"} ret=-19",
            "L14 [33] 1843241.00648s csi-plugin/2931 flags=..... kprobe event=unbind unbind_store {"drv":"nvme","dev":"0000:3b:00.5"}",
            "L15 [33] 1843241.006501s csi-plugin/2931 flags=..... kretprobe event=unbind_ret unbind_store <-drv_attr_store {"ret":"12"} ret=12",
            "L16 [33] 1843241.006512s csi-plugin/2931 flags=..... kprobe event=bind bind_store {"drv":"vfio-pci","dev":"0000:3b:00.5\\n"}",
            "L18 [33] 1843241.006559s csi-plugin/2931 flags=..... kretprobe event=bind_ret bind_store <-drv_attr_store {"ret":"-16"} ret=-16",
            "L19 [64] 1843242.0001s vmd-agent/9120 flags=..... kprobe event=bind bind_store {"drv":"nvme","dev":"10000:01:00.0\\n\\n"}",
            "L22 [64] 1843242.00014s vmd-agent/9120 flags=..... kretprobe event=bind_ret bind_store <-drv_attr_store {"ret":"0xfffffffffffffff0"} ret=-16",
            "L23 [33] 1843242.5s csi-plugin/2931 flags=..... kprobe event=bind bind_store {"drv":"vfio-pci","dev":"(fault)"}",
            "L24 [4] 1843297.550911s faultline-ag/7781 flags=...1. marker event=tracing_mark_write "WALL 1772532842.123456789"",
          ],
          "wallAnchors": [
            "L24 [4] 1843297.550911 -> 1772532842.123456789",
          ],
        },
        "late-coverage": {
          "bufferStarted": [
            {
              "cpu": 33,
              "line": 15,
            },
          ],
          "header": {
            "cpus": 96,
            "entriesInBuffer": 6,
            "entriesWritten": 918273,
            "flagColumns": 5,
            "overwritten": 918267,
            "tgidColumn": false,
            "tracer": "function",
          },
          "rows": [
            "L13 [17] 1843239.5s kworker/17:2/1187 flags=..... function nvme_probe <-local_pci_probe",
            "L14 [17] 1843239.50002s kworker/17:2/1187 flags=..... function _raw_spin_lock <-nvme_probe",
            "L16 [33] 1843241s csi-plugin/2931 flags=..... function _raw_spin_lock <-bind_store",
            "L17 [33] 1843241.006512s csi-plugin/2931 flags=..... function bind_store <-drv_attr_store",
            "L18 [17] 1843241.1s csi-plugin/2931 flags=..... function mutex_lock <-bind_store",
            "L19 [33] 1843241.2s csi-plugin/2931 flags=..... function mutex_unlock <-bind_store",
          ],
        },
        "lost-events": {
          "header": {
            "cpus": null,
            "entriesInBuffer": null,
            "entriesWritten": null,
            "flagColumns": null,
            "overwritten": null,
            "tgidColumn": null,
            "tracer": null,
          },
          "lost": [
            {
              "beforeTs": 1843240.11422,
              "count": 2048,
              "cpu": 17,
              "line": 2,
            },
            {
              "beforeTs": 1843244.001,
              "count": null,
              "cpu": 33,
              "line": 5,
            },
            {
              "beforeTs": null,
              "count": 17,
              "cpu": 5,
              "line": 7,
            },
          ],
          "rows": [
            "L1 [17] 1843212.917902s csi-plugin/2931 flags=..... function bind_store <-drv_attr_store",
            "L3 [17] 1843240.11422s kworker/17:2/1187 flags=..... function nvme_probe <-local_pci_probe",
            "L4 [33] 1843241.006512s csi-plugin/2931 flags=..... function bind_store <-drv_attr_store",
            "L6 [33] 1843244.001s csi-plugin/2931 flags=..... function bind_store <-drv_attr_store",
          ],
        },
        "no-irq-info": {
          "header": {
            "cpus": 32,
            "entriesInBuffer": 3,
            "entriesWritten": 3,
            "flagColumns": 0,
            "overwritten": 0,
            "tgidColumn": false,
            "tracer": "function",
          },
          "rows": [
            "L7 [17] 77102.917902s csi-plugin/2931 flags=- function bind_store <-drv_attr_store",
            "L8 [17] 77102.918431s kworker/17:2/1187 flags=- function nvme_probe <-local_pci_probe",
            "L9 [5] 77103.000001s containerd-shim/40112 flags=- function unbind_store <-drv_attr_store",
          ],
        },
        "tgid": {
          "header": {
            "cpus": 96,
            "entriesInBuffer": 4,
            "entriesWritten": 4,
            "flagColumns": 5,
            "overwritten": 0,
            "tgidColumn": true,
            "tracer": "function",
          },
          "rows": [
            "L13 [17] 1843212.917902s csi-plugin/2931 tgid=2907 flags=..... function bind_store <-drv_attr_store",
            "L14 [17] 1843240.11422s kworker/17:2/1187 flags=..... function nvme_probe <-local_pci_probe",
            "L15 [33] 1843241.0065s cloud-hyperviso/40213 tgid=40188 flags=d..1. function unbind_store <-drv_attr_store",
            "L16 [11] 1843251.330001s <...>/51234 flags=..... function bind_store <-drv_attr_store",
          ],
        },
      }
    `);
  });

  it("keeps every field of a function event and of a kprobe whose string was split", () => {
    const events = parseTrace(fixture("synthetic/ftrace/kprobes/trace")).value.events;
    expect(events.find((e) => e.event === "bind")).toMatchInlineSnapshot(`
      {
        "args": {
          "dev": "0000:3b:00.5
      ",
          "drv": "vfio-pci",
        },
        "comm": "csi-plugin",
        "cpu": 33,
        "event": "bind",
        "flags": ".....",
        "func": "bind_store",
        "kind": "kprobe",
        "line": 16,
        "module": null,
        "parent": null,
        "pid": 2931,
        "ret": null,
        "text": "(bind_store+0x0/0x150) drv="vfio-pci" dev="0000:3b:00.5
      "",
        "tgid": null,
        "ts": 1843241.006512,
        "tsRaw": null,
        "tsUnit": "seconds",
      }
    `);
    const fn = parseTrace(fixture("synthetic/ftrace/tgid/trace")).value.events[0];
    expect(fn).toMatchInlineSnapshot(`
      {
        "args": {},
        "comm": "csi-plugin",
        "cpu": 17,
        "event": null,
        "flags": ".....",
        "func": "bind_store",
        "kind": "function",
        "line": 13,
        "module": null,
        "parent": "drv_attr_store",
        "pid": 2931,
        "ret": null,
        "text": "",
        "tgid": 2907,
        "ts": 1843212.917902,
        "tsRaw": null,
        "tsUnit": "seconds",
      }
    `);
  });
});

describe("parseTrace line variants", () => {
  it.each([
    [
      "a comm ending in -<digits> anchors on the last one",
      "  jbd2/nvme2n1-8-1234    [011] ..... 12.000150: f <-g",
      "L1 [11] 12.00015s jbd2/nvme2n1-8/1234 flags=..... function f <-g",
    ],
    [
      "a comm with a space",
      "   Socket Thread-77120   [090] ..... 1843241.105001: bind_store <-drv_attr_store",
      "L1 [90] 1843241.105001s Socket Thread/77120 flags=..... function bind_store <-drv_attr_store",
    ],
    [
      "a comm with [ in it",
      " weird[1]-77 [003] ..... 5.000001: f <-g",
      "L1 [3] 5.000001s weird[1]/77 flags=..... function f <-g",
    ],
    [
      "the idle task",
      "          <idle>-0       [002] dNh2. 1843251.400000: nvme_probe <-local_pci_probe",
      "L1 [2] 1843251.4s <idle>/0 flags=dNh2. function nvme_probe <-local_pci_probe",
    ],
    [
      "a comm missing from saved_cmdlines",
      "           <...>-51234   [011] ..... 1843251.330001: bind_store <-drv_attr_store",
      "L1 [11] 1843251.330001s <...>/51234 flags=..... function bind_store <-drv_attr_store",
    ],
    [
      "a four-digit cpu",
      " kworker/1023:1-99 [1023] d.s5. 400.000001: run_timer_softirq <-handle_softirqs",
      "L1 [1023] 400.000001s kworker/1023:1/99 flags=d.s5. function run_timer_softirq <-handle_softirqs",
    ],
    [
      "a tab before the cpu",
      "     kubelet-4123\t[004] ..... 77.000001: f <-g",
      "L1 [4] 77.000001s kubelet/4123 flags=..... function f <-g",
    ],
    [
      "print-parent off",
      "      csi-plugin-2931    [017] ..... 1843212.917902: bind_store",
      "L1 [17] 1843212.917902s csi-plugin/2931 flags=..... function bind_store",
    ],
    [
      "the sym-addr option",
      "      csi-plugin-2931    [017] ..... 1843212.917902: bind_store <ffffffffa0123456> <-drv_attr_store <ffffffffa0000010>",
      "L1 [17] 1843212.917902s csi-plugin/2931 flags=..... function bind_store <-drv_attr_store",
    ],
    [
      "func-no-repeats",
      "      csi-plugin-2931    [017] ..... 1843212.917902: bind_store <-drv_attr_store (repeats: 3, delta: 12)",
      'L1 [17] 1843212.917902s csi-plugin/2931 flags=..... function bind_store <-drv_attr_store {"repeats":"3","delta":"12"}',
    ],
    [
      "a parent in a module (the module is the function's, so none)",
      "    kworker/17:2-1187    [017] ..... 1843240.114220: blk_mq_run_hw_queue <-nvme_queue_rq [nvme]",
      "L1 [17] 1843240.11422s kworker/17:2/1187 flags=..... function blk_mq_run_hw_queue <-nvme_queue_rq",
    ],
    [
      "a nanosecond fraction",
      "      csi-plugin-2931    [017] ..... 1843212.917902123: bind_store <-drv_attr_store",
      "L1 [17] 1843212.917902123s csi-plugin/2931 flags=..... function bind_store <-drv_attr_store",
    ],
    [
      "a tracepoint with fields",
      "      csi-plugin-2931    [017] ..... 1843212.917902: sched_process_exec: filename=/usr/bin/sh pid=2931 old_pid=2931",
      'L1 [17] 1843212.917902s csi-plugin/2931 flags=..... other event=sched_process_exec {"filename":"/usr/bin/sh","pid":"2931","old_pid":"2931"} "filename=/usr/bin/sh pid=2931 old_pid=2931"',
    ],
    [
      "a stack trace event",
      "      csi-plugin-2931    [017] ..... 1843212.917902: <stack trace>",
      'L1 [17] 1843212.917902s csi-plugin/2931 flags=..... other "" "<stack trace>"',
    ],
    [
      "a kretprobe on a module function",
      "    kworker/17:2-1187    [017] ..... 1843240.114220: nvme_probe_ret: (local_pci_probe+0x48/0xb0 <- nvme_probe [nvme]) ret=-19",
      'L1 [17] 1843240.11422s kworker/17:2/1187 flags=..... kretprobe event=nvme_probe_ret nvme_probe [nvme] <-local_pci_probe {"ret":"-19"} ret=-19',
    ],
    [
      "a kprobe on a module symbol",
      "    kworker/17:2-1187    [017] ..... 1843240.114200: probe: (nvme_probe+0x0/0x5a0 [nvme]) id=0x5004",
      'L1 [17] 1843240.1142s kworker/17:2/1187 flags=..... kprobe event=probe nvme_probe [nvme] {"id":"0x5004"}',
    ],
    [
      "an x64 return value as a negative errno",
      "      vmd-agent-9120     [064] ..... 1843242.000140: bind_ret: (drv_attr_store+0x2b/0x40 <- bind_store) ret=0xfffffffffffffff0",
      'L1 [64] 1843242.00014s vmd-agent/9120 flags=..... kretprobe event=bind_ret bind_store <-drv_attr_store {"ret":"0xfffffffffffffff0"} ret=-16',
    ],
    [
      "a marker with an empty body",
      "              sh-6729    [000] ...1.   620.708886: tracing_mark_write: ",
      'L1 [0] 620.708886s sh/6729 flags=...1. marker event=tracing_mark_write ""',
    ],
  ])("reads %s", (_title, line, want) => {
    const r = parseTrace(`${line}\n`);
    expect({ issues: issuesOf(r), rows: r.value.events.map(row) }, line).toEqual({
      issues: [],
      rows: [want],
    });
  });

  it.each([
    ["a column legend", "#           TASK-PID     CPU#  |||||  TIMESTAMP  FUNCTION"],
    ["a stack frame", " => drv_attr_store"],
    ["a blank line", ""],
    ["blank padding", "      "],
  ])("ignores %s without issues", (_title, line) => {
    const r = parseTrace(`${line}\n`);
    expect({ issues: issuesOf(r), events: r.value.events.length }, line).toEqual({ issues: [], events: 0 });
  });
});

describe("parseTrace on damaged input", () => {
  const head = fixture("synthetic/ftrace/current-kernel/sys/kernel/tracing/trace");

  it("drops a final line without its newline and reports it as truncated", () => {
    const cut = head.slice(0, head.length - 30);
    const r = parseTrace(cut);
    expect(issuesOf(r)).toMatchInlineSnapshot(`
      [
        {
          "code": "truncated",
          "line": 23,
          "message": "last line has no newline (read raced the writer or a size cap); dropped",
          "path": [],
        },
      ]
    `);
    expect(r.value.events.length, "the cut line is not an event").toBe(
      parseTrace(head).value.events.length - 1,
    );
  });

  it("reports lines that are not trace lines with their numbers and keeps the rest", () => {
    const damaged = head
      .replace("    kworker/17:2-1187    [017]", "    kworker/17:2-1187    [01?]")
      .replace(
        "   systemd-udevd-812     [005] ..... 1843240.201877:",
        "   systemd-udevd-812     [005] ..... 1843240.2x1877:",
      );
    const r = parseTrace(`${damaged}garbage line\n`);
    expect(issuesOf(r)).toMatchInlineSnapshot(`
      [
        {
          "code": "malformed_line",
          "line": 15,
          "message": "not a trace line: "    kworker/17:2-1187    [01?] ..... 1843240.114220: nvme_probe <-local_pci_prob…"",
          "path": [],
        },
        {
          "code": "malformed_line",
          "line": 16,
          "message": "not a trace line: "   systemd-udevd-812     [005] ..... 1843240.2x1877: drivers_probe_store <-bus_a…"",
          "path": [],
        },
        {
          "code": "malformed_line",
          "line": 24,
          "message": "not a trace line: "garbage line"",
          "path": [],
        },
      ]
    `);
    expect(r.value.events.length).toBe(9);
  });

  it("reads CRLF line ends", () => {
    const r = parseTrace(head.replaceAll("\n", "\r\n"));
    expect(issuesOf(r)).toEqual([]);
    expect(r.value.events.map(row)).toEqual(parseTrace(head).value.events.map(row));
  });

  it("skips a line over the size limit and goes on", () => {
    const r = parseTrace(`${"x".repeat(MAX_LINE_CHARS + 1)}\n${head}`);
    expect(issuesOf(r).map((i) => [i.code, i.line])).toEqual([["too_large", 1]]);
    expect(r.value.events.length).toBe(11);
  });

  it("ends a kprobe string cut by the next event, drops the cut argument and keeps both events", () => {
    const text = [
      '      csi-plugin-2931    [033] ..... 1843241.006512: bind: (bind_store+0x0/0x150) drv="vfio-pci" dev="0000:3b:00.5',
      "      csi-plugin-2931    [033] ..... 1843241.006559: bind_ret: (drv_attr_store+0x2b/0x40 <- bind_store) ret=-16",
      "",
    ].join("\n");
    const r = parseTrace(text);
    expect({ issues: issuesOf(r), rows: r.value.events.map(row) }).toMatchInlineSnapshot(`
      {
        "issues": [
          {
            "code": "truncated",
            "line": 1,
            "message": "string argument dev of bind never closed; argument dropped",
            "path": [],
          },
        ],
        "rows": [
          "L1 [33] 1843241.006512s csi-plugin/2931 flags=..... kprobe event=bind bind_store {"drv":"vfio-pci"}",
          "L2 [33] 1843241.006559s csi-plugin/2931 flags=..... kretprobe event=bind_ret bind_store <-drv_attr_store {"ret":"-16"} ret=-16",
        ],
      }
    `);
  });

  it("reports a kprobe string still open at the end of the text", () => {
    const text =
      '      csi-plugin-2931    [033] ..... 1843241.006512: bind: (bind_store+0x0/0x150) dev="0000:3b:00.5\n';
    const r = parseTrace(text);
    expect({
      issues: issuesOf(r).map((i) => [i.code, i.line]),
      rows: r.value.events.map(row),
    }).toMatchInlineSnapshot(`
      {
        "issues": [
          [
            "truncated",
            1,
          ],
        ],
        "rows": [
          "L1 [33] 1843241.006512s csi-plugin/2931 flags=..... kprobe event=bind bind_store",
        ],
      }
    `);
  });

  it("reports a WALL marker without a time", () => {
    const r = parseTrace(
      "              sh-6729    [000] ...1.   620.708886: tracing_mark_write: WALL soon\n",
    );
    expect(issuesOf(r).map((i) => [i.code, i.line])).toEqual([["invalid_field", 1]]);
    expect(r.value.wallAnchors).toEqual([]);
  });

  it("marks a trace whose clock changed between events as mixed", () => {
    const r = parseTrace(
      "              sh-1    [000] ..... 5.000001: f <-g\n              sh-1    [000] ..... 6123456: f <-g\n",
    );
    expect(r.value.tsUnit).toBe("mixed");
  });

  it("reports replaced (non-UTF-8) bytes once, at their line", () => {
    const r = parseTrace(`${head}   bad\uFFFDcomm-77    [004] ..... 1843252.000000: f <-g\n`);
    expect(issuesOf(r).map((i) => [i.code, i.line])).toEqual([["non_utf8", 24]]);
    expect(r.value.events.at(-1)?.comm).toBe("bad\uFFFDcomm");
  });
});

describe("parseTrace on large traces and non-ASCII text", () => {
  /** Every field but the line number: what a copy of a line must parse to wherever it sits. */
  const fields = ({ line: _line, ...rest }: TraceEvent) => JSON.stringify(rest);
  const body = (text: string) => text.split("\n").filter((l) => l !== "" && !l.startsWith("#"));

  it("reads a trace of several byte windows (4 MB each) like the lines it repeats", () => {
    const lines = [
      ...body(fixture("synthetic/ftrace/current-kernel/sys/kernel/tracing/trace")),
      ...body(fixture("synthetic/ftrace/kprobes/trace")),
      ...body(fixture("synthetic/ftrace/alinux2-4.19/sys/kernel/debug/tracing/trace")),
    ];
    const once = `${lines.join("\n")}\n`;
    const one = parseTrace(once);
    const times = Math.ceil((9 * 1024 * 1024) / once.length);
    const r = parseTrace(once.repeat(times));
    expect(issuesOf(one)).toEqual([]);
    expect(issuesOf(r)).toEqual([]);
    const want = one.value.events.map(fields);
    const got = r.value.events;
    expect(got.length).toBe(want.length * times);
    expect(r.value.eventCount).toBe(got.length);
    const wrong = got.flatMap((ev, i) => (fields(ev) === want[i % want.length] ? [] : [ev.line]));
    expect(wrong).toEqual([]);
    expect(
      got.every(
        (ev, i) =>
          ev.line ===
          (one.value.events[i % want.length]?.line ?? 0) + Math.floor(i / want.length) * lines.length,
      ),
    ).toBe(true);
  });

  it("keeps comms, symbols and strings with non-ASCII characters exact, in small and large traces", () => {
    const lines = [
      "            café-10      [000] ..... 100.000001: nvme_probe <-local_pci_probe",
      "            cafü-10      [000] ..... 100.000002: nvme_probe <-local_pci_probe",
      "            进程名-11      [001] ..... 100.000003: nvme_probe <-local_pci_probe",
      "           🙂🙃-12      [001] ..... 100.000004: fünc <-pärent",
      "           🙂🙃-12      [001] ..... 100.000005: tracing_mark_write: WALL 1709460000.5 ünïcode",
      "            plain-13     [002] ..... 100.000006: nvme_probe <-local_pci_probe",
    ];
    const want = [
      ["café", 10, 0, "nvme_probe", "local_pci_probe"],
      ["cafü", 10, 0, "nvme_probe", "local_pci_probe"],
      ["进程名", 11, 1, "nvme_probe", "local_pci_probe"],
      ["🙂🙃", 12, 1, "fünc", "pärent"],
      ["🙂🙃", 12, 1, "tracing_mark_write", null],
      ["plain", 13, 2, "nvme_probe", "local_pci_probe"],
    ];
    const small = parseTrace(`${lines.join("\n")}\n`);
    expect(issuesOf(small)).toEqual([]);
    expect(small.value.events.map((e) => [e.comm, e.pid, e.cpu, e.func, e.parent])).toEqual(want);
    expect(small.value.events[4]?.text).toBe("WALL 1709460000.5 ünïcode");
    // Enough copies that the lines straddle byte windows; ASCII and non-ASCII lines alternate.
    const times = Math.ceil((5 * 1024 * 1024) / (lines.join("\n").length + 1));
    const large = parseTrace(`${lines.join("\n")}\n`.repeat(times)).value.events;
    expect(large.length).toBe(want.length * times);
    const wrong = large.flatMap((e, i) =>
      JSON.stringify([e.comm, e.pid, e.cpu, e.func, e.parent]) === JSON.stringify(want[i % want.length])
        ? []
        : [e.line],
    );
    expect(wrong).toEqual([]);
  });

  it("builds the events once, on first read, and shows them to spreads and JSON like a field", () => {
    const r = parseTrace(fixture("synthetic/ftrace/current-kernel/sys/kernel/tracing/trace")).value;
    expect(r.eventCount).toBe(11);
    const events = r.events;
    expect(r.events).toBe(events);
    expect({ ...r }.events).toBe(events);
    expect(JSON.parse(JSON.stringify(r)).events).toHaveLength(11);
  });

  it("keeps each CPU's first timestamp and the last one without building the events", () => {
    const r = parseTrace(fixture("synthetic/ftrace/late-coverage/sys/kernel/tracing/trace")).value;
    const first = new Map<number, number>();
    for (const ev of r.events) if (!first.has(ev.cpu)) first.set(ev.cpu, ev.ts);
    expect(r.firstTsByCpu).toEqual([...first].map(([cpu, ts]) => ({ cpu, ts })));
    expect(r.lastTs).toBe(r.events.at(-1)?.ts);
    expect(parseTrace("# tracer: nop\n").value).toMatchObject({
      firstTsByCpu: [],
      lastTs: null,
      eventCount: 0,
    });
  });

  it("finds each CPU's first event for CPU numbers past the first 64 and past CONFIG_NR_CPUS", () => {
    const cpus = [3, 64, 63, 200, 3, 8191, 64, 9000, 200, 9000, 4095];
    const text = cpus
      .map(
        (cpu, i) =>
          `          <idle>-0       [${String(cpu).padStart(3, "0")}] ..... ${100 + i}.000001: f <-g`,
      )
      .join("\n");
    const r = parseTrace(`${text}\n`).value;
    expect(r.eventCount).toBe(cpus.length);
    expect(r.firstTsByCpu.map((f) => f.cpu)).toEqual([3, 64, 63, 200, 8191, 9000, 4095]);
    expect(r.firstTsByCpu.map((f) => f.ts)).toEqual([
      100.000001, 101.000001, 102.000001, 103.000001, 105.000001, 107.000001, 110.000001,
    ]);
  });
});

describe("parseTraceClock", () => {
  it.each([
    [
      "[local] global counter uptime perf mono mono_raw boot tai x86-tsc\n",
      { active: "local", unit: "seconds", count: 10, issues: [] },
    ],
    [
      "local global [counter] uptime perf mono mono_raw boot x86-tsc\n",
      { active: "counter", unit: "ticks", count: 9, issues: [] },
    ],
    [
      "local global counter uptime perf mono mono_raw boot [x86-tsc]\n",
      { active: "x86-tsc", unit: "ticks", count: 9, issues: [] },
    ],
    ["local [mono] global\n", { active: "mono", unit: "seconds", count: 3, issues: [] }],
    ["local global\n", { active: null, unit: null, count: 2, issues: ["missing"] }],
    ["[local] [global]\n", { active: "local", unit: "seconds", count: 2, issues: ["inconsistent"] }],
    ["", { active: null, unit: null, count: 0, issues: ["missing"] }],
  ])("reads %j", (text, want) => {
    const r = parseTraceClock(text);
    expect(
      {
        active: r.value.active,
        unit: r.value.unit,
        count: r.value.available.length,
        issues: issuesOf(r).map((i) => i.code),
      },
      text,
    ).toEqual(want);
  });
});

describe("parsePerCpuStats", () => {
  it("reads a real 6.18 stats file of a wrapped buffer", () => {
    expect(parsePerCpuStats(fixture("real/ftrace/wrapped/per_cpu/cpu0/stats"))).toMatchInlineSnapshot(`
      {
        "ok": true,
        "value": {
          "bytes": 7076,
          "commitOverrun": 0,
          "droppedEvents": 0,
          "entries": 194,
          "nowTs": 621.279213,
          "oldestEventTs": 621.265446,
          "overrun": 225,
          "readEvents": 0,
        },
      }
    `);
  });

  it("reads a 4.19 stats file without dropped/read counters, and tick-clock timestamps", () => {
    const r = parsePerCpuStats(
      fixture("synthetic/ftrace/alinux2-4.19/sys/kernel/debug/tracing/per_cpu/cpu17/stats"),
    );
    expect(r.value).toMatchObject({
      entries: 3,
      droppedEvents: null,
      readEvents: null,
      oldestEventTs: 2210087.114211,
    });
    expect(parsePerCpuStats(fixture("real/ftrace/clock-x86-tsc/per_cpu/cpu0/stats")).value.nowTs).toBe(
      1304333354804,
    );
  });

  it.each([
    ["entries: lots\n", "invalid_field"],
    ["no colon here\n", "malformed_line"],
    ["entries: 3", "truncated"],
  ])("reports %j as %s", (text, code) => {
    expect(issuesOf(parsePerCpuStats(text)).map((i) => [i.code, i.line])).toEqual([[code, 1]]);
  });

  it("ignores counters it does not know", () => {
    expect(issuesOf(parsePerCpuStats("entries: 1\nfuture counter: 9\n"))).toEqual([]);
  });

  it("ignores keys that name Object.prototype members (no stray fields)", () => {
    const r = parsePerCpuStats("constructor: 5\ntoString: 1\n__proto__: 3\nentries: 2\n");
    expect(issuesOf(r)).toEqual([]);
    expect(Object.keys(r.value)).toHaveLength(8);
    expect(r.value.entries).toBe(2);
  });

  it("reads a value as a number exactly when it is digits with an optional fraction", () => {
    for (const raw of [
      "0",
      "12",
      "007",
      "1.5",
      "621.279842",
      "1.",
      ".5",
      "1.2.3",
      "+1",
      "-1",
      "1e3",
      "0x1",
      "1 2",
      "",
      "١٢",
    ]) {
      const v = parsePerCpuStats(`now ts: ${raw}\n`).value.nowTs;
      expect([raw, v]).toEqual([raw, /^\d+(\.\d+)?$/.test(raw) ? Number(raw) : null]);
    }
  });
});

describe("parseFtraceFilter", () => {
  it.each([
    ["#### all functions enabled ####\n", { allFunctions: true, functions: [], commands: [] }],
    ["", { allFunctions: true, functions: [], commands: [] }],
    [
      "bind_store\nnvme_probe [nvme]\n",
      {
        allFunctions: false,
        functions: [
          { name: "bind_store", module: null },
          { name: "nvme_probe", module: "nvme" },
        ],
        commands: [],
      },
    ],
    [
      "schedule:traceoff:unlimited\n:mod:nvme:nvme_probe\nbind_store\n",
      {
        allFunctions: false,
        functions: [{ name: "bind_store", module: null }],
        commands: ["schedule:traceoff:unlimited", ":mod:nvme:nvme_probe"],
      },
    ],
  ])("reads %j", (text, want) => {
    expect(parseFtraceFilter(text).value).toEqual(want);
  });
});

describe("traceCoverage and traceCovers", () => {
  const view = (dir: string) => {
    const r = readTrace(new EvidenceReader(evidenceFromDir(dir)));
    const v = r.value;
    if (!v) throw new Error(`no trace in ${dir}`);
    return v;
  };

  it("starts a filtered, unwrapped trace at its first event, not at each CPU's first match", () => {
    const c = view("synthetic/ftrace/current-kernel").coverage;
    expect(c).toMatchInlineSnapshot(`
      {
        "clock": "local",
        "droppedByCpu": {},
        "end": 1843297.551402,
        "endSource": "per_cpu_stats",
        "filter": {
          "allFunctions": false,
          "floodRisk": false,
          "functions": [
            "bind_store",
            "unbind_store",
            "drivers_probe_store",
            "nvme_probe",
          ],
        },
        "lostByCpu": {},
        "lostMarkers": [],
        "overwritten": 0,
        "start": 1843212.917902,
        "startCpu": 17,
        "startSource": "per_cpu_stats",
        "tracer": "function",
        "tracingOn": true,
        "unit": "seconds",
        "warnings": [],
      }
    `);
    const verdict = traceCovers({ coverage: c, from: 1843230, to: 1843241.1, functions: ["nvme_probe"] });
    expect(verdict).toEqual({ verdict: "covered", reasons: [] });
  });

  it("is blind before the oldest surviving event of a wrapped CPU (detach at 1843230)", () => {
    const c = view("synthetic/ftrace/late-coverage").coverage;
    expect(c).toMatchInlineSnapshot(`
      {
        "clock": "local",
        "droppedByCpu": {},
        "end": 1843297.551311,
        "endSource": "per_cpu_stats",
        "filter": {
          "allFunctions": true,
          "floodRisk": true,
          "functions": [],
        },
        "lostByCpu": {},
        "lostMarkers": [],
        "overwritten": 918267,
        "start": 1843241,
        "startCpu": 33,
        "startSource": "per_cpu_stats",
        "tracer": "function",
        "tracingOn": true,
        "unit": "seconds",
        "warnings": [
          "all_functions",
          "overwritten",
        ],
      }
    `);
    expect(traceCovers({ coverage: c, from: 1843230, to: 1843241.1, functions: ["nvme_probe"] })).toEqual({
      verdict: "blind",
      reasons: ["starts_after_window"],
    });
    expect(traceCovers({ coverage: c, from: 1843241.05, to: 1843241.1 })).toEqual({
      verdict: "covered",
      reasons: [],
    });
  });

  it.each([
    [
      "a window the markers fall in",
      { from: 1843200, to: 1843300 },
      ["starts_after_window", "ends_before_window", "lost_in_window"],
    ],
    [
      "a window after them, but a marker at the end cannot be placed",
      { from: 1843241.5, to: 1843243 },
      ["lost_in_window"],
    ],
  ])("trace_pipe with LOST markers: %s", (_title, window, reasons) => {
    const trace = parseTrace(fixture("synthetic/ftrace/lost-events/trace_pipe")).value;
    const c = traceCoverage({ trace });
    expect(c.lostByCpu).toEqual({ 5: 17, 17: 2048, 33: null });
    expect(traceCovers({ coverage: c, ...window }).reasons).toEqual(reasons);
  });

  it("lists every reason a window cannot be decided", () => {
    const trace = parseTrace(fixture("synthetic/ftrace/current-kernel/sys/kernel/tracing/trace")).value;
    const c = traceCoverage({
      trace,
      perCpu: [
        { cpu: 17, stats: { ...parsePerCpuStats("entries: 3\noverrun: 9\n").value, droppedEvents: 4 } },
      ],
      filter: parseFtraceFilter("bind_store\n").value,
      tracer: "nop",
      tracingOn: false,
      clock: parseTraceClock("local [counter]\n").value,
    });
    expect(c.warnings).toEqual(["tracing_off", "lost_events", "tick_clock"]);
    expect(traceCovers({ coverage: c, from: 0, to: 2e6, functions: ["nvme_probe"] }).reasons).toEqual([
      "starts_after_window",
      "ends_before_window",
      "dropped_events",
      "tracing_off",
      "not_function_tracer",
      "function_not_filtered",
      "unit_mismatch",
    ]);
  });

  it("flags an empty filter under a function tracer as a flood risk", () => {
    const c = view("synthetic/ftrace/late-coverage").coverage;
    expect(c.filter).toEqual({ functions: [], allFunctions: true, floodRisk: true });
    expect(c.warnings).toContain("all_functions");
  });

  it("is blind when the trace saw nothing", () => {
    const c = traceCoverage({ trace: parseTrace("# tracer: function\n").value });
    expect(traceCovers({ coverage: c, from: 1, to: 2 })).toEqual({
      verdict: "blind",
      reasons: ["no_events"],
    });
  });
});

describe("readTrace over bundle evidence", () => {
  it("reads a whole tracefs directory (real capture, mounted at sys/kernel/tracing)", () => {
    const r = readTrace(new EvidenceReader(evidenceFromDir("real/ftrace/wrapped", "sys/kernel/tracing/")));
    const v = r.value;
    expect(issuesOf(r)).toEqual([]);
    expect(
      v && { ...v, trace: v.trace && { events: v.trace.events.length, header: v.trace.header } },
    ).toMatchInlineSnapshot(`
      {
        "bufferSizeKb": 7,
        "clock": {
          "active": "local",
          "available": [
            "local",
            "global",
            "counter",
            "uptime",
            "perf",
            "mono",
            "mono_raw",
            "boot",
            "tai",
            "x86-tsc",
          ],
          "unit": "seconds",
        },
        "coverage": {
          "clock": "local",
          "droppedByCpu": {},
          "end": 621.279842,
          "endSource": "per_cpu_stats",
          "filter": null,
          "lostByCpu": {},
          "lostMarkers": [],
          "overwritten": 479,
          "start": 621.265446,
          "startCpu": 0,
          "startSource": "per_cpu_stats",
          "tracer": "nop",
          "tracingOn": false,
          "unit": "seconds",
          "warnings": [
            "tracing_off",
            "overwritten",
          ],
        },
        "filter": null,
        "options": {
          "annotate": true,
          "irq-info": true,
          "overwrite": true,
          "record-tgid": false,
          "sym-offset": false,
        },
        "perCpu": [
          {
            "cpu": 0,
            "stats": {
              "bytes": 7076,
              "commitOverrun": 0,
              "droppedEvents": 0,
              "entries": 194,
              "nowTs": 621.279213,
              "oldestEventTs": 621.265446,
              "overrun": 225,
              "readEvents": 0,
            },
          },
          {
            "cpu": 1,
            "stats": {
              "bytes": 5280,
              "commitOverrun": 0,
              "droppedEvents": 0,
              "entries": 161,
              "nowTs": 621.279842,
              "oldestEventTs": 621.264261,
              "overrun": 254,
              "readEvents": 0,
            },
          },
        ],
        "root": "sys/kernel/tracing/",
        "trace": {
          "events": 355,
          "header": {
            "cpus": 2,
            "entriesInBuffer": 355,
            "entriesWritten": 834,
            "flagColumns": 5,
            "overwritten": 479,
            "tgidColumn": false,
            "tracer": "nop",
          },
        },
        "tracer": "nop",
        "tracingOn": false,
        "unreadable": [],
      }
    `);
  });

  it("falls back to the debugfs mount on old hosts", () => {
    const r = readTrace(new EvidenceReader(evidenceFromDir("synthetic/ftrace/alinux2-4.19")));
    expect(r.value?.root).toBe("sys/kernel/debug/tracing/");
    expect(r.value?.bufferSizeKb).toBe(1408);
    expect(r.value?.perCpu.map((p) => p.cpu)).toEqual([3, 17, 41]);
    expect(r.value?.filter?.functions.map((f) => `${f.name}${f.module ? ` [${f.module}]` : ""}`)).toEqual([
      "bind_store",
      "nvme_probe [nvme]",
      "vfio_pci_probe [vfio_pci]",
      "nvme_reset_work [nvme]",
    ]);
  });

  it("takes CPU numbers from the per_cpu listing's cpuN names, else from the stats paths", () => {
    const stats = (n: number): EvidenceEntry => ({ kind: "file", data: `entries: ${n}\n`, bytes: 11 });
    const listed: Record<string, EvidenceEntry> = {
      "sys/kernel/tracing/trace_clock": { kind: "file", data: "[local] global\n", bytes: 15 },
      "sys/kernel/tracing/per_cpu/": {
        kind: "dir",
        names: ["cpu10", "cpu", "cpu2", "cpux", "cpu3a", "xcpu4", "cpu007", "CPU5", "cpu٣"],
      },
      "sys/kernel/tracing/per_cpu/cpu10/stats": stats(10),
      "sys/kernel/tracing/per_cpu/cpu2/stats": stats(2),
      "sys/kernel/tracing/per_cpu/cpu7/stats": stats(7),
    };
    expect(readTrace(new EvidenceReader(listed)).value?.perCpu.map((p) => p.cpu)).toEqual([2, 7, 10]);
    const unlisted: Record<string, EvidenceEntry> = {
      "sys/kernel/tracing/trace_clock": { kind: "file", data: "[local] global\n", bytes: 15 },
      "sys/kernel/tracing/per_cpu/cpu4/stats": stats(4),
      "sys/kernel/tracing/per_cpu/cpu1/stats": stats(1),
      "sys/kernel/tracing/per_cpu/cpu/stats": stats(0),
      "sys/kernel/tracing/per_cpu/cpu5/stats/x": stats(5),
      "sys/kernel/tracing/per_cpu/cpu6/trace": stats(6),
      "sys/kernel/tracing/per_cpu/stats": stats(8),
    };
    expect(readTrace(new EvidenceReader(unlisted)).value?.perCpu.map((p) => p.cpu)).toEqual([1, 4]);
  });

  it("prefers sys/kernel/tracing when both mounts were shipped", () => {
    const evidence = {
      ...evidenceFromDir("synthetic/ftrace/alinux2-4.19"),
      ...evidenceFromDir("synthetic/ftrace/current-kernel"),
    };
    expect(readTrace(new EvidenceReader(evidence)).value?.root).toBe("sys/kernel/tracing/");
  });

  it("uses the debugfs mount when sys/kernel/tracing is only an empty mount point", () => {
    const evidence: Record<string, EvidenceEntry> = {
      "sys/kernel/tracing/": { kind: "dir", names: [] },
      ...evidenceFromDir("synthetic/ftrace/alinux2-4.19"),
    };
    expect(readTrace(new EvidenceReader(evidence)).value?.root).toBe("sys/kernel/debug/tracing/");
  });

  it("is null without issues when no tracefs was shipped", () => {
    expect(
      readTrace(
        new EvidenceReader({
          "proc/uptime": { kind: "file", data: "1.0 1.0\n", encoding: "utf8", bytes: 8 },
        }),
      ),
    ).toEqual({
      ok: true,
      value: null,
    });
  });

  it("records unreadable files and reports a trace it could not read", () => {
    const evidence: Record<string, EvidenceEntry> = {
      ...evidenceFromDir("synthetic/ftrace/current-kernel"),
      "sys/kernel/tracing/trace": { kind: "timeout", op: "read", afterMs: 2000 },
      "sys/kernel/tracing/set_ftrace_filter": {
        kind: "error",
        op: "read",
        code: "EPERM",
        message: "Operation not permitted",
      },
    };
    const r = readTrace(new EvidenceReader(evidence));
    expect(issuesOf(r)).toMatchInlineSnapshot(`
      [
        {
          "code": "missing",
          "message": "trace not readable (timeout): coverage unknown",
          "path": [
            "sys/kernel/tracing/trace",
          ],
        },
      ]
    `);
    expect(r.value?.unreadable).toMatchInlineSnapshot(`
      [
        {
          "path": "sys/kernel/tracing/trace",
          "reason": {
            "afterMs": 2000,
            "reason": "timeout",
          },
        },
        {
          "path": "sys/kernel/tracing/set_ftrace_filter",
          "reason": {
            "code": "EPERM",
            "message": "Operation not permitted",
            "reason": "error",
          },
        },
      ]
    `);
    expect(r.value?.trace).toBeNull();
    expect(r.value?.coverage.startSource, "coverage still comes from the per-CPU stats").toBe(
      "per_cpu_stats",
    );
  });

  it("reports a trace cut by the shipper's size cap, with the dropped line", () => {
    const evidence = evidenceFromDir("synthetic/ftrace/current-kernel");
    const full = evidence["sys/kernel/tracing/trace"];
    if (full?.kind !== "file") throw new Error("fixture");
    evidence["sys/kernel/tracing/trace"] = { ...full, data: full.data.slice(0, 1200), capped: true };
    const r = readTrace(new EvidenceReader(evidence));
    expect(issuesOf(r).map((i) => [i.code, i.path.join("/"), i.line ?? null])).toMatchInlineSnapshot(`
      [
        [
          "truncated",
          "sys/kernel/tracing/trace",
          21,
        ],
        [
          "truncated",
          "sys/kernel/tracing/trace",
          null,
        ],
      ]
    `);
  });
});
