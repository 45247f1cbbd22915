/**
 * A byte view of a text, and a cache keyed by its bytes, for the hot loops of the large-input parsers
 * (ftrace, kernel log). In V8, reading a Uint8Array is several times faster than `String#charCodeAt`,
 * which re-checks the string's representation on every call, and encoding ASCII text costs about a
 * millisecond per 4 MB.
 */

/** What a non-ASCII character reads as. It equals no ASCII byte, so it never looks like syntax. */
export const NON_ASCII = 0x80;
/** Zero bytes after the window: a loop may read a few bytes past the line end without a bounds check. */
const PADDING = 8;
/** Bytes per window. At least a maximal line (result.ts MAX_LINE_CHARS) plus its newline. */
const WINDOW_BYTES = 4 << 20;

const encoder = new TextEncoder();

/** Bytes of the buffer AsciiWindow.borrow shares: texts up to this size (less padding) borrow it. */
const SHARED_WINDOW_BYTES = 64 * 1024;
let sharedWindow: { readonly bytes: Uint8Array; readonly view: DataView } | null = null;

/**
 * The bytes of a window of the text: `bytes[i - base]` is the code of `text[i]` when it is ASCII and
 * NON_ASCII otherwise, so parsers keep indexing the text and slice their strings from it. The window
 * moves forward as `cover` asks for later lines; it is a few MB whatever the text's size (a buffer
 * for all of a 50 MB text costs more in page faults than the encoding itself).
 */
export class AsciiWindow {
  readonly bytes: Uint8Array;
  /** The same bytes, for reading four at a time. */
  readonly view: DataView;
  /** Text index of bytes[0]. */
  base = 0;
  /** Text index where the encoded bytes end (the padding reads as zeros). */
  end = 0;

  constructor(
    private readonly text: string,
    buffer?: { readonly bytes: Uint8Array; readonly view: DataView },
  ) {
    this.bytes = buffer?.bytes ?? new Uint8Array(Math.min(text.length, WINDOW_BYTES) + PADDING);
    this.view = buffer?.view ?? new DataView(this.bytes.buffer);
  }

  /**
   * A window over a small text that uses one buffer shared by every window made this way: for a parser
   * of many small files (a snapshot's 50-odd mountinfo files) that is done with the window when it
   * returns, a buffer per file cost more than its parse. Valid until the next `borrow`; a larger text
   * gets a buffer of its own.
   */
  static borrow(text: string): AsciiWindow {
    if (text.length + PADDING > SHARED_WINDOW_BYTES) return new AsciiWindow(text);
    if (sharedWindow === null) {
      const bytes = new Uint8Array(SHARED_WINDOW_BYTES);
      sharedWindow = { bytes, view: new DataView(bytes.buffer) };
    }
    return new AsciiWindow(text, sharedWindow);
  }

  /** Whether text[s, e) is in the window now (a later line may have moved it past earlier ones). */
  holds(s: number, e: number): boolean {
    return s >= this.base && e <= this.end;
  }

  /**
   * Makes text[s] up to and including text[e] readable (`e` is the line end: the byte there is the
   * newline, or a zero past the end of the text). A line must be shorter than the window.
   */
  cover(s: number, e: number): void {
    if (s >= this.base && (e < this.end || this.end === this.text.length)) return;
    const end = Math.min(this.text.length, s + WINDOW_BYTES);
    encodeAscii(this.text, s, end, this.bytes);
    this.bytes.fill(0, end - s, end - s + PADDING);
    this.base = s;
    this.end = end;
  }
}

/** Longest segment a SegmentCache keeps; longer ones are parsed every time. */
const SEGMENT_KEY_BYTES = 128;
const FNV_PRIME = 0x01000193;

/** Hash of all of text[s, e) (in the window), read four bytes at a time. */
export function hashBytes(w: AsciiWindow, s: number, e: number): number {
  const len = e - s;
  if (len < 4 || !w.holds(s, e)) return shortHash(w, s, e);
  const v = w.view;
  const at = s - w.base;
  let h = len;
  let i = 0;
  for (; i + 4 <= len; i += 4) h = Math.imul(h ^ v.getInt32(at + i, true), FNV_PRIME);
  // The last (overlapping) word instead of a byte loop over the rest.
  if (i < len) h = Math.imul(h ^ v.getInt32(at + len - 4, true), FNV_PRIME);
  return finishHash(h);
}

