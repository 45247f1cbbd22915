import { readdirSync, readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseCmdline, parseFdTarget, parseNsLink, parseProcStat } from "../../../shared/parse/proc.js";
import { issuesOf, MAX_LINE_CHARS } from "../../../shared/parse/result.js";

const fixtureUrl = (path: string) => new URL(`../../fixtures/${path}`, import.meta.url);
const fixture = (path: string) => readFileSync(fixtureUrl(path), "utf8");
const real = JSON.parse(fixture("real/proc/namespaces-evidence.json")) as {
  evidence: Record<string, { kind: string; data?: string }>;
};

describe("parseNsLink", () => {
  it.each([
    ["mnt:[4026531840]", { type: "mnt", inode: 4026531840 }],
    ["mnt:[4026531832]\n", { type: "mnt", inode: 4026531832 }],
    ["'mnt:[4026532871]'", { type: "mnt", inode: 4026532871 }], // as ls quotes it on a TTY
    ["net:[4026532990]", { type: "net", inode: 4026532990 }],
    ["pid_for_children:[4026531836]", { type: "pid_for_children", inode: 4026531836 }],
    ["mnt:[]", null],
    ["mnt:[12a]", null],
    ["mnt:4026531840", null],
    [":[4026531840]", null],
    ["MNT:[1]", null],
    ["/proc/1/ns/mnt", null],
    ["", null],
  ])("reads %j as %j", (target, expected) => {
    expect(parseNsLink(target)).toEqual(expected);
  });
});

describe("parseProcStat", () => {
  it("reads the real processes of this machine, including a comm with `) (` and a kernel thread", () => {
    const stats = Object.entries(real.evidence)
      .filter(([path, e]) => path.endsWith("/stat") && e.kind === "file")
      .map(([, e]) => parseProcStat(e.data ?? ""));
    expect(stats.every((r) => r.ok)).toBe(true);
    expect(
      stats.map(
        ({ value: s }) =>
          s && `${s.pid} ${JSON.stringify(s.comm)} ${s.state} ppid=${s.ppid} kthread=${s.kernelThread}`,
      ),
    ).toMatchInlineSnapshot(`
      [
        "1 "process_api" S ppid=0 kthread=false",
        "2 "kthreadd" S ppid=0 kthread=true",
        "8192 "bash" S ppid=8148 kthread=false",
        "8199 "sleep" S ppid=8192 kthread=false",
        "8236 "a) (b" S ppid=8192 kthread=false",
        "8245 "node" R ppid=8192 kthread=false",
      ]
    `);
  });

  it("reads every kept field of a VMM's line", () => {
    expect(parseProcStat(fixture("synthetic/proc/stat/vmm-cloud-hyperviso.stat"))).toMatchInlineSnapshot(`
      {
        "ok": true,
        "value": {
          "comm": "cloud-hyperviso",
          "flags": 1077936384,
          "kernelThread": false,
          "numThreads": 41,
          "pgrp": 48213,
          "pid": 48213,
          "ppid": 48190,
          "session": 48190,
          "startTimeTicks": 93581234,
          "state": "S",
          "stimeTicks": 132775,
          "utimeTicks": 884213,
        },
      }
    `);
  });

  it.each(
    readdirSync(fixtureUrl("synthetic/proc/stat/"))
      .filter((f) => f.endsWith(".stat"))
      .sort(),
  )("reads %s with no issue", (file) => {
    const r = parseProcStat(fixture(`synthetic/proc/stat/${file}`));
    expect(issuesOf(r)).toEqual([]);
    expect(r.value?.startTimeTicks, "starttime read").not.toBeNull();
  });

  it.each([
    ["parens-in-comm", "a) (b) (c", "D", false],
    ["space-in-comm", "tmux: server", "S", false],
    ["kworker-long-comm", "kworker/17:2-events", "I", true],
    ["zombie", "csi-diskplugin", "Z", false],
    ["kthread-44-fields", "jbd2/nvme2n1-8", "S", true],
  ])("%s: comm %j, state %s, kernel thread %s", (file, comm, state, kernelThread) => {
    expect(parseProcStat(fixture(`synthetic/proc/stat/${file}.stat`)).value).toMatchObject({
      comm,
      state,
      kernelThread,
    });
  });

  const line =
    "4242 (tmux: server) S 1 4242 4242 0 -1 4194624 9876 0 0 0 310 210 0 0 20 0 1 0 88123 12156928 1024\n";
  it.each([
    ["4242 tmux S 1\n", "malformed_line", "expected `pid (comm) state ...`"],
    ["x (tmux) S 1\n", "malformed_line", "expected `pid (comm) state ...`"],
    ["4242 (tmux)S 1\n", "malformed_line", "expected `pid (comm) state ...`"],
    ["4242 (tmux) SS 1\n", "malformed_line", "no state letter after the comm"],
    ["4242 (tmux) S 1 2 3\n", "missing", "6 fields; expected at least 22"],
    ["4242 (tm", "truncated", "expected `pid (comm) state ...`"],
    ["4242 (tmux) ", "truncated", "no state letter after the comm"],
  ])("reports %j as %s", (text, code, message) => {
    expect(issuesOf(parseProcStat(text))).toEqual([{ code, message, line: 1, path: [] }]);
  });

  it("does not trust the last field of a cut line, and keeps the fields before it", () => {
    const r = parseProcStat(line.slice(0, line.indexOf(" 88123") + 4)); // starttime cut to "881"
    expect(issuesOf(r).map((i) => i.code)).toEqual(["truncated"]);
    expect(r.value).toMatchObject({ pid: 4242, comm: "tmux: server", numThreads: 1, startTimeTicks: null });
  });

  it("reports a field that is not a number and keeps the others", () => {
    const r = parseProcStat(line.replace(" 4194624 ", " 0x400 "));
    expect(issuesOf(r)).toEqual([
      { code: "invalid_field", message: "field 9 is not a number", line: 1, path: [] },
    ]);
    expect(r.value).toMatchObject({ flags: null, kernelThread: null, ppid: 1, startTimeTicks: 88123 });
  });
});

