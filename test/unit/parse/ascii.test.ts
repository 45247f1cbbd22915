import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  AsciiWindow,
  asciiBytes,
  asciiView,
  hashBytes,
  NextChar,
  NON_ASCII,
  SegmentCache,
} from "../../../shared/parse/ascii.js";

/** The window's bytes for text[s, e), after moving it there. */
function bytesOf(text: string, s = 0, e = text.length): number[] {
  const w = new AsciiWindow(text);
  w.cover(s, e);
  return [...w.bytes.subarray(s - w.base, e - w.base)];
}

describe("AsciiWindow", () => {
  it.each([
    ["ASCII", "csi-plugin-2931 [017]", [..."csi-plugin-2931 [017]"].map((c) => c.charCodeAt(0))],
    ["Latin-1", "café[", [99, 97, 102, NON_ASCII, 91]],
    ["CJK", "进程-1", [NON_ASCII, NON_ASCII, 45, 49]],
    ["an astral character (two UTF-16 units)", "🙂[", [NON_ASCII, NON_ASCII, 91]],
    ["a lone surrogate", "a\ud800b", [97, NON_ASCII, 98]],
  ])("maps each character of %s text to one byte, at its own index", (_what, text, want) => {
    expect(bytesOf(text)).toEqual(want);
  });

  it("keeps indices aligned with the text for any string", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (text) => {
        const want = [...text].flatMap((c) => {
          const code = c.codePointAt(0) ?? 0;
          return code < 0x80 ? [code] : Array.from({ length: c.length }, () => NON_ASCII);
        });
        expect(bytesOf(text)).toEqual(want);
      }),
    );
  });

  it("moves forward to the lines it is asked for, and reads zeros past the end of the text", () => {
    const line = `${"x".repeat(1000)}\n`;
    const text = line.repeat(10_000); // 10 MB: three windows
    const w = new AsciiWindow(text);
    w.cover(0, 1000);
    expect(w.base).toBe(0);
    const late = 9_000 * line.length;
    w.cover(late, late + 1000);
    expect(w.holds(late, late + 1000)).toBe(true);
    expect(w.holds(0, 1000)).toBe(false);
    expect(w.bytes[late + 1000 - w.base]).toBe(10);
    const last = text.length - line.length;
    w.cover(last, text.length - 1);
    expect(w.bytes[text.length - w.base]).toBe(0);
  });
});

describe("asciiBytes", () => {
  it("maps each character of a range to one byte at its offset from the range start", () => {
    const text = "pid 7 (进程 é🙂) S";
    const bytes = asciiBytes(text, 4, text.length);
    expect([...bytes.subarray(0, text.length - 4)]).toEqual(
      [..."7 (\0\0 \0\0\0) S"].map((c) => (c === "\0" ? NON_ASCII : c.charCodeAt(0))),
    );
  });

  const asciiView = (text: string) =>
    [...text].flatMap((c) => {
      const code = c.codePointAt(0) ?? 0;
      return code < 0x80 ? [code] : Array.from({ length: c.length }, () => NON_ASCII);
    });

  it.each([
    ["ASCII", "a) (b".repeat(20)],
    ["UTF-8 that fits the shared buffer", `é🙂\ud800${"a".repeat(100)}进程`],
    ["UTF-8 too long for the shared buffer", "é".repeat(3000)],
    ["a long text whose UTF-8 fits its own buffer", `${"a".repeat(5000)}é`],
    ["a long text whose UTF-8 does not", `a${"进".repeat(5000)}`],
  ])("maps %s to one byte per UTF-16 unit", (_what, text) => {
    expect([...asciiBytes(`x${text}`, 1, text.length + 1).subarray(0, text.length)]).toEqual(asciiView(text));
  });

  it("maps any text to one byte per UTF-16 unit", () => {
    const unit = fc.oneof(fc.constantFrom("a", " ", ")"), fc.string({ unit: "binary", maxLength: 1 }));
    fc.assert(
      fc.property(fc.array(unit, { maxLength: 300 }), (units) => {
        const text = units.join("");
        expect([...asciiBytes(text, 0, text.length).subarray(0, text.length)]).toEqual(asciiView(text));
      }),
    );
  });

  it.each([
    ["a short text, in the shared buffer", 100],
    ["the longest text the shared buffer holds with room to spare", 4088],
    ["a text one byte longer, in a buffer of its own", 4089],
    ["a long text", 70_000],
  ])("leaves at least 8 bytes of room after %s", (_what, length) => {
    const text = `${"7".repeat(length - 1)}\n`;
    const bytes = asciiBytes(text, 0, length);
    expect(bytes.length).toBeGreaterThanOrEqual(length + 8);
    expect(bytes[0]).toBe(55);
    expect(bytes[length - 1]).toBe(10);
  });
});

describe("asciiView", () => {
  it.each([
    ["the shared buffer", 100],
    ["a buffer of its own", 5000],
  ])("reads the bytes asciiBytes returned, in %s, four at a time", (_what, length) => {
    const text = `abcd${"x".repeat(length - 4)}`;
    const bytes = asciiBytes(text, 0, length);
    expect(asciiView(bytes).getUint32(0, true)).toBe(0x64636261);
  });
});

describe("SegmentCache", () => {
  const window = (text: string) => {
    const w = new AsciiWindow(text);
    w.cover(0, text.length);
    return w;
  };

  it("finds a segment again by its bytes wherever it occurs, and nothing else", () => {
    const text = "nvme_probe <-local_pci_probe|nvme_probe <-local_pci_probe|nvme_probe <-local_pci_prob|";
    const w = window(text);
    const cache = new SegmentCache(64);
    cache.set(w, 0, 28, hashBytes(w, 0, 28), 7);
    expect(cache.get(w, 29, 57, hashBytes(w, 29, 57))).toBe(7);
    expect(cache.get(w, 58, 85, hashBytes(w, 58, 85))).toBe(-1);
  });

  it("does not keep segments with non-ASCII characters: they would read the same", () => {
    const text = "café-1|cafü-1";
    const w = window(text);
    const cache = new SegmentCache(64);
    cache.set(w, 0, 6, 1, 3);
    expect(cache.get(w, 0, 6, 1)).toBe(-1);
    expect(cache.get(w, 7, 13, 1)).toBe(-1);
  });

  it("keeps two segments whose hashes meet, and replaces the older one with a third", () => {
    const text = "alpha|bravo|charlie";
    const w = window(text);
    const cache = new SegmentCache(2);
    cache.set(w, 0, 5, 0, 1);
    cache.set(w, 6, 11, 0, 2);
    expect([cache.get(w, 0, 5, 0), cache.get(w, 6, 11, 0)]).toEqual([1, 2]);
    cache.set(w, 12, 19, 0, 3);
    expect([cache.get(w, 0, 5, 0), cache.get(w, 6, 11, 0), cache.get(w, 12, 19, 0)]).toEqual([-1, 2, 3]);
  });

  it("answers -1 for a range outside the window instead of throwing", () => {
    const w = window("short");
    expect(new SegmentCache(2).get(w, 2, 5000, 0)).toBe(-1);
  });
});

describe("NextChar", () => {
  it("finds the next occurrence at or after each position, searching each stretch once", () => {
    const text = "a[b[[c";
    const next = new NextChar("[");
    expect([0, 1, 2, 3, 4, 5, 6].map((p) => next.find(text, p))).toEqual([1, 1, 3, 3, 4, 6, 6]);
  });
});
