/**
 * Zeroed typed arrays for the parsers' small chunks (row tables, columns), cut from a shared slab.
 *
 * A typed array of its own is an off-heap allocation with a fixed cost (~0.3 us in Node): a snapshot's
 * 52 small mountinfo files, its trace and its kernel log made dozens of small chunks that way, a tenth
 * of the mountinfo parse (0.03 of 0.30 ms) and ~0.01 ms of the trace's. A slab is never reused, so a
 * cut is still zero; it lives while any chunk cut from it does. Big chunks (the large-input parses)
 * are allocated on their own, as before.
 */

/** Bytes of a slab (256 KB). */
const SLAB_BYTES = 1 << 18;
/** Largest chunk cut from a slab (16 KB). */
const SLAB_MAX_BYTES = 1 << 14;
let slab = new ArrayBuffer(0);
let used = 0;

/** The byte offset in `slab` of `bytes` zeroed bytes, or -1 for a chunk too big for a slab. */
function cut(bytes: number): number {
  if (bytes > SLAB_MAX_BYTES) return -1;
  // Every cut starts on 8 bytes, so a Float64Array can follow an Int32Array of odd length.
  const size = (bytes + 7) & ~7;
  if (used + size > slab.byteLength) {
    slab = new ArrayBuffer(SLAB_BYTES);
    used = 0;
  }
  const at = used;
  used += size;
  return at;
}

/** A zeroed Int32Array of `values` values. */
export function zeroedInt32(values: number): Int32Array {
  const at = cut(values * 4);
  return at === -1 ? new Int32Array(values) : new Int32Array(slab, at, values);
}

/** A zeroed Float64Array of `values` values. */
export function zeroedFloat64(values: number): Float64Array {
  const at = cut(values * 8);
  return at === -1 ? new Float64Array(values) : new Float64Array(slab, at, values);
}