describe("parseProcStat reads the line's bytes", () => {
  const fields = (n: number) => Array.from({ length: n }, (_, i) => i + 1).join(" ");

  it.each([
    ["a short line", 10],
    ["the longest line the shared byte buffer holds", 4087],
    ["a line one byte longer, read from a buffer of its own", 4088],
    ["a line far longer", 70_000],
  ])("reads %s the same way", (_what, length) => {
    const tail = ` S ${fields(19)}\n`;
    const comm = "k".repeat(Math.max(0, length - tail.length - 5));
    const r = parseProcStat(`77 (${comm})${tail}`);
    expect(r.ok).toBe(true);
    expect(r.value).toMatchObject({ pid: 77, comm, ppid: 1, pgrp: 2, flags: 6, startTimeTicks: 19 });
  });

  it.each([
    ["進程", "CJK"],
    ["café", "Latin-1"],
    ["🙂 (x)", "an astral character"],
    ["a\ud800b", "a lone surrogate"],
  ])("reads the comm %j (%s) and the fields after it", (comm) => {
    const r = parseProcStat(`9 (${comm}) S ${fields(19)}\n`);
    expect(r.ok).toBe(true);
    expect(r.value).toMatchObject({ comm, ppid: 1, startTimeTicks: 19 });
  });

  it("calls a field with a non-ASCII character not a number, whichever byte it maps to", () => {
    // U+0120 and U+0131 end in the bytes of a space and of "1".
    const r = parseProcStat(`9 (a) S 1\u0120 2 3 4 5 6 7 8 9 10 ı1 ${fields(8)}\n`);
    expect(issuesOf(r).map((i) => i.message)).toEqual([
      "field 4 is not a number",
      "field 14 is not a number",
    ]);
    expect(r.value).toMatchObject({ ppid: null, pgrp: 2, utimeTicks: null, stimeTicks: 1 });
  });

  it("stops at the end of a short line, not at what a longer line left in the buffer", () => {
    expect(parseProcStat(`9 (a) S ${fields(40)}\n`).ok).toBe(true);
    expect(parseProcStat("9 (a) S 1 2\n").value).toMatchObject({ ppid: 1, pgrp: 2, session: null });
    expect(parseProcStat(`9 (a) S ${fields(40)}\n`).ok).toBe(true);
    expect(parseProcStat("9 (a) S 1 2").value).toMatchObject({ ppid: 1, pgrp: null });
    expect(parseProcStat(`9 (a) S ${fields(40)}\n`).ok).toBe(true);
    expect(issuesOf(parseProcStat("9 (a) S\n")).map((i) => i.message)).toEqual([
      "3 fields; expected at least 22",
    ]);
  });

  it.each([
    [`${fields(19)}\n`, true, 19],
    [`${fields(19)} \n`, true, 19], // a space before the newline ends field 22 as well
    [fields(19), false, null], // starttime may be cut: not trusted
    [`${fields(19)} `, false, 19],
  ])("reads a line that ends right after starttime: %j", (rest, ok, startTimeTicks) => {
    const r = parseProcStat(`9 (a) S ${rest}`);
    expect(r.ok).toBe(ok);
    expect(r.value?.startTimeTicks).toBe(startTimeTicks);
  });
});

