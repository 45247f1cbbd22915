import { describe, expect, it } from "vitest";
import { Float64Column, Int32Column } from "../../../shared/parse/columns.js";

// Lengths around where a column changes how it grows: the first chunk's doublings (256 .. 16384 values)
// and the whole chunks after it.
const LENGTHS = [0, 1, 255, 256, 257, 511, 512, 513, 16_383, 16_384, 16_385, 32_768, 40_000];

describe("Int32Column", () => {
  it.each(LENGTHS)("keeps every value of %i pushes at its index, and 0 past the end", (n) => {
    const col = new Int32Column();
    for (let i = 0; i < n; i++) col.push(i * 7 - 3);
    expect(col.length).toBe(n);
    for (let i = 0; i < n; i++) if (col.at(i) !== i * 7 - 3) expect(col.at(i), `index ${i}`).toBe(i * 7 - 3);
    expect(col.at(n)).toBe(0);
  });

  it("replaces a value written before the first chunk grew and after", () => {
    const col = new Int32Column();
    for (let i = 0; i < 20_000; i++) col.push(i);
    col.set(100, -1);
    col.set(17_000, -2);
    expect([col.at(99), col.at(100), col.at(101), col.at(17_000), col.at(19_999)]).toEqual([
      99, -1, 101, -2, 19_999,
    ]);
  });

  it("sees a value set before a growth after it", () => {
    const col = new Int32Column();
    for (let i = 0; i < 256; i++) col.push(i);
    col.set(3, 42);
    col.push(256); // doubles the first chunk
    expect([col.at(3), col.at(256)]).toEqual([42, 256]);
  });
});

describe("columns sized by an expected count", () => {
  it.each([0, 1, 15, 16, 17, 100, 5_000, 16_384, 1_000_000])(
    "keeps 40,000 values of a column that expected %i",
    (expected) => {
      const ints = new Int32Column(expected);
      const floats = new Float64Column(expected);
      for (let i = 0; i < 40_000; i++) {
        ints.push(i - 5);
        floats.push(i / 4);
      }
      const wrong: number[] = [];
      for (let i = 0; i < 40_000; i++) if (ints.at(i) !== i - 5 || floats.at(i) !== i / 4) wrong.push(i);
      expect(wrong).toEqual([]);
      expect([ints.length, floats.length, ints.at(40_000), floats.at(40_000)]).toEqual([
        40_000, 40_000, 0, 0,
      ]);
    },
  );

  it("keeps many small columns apart, across several shared slabs", () => {
    // Interleaved pushes: each column's chunks are cut from the same slabs as its neighbours'.
    const ints = Array.from({ length: 300 }, (_, c) => new Int32Column(c % 50));
    const floats = Array.from({ length: 300 }, (_, c) => new Float64Column(c % 70));
    for (let i = 0; i < 600; i++) {
      for (let c = 0; c < 300; c++) {
        ints[c]?.push(c * 1000 + i);
        floats[c]?.push(c + i / 1024);
      }
    }
    const wrong: string[] = [];
    for (let c = 0; c < 300; c++) {
      for (let i = 0; i < 600; i++) {
        if (ints[c]?.at(i) !== c * 1000 + i) wrong.push(`int ${c}/${i}`);
        if (floats[c]?.at(i) !== c + i / 1024) wrong.push(`float ${c}/${i}`);
      }
    }
    expect(wrong).toEqual([]);
  });

  it("starts a new column at zero past its length", () => {
    const col = new Int32Column(16);
    expect([col.length, col.at(0), col.at(15)]).toEqual([0, 0, 0]);
    col.push(7);
    col.set(0, 9);
    expect([col.at(0), col.at(1)]).toEqual([9, 0]);
  });
});

describe("Float64Column", () => {
  it.each(LENGTHS)("keeps every value of %i pushes at its index, and 0 past the end", (n) => {
    const col = new Float64Column();
    for (let i = 0; i < n; i++) col.push(i + 0.5);
    expect(col.length).toBe(n);
    for (let i = 0; i < n; i++) if (col.at(i) !== i + 0.5) expect(col.at(i), `index ${i}`).toBe(i + 0.5);
    expect(col.at(n)).toBe(0);
  });

  it("keeps NaN (a kernel log line without a timestamp)", () => {
    const col = new Float64Column();
    for (let i = 0; i < 300; i++) col.push(i === 299 ? Number.NaN : i);
    expect(col.at(299)).toBeNaN();
  });
});
