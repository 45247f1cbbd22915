import { readFileSync } from "node:fs";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { classifyKernelMessage, parseDmesg, parseKmsg, unescapeKmsg } from "../../../shared/parse/kmsg.js";
import { issuesOf } from "../../../shared/parse/result.js";

const fixture = (path: string) => readFileSync(new URL(`../../fixtures/${path}`, import.meta.url), "utf8");
const decoder = new TextDecoder("utf-8");
const encoder = new TextEncoder();
const PARSERS = [
  ["parseKmsg", parseKmsg],
  ["parseDmesg", parseDmesg],
] as const;

function linesInRange(text: string, issues: readonly { line?: number; code: string }[]): boolean {
  const lines = text.split("\n").length;
  return issues.every((i) => i.line !== undefined && i.line >= 1 && i.line <= lines);
}

/** What the kernel writes to /dev/kmsg for these bytes: `\xNN` for controls, 0x7f and up, and `\`. */
function kmsgEscape(text: string): string {
  let out = "";
  for (const b of encoder.encode(text)) {
    out +=
      b < 0x20 || b >= 0x7f || b === 0x5c ? `\\x${b.toString(16).padStart(2, "0")}` : String.fromCharCode(b);
  }
  return out;
}

describe.each(PARSERS)("%s never throws and always locates its issues", (_name, parse) => {
  it("on arbitrary strings", () => {
    fc.assert(
      fc.property(fc.string({ unit: "grapheme-ascii", maxLength: 400 }), (text) => {
        expect(linesInRange(text, issuesOf(parse(text)))).toBe(true);
      }),
      { numRuns: 500 },
    );
  });

  it("on strings built from kernel-log pieces", () => {
    const piece = fc.constantFrom(
      "6,",
      "12,",
      "98231,",
      "1843212918502,",
      "-;",
      "c,caller=T1;",
      " KEY=V",
      "<6>",
      "[",
      "]",
      "   1.000000",
      "\n",
      " ",
      "\\x0",
      "\\x5c",
      "-- Boot x --",
    );
    fc.assert(
      fc.property(fc.array(piece, { maxLength: 50 }), (pieces) => {
        const text = pieces.join("");
        expect(linesInRange(text, issuesOf(parse(text)))).toBe(true);
      }),
      { numRuns: 800 },
    );
  });

  it("on random bytes decoded as UTF-8", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 600 }), (bytes) => {
        const text = decoder.decode(bytes);
        const r = parse(text);
        expect(linesInRange(text, issuesOf(r))).toBe(true);
        if (text.includes("\uFFFD")) expect(issuesOf(r).some((i) => i.code === "non_utf8")).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it("on a 10 MB single line, with and without its newline", () => {
    const line = `6,1,1,-;${"x".repeat(10 * 1024 * 1024)}`;
    expect(issuesOf(parse(line)).map((i) => i.code)).toEqual(["truncated"]);
    expect(issuesOf(parse(`${line}\n`)).map((i) => i.code)).toEqual(["too_large"]);
  });
});

describe("kernel log parsers on cut input", () => {
  it.each([
    ["incident /dev/kmsg", parseKmsg, fixture("synthetic/kmsg/incident-6.6-dev-kmsg.txt")],
    ["real /dev/kmsg", parseKmsg, fixture("real/kmsg/dev-kmsg-boot.txt")],
    ["dmesg -r with a continuation", parseDmesg, fixture("synthetic/kmsg/alinux2-4.19-dmesg-r.txt")],
    ["real dmesg", parseDmesg, fixture("real/kmsg/dmesg-boot.txt")],
  ] as const)(
    "%s: a prefix yields the same records up to the cut, and says it was cut",
    (_n, parse, full) => {
      const all = parse(full).value.records;
      fc.assert(
        fc.property(fc.integer({ min: 0, max: full.length }), (cut) => {
          const text = full.slice(0, cut);
          const r = parse(text);
          const got = r.value.records;
          got.forEach((rec, i) => {
            const want = all[i];
            // The last record may still be missing dictionary or continuation lines that came after the cut.
            if (i === got.length - 1) expect(want?.text.startsWith(rec.text)).toBe(true);
            else expect(rec).toEqual(want);
          });
          if (cut > 0 && !text.endsWith("\n"))
            expect(issuesOf(r).some((x) => x.code === "truncated")).toBe(true);
        }),
        { numRuns: 300 },
      );
    },
  );
});

describe("parseKmsg reads generated records back exactly", () => {
  it("priority, sequence, timestamp, text and dictionary through the kernel's escaping", () => {
    const record = fc.record({
      prio: fc.integer({ min: 0, max: 191 }),
      usec: fc.nat({ max: 2 ** 50 }),
      text: fc.string({ maxLength: 60 }),
      dict: fc.dictionary(fc.constantFrom("SUBSYSTEM", "DEVICE", "DRIVER"), fc.string({ maxLength: 20 }), {
        maxKeys: 2,
      }),
      gap: fc.nat({ max: 3 }),
    });
    fc.assert(
      fc.property(
        fc.array(record, { minLength: 1, maxLength: 20 }),
        fc.nat({ max: 1e9 }),
        (records, firstSeq) => {
          let seq = firstSeq;
          const seqs: number[] = [];
          const text = records
            .map((r, i) => {
              if (i > 0) seq += 1 + r.gap;
              seqs.push(seq);
              const dict = Object.entries(r.dict).map(([k, v]) => ` ${k}=${kmsgEscape(v)}\n`);
              return `${r.prio},${seq},${r.usec},-;${kmsgEscape(r.text)}\n${dict.join("")}`;
            })
            .join("");
          const parsed = parseKmsg(text);
          expect(issuesOf(parsed).filter((i) => i.code !== "non_utf8")).toEqual([]);
          expect(
            parsed.value.records.map((r) => [r.seq, r.tsUsec, r.facility, r.level, r.text, r.dict]),
          ).toEqual(records.map((r, i) => [seqs[i], r.usec, r.prio >> 3, r.prio & 7, r.text, r.dict]));
          const lost = records.slice(1).reduce((n, r) => n + r.gap, 0);
          expect(parsed.value.lost.reduce((n, g) => n + g.count, 0)).toBe(lost);
        },
      ),
      { numRuns: 300 },
    );
  });

  it("unescapes whatever the kernel escaped", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 80 }), (s) => {
        const wellFormed = decoder.decode(encoder.encode(s));
        expect(unescapeKmsg(kmsgEscape(wellFormed))).toBe(wellFormed);
      }),
      { numRuns: 500 },
    );
  });

  it("classifies any text without throwing", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (s) => {
        classifyKernelMessage(s);
        classifyKernelMessage(`nvme nvme5: ${s}`);
        classifyKernelMessage(`vfio-pci 0000:3b:00.4: ${s}`);
      }),
      { numRuns: 500 },
    );
  });
});