function shortHash(w: AsciiWindow, s: number, e: number): number {
  let h = e - s;
  for (let i = s - w.base; i < e - w.base; i++) h = Math.imul(h ^ (w.bytes[i] ?? 0), FNV_PRIME);
  return finishHash(h);
}

/** Folds the high bits down: a product's low bits (the slot) depend only on its factors' low bits. */
function finishHash(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x45d9f3b);
  return h ^ (h >>> 16);
}

/**
 * Remembers what a segment of a line parsed to, keyed by its exact text: a trace repeats the same
 * `comm-pid ` and `func <-parent` text on most lines, and a kernel log the same dictionaries, so
 * confirming a repeat is a comparison of bytes, four at a time, instead of a scan that builds strings.
 * Nothing is allocated on a hit (slicing the segment to compare it would make garbage on every line).
 * Two-way set-associative: two frequent keys whose hashes meet share the set instead of evicting each
 * other on every line; a third only costs re-parses.
 */
export class SegmentCache {
  /** Each slot's key bytes at slot * SEGMENT_KEY_BYTES; a set is slots 2n and 2n + 1. */
  private readonly keys: Uint8Array;
  private readonly keyView: DataView;
  /** Key length per slot; -1 when empty. */
  private readonly lengths: Int32Array;
  private readonly values: Int32Array;
  /** Per set, the slot that the last hit or insert used: the other one is replaced next. */
  private readonly recent: Uint8Array;
  private readonly setMask: number;

  /** `slots`: a power of two, at least 2. */
  constructor(slots: number) {
    this.keys = new Uint8Array(slots * SEGMENT_KEY_BYTES);
    this.keyView = new DataView(this.keys.buffer);
    this.lengths = new Int32Array(slots).fill(-1);
    this.values = new Int32Array(slots);
    this.recent = new Uint8Array(slots >> 1);
    this.setMask = (slots >> 1) - 1;
  }

  /** The value stored for text[s, e), or -1. */
  get(w: AsciiWindow, s: number, e: number, hash: number): number {
    // A range outside the window would make the DataView throw; parsers only look up the line at hand.
    if (!w.holds(s, e)) return -1;
    const set = hash & this.setMask;
    const len = e - s;
    let slot = set << 1;
    if (this.lengths[slot] !== len || !this.matches(w, s, len, slot)) {
      slot++;
      if (this.lengths[slot] !== len || !this.matches(w, s, len, slot)) return -1;
    }
    this.recent[set] = slot & 1;
    return this.values[slot] ?? -1;
  }

  /** Keys are ASCII only: every non-ASCII character reads as the same byte, so it could not be told apart. */
  set(w: AsciiWindow, s: number, e: number, hash: number, value: number): void {
    const len = e - s;
    if (len > SEGMENT_KEY_BYTES || !w.holds(s, e)) return;
    const from = w.bytes.subarray(s - w.base, e - w.base);
    if (from.includes(NON_ASCII)) return;
    const set = hash & this.setMask;
    const way = 1 - (this.recent[set] ?? 0);
    const slot = (set << 1) + way;
    this.keys.set(from, slot * SEGMENT_KEY_BYTES);
    this.lengths[slot] = len;
    this.values[slot] = value;
    this.recent[set] = way;
  }

  /** Whether text[s, s + len) equals the key in `slot` (of that length). */
  private matches(w: AsciiWindow, s: number, len: number, slot: number): boolean {
    const v = w.view;
    const at = s - w.base;
    const key = slot * SEGMENT_KEY_BYTES;
    if (len < 4) {
      for (let i = 0; i < len; i++) if (w.bytes[at + i] !== this.keys[key + i]) return false;
      return true;
    }
    const kv = this.keyView;
    let i = 0;
    for (; i + 4 <= len; i += 4) if (v.getInt32(at + i, true) !== kv.getInt32(key + i, true)) return false;
    // The last (overlapping) word instead of a byte loop over the rest.
    return i === len || v.getInt32(at + len - 4, true) === kv.getInt32(key + len - 4, true);
  }
}

