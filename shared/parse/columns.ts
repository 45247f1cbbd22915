/**
 * Growable columns of numbers for parsers that keep a large input's rows as columns rather than as
 * one object per row: a number in a typed array costs the garbage collector nothing, where a million
 * row objects cost it most of a parse.
 *
 * A column starts small and doubles its first chunk up to CHUNK values; past that it grows a CHUNK at
 * a time and never copies what it holds. A snapshot's trace and kernel log hold a few dozen rows,
 * and a dozen columns of full chunks would be a megabyte of zeroed memory per snapshot.
 *
 * The two classes repeat each other on purpose: one `push` shared by both would see two array types
 * and two kinds of numbers, and V8 would compile it for all of them on every parse's hot path.
 */

import { zeroedFloat64, zeroedInt32 } from "./slab.js";

const CHUNK_SHIFT = 14;
/** Values per full chunk. */
const CHUNK = 1 << CHUNK_SHIFT;
const AT = CHUNK - 1;
/** Values in a new column's first chunk when the caller gives no expected count. */
const FIRST = 256;
/** Fewest values in a first chunk. */
const MIN_FIRST = 16;

/**
 * The first chunk's size for `expected` values: a power of two (a chunk's slots are `length & AT`,
 * so the first chunk must double onto CHUNK exactly), at least MIN_FIRST and at most CHUNK.
 */
function firstCapacity(expected: number): number {
  let capacity = MIN_FIRST;
  while (capacity < expected && capacity < CHUNK) capacity *= 2;
  return capacity;
}

export class Int32Column {
  length = 0;
  /** Values the chunks hold: push grows them when `length` reaches it. */
  private capacity: number;
  private readonly chunks: Int32Array[] = [];
  private last: Int32Array;

  /** `expected`: about how many values the column will hold, to size its first chunk. */
  constructor(expected = FIRST) {
    this.capacity = firstCapacity(expected);
    this.last = zeroedInt32(this.capacity);
    this.chunks.push(this.last);
  }

  push(value: number): void {
    if (this.length === this.capacity) this.grow();
    this.last[this.length & AT] = value;
    this.length++;
  }

  private grow(): void {
    if (this.capacity < CHUNK) {
      // Still the first chunk: index i stays at chunk 0, slot i.
      const bigger = zeroedInt32(this.capacity * 2);
      bigger.set(this.last);
      this.last = bigger;
      this.chunks[0] = bigger;
      this.capacity *= 2;
    } else {
      this.last = new Int32Array(CHUNK);
      this.chunks.push(this.last);
      this.capacity += CHUNK;
    }
  }

  /** Replaces the value at `i` (< length). */
  set(i: number, value: number): void {
    const chunk = this.chunks[i >>> CHUNK_SHIFT];
    if (chunk) chunk[i & AT] = value;
  }

  /** The value at `i` (0 past the end). */
  at(i: number): number {
    return this.chunks[i >>> CHUNK_SHIFT]?.[i & AT] ?? 0;
  }
}

export class Float64Column {
  length = 0;
  /** Values the chunks hold: push grows them when `length` reaches it. */
  private capacity: number;
  private readonly chunks: Float64Array[] = [];
  private last: Float64Array;

  /** `expected`: about how many values the column will hold, to size its first chunk. */
  constructor(expected = FIRST) {
    this.capacity = firstCapacity(expected);
    this.last = zeroedFloat64(this.capacity);
    this.chunks.push(this.last);
  }

  push(value: number): void {
    if (this.length === this.capacity) this.grow();
    this.last[this.length & AT] = value;
    this.length++;
  }

  private grow(): void {
    if (this.capacity < CHUNK) {
      // Still the first chunk: index i stays at chunk 0, slot i.
      const bigger = zeroedFloat64(this.capacity * 2);
      bigger.set(this.last);
      this.last = bigger;
      this.chunks[0] = bigger;
      this.capacity *= 2;
    } else {
      this.last = new Float64Array(CHUNK);
      this.chunks.push(this.last);
      this.capacity += CHUNK;
    }
  }

  /** The value at `i` (0 past the end). */
  at(i: number): number {
    return this.chunks[i >>> CHUNK_SHIFT]?.[i & AT] ?? 0;
  }
}
