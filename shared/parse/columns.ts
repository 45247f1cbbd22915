/**
 * Growable columns of numbers for parsers that keep a large input's rows as columns rather than as
 * one object per row: a number in a typed array costs the garbage collector nothing, where a million
 * row objects cost it most of a parse.
 */

const CHUNK_SHIFT = 14;
/** Values per chunk: a column grows a chunk at a time and never copies what it holds. */
const CHUNK = 1 << CHUNK_SHIFT;

abstract class Column<A extends Int32Array | Float64Array> {
  length = 0;
  private readonly chunks: A[] = [];
  private last: A;

  constructor() {
    this.last = this.chunk();
    this.chunks.push(this.last);
  }

  protected abstract chunk(): A;

  push(value: number): void {
    const at = this.length & (CHUNK - 1);
    if (at === 0 && this.length > 0) {
      this.last = this.chunk();
      this.chunks.push(this.last);
    }
    this.last[at] = value;
    this.length++;
  }

  /** Replaces the value at `i` (< length). */
  set(i: number, value: number): void {
    const chunk = this.chunks[i >>> CHUNK_SHIFT];
    if (chunk) chunk[i & (CHUNK - 1)] = value;
  }

  /** The value at `i` (0 past the end). */
  at(i: number): number {
    return this.chunks[i >>> CHUNK_SHIFT]?.[i & (CHUNK - 1)] ?? 0;
  }
}

export class Int32Column extends Column<Int32Array> {
  protected chunk(): Int32Array {
    return new Int32Array(CHUNK);
  }
}

export class Float64Column extends Column<Float64Array> {
  protected chunk(): Float64Array {
    return new Float64Array(CHUNK);
  }
}
