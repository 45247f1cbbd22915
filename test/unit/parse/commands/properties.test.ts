import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { parseFuserMv, parseFuserPids } from "../../../../shared/parse/commands/fuser.js";
import {
  parseLsDevVfio,
  parseLsIommuGroupDevices,
  parseLsLSysBlock,
} from "../../../../shared/parse/commands/ls.js";
import { parseLsof } from "../../../../shared/parse/commands/lsof.js";
import { issuesOf, MAX_LINE_CHARS, type ParseResult } from "../../../../shared/parse/result.js";
import { commandFixture } from "./fixtures.js";

interface Subject {
  readonly name: string;
  /** Parses and lists the records a cut input may only ever contain a subset of. */
  readonly run: (text: string) => { readonly result: ParseResult<unknown>; readonly records: unknown[] };
  /** Captures to cut and damage. */
  readonly fixtures: readonly (readonly ["real" | "synthetic", string])[];
  /** A line this parser must report wherever it is inserted. */
  readonly garbage: string;
}

function subject<T>(s: {
  name: string;
  parse: (text: string) => ParseResult<T>;
  records: (value: T) => unknown[];
  fixtures: readonly (readonly ["real" | "synthetic", string])[];
  garbage: string;
}): Subject {
  return {
    name: s.name,
    run: (text) => {
      const result = s.parse(text);
      return { result, records: s.records(result.value) };
    },
    fixtures: s.fixtures,
    garbage: s.garbage,
  };
}

const SUBJECTS: readonly Subject[] = [
  subject({
    name: "parseLsLSysBlock",
    parse: parseLsLSysBlock,
    records: (v) => v,
    fixtures: [
      ["real", "ls-l-sys-block.txt"],
      ["real", "ls-l-tty-quoted.txt"],
      ["synthetic", "ls-l-sys-block-multipath-vmd.txt"],
    ],
    garbage: "garbage",
  }),
  subject({
    name: "parseLsDevVfio",
    parse: parseLsDevVfio,
    records: (v) => v,
    fixtures: [["synthetic", "ls-l-dev-vfio.txt"]],
    garbage: "crw------- 1 root root zz Mar  3 10:15 62",
  }),
  subject({
    name: "parseLsIommuGroupDevices",
    parse: parseLsIommuGroupDevices,
    records: (v) => v,
    fixtures: [["synthetic", "ls-l-iommu-group-70.txt"]],
    garbage: "zzzz",
  }),
  subject({
    name: "parseLsof",
    parse: parseLsof,
    records: (v) => v.files,
    fixtures: [
      ["real", "lsof-default-tmpfs.txt"],
      ["real", "lsof-F-tmpfs.txt"],
      ["real", "lsof-F0-tmpfs.txt"],
      ["synthetic", "lsof-default-warnings.txt"],
    ],
    garbage: "#junk",
  }),
  subject({
    name: "parseFuserMv",
    parse: parseFuserMv,
    records: (v) => v.names.flatMap((n) => [...n.processes, ...n.kernelMounts.map((m) => `${n.name} ${m}`)]),
    fixtures: [
      ["real", "fuser-mv-two-names.txt"],
      ["real", "fuser-mv-host-noise.txt"],
      ["synthetic", "fuser-mv-csi-in-use.txt"],
    ],
    garbage: "                     garbage",
  }),
  subject({
    name: "parseFuserPids",
    parse: parseFuserPids,
    records: (v) => v.pids,
    fixtures: [],
    garbage: "oops",
  }),
];

const lineCount = (text: string) => text.split("\n").length;

/** Every issue with a line number points inside the input. */
function expectIssueLinesInside(r: ParseResult<unknown>, text: string) {
  for (const issue of issuesOf(r)) {
    if (issue.line === undefined) continue;
    expect(issue.line, JSON.stringify(issue)).toBeGreaterThanOrEqual(1);
    expect(issue.line, JSON.stringify(issue)).toBeLessThanOrEqual(lineCount(text));
  }
}

