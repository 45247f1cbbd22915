/**
 * The kernel log (reference/evidence-formats.md §2.5, §6): `/dev/kmsg` records, `dmesg -r`, `dmesg` and
 * `journalctl -k -o short-monotonic` text, and the lines of it that matter for PCI/NVMe/VFIO incidents.
 * Timestamps stay on the kernel's `local_clock` (µs since boot), the base ftrace's `local` clock shares.
 *
 * A kernel log can be tens of MB: the line parsers read a byte view of the text (ascii.ts) and take
 * their strings from the text itself.
 */
import { BDF_RE } from "../contracts/events.js";
import { AsciiWindow, hashBytes, keepShapes, NextChar, SegmentCache } from "./ascii.js";
import { Float64Column, Int32Column } from "./columns.js";
import type { EvidenceReader } from "./evidence.js";
import { IssueList, MAX_LINE_CHARS, type ParseIssue, type ParseResult, result } from "./result.js";

/** syslog severities by number (`<3>` is `err`). */
export const LOG_LEVELS = ["emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"] as const;
export type LogLevelName = (typeof LOG_LEVELS)[number];

export const KERNEL_LOG_SOURCES = ["kmsg", "dmesg-raw", "dmesg", "journal"] as const;
export type KernelLogSource = (typeof KERNEL_LOG_SOURCES)[number];

/** One kernel log record. */
export interface KernelLogRecord {
  /** 1-based line of the record's first line. */
  readonly line: number;
  /** /dev/kmsg sequence number; null for dmesg and journal text. */
  readonly seq: number | null;
  /** µs since boot on the kernel's local clock; null for `dmesg` lines printed without timestamps. */
  readonly tsUsec: number | null;
  /** Severity 0-7 (see LOG_LEVELS); null when the text does not carry it (plain dmesg, journal). */
  readonly level: number | null;
  /** syslog facility (0 kernel, 1 user: writes to /dev/kmsg); null when not carried. */
  readonly facility: number | null;
  /** The message, kernel `\xNN` escapes undone; lines of a multi-line message joined with `\n`. */
  readonly text: string;
  /** /dev/kmsg dictionary (` SUBSYSTEM=pci`, ` DEVICE=+pci:0000:3b:00.5`). */
  readonly dict: Readonly<Record<string, string>>;
}

/** Records the ring buffer overwrote before they were read: a jump in `seq`. Not an error. */
export interface KmsgGap {
  readonly afterSeq: number;
  readonly beforeSeq: number;
  readonly count: number;
  /** Line of the first record after the gap. */
  readonly line: number;
}

export interface KernelLog {
  readonly source: KernelLogSource | null;
  /**
   * In file order. Built on first read from compact columns (see RecordTable): most readers count the
   * records or keep the few that carry a fact (kernelLogFacts).
   */
  readonly records: readonly KernelLogRecord[];
  readonly recordCount: number;
  /** Sequence gaps inside the read (/dev/kmsg only). */
  readonly lost: readonly KmsgGap[];
  /** First and last seq read; records before `firstSeq` had already left the ring buffer. */
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  /** journalctl `-- Boot <id> --` lines: records after each belong to a later boot (timestamps restart). */
  readonly bootBreaks: readonly number[];
}

const C_TAB = 9;
const C_SPACE = 32;
const C_COMMA = 44;
const C_DASH = 45;
const C_DOT = 46;
const C_EQ = 61;
const C_0 = 48;
const C_9 = 57;
const C_SEMI = 59;
const C_LT = 60;
const C_GT = 62;
const C_LBRACKET = 91;
const C_BACKSLASH = 92;
const C_RBRACKET = 93;
const EMPTY_DICT: Readonly<Record<string, string>> = Object.freeze({});
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6];
const utf8 = new TextDecoder("utf-8");

// A constant rather than a function declaration: a module's functions are mutable bindings, and V8
// re-checks one it inlined on every iteration of the digit loops that call it.
const isDigit = (c: number): boolean => c >= C_0 && c <= C_9;

function hexValue(c: number): number {
  if (c >= C_0 && c <= C_9) return c - C_0;
  const lower = c | 0x20;
  return lower >= 97 && lower <= 102 ? lower - 87 : -1;
}

/**
 * Undoes /dev/kmsg escaping: the kernel prints bytes below 0x20, from 0x7f, and `\` itself as `\xNN`, so
 * UTF-8 text arrives as runs of escapes that decode together. A `\` not followed by two hex digits is kept.
 */
