import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  parseFtraceFilter,
  parsePerCpuStats,
  parseTrace,
  parseTraceClock,
  type TraceEvent,
} from "../../../shared/parse/ftrace.js";
import { issuesOf, MAX_LINE_CHARS } from "../../../shared/parse/result.js";

const fixture = (path: string) => readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), "utf8");
const CURRENT = fixture("synthetic/ftrace/current-kernel/sys/kernel/tracing/trace");
const KPROBES = fixture("synthetic/ftrace/kprobes/trace");
const REAL_WRAPPED = fixture("real/ftrace/wrapped/trace");

const fields = (e: TraceEvent) => {
  const { line: _line, ...rest } = e;
  return rest;
};

/** Every issue carries a line number inside the text. */
function linesInRange(text: string, issues: readonly { line?: number; code: string }[]): boolean {
  const lines = text.split("\n").length;
  return issues.every(
    (i) => i.code === "too_large" || (i.line !== undefined && i.line >= 1 && i.line <= lines),
  );
}

const decoder = new TextDecoder("utf-8");

describe("parseTrace never throws and always locates its issues", () => {
  it("on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme-ascii", maxLength: 400 }), (text) => {
        const r = parseTrace(text);
        expect(linesInRange(text, issuesOf(r)), JSON.stringify(issuesOf(r))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("on strings built from trace-like pieces", () => {
    const piece = fc.constantFrom(
      "-",
      "-1 ",
      "[",
      "]",
      "(",
      ")",
      "[017] ",
      "..... ",
      "1843212.917902: ",
      ": ",
      '"',
      "\n",
      "CPU:",
      " [LOST ",
      "EVENTS]",
      "#####",
      "bind: (bind_store+0x0/0x150) ",
      'dev="',
      "<-",
      " 17) ",
      "| ",
      "/* x = -1 */",
      "   ",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 60 }), (pieces) => {
        const text = pieces.join("");
        const r = parseTrace(text);
        expect(linesInRange(text, issuesOf(r))).toBe(true);
      }),
      { numRuns: 1000 },
    );
  });

  it("on random bytes decoded as UTF-8 (invalid sequences replaced)", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const text = decoder.decode(bytes);
        const r = parseTrace(text);
        expect(linesInRange(text, issuesOf(r))).toBe(true);
        if (text.includes("\uFFFD")) expect(issuesOf(r).some((i) => i.code === "non_utf8")).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("on a 10 MB single line, with and without its newline", () => {
    const line = "x".repeat(10 * 1024 * 1024);
    expect(issuesOf(parseTrace(line)).map((i) => [i.code, i.line])).toEqual([["truncated", 1]]);
    expect(issuesOf(parseTrace(`${line}\n`)).map((i) => i.code)).toEqual(["too_large"]);
    const event = `      csi-plugin-2931    [017] ..... 1843212.917902: tracing_mark_write: ${"y".repeat(MAX_LINE_CHARS)}\n`;
    expect(issuesOf(parseTrace(event)).map((i) => i.code)).toEqual(["too_large"]);
  });

  it("on the small tracefs files", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        parseTraceClock(text);
        parsePerCpuStats(text);
        parseFtraceFilter(text);
      }),
      { numRuns: 300 },
    );
  });
});

describe("parseTrace on cut input", () => {
  it.each([
    ["current-kernel", CURRENT],
    ["kprobes (split strings)", KPROBES],
    ["real wrapped capture", REAL_WRAPPED],
  ])("%s: any prefix yields a prefix of the events, never a mis-parsed last line", (_name, full) => {
    const all = parseTrace(full).value.events;
    fc.assert(
      fc.property(fc.integer({ min: 0, max: full.length }), (cut) => {
        const text = full.slice(0, cut);
        const r = parseTrace(text);
        const got = r.value.events;
        expect(got.length).toBeLessThanOrEqual(all.length);
        got.forEach((ev, i) => {
          const want = all[i];
          if (!want) throw new Error("extra event");
          // A kprobe whose split string was cut keeps the event but drops the argument (with an issue).
          if (ev.kind === "kprobe" && Object.keys(ev.args).length < Object.keys(want.args).length) {
            expect(issuesOf(r).some((x) => x.code === "truncated" && x.line === ev.line)).toBe(true);
            return;
          }
          expect(fields(ev), `cut at ${cut}`).toEqual(fields(want));
        });
        if (cut > 0 && !text.endsWith("\n")) {
          expect(issuesOf(r).some((x) => x.code === "truncated")).toBe(true);
        }
      }),
      { numRuns: 300 },
    );
  });

  it("reports an inserted garbage line at its line number and keeps every event", () => {
    const lines = CURRENT.split("\n");
    fc.assert(
      fc.property(
        fc.integer({ min: 12, max: lines.length - 1 }),
        fc.string({ unit: fc.constantFrom("a", "b", "?", "-", "!"), minLength: 1, maxLength: 20 }),
        (at, junk) => {
          const damaged = [...lines.slice(0, at), junk, ...lines.slice(at)].join("\n");
          const r = parseTrace(damaged);
          expect(issuesOf(r).map((i) => [i.code, i.line])).toEqual([["malformed_line", at + 1]]);
          expect(r.value.events.length).toBe(11);
        },
      ),
      { numRuns: 200 },
    );
  });
});