// Fragments of every format, so random inputs reach past the first branch of each parser.
const fragment = fc.constantFrom(
  "\n",
  "\0",
  " ",
  "  ",
  "\t",
  "\r\n",
  ":",
  " -> ",
  "total 0",
  "lrwxrwxrwx 1 root root 0 Mar  3 10:02 ",
  "crw------- 1 root root 243,   0 Mar  3 10:15 ",
  "../devices/pci0000:3a/0000:3b:00.3/nvme/nvme2/nvme2n1",
  "0000:3b:00.5",
  "'",
  '"',
  "$'\\n'",
  "COMMAND     PID USER   FD   TYPE DEVICE SIZE/OFF NODE NAME",
  "cloud-hyp 48213 root   31u   CHR  243,0      0t0  967 /dev/vfio/62",
  "p48213",
  "f31",
  "D0xf300",
  "r0x",
  "n/dev/vfio/62",
  "lsof: WARNING: x",
  "                     USER        PID ACCESS COMMAND",
  "/tmp/flcap/m:        root     kernel mount /tmp/flcap/m",
  "                     root          8 F.c.. sleep",
  "kernel",
  "\uFFFD",
);
const formatSoup = fc
  .array(fc.oneof(fragment, fc.string({ maxLength: 8 })), { maxLength: 60 })
  .map((a) => a.join(""));

describe.each(SUBJECTS)("$name never throws", ({ name, run }) => {
  const parse = (text: string) => run(text).result;

  it("on arbitrary strings and format fragments, and keeps issue lines inside the input", () => {
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary", maxLength: 400 }), formatSoup), (text) => {
        const r = parse(text);
        expect(typeof r.ok).toBe("boolean");
        expect(r.ok || issuesOf(r).length > 0).toBe(true);
        expectIssueLinesInside(r, text);
      }),
      { numRuns: 300 },
    );
  });

  it("on random bytes decoded as UTF-8, reporting the replaced bytes", () => {
    const decoder = new TextDecoder("utf-8");
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 400 }), (bytes) => {
        const text = decoder.decode(bytes);
        const r = parse(text);
        if (text.includes("\uFFFD")) expect(issuesOf(r).map((i) => i.code)).toContain("non_utf8");
        expectIssueLinesInside(r, text);
      }),
      { numRuns: 200 },
    );
  });

  it.each([
    ["without a newline", "x".repeat(10 * 1024 * 1024), "truncated"],
    ["with a newline", `${"x".repeat(10 * 1024 * 1024)}\n`, "too_large"],
  ])("on a 10 MB single line %s", (_what, text, code) => {
    const r = parse(text);
    // The stdout-only fuser form has no lines to cut or cap: it is one run of PIDs.
    if (name !== "parseFuserPids") expect(issuesOf(r).map((i) => i.code)).toContain(code);
    expect(text.length).toBeGreaterThan(MAX_LINE_CHARS);
  });
});

const withFixtures = SUBJECTS.flatMap((s) => s.fixtures.map(([kind, file]) => ({ ...s, kind, file })));

describe.each(withFixtures)("$name on $kind/$file", ({ run, kind, file, garbage }) => {
  const full = commandFixture(kind, file);
  const fullRecords = new Set(run(full).records.map((x) => JSON.stringify(x)));

  it("reads a cut copy as a subset of the whole, and says it was cut", () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: full.length - 1 }), (at) => {
        const text = full.slice(0, at);
        const { result: r, records } = run(text);
        for (const rec of records) {
          expect(fullRecords.has(JSON.stringify(rec)), `cut at ${at}: ${JSON.stringify(rec)}`).toBe(true);
        }
        if (!text.endsWith("\n"))
          expect(
            issuesOf(r).map((i) => i.code),
            `cut at ${at}`,
          ).toContain("truncated");
      }),
      { numRuns: 150 },
    );
  });

  it("reports an inserted garbage line at its line number", () => {
    const lines = full.split("\n");
    fc.assert(
      fc.property(fc.integer({ min: 0, max: lines.length - 1 }), (at) => {
        const damaged = [...lines.slice(0, at), garbage, ...lines.slice(at)].join("\n");
        const r = run(damaged).result;
        expect(
          issuesOf(r).map((i) => i.line),
          `inserted at line ${at + 1}`,
        ).toContain(at + 1);
      }),
      { numRuns: 100 },
    );
  });
});