export function unescapeKmsg(s: string): string {
  let at = s.indexOf("\\x");
  if (at === -1) return s;
  let out = "";
  let copied = 0;
  const bytes: number[] = [];
  while (at !== -1) {
    const hi = hexValue(s.charCodeAt(at + 2));
    const lo = hexValue(s.charCodeAt(at + 3));
    if (hi < 0 || lo < 0) {
      at = s.indexOf("\\x", at + 1);
      continue;
    }
    out += s.slice(copied, at);
    bytes.length = 0;
    let q = at;
    while (s.charCodeAt(q) === C_BACKSLASH && s.charCodeAt(q + 1) === 120) {
      const h = hexValue(s.charCodeAt(q + 2));
      const l = hexValue(s.charCodeAt(q + 3));
      if (h < 0 || l < 0) break;
      bytes.push(h * 16 + l);
      q += 4;
    }
    let ascii = true;
    for (const b of bytes) if (b >= 0x80) ascii = false;
    if (ascii) for (const b of bytes) out += String.fromCharCode(b);
    else out += utf8.decode(Uint8Array.from(bytes));
    copied = q;
    at = s.indexOf("\\x", q);
  }
  return out + s.slice(copied);
}

/** What the line loop hands each line to: one parser's state. */
interface LineReader {
  readonly issues: IssueList;
  /** Reads the line text[s, e) (without its newline), which the window covers. */
  line(s: number, e: number, lineNo: number): void;
}

/**
 * Line loop shared by both parsers: drops a cut final line and skips oversized ones, with issues; moves
 * the byte window to each line it passes on. The parsers' state is an object with a method rather than
 * a closure: V8 keeps a method's compiled code from one parse to the next, and would compile each
 * parse's new closure anew.
 */
function eachLine(text: string, w: AsciiWindow, reader: LineReader): void {
  const n = text.length;
  let start = 0;
  let lineNo = 0;
  while (start < n) {
    let end = text.indexOf("\n", start);
    lineNo++;
    if (end === -1) {
      reader.issues.add("truncated", "last line has no newline (read cut short); dropped", lineNo);
      return;
    }
    const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (stop - start > MAX_LINE_CHARS) {
      reader.issues.add("too_large", `line of ${stop - start} characters skipped`, lineNo);
    } else {
      w.cover(start, stop);
      reader.line(start, stop, lineNo);
    }
    end++;
    start = end;
  }
}

function preview(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

function nonUtf8(text: string, issues: IssueList): void {
  const bad = text.indexOf("\uFFFD");
  if (bad === -1) return;
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < bad; i = text.indexOf("\n", i + 1)) line++;
  issues.add("non_utf8", "bytes that are not UTF-8 were replaced", line);
}

/**
 * The dictionary of a record from its ` KEY=VALUE` lines (`raw`, newline-separated). Records about the
 * same device carry the same lines, so parseKmsg shares one frozen object among equal dictionaries.
 */
function dictOf(raw: string): Readonly<Record<string, string>> {
  const dict: Record<string, string> = {};
  for (const line of raw.split("\n")) {
    const l = line.endsWith("\r") ? line.slice(0, -1) : line;
    const eq = l.indexOf("=");
    dict[l.slice(1, eq)] = unescapeKmsg(l.slice(eq + 1));
  }
  return Object.freeze(dict);
}

const DICT_SLOTS = 1024;

/**
 * Cache slots for a log of `chars` characters: DICT_SLOTS from 512 KB up. A snapshot's log is a few
 * KB, and a fixed 1,024-slot cache (128-byte keys) allocated ~140 KB per parse: ~0.03 ms of the
 * ~0.05 ms readKernelLog took on the bench bundle.
 */
function dictSlots(chars: number): number {
  let slots = 16;
  while (slots < DICT_SLOTS && slots * 512 < chars) slots *= 2;
  return slots;
}

/** Dictionaries seen before, by the bytes of their lines: found again without slicing those lines. */
class DictCache {
  private readonly cache: SegmentCache;
  private readonly dicts: Readonly<Record<string, string>>[] = [];

  constructor(
    private readonly text: string,
    private readonly w: AsciiWindow,
  ) {
    this.cache = new SegmentCache(dictSlots(text.length));
  }

  /** The dictionary of the lines in text[s, e). */
  get(s: number, e: number): Readonly<Record<string, string>> {
    // The record's line moved the window past its dictionary's lines: read those from the text.
    if (!this.w.holds(s, e)) return dictOf(this.text.slice(s, e));
    const hash = hashBytes(this.w, s, e);
    const id = this.cache.get(this.w, s, e, hash);
    const known = this.dicts[id];
    if (known) return known;
    const dict = dictOf(this.text.slice(s, e));
    this.cache.set(this.w, s, e, hash, this.dicts.push(dict) - 1);
    return dict;
  }
}

