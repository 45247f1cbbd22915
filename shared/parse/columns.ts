/**
 * Growable columns of numbers for parsers that keep a large input's rows as columns rather than as
 * one object per row: a number in a typed array costs the garbage collector nothing, where a million
 * row objects cost it most of a parse.
 *
 * The two classes repeat each other on purpose: one `push` shared by both would see two array types
 * and two kinds of numbers, and V8 would compile it for all of them on every parse's hot path.
 */

const CHUNK_SHIFT = 14;
/** Values per chunk: a column grows a chunk at a time and never copies what it holds. */
const CHUNK = 1 << CHUNK_SHIFT;
const AT = CHUNK - 1;

export class Int32Column {
  length = 0;
  private readonly chunks: Int32Array[] = [];
  private last = new Int32Array(CHUNK);

  constructor() {
    this.chunks.push(this.last);
  }

  push(value: number): void {
    const at = this.length & AT;
    if (at === 0 && this.length > 0) {
      this.last = new Int32Array(CHUNK);
      this.chunks.push(this.last);
    }
    this.last[at] = value;
    this.length++;
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
  private readonly chunks: Float64Array[] = [];
  private last = new Float64Array(CHUNK);

  constructor() {
    this.chunks.push(this.last);
  }

  push(value: number): void {
    const at = this.length & AT;
    if (at === 0 && this.length > 0) {
      this.last = new Float64Array(CHUNK);
      this.chunks.push(this.last);
    }
    this.last[at] = value;
    this.length++;
  }

  /** The value at `i` (0 past the end). */
  at(i: number): number {
    return this.chunks[i >>> CHUNK_SHIFT]?.[i & AT] ?? 0;
  }
}
