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