/**
 * About how many records a log of `chars` characters holds: a record (with its dictionary lines) is
 * 60-100 characters. The columns' first chunks take this size, so a snapshot's log of a hundred
 * records takes 128-value chunks, not 256, and a big one starts at full chunks.
 */
function recordsIn(chars: number): number {
  return Math.ceil(chars / 64);
}

/**
 * The records of a kernel log, column by column. A log of tens of MB holds a record per line or two,
 * and an object and a string per record would cost most of the parse, while most readers need only a
 * few records: evidence overlays count them, kernelLogFacts keeps the ones that carry a fact. Records
 * are built when asked for, once each, so every reader sees the same objects.
 */
class RecordTable {
  private readonly lines: Int32Column;
  /** /dev/kmsg sequence numbers; null for dmesg and journal text. */
  private readonly seqs: Float64Column | null;
  /** NaN when printed without a timestamp. */
  private readonly stamps: Float64Column;
  /** prio + 1 (0 when not printed) in the low bits, and the ESCAPED and JOINED flags. */
  private readonly meta: Int32Column;
  /** The message is text[start, end) (unescaped when ESCAPED; whole in `joined` when JOINED). */
  private readonly starts: Int32Column;
  private readonly ends: Int32Column;
  /** Id into `dicts`, -1 for none; null for dmesg and journal text. */
  private readonly dictIds: Int32Column | null;
  private readonly dicts: Readonly<Record<string, string>>[] = [];
  private readonly joined = new Map<number, string>();
  /** Records built one by one (kernelLogFacts), by row; then all of them (`records`). */
  private built: (KernelLogRecord | undefined)[] | null = null;
  private all: KernelLogRecord[] | null = null;

  constructor(
    private readonly text: string,
    kmsg: boolean,
  ) {
    const rows = recordsIn(text.length);
    this.lines = new Int32Column(rows);
    this.seqs = kmsg ? new Float64Column(rows) : null;
    this.stamps = new Float64Column(rows);
    this.meta = new Int32Column(rows);
    this.starts = new Int32Column(rows);
    this.ends = new Int32Column(rows);
    this.dictIds = kmsg ? new Int32Column(rows) : null;
  }

  get count(): number {
    return this.lines.length;
  }

  /**
   * A record whose message is text[s, e) (kmsg-escaped when `escaped`); seq (ignored without a seq
   * column) and tsUsec NaN and prio -1 when not printed. Returns its row.
   */
  add(
    line: number,
    seq: number,
    tsUsec: number,
    prio: number,
    s: number,
    e: number,
    escaped: boolean,
  ): number {
    this.lines.push(line);
    this.seqs?.push(seq);
    this.stamps.push(tsUsec);
    this.meta.push((prio + 1) | (escaped ? ESCAPED : 0));
    this.starts.push(s);
    this.ends.push(e);
    this.dictIds?.push(-1);
    return this.lines.length - 1;
  }

  /** Adds a continuation line to the message of `row`. */
  append(row: number, more: string): void {
    this.joined.set(row, `${this.message(row)}\n${more}`);
    this.meta.set(row, this.meta.at(row) | JOINED);
  }

  dict(row: number): Readonly<Record<string, string>> {
    return this.dicts[this.dictIds?.at(row) ?? -1] ?? EMPTY_DICT;
  }

  setDict(row: number, dict: Readonly<Record<string, string>>): void {
    this.dictIds?.set(row, this.dicts.push(dict) - 1);
  }

  /** The message of `row`, escapes undone. */
  message(row: number): string {
    const meta = this.meta.at(row);
    if (meta & JOINED) return this.joined.get(row) ?? "";
    const raw = this.text.slice(this.starts.at(row), this.ends.at(row));
    return meta & ESCAPED ? unescapeKmsg(raw) : raw;
  }

  record(row: number): KernelLogRecord {
    if (this.all) return this.all[row] ?? this.build(row);
    this.built ??= new Array(this.count);
    let record = this.built[row];
    if (record === undefined) {
      record = this.build(row);
      this.built[row] = record;
    }
    return record;
  }

  records(): KernelLogRecord[] {
    if (this.all === null) {
      const records: KernelLogRecord[] = [];
      for (let row = 0; row < this.count; row++) records.push(this.built?.[row] ?? this.build(row));
      this.all = records;
      this.built = null;
    }
    return this.all;
  }