describe("parseCmdline", () => {
  it.each([
    ["", []],
    ["sleep\u0000600\u0000", ["sleep", "600"]],
    [
      "/usr/bin/cloud-hypervisor\u0000--api-socket\u0000/run/vc/sbs/3f2a/clh-api.sock\u0000",
      ["/usr/bin/cloud-hypervisor", "--api-socket", "/run/vc/sbs/3f2a/clh-api.sock"],
    ],
    ["nginx: master process /usr/sbin/nginx", ["nginx: master process /usr/sbin/nginx"]], // argv rewritten in place
    ["a\u0000\u0000b\u0000", ["a", "", "b"]], // an empty argument is kept
    ["cut-short\u0000arg", ["cut-short", "arg"]],
  ])("splits %j into %j", (text, expected) => {
    expect(parseCmdline(text)).toEqual(expected);
  });

  it("reads the real capture's argv", () => {
    const e = Object.entries(real.evidence).find(
      ([p]) => p.endsWith("/cmdline") && /a\) \(b/.test(real.evidence[p]?.data ?? ""),
    );
    expect(parseCmdline(e?.[1].data ?? "")).toEqual(["/tmp/fl-test/bin/a) (b", "600"]);
  });

  it("splits on NUL as split does, without the empty string after a final NUL", () => {
    const text = fc
      .array(fc.constantFrom("\u0000", "a", "bc", " "), { maxLength: 12 })
      .map((p) => p.join(""));
    fc.assert(
      fc.property(text, (t) => {
        const want = t.length === 0 ? [] : t.split("\u0000");
        if (want[want.length - 1] === "") want.pop();
        expect(parseCmdline(t)).toEqual(want);
      }),
    );
  });
});

