/**
 * Growable columns of numbers for parsers that keep a large input's rows as columns rather than as
 * one object per row: a number in a typed array costs the garbage collector nothing, where a million
 * row objects cost it most of a parse.
 *
 * A column starts small and doubles its first chunk up to CHUNK values; past that it grows a CHUNK at
 * a time and never copies what it holds. A snapshot's trace and kernel log hold a few hundred rows,
 * and a dozen columns of full chunks would be a megabyte of zeroed memory per snapshot.
 *
 * The two classes repeat each other on purpose: one `push` shared by both would see two array types
 * and two kinds of numbers, and V8 would compile it for all of them on every parse's hot path.
 */

const CHUNK_SHIFT = 14;
/** Values per full chunk. */
const CHUNK = 1 << CHUNK_SHIFT;
const AT = CHUNK - 1;
/** Values in a new column's first chunk. */
const FIRST = 256;

export class Int32Column {
  length = 0;
  /** Values the chunks hold: push grows them when `length` reaches it. */
  private capacity = FIRST;
  private readonly chunks: Int32Array[] = [];
  private last = new Int32Array(FIRST);

  constructor() {
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
      const bigger = new Int32Array(this.capacity * 2);
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
  private capacity = FIRST;
  private readonly chunks: Float64Array[] = [];
  private last = new Float64Array(FIRST);

  constructor() {
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
      const bigger = new Float64Array(this.capacity * 2);
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