  private build(row: number): KernelLogRecord {
    const seq = this.seqs === null ? Number.NaN : this.seqs.at(row);
    const ts = this.stamps.at(row);
    const prio = (this.meta.at(row) & PRIO_BITS) - 1;
    return {
      line: this.lines.at(row),
      seq: Number.isNaN(seq) ? null : seq,
      tsUsec: Number.isNaN(ts) ? null : ts,
      level: prio === -1 ? null : prio & 7,
      facility: prio === -1 ? null : prio >> 3,
      text: this.message(row),
      dict: this.dict(row),
    };
  }
}

/** RecordTable meta: prio + 1 fits in 11 bits (prio <= 1023); the flags sit above it. */
const PRIO_BITS = 0x7ff;
const ESCAPED = 1 << 11;
const JOINED = 1 << 12;

/** The table behind each KernelLog the parsers returned, for kernelLogFacts. */
const tables = new WeakMap<KernelLog, RecordTable>();

/** A KernelLog whose `records` are built from `table` on first read. */
function kernelLog(table: RecordTable, fields: Omit<KernelLog, "records" | "recordCount">): KernelLog {
  let records: readonly KernelLogRecord[] | null = null;
  const log: KernelLog = {
    source: fields.source,
    // An own, enumerable getter: spreads, JSON and test snapshots see the records like a plain field.
    get records() {
      records ??= table.records();
      return records;
    },
    recordCount: table.count,
    lost: fields.lost,
    firstSeq: fields.firstSeq,
    lastSeq: fields.lastSeq,
    bootBreaks: fields.bootBreaks,
  };
  tables.set(log, table);
  return log;
}

/** The state of one parseKmsg. */
class KmsgReader implements LineReader {
  readonly issues = new IssueList();
  readonly w: AsciiWindow;
  readonly table: RecordTable;
  private readonly dicts: DictCache;
  private readonly backslash = new NextChar("\\");
  readonly lost: KmsgGap[] = [];
  /** Row of the record dictionary lines belong to; -1 when the line above was not one. */
  private last = -1;
  firstSeq: number | null = null;
  prevSeq: number | null = null;
  /** Dictionary lines of `last` not yet turned into its dict: [dictStart, dictEnd) of the text. */
  private dictStart = -1;
  private dictEnd = -1;

  constructor(private readonly text: string) {
    this.w = new AsciiWindow(text);
    this.table = new RecordTable(text, true);
    this.dicts = new DictCache(text, this.w);
  }

  line(s: number, e: number, lineNo: number): void {
    if (s === e) return;
    const { text, w } = this;
    const u = w.bytes;
    const o = w.base;
    const c0 = u[s - o] ?? 0;
    if (c0 === C_SPACE) {
      if (this.last === -1) {
        this.issues.add("malformed_line", "dictionary line with no readable record above it", lineNo);
        return;
      }
      let eq = s + 1;
      while (eq < e && u[eq - o] !== C_EQ) eq++;
      if (eq >= e || eq === s + 1) {
        this.closeDict();
        this.issues.add(
          "malformed_line",
          `dictionary line without KEY=: ${preview(text.slice(s, e))}`,
          lineNo,
        );
        return;
      }
      if (this.dictStart === -1) this.dictStart = s;
      this.dictEnd = e;
      return;
    }
    this.closeDict();
    // prio,seq,usec,flags[,...];text
    // The byte at `e` (newline, CR, padding) is never a digit: the digit loops need no bound.
    let p = s;
    let prio = 0;
    let c = c0;
    for (; isDigit(c); c = u[++p - o] ?? 0) prio = prio * 10 + (c - C_0);
    const prioEnd = p;
    let seq = 0;
    if (c === C_COMMA) p++;
    const seqStart = p;
    for (c = u[p - o] ?? 0; isDigit(c); c = u[++p - o] ?? 0) seq = seq * 10 + (c - C_0);
    const seqEnd = p;
    let usec = 0;
    if (c === C_COMMA) p++;
    const usecStart = p;
    for (c = u[p - o] ?? 0; isDigit(c); c = u[++p - o] ?? 0) usec = usec * 10 + (c - C_0);
    if (
      prioEnd === s ||
      seqEnd === seqStart ||
      p === usecStart ||
      p >= e ||
      c !== C_COMMA ||
      u[seqStart - 1 - o] !== C_COMMA
    ) {
      this.last = -1;
      this.issues.add(
        "malformed_line",
        `not a kmsg record: ${preview(text.slice(s, Math.min(e, s + 200)))}`,
        lineNo,
      );
      return;
    }
    let semi = p;
    while (semi < e && u[semi - o] !== C_SEMI) semi++;
    if (semi >= e) {
      this.last = -1;
      this.issues.add("malformed_line", `kmsg record without ";": ${preview(text.slice(s, e))}`, lineNo);
      return;
    }
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(usec) || prio > 1023) {
      this.last = -1;
      this.issues.add("invalid_field", `kmsg numbers out of range: ${preview(text.slice(s, semi))}`, lineNo);
      return;
    }
    if (this.firstSeq === null) this.firstSeq = seq;
    const prev = this.prevSeq;
    if (prev !== null) {
      if (seq > prev + 1) {
        this.lost.push({ afterSeq: prev, beforeSeq: seq, count: seq - prev - 1, line: lineNo });
      } else if (seq <= prev) {
        this.issues.add(
          "inconsistent",
          `seq went back from ${prev} to ${seq} (two reads, or a reboot)`,
          lineNo,
        );
      }
    }
    this.prevSeq = seq;
    // The message is unescaped when it is read; only a `\` can start an escape.
    const escaped = this.backslash.find(text, semi + 1) < e;
    this.last = this.table.add(lineNo, seq, usec, prio, semi + 1, e, escaped);
  }

  closeDict(): void {
    if (this.dictStart === -1 || this.last === -1) return;
    const dict = this.dicts.get(this.dictStart, this.dictEnd);
    const before = this.table.dict(this.last);
    // Lines split by a malformed one: both parts belong to the record.
    this.table.setDict(this.last, before === EMPTY_DICT ? dict : Object.freeze({ ...before, ...dict }));
    this.dictStart = -1;
  }
}