describe("parseTrace reads generated lines back exactly", () => {
  const commChar = fc.constantFrom(..."abcxyz019-/:._ <>".split(""));
  const line = fc.record({
    comm: fc
      .array(commChar, { minLength: 1, maxLength: 15 })
      .map((cs) => cs.join(""))
      .filter((c) => c.trim() === c || !c.startsWith(" ")),
    pid: fc.integer({ min: 0, max: 4194304 }),
    tgid: fc.option(fc.integer({ min: 1, max: 4194304 }), { nil: undefined }),
    cpu: fc.integer({ min: 0, max: 1023 }),
    flags: fc.option(fc.constantFrom(".....", "d..1.", "dNh2.", "....", "X.s1"), { nil: null }),
    sec: fc.integer({ min: 0, max: 9_999_999 }),
    usec: fc.integer({ min: 0, max: 999_999 }),
    func: fc.constantFrom("bind_store", "nvme_probe", "do_sys_openat2", "foo.isra.0"),
    parent: fc.option(fc.constantFrom("drv_attr_store", "local_pci_probe", "x64_sys_call"), { nil: null }),
    offsets: fc.boolean(),
  });

  it("comm, pid, tgid, cpu, flags, timestamp, function and parent", () => {
    fc.assert(
      fc.property(fc.array(line, { minLength: 1, maxLength: 30 }), (specs) => {
        const text = specs
          .map((l) => {
            const tgid = l.tgid === undefined ? "" : `(${String(l.tgid).padStart(7)}) `;
            const flags = l.flags === null ? "" : `${l.flags} `;
            const off = l.offsets ? "+0x0/0x150" : "";
            const body = l.parent === null ? `${l.func}${off}` : `${l.func}${off} <-${l.parent}${off}`;
            const cpu = String(l.cpu).padStart(3, "0");
            const ts = `${String(l.sec).padStart(5)}.${String(l.usec).padStart(6, "0")}`;
            return `${l.comm.padStart(16)}-${String(l.pid).padEnd(7)} ${tgid}[${cpu}] ${flags}${ts}: ${body}\n`;
          })
          .join("");
        const r = parseTrace(text);
        expect(issuesOf(r), text).toEqual([]);
        expect(
          r.value.events.map((e) => [e.comm, e.pid, e.tgid, e.cpu, e.flags, e.ts, e.func, e.parent]),
          text,
        ).toEqual(
          specs.map((l) => [
            l.comm,
            l.pid,
            l.tgid ?? null,
            l.cpu,
            l.flags,
            Number(`${l.sec}.${String(l.usec).padStart(6, "0")}`),
            l.func,
            l.parent,
          ]),
        );
      }),
      { numRuns: 300 },
    );
  });

  it("gives the same events line by line as in one text (the segment caches change nothing)", () => {
    const lines = [...CURRENT.split("\n"), ...REAL_WRAPPED.split("\n")].filter(
      (l) => l !== "" && !l.startsWith("#"),
    );
    fc.assert(
      fc.property(fc.array(fc.constantFrom(...lines), { minLength: 1, maxLength: 200 }), (picked) => {
        const whole = parseTrace(`${picked.join("\n")}\n`).value.events.map(fields);
        const alone = picked.flatMap((l) => parseTrace(`${l}\n`).value.events.map(fields));
        expect(whole).toEqual(alone);
      }),
      { numRuns: 100 },
    );
  });
});