describe("parseFdTarget", () => {
  it.each([
    ["/dev/vfio/62", { kind: "vfio-group", group: 62, noiommu: false, path: "/dev/vfio/62", deleted: false }],
    [
      "/dev/vfio/noiommu-7",
      { kind: "vfio-group", group: 7, noiommu: true, path: "/dev/vfio/noiommu-7", deleted: false },
    ],
    [
      "/dev/vfio/62 (deleted)",
      { kind: "vfio-group", group: 62, noiommu: false, path: "/dev/vfio/62", deleted: true },
    ],
    ["/dev/vfio/vfio", { kind: "vfio-container", path: "/dev/vfio/vfio", deleted: false }],
    [
      "/dev/vfio/devices/vfio0",
      { kind: "vfio-device", index: 0, path: "/dev/vfio/devices/vfio0", deleted: false },
    ],
    [
      "/dev/vfio/devices/vfio12",
      { kind: "vfio-device", index: 12, path: "/dev/vfio/devices/vfio12", deleted: false },
    ],
    ["/dev/vfio/devices", { kind: "path", path: "/dev/vfio/devices", deleted: false }],
    ["/dev/vfio/abc", { kind: "path", path: "/dev/vfio/abc", deleted: false }],
    ["mnt:[4026532179]", { kind: "namespace", nsType: "mnt", inode: 4026532179 }],
    ["net:[4026532990]", { kind: "namespace", nsType: "net", inode: 4026532990 }],
    ["socket:[83921]", { kind: "socket", inode: 83921 }],
    ["pipe:[7102]", { kind: "pipe", inode: 7102 }],
    ["anon_inode:[eventfd]", { kind: "anon_inode", name: "[eventfd]" }],
    ["anon_inode:[vfio-device]", { kind: "anon_inode", name: "[vfio-device]" }],
    ["anon_inode:inotify", { kind: "anon_inode", name: "inotify" }],
    ["/var/log/app.log (deleted)", { kind: "path", path: "/var/log/app.log", deleted: true }],
    ["/tmp/with space", { kind: "path", path: "/tmp/with space", deleted: false }],
    ["/dev/null", { kind: "path", path: "/dev/null", deleted: false }],
    ["dmabuf:", { kind: "other", raw: "dmabuf:" }],
    ["", { kind: "other", raw: "" }],
  ])("classifies %j", (target, expected) => {
    expect(parseFdTarget(target)).toEqual(expected);
  });
});

describe("small /proc parsers: properties", () => {
  const decoder = new TextDecoder();
  const anyText = fc.oneof(
    fc.string({ unit: "binary", maxLength: 300 }),
    fc.uint8Array({ maxLength: 300 }).map((b) => decoder.decode(b)),
  );

  it("never throw on arbitrary strings or invalid UTF-8", () => {
    fc.assert(
      fc.property(anyText, (text) => {
        const stat = parseProcStat(text);
        if (stat.ok) expect(stat.value?.comm.length).toBeLessThanOrEqual(text.length);
        for (const i of issuesOf(stat)) expect(i.line).toBe(1);
        parseCmdline(text);
        parseFdTarget(text);
        const ns = parseNsLink(text);
        if (ns) expect(Number.isSafeInteger(ns.inode)).toBe(true);
      }),
    );
  });

  it("parseProcStat reads any comm, with spaces and parentheses, back exactly", () => {
    const comm = fc.string({ unit: fc.constantFrom("a", " ", "(", ")", "-", "/", ":", "é"), maxLength: 15 });
    fc.assert(
      fc.property(comm, fc.integer({ min: 1, max: 4194304 }), (c, pid) => {
        const r = parseProcStat(
          `${pid} (${c}) R 1 ${pid} ${pid} 0 -1 4194304 0 0 0 0 1 2 0 0 20 0 1 0 777 0 0\n`,
        );
        expect(r.ok).toBe(true);
        expect(r.value).toMatchObject({ pid, comm: c, state: "R", ppid: 1, startTimeTicks: 777 });
      }),
    );
  });

  it("parseProcStat reads a cut line without inventing fields", () => {
    const text = fixture("synthetic/proc/stat/vmm-cloud-hyperviso.stat");
    const full = parseProcStat(text).value;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: text.length - 1 }), (cut) => {
        const r = parseProcStat(text.slice(0, cut));
        expect(r.ok).toBe(false);
        for (const [k, v] of Object.entries(r.value ?? {})) {
          if (v !== null && full) expect(v, k).toEqual(full[k as keyof typeof full]);
        }
      }),
    );
  });

  it("parseProcStat handles a 10 MB single line as too_large", () => {
    const big = `1 (${"x".repeat(10 * 1024 * 1024)}) S 0\n`;
    expect(big.length).toBeGreaterThan(MAX_LINE_CHARS);
    expect(issuesOf(parseProcStat(big)).map((i) => i.code)).toEqual(["too_large"]);
    expect(parseCmdline(big)).toHaveLength(1);
    expect(parseFdTarget(big).kind).toBe("other");
    expect(parseNsLink(big)).toBeNull();
  });
});