/**
 * Parses `/dev/kmsg` records (`prio,seq,usec,flags[,more];text` plus ` KEY=VALUE` dictionary lines).
 * A jump in `seq` is reported in `lost` (the ring buffer wrapped), not as an issue.
 */
export function parseKmsg(text: string): ParseResult<KernelLog> {
  const r = new KmsgReader(text);
  eachLine(text, r.w, r);
  r.closeDict();
  nonUtf8(text, r.issues);
  const fields = {
    source: "kmsg",
    lost: r.lost,
    firstSeq: r.firstSeq,
    lastSeq: r.prevSeq,
    bootBreaks: [],
  } as const;
  return result(kernelLog(r.table, fields), r.issues.done());
}

/**
 * Result slot of scanBracketTs (one parse at a time; saves an object per line). An object field, not a
 * module variable: V8 stores a double into a field in place but boxes it anew for a module variable.
 */
const tsScratch = { usec: 0 };

/** Reads `[  123.456789]` at p; returns the index after `]` (and one space) or -1; sets tsScratch. */
function scanBracketTs(w: AsciiWindow, p: number, e: number): number {
  const u = w.bytes;
  const o = w.base;
  if (u[p - o] !== C_LBRACKET) return -1;
  p++;
  while (p < e && u[p - o] === C_SPACE) p++;
  const secStart = p;
  let sec = 0;
  let c = u[p - o] ?? 0;
  for (; isDigit(c); c = u[++p - o] ?? 0) sec = sec * 10 + (c - C_0);
  if (p === secStart || p >= e || c !== C_DOT) return -1;
  p++;
  const fracStart = p;
  let frac = 0;
  for (c = u[p - o] ?? 0; isDigit(c); c = u[++p - o] ?? 0) {
    if (p - fracStart < 6) frac = frac * 10 + (c - C_0);
  }
  const digits = Math.min(p - fracStart, 6);
  if (digits === 0 || p >= e || c !== C_RBRACKET) return -1;
  tsScratch.usec = sec * 1e6 + frac * (POW10[6 - digits] ?? 1);
  p++;
  if (p < e && u[p - o] === C_SPACE) p++;
  return p;
}

/** `node-1 kernel: ` after the journal's timestamp; returns the index after it or -1. */
function journalPrefixEnd(text: string, p: number, e: number): number {
  let q = p;
  while (q < e && text.charCodeAt(q) !== C_SPACE) q++;
  if (q === p || !text.startsWith(" kernel: ", q)) return -1;
  return q + 9;
}

/** The state of one parseDmesg. */
class DmesgReader implements LineReader {
  readonly issues = new IssueList();
  readonly w: AsciiWindow;
  readonly table: RecordTable;
  source: KernelLogSource | null = null;
  readonly bootBreaks: number[] = [];
  /** Row of the record continuation lines belong to; -1 when the line above was not one. */
  private last = -1;
  /** Width of the last record's prefix: how far its continuation lines are indented. */
  private indent = 0;

