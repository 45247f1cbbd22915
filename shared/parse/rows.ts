/**
 * A parser's table of rows of int32 slots, in chunks of Int32Array: for the large-input parsers whose
 * result holds a small object per line (mountinfo's mounts, lsof -F's files) that keeps only its table
 * and row, and reads its fields from them. An object per line with every field made most of such a
 * parse garbage collection and fresh memory (bench/parsers/).
 */

import { zeroedInt32 } from "./slab.js";

/** Most rows per chunk: chunks stay small enough for the allocator to recycle. */
const CHUNK_SHIFT = 10;
const CHUNK_ROWS = 1 << CHUNK_SHIFT;
const CHUNK_MASK = CHUNK_ROWS - 1;

export class RowTable {
  readonly chunks: Int32Array[] = [];
  /** Rows written so far. */
  rows = 0;

  /**
   * `stride`: slots per row. `firstRows`: the first chunk's size in rows, an estimate from the input's
   * size; the first chunk doubles from there and later ones are full, so a small input (the usual
   * case) takes a small one.
   */
  constructor(
    readonly stride: number,
    private readonly firstRows: number,
  ) {}

  /** The chunk that holds row `row`, added or enlarged when it has no room for it. */
  chunkFor(row: number): Int32Array {
    const at = row >>> CHUNK_SHIFT;
    const have = this.chunks[at];
    const need = ((row & CHUNK_MASK) + 1) * this.stride;
    if (have && have.length >= need) return have;
    const rows = at > 0 ? CHUNK_ROWS : have ? 2 * (have.length / this.stride) : this.firstRows;
    const chunk = zeroedInt32(Math.min(CHUNK_ROWS, Math.max(1, rows)) * this.stride);
    if (have) chunk.set(have);
    this.chunks[at] = chunk;
    return chunk;
  }

  /** Where row `row` starts in its chunk (chunkFor's). */
  offsetOf(row: number): number {
    return (row & CHUNK_MASK) * this.stride;
  }

  /** Slot `slot` of row `row`; -1 for a row not written. */
  get(row: number, slot: number): number {
    const chunk = this.chunks[row >>> CHUNK_SHIFT];
    return chunk?.[(row & CHUNK_MASK) * this.stride + slot] ?? -1;
  }
}