/**
 * `indexOf` of one character with the answer remembered: queries only move forward, so a stretch of
 * lines without it (a long header, function_graph output) is searched once, not once per line.
 */
export class NextChar {
  private at = -1;
  private from = 0;
  constructor(private readonly ch: string) {}

  /** First index >= p of the character, or text.length when there is none. */
  find(text: string, p: number): number {
    if (p >= this.from && p <= this.at) return this.at;
    const i = text.indexOf(this.ch, p);
    this.from = p;
    this.at = i === -1 ? text.length : i;
    return this.at;
  }
}

/** Bytes of the buffer asciiBytes shares: a few small files' worth; a longer text gets its own. */
const SHARED_BYTES = 4096;
const shared = new Uint8Array(SHARED_BYTES);
const sharedView = new DataView(shared.buffer);

/**
 * The ASCII view of text[s, e) (as in an AsciiWindow: one byte per character, NON_ASCII for the
 * others) in `[0, e - s)` of a buffer with at least PADDING bytes to spare after it (their contents
 * unspecified), shared by every caller and valid until the next call. For parsers of small files,
 * called once per file: a window per call would allocate a buffer each time.
 */
export function asciiBytes(text: string, s: number, e: number): Uint8Array {
  const bytes = e - s + PADDING <= SHARED_BYTES ? shared : new Uint8Array(e - s + PADDING);
  encodeAscii(text, s, e, bytes);
  return bytes;
}

/** The bytes asciiBytes returned, for reading four at a time. */
export function asciiView(bytes: Uint8Array): DataView {
  return bytes === shared ? sharedView : new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/**
 * Writes the ASCII view of text[s, e) to bytes[0, e - s). Non-ASCII text may leave bytes after that
 * overwritten: bounding the first encode by a subarray cost more than the encode of a short text.
 */
function encodeAscii(text: string, s: number, e: number, bytes: Uint8Array): void {
  const chunk = s === 0 && e === text.length ? text : text.slice(s, e);
  const n = e - s;
  const { read, written } = encoder.encodeInto(chunk, bytes);
  if (read === n && written === n) return;
  if (read === n) {
    utf8ToAscii(bytes, written);
    return;
  }
  // Too little room for the UTF-8: encode the ASCII runs at their own offsets.
  let at = 0;
  for (const m of chunk.matchAll(/[\u0080-\uffff]+/g)) {
    encoder.encodeInto(chunk.slice(at, m.index), bytes.subarray(at, m.index));
    at = m.index + m[0].length;
    bytes.fill(NON_ASCII, m.index, at);
  }
  encoder.encodeInto(chunk.slice(at), bytes.subarray(at, n));
}

/**
 * Rewrites the UTF-8 in bytes[0, written) as its ASCII view, in place (each character takes at least
 * as many bytes as it gives). encodeInto writes well-formed UTF-8: a lone surrogate is U+FFFD, and a
 * four-byte character is the two UTF-16 units of a surrogate pair.
 */
function utf8ToAscii(bytes: Uint8Array, written: number): void {
  let out = 0;
  for (let i = 0; i < written; ) {
    const b = bytes[i] ?? 0;
    if (b < 0x80) {
      bytes[out++] = b;
      i++;
    } else if (b >= 0xf0) {
      bytes[out++] = NON_ASCII;
      bytes[out++] = NON_ASCII;
      i += 4;
    } else {
      bytes[out++] = NON_ASCII;
      i += b >= 0xe0 ? 3 : 2;
    }
  }
}

const idle: object[] = [];

/**
 * Keeps an idle instance of each class a parse creates. V8 specializes optimized code to the hidden
 * classes it saw and throws the code away once a full GC finds no instance of them left, which happens
 * between two parses (the parse state is garbage as soon as the result is returned): each parse would
 * then start over in unoptimized code.
 */
export function keepShapes(...instances: object[]): void {
  idle.push(...instances);
}

keepShapes(new AsciiWindow(""), new SegmentCache(2), new NextChar(" "));