  constructor(private readonly text: string) {
    this.w = new AsciiWindow(text);
    this.table = new RecordTable(text, false);
  }

  line(s: number, e: number, lineNo: number): void {
    if (s === e) return;
    const { text, w } = this;
    const u = w.bytes;
    const o = w.base;
    const c0 = u[s - o] ?? 0;
    if (c0 === C_SPACE || c0 === C_TAB) {
      if (this.last === -1) {
        this.issues.add("malformed_line", "continuation line with no readable record above it", lineNo);
        return;
      }
      let p = s;
      while (p < e && p - s < this.indent && u[p - o] === C_SPACE) p++;
      this.table.append(this.last, text.slice(p, e));
      return;
    }
    if (c0 === C_DASH && text.startsWith("-- ", s)) {
      // journalctl notes: `-- Logs begin at ... --`, `-- No entries --`, `-- Boot <id> --`.
      if (text.startsWith("-- Boot ", s)) this.bootBreaks.push(lineNo);
      this.last = -1;
      return;
    }
    let p = s;
    // Numbers with "not printed" values (-1, NaN) rather than null: a nullable local would be boxed.
    let prio = -1;
    if (c0 === C_LT) {
      p++;
      let v = 0;
      const start = p;
      let c = u[p - o] ?? 0;
      for (; isDigit(c); c = u[++p - o] ?? 0) v = v * 10 + (c - C_0);
      if (p === start || p >= e || c !== C_GT || v > 1023) {
        this.malformed("bad <prio> prefix", s, e, lineNo);
        return;
      }
      prio = v;
      p++;
      this.source ??= "dmesg-raw";
    }
    let tsUsec = Number.NaN;
    if (u[p - o] === C_LBRACKET) {
      const after = scanBracketTs(w, p, e);
      if (after === -1) {
        this.malformed("bad [timestamp]", s, e, lineNo);
        return;
      }
      tsUsec = tsScratch.usec;
      p = after;
      if (this.source === null) this.source = journalPrefixEnd(text, p, e) === -1 ? "dmesg" : "journal";
      if (this.source === "journal") {
        const q = journalPrefixEnd(text, p, e);
        if (q !== -1) p = q;
      }
    } else if (prio === -1) {
      this.malformed("not a kernel log line", s, e, lineNo);
      return;
    }
    this.indent = p - s;
    this.last = this.table.add(lineNo, Number.NaN, tsUsec, prio, p, e, false);
  }

  private malformed(what: string, s: number, e: number, lineNo: number): void {
    this.last = -1;
    this.issues.add(
      "malformed_line",
      `${what}: ${preview(this.text.slice(s, Math.min(e, s + 200)))}`,
      lineNo,
    );
  }
}

/**
 * Parses `dmesg -r` (`<6>[  123.456789] text`), plain `dmesg` (`[  123.456789] text`) and
 * `journalctl -k -o short-monotonic` (`[1843212.918502] node-1 kernel: text`). Lines starting with a blank
 * continue the previous record (dmesg indents the later lines of a multi-line message).
 */
export function parseDmesg(text: string): ParseResult<KernelLog> {
  const r = new DmesgReader(text);
  eachLine(text, r.w, r);
  nonUtf8(text, r.issues);
  const fields = { source: r.source, lost: [], firstSeq: null, lastSeq: null, bootBreaks: r.bootBreaks };
  return result(kernelLog(r.table, fields), r.issues.done());
}

// The parse state of an empty log: see keepShapes.
keepShapes(new KmsgReader(""), new DmesgReader(""));

/**
 * Reads the kernel log a bundle shipped at `dev/kmsg` (the shipper reads /dev/kmsg until EAGAIN); null
 * without issues when the bundle has none.
 */
export function readKernelLog(reader: EvidenceReader): ParseResult<KernelLog | null> {
  const path = "dev/kmsg";
  const why = reader.unreadable(path, "file");
  if (why?.reason === "absent") return { ok: true, value: null };
  if (why !== undefined) {
    const detail =
      why.reason === "error"
        ? `${why.code} ${why.message}`
        : why.reason === "timeout"
          ? `timed out after ${why.afterMs} ms`
          : `shipped as ${why.kind}`;
    return result(null, [{ code: "missing", path: [path], message: `dev/kmsg not readable: ${detail}` }]);
  }
  const parsed = parseKmsg(reader.text(path) ?? "");
  const issues: ParseIssue[] = parsed.ok ? [] : parsed.issues.map((i) => ({ ...i, path: [path, ...i.path] }));
  if (reader.capped(path)) {
    issues.push({ code: "truncated", path: [path], message: "cut by the shipper's size cap" });
  }
  return result(parsed.value, issues);
}

