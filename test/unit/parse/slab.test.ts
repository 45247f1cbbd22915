import { describe, expect, it } from "vitest";
import { zeroedFloat64, zeroedInt32 } from "../../../shared/parse/slab.js";

describe("slab chunks", () => {
  it("hands out zeroed, disjoint chunks, a Float64Array right after an odd-length Int32Array included", () => {
    const chunks: (Int32Array | Float64Array)[] = [];
    for (let i = 0; i < 2_000; i++) {
      const c = i % 3 === 0 ? zeroedFloat64(1 + (i % 17)) : zeroedInt32(1 + (i % 29));
      expect(c.every((v) => v === 0)).toBe(true);
      c.fill(i + 1);
      chunks.push(c);
    }
    // Every chunk still holds only its own writes: no two overlap, across several slabs.
    chunks.forEach((c, i) => {
      expect(c.every((v) => v === i + 1)).toBe(true);
    });
  });

  it("gives a chunk past 16 KB a buffer of its own", () => {
    const big = zeroedInt32(8_192);
    expect(big.byteOffset).toBe(0);
    expect(big.buffer.byteLength).toBe(32_768);
    const small = zeroedFloat64(2_048);
    expect(small.buffer.byteLength).toBe(262_144);
  });
});