// ---------------------------------------------------------------------------------------------------
// Classification

/**
 * The `dev_printk` prefix: `<driver> <device>: `. `driver` is the bound driver's name, or the bus/class
 * name when none is bound (`pci 0000:3b:00.5:` means no driver yet; `nvme nvme5:` is the controller class
 * device).
 */
export interface KernelDevice {
  readonly driver: string;
  readonly name: string;
  /** Set when `name` is a PCI address (lower-case). */
  readonly bdf: string | null;
  /** Set when `name` is an NVMe controller (`nvme5`). */
  readonly ctrl: string | null;
}

/** A kernel log line that bears on PCI binding, NVMe bring-up or VFIO release. */
export type KernelFact =
  | {
      readonly kind: "nvme_pci_function";
      readonly device: KernelDevice;
      readonly ctrl: string;
      readonly bdf: string;
    }
  | {
      readonly kind: "nvme_removed_after_probe_failure";
      readonly device: KernelDevice;
      readonly ctrl: string;
      readonly status: number;
    }
  | { readonly kind: "nvme_not_ready"; readonly device: KernelDevice; readonly stage: string | null }
  | {
      readonly kind: "probe_failed";
      readonly device: KernelDevice;
      readonly bdf: string | null;
      readonly driver: string;
      readonly error: number;
      /** `dev_err` "probe with driver X failed" (≈6.10+) or the older `pr_warn` "X: probe of D failed". */
      readonly form: "dev_err" | "pr_warn";
    }
  | { readonly kind: "iommu_group_added"; readonly device: KernelDevice; readonly group: number }
  | { readonly kind: "iommu_group_removed"; readonly device: KernelDevice; readonly group: number }
  | {
      readonly kind: "pci_enumerated";
      readonly device: KernelDevice;
      readonly vendor: string;
      readonly deviceId: string;
      readonly headerType: string;
      readonly classCode: string;
      /** What newer kernels append (`conventional PCI endpoint`, `PCIe Endpoint`). */
      readonly detail: string | null;
    }
  | { readonly kind: "card_not_present"; readonly device: KernelDevice; readonly slot: string }
  | { readonly kind: "vfio_request_relayed"; readonly device: KernelDevice; readonly count: number }
  | {
      readonly kind: "vfio_device_in_use";
      readonly device: KernelDevice;
      readonly comm: string;
      readonly pid: number;
    }
  | { readonly kind: "vfio_blocked_until_released"; readonly device: KernelDevice };

const NVME_CTRL_RE = /^nvme\d+$/;

function deviceOf(driver: string, name: string): KernelDevice {
  const lower = name.toLowerCase();
  const bdf = BDF_RE.test(lower) ? lower : null;
  return { driver, name, bdf, ctrl: bdf === null && NVME_CTRL_RE.test(name) ? name : null };
}

/** Splits the `driver device: ` prefix off a kernel message; null when the message has none. */
export function kernelMessageDevice(text: string): { device: KernelDevice; rest: string } | null {
  const sp = text.indexOf(" ");
  if (sp <= 0 || sp > 64) return null;
  const colon = text.indexOf(": ", sp + 1);
  if (colon === -1 || colon - sp > 72) return null;
  const name = text.slice(sp + 1, colon);
  // `EXT4-fs (vda): ` is a pr_* prefix naming a device in parentheses, not a dev_printk one.
  if (name.length === 0 || name.includes(" ") || name.startsWith("(")) return null;
  const driver = text.slice(0, sp);
  if (driver.endsWith(":")) return null;
  return { device: deviceOf(driver, name), rest: text.slice(colon + 2) };
}

/** A signed decimal integer, or null. */
function intOf(s: string): number | null {
  return /^-?\d{1,15}$/.test(s) ? Number(s) : null;
}

/**
 * Classifies one kernel message (text after the timestamp) into the facts §2.5 lists, or null. Cheap
 * prefix checks run first; a regex only confirms a line that already matched.
 */
export function classifyKernelMessage(text: string): KernelFact | null {
  // Older pr_warn form has no device prefix: `nvme: probe of 0000:3b:00.5 failed with error -12`.
  const probeOf = text.indexOf(": probe of ");
  if (probeOf > 0 && probeOf < 64 && !text.slice(0, probeOf).includes(" ")) {
    const m = /^(\S+) failed with error (-?\d+)$/.exec(text.slice(probeOf + 11));
    if (m?.[1] && m[2]) {
      const driver = text.slice(0, probeOf);
      const device = deviceOf(driver, m[1]);
      return { kind: "probe_failed", device, bdf: device.bdf, driver, error: Number(m[2]), form: "pr_warn" };
    }
  }
  const prefixed = kernelMessageDevice(text);
  if (!prefixed) return null;
  const { device, rest } = prefixed;
  switch (rest.charCodeAt(0)) {
    case 112: {
      // p
      if (rest.startsWith("pci function ") && device.ctrl) {
        const bdf = rest.slice(13).trim().toLowerCase();
        return BDF_RE.test(bdf) ? { kind: "nvme_pci_function", device, ctrl: device.ctrl, bdf } : null;
      }
      if (rest.startsWith("probe with driver ")) {
        const m = /^probe with driver (\S+) failed with error (-?\d+)$/.exec(rest);
        if (m?.[1] && m[2]) {
          return {
            kind: "probe_failed",
            device,
            bdf: device.bdf,
            driver: m[1],
            error: Number(m[2]),
            form: "dev_err",
          };
        }
      }
      if (rest.startsWith("pciehp: ") && rest.endsWith(": Card not present")) {
        const slot = /^pciehp: Slot\(([^)]*)\): Card not present$/.exec(rest);
        if (slot?.[1] !== undefined) return { kind: "card_not_present", device, slot: slot[1] };
      }
      return null;
    }
    case 82: {
      // R
      if (rest.startsWith("Removing after probe failure status: ") && device.ctrl) {
        const status = intOf(rest.slice(37).trim());
        return status === null
          ? null
          : { kind: "nvme_removed_after_probe_failure", device, ctrl: device.ctrl, status };
      }
      if (rest.startsWith("Removing from iommu group ")) {
        const group = intOf(rest.slice(26).trim());
        return group === null ? null : { kind: "iommu_group_removed", device, group };
      }
      if (rest.startsWith("Relaying device request to user (#")) {
        const m = /^Relaying device request to user \(#(\d+)\)$/.exec(rest);
        return m?.[1] ? { kind: "vfio_request_relayed", device, count: Number(m[1]) } : null;
      }
      return null;
    }
    case 65: {
      // A
      if (rest.startsWith("Adding to iommu group ")) {
        const group = intOf(rest.slice(22).trim());
        return group === null ? null : { kind: "iommu_group_added", device, group };
      }
      return null;
    }
    case 68: {
      // D
      if (rest.startsWith("Device not ready; aborting ")) {
        const stage = /^Device not ready; aborting (\w+)/.exec(rest);
        return { kind: "nvme_not_ready", device, stage: stage?.[1] ?? null };
      }
      if (rest.startsWith('Device is currently in use, task "')) {
        const m = /^Device is currently in use, task "(.*)" \((\d+)\) blocked until device is released$/.exec(
          rest,
        );
        return m?.[1] !== undefined && m[2]
          ? { kind: "vfio_device_in_use", device, comm: m[1], pid: Number(m[2]) }
          : null;
      }
      return null;
    }
    case 78: {
      // N: `No device request channel registered, blocked until released by user`
      return rest.endsWith("blocked until released by user")
        ? { kind: "vfio_blocked_until_released", device }
        : null;
    }
    case C_LBRACKET: {
      const m = /^\[([0-9a-f]{4}):([0-9a-f]{4})\] type ([0-9a-f]{1,2}) class 0x([0-9a-f]{6})(?: (.+))?$/.exec(
        rest,
      );
      if (!m?.[1] || !m[2] || !m[3] || !m[4]) return null;
      return {
        kind: "pci_enumerated",
        device,
        vendor: m[1],
        deviceId: m[2],
        headerType: m[3],
        classCode: m[4],
        detail: m[5] ?? null,
      };
    }
    default:
      return null;
  }
}

/** A classified record: the fact with the record it came from (for citing the raw line). */
export interface KernelLogFact {
  readonly record: KernelLogRecord;
  readonly fact: KernelFact;
}

/** Classifies every record of a log, keeping those that carry a fact. */
export function kernelLogFacts(log: KernelLog): KernelLogFact[] {
  const out: KernelLogFact[] = [];
  const table = tables.get(log);
  if (table === undefined) {
    for (const record of log.records) {
      const fact = classifyKernelMessage(record.text);
      if (fact) out.push({ record, fact });
    }
    return out;
  }
  // Only the records that carry a fact are built.
  for (let row = 0; row < table.count; row++) {
    const fact = classifyKernelMessage(table.message(row));
    if (fact) out.push({ record: table.record(row), fact });
  }
  return out;
}
