/**
 * ftrace evidence (reference/evidence-formats.md §5): the `trace` file (and `trace_pipe` text, which is
 * the same lines without the header), `trace_clock`, `per_cpu/cpuN/stats`, `set_ftrace_filter`, and the
 * coverage window that decides whether "no probe seen" means anything (§5.7, §11.1 step 6).
 *
 * The line scanner works on indices into the whole text (no per-line slices, no backtracking regex)
 * and reads event lines from a byte view of it (ascii.ts); plain function-tracer events are kept as
 * columns and become objects only when `events` is first read. A trace can be tens of MB and is
 * parsed on every snapshot, while most snapshots only need its coverage window.
 */

import type { FileEntry } from "../contracts/snapshot.js";
import { AsciiWindow, hashBytes, keepShapes, NextChar, SegmentCache } from "./ascii.js";
import { Float64Column, Int32Column } from "./columns.js";
import { type EvidenceReader, type Unreadable, whyUnreadable } from "./evidence.js";
import { IssueList, MAX_LINE_CHARS, type ParseIssue, type ParseResult, result } from "./result.js";

export const TRACE_EVENT_KINDS = ["function", "kprobe", "kretprobe", "marker", "other"] as const;
export type TraceEventKind = (typeof TRACE_EVENT_KINDS)[number];

/**
 * `seconds` for the nanosecond clocks (printed `sec.usec`); `ticks` for `counter`, `uptime` (jiffies) and
 * `x86-tsc`, which print a plain integer that is not a duration in seconds.
 */
export type TraceTimestampUnit = "seconds" | "ticks";

/** One event line of `trace`. */
export interface TraceEvent {
  /** 1-based line number of the (first) line of the event. */
  readonly line: number;
  /** Seconds on the trace clock, or the tick count when `tsUnit` is `ticks` (see `tsRaw`). */
  readonly ts: number;
  readonly tsUnit: TraceTimestampUnit;
  /** The integer as printed for `ticks` clocks (x86-tsc passes 2^53 after weeks of uptime); null for seconds. */
  readonly tsRaw: string | null;
  readonly cpu: number;
  /** As printed: `<idle>` for pid 0, `<...>` when the comm fell out of the saved_cmdlines cache. */
  readonly comm: string;
  readonly pid: number;
  /** From the `record-tgid` column; null when the column is absent or prints `(-------)`. */
  readonly tgid: number | null;
  /** The irq-info flag columns (`.....`, `d..1.`); null when `irq-info` is off. */
  readonly flags: string | null;
  readonly kind: TraceEventKind;
  /** Event name (`bind`, `bind_ret`, `tracing_mark_write`, `sched_process_exec`); null for function-tracer lines. */
  readonly event: string | null;
  /**
   * Function-tracer: the traced function. kprobe: the probed symbol. kretprobe: the function that
   * returned. Other events: the event name.
   */
  readonly func: string;
  /** Function-tracer `<-parent`, or the kretprobe's return site (the caller); offsets stripped. */
  readonly parent: string | null;
  /** ` [nvme]` after the function (module symbols). */
  readonly module: string | null;
  /** `name=value` fields of probe and tracepoint events, quotes removed, split strings joined with `\n`. */
  readonly args: Readonly<Record<string, string>>;
  /** The `ret` argument of a probe event as a number, when it is one. */
  readonly ret: number | null;
  /** The body after `ts: ` for non-function events (marker text, tracepoint fields); empty for functions. */
  readonly text: string;
}

export interface TraceHeader {
  /** `# tracer: function`; null for headerless text (`trace_pipe`). */
  readonly tracer: string | null;
  readonly entriesInBuffer: number | null;
  readonly entriesWritten: number | null;
  /** entries-written minus entries-in-buffer: events the ring buffer overwrote (or that were cleared). */
  readonly overwritten: number | null;
  /** `#P:N`, the CPUs the buffer covers. */
  readonly cpus: number | null;
  /** Flag columns announced by the legend: 5 (current kernels), 4 (4.19/5.10), 0 (irq-info off). */
  readonly flagColumns: number | null;
  /** The legend has a TGID column (options/record-tgid). */
  readonly tgidColumn: boolean | null;
}

/** `CPU:17 [LOST 2048 EVENTS]`: events lost on that CPU before the next line; `count` null when not given. */
export interface TraceLostEvents {
  readonly cpu: number;
  readonly count: number | null;
  readonly line: number;
  /** Timestamp of the event printed right after the marker: the loss happened before it. */
  readonly beforeTs: number | null;
}

/** `##### CPU 5 buffer started ####` (options/annotate): that CPU's events start later than the others'. */
export interface TraceBufferStarted {
  readonly cpu: number;
  readonly line: number;
}

/** A `tracing_mark_write: WALL <epoch>` marker the shipper wrote: pairs a trace timestamp with wall time. */
export interface TraceWallAnchor {
  readonly line: number;
  readonly cpu: number;
  readonly ts: number;
  readonly tsUnit: TraceTimestampUnit;
  /** Epoch seconds as a number (about 0.1 µs resolution); `wall` keeps the digits as written. */
  readonly wallSec: number;
  readonly wall: string;
}

/** A return value printed by `function_graph` with options/funcgraph-retval (≥ 6.5): `} /* nvme_probe = -19 *\/`. */
export interface TraceGraphReturn {
  readonly line: number;
  readonly cpu: number;
  readonly func: string;
  /** Decimal values (error codes) as numbers; hex values as numbers when they fit, else null. */
  readonly ret: number | null;
  readonly retText: string;
  /** Only with options/funcgraph-abstime. */
  readonly ts: number | null;
}

export interface Trace {
  readonly header: TraceHeader;
  /**
   * Every event in file order. Built on first read from compact columns (one object per line would
   * dominate the parse of a big trace, and most callers only need the counts and timestamps below).
   */
  readonly events: readonly TraceEvent[];
  readonly eventCount: number;
  /** Each CPU's first event timestamp, in the order the CPUs first appear. */
  readonly firstTsByCpu: readonly { readonly cpu: number; readonly ts: number }[];
  /** Timestamp of the last event; null when there is none. */
  readonly lastTs: number | null;
  readonly lost: readonly TraceLostEvents[];
  readonly bufferStarted: readonly TraceBufferStarted[];
  readonly wallAnchors: readonly TraceWallAnchor[];
  readonly graphReturns: readonly TraceGraphReturn[];
  /** Unit of every event timestamp; `mixed` means the clock changed between events (the buffer was not reset). */
  readonly tsUnit: TraceTimestampUnit | "mixed" | null;
}

type Mutable<T> = { -readonly [K in keyof T]: T[K] };
type MutableEvent = Mutable<TraceEvent>;

const C_TAB = 9;
const C_SPACE = 32;
const C_QUOTE = 34;
const C_HASH = 35;
const C_LPAREN = 40;
const C_RPAREN = 41;
const C_PLUS = 43;
const C_DASH = 45;
const C_DOT = 46;
const C_0 = 48;
const C_9 = 57;
const C_COLON = 58;
const C_LT = 60;
const C_EQ = 61;
const C_LBRACKET = 91;
const C_RBRACKET = 93;
const C_RBRACE = 125;

/** TASK_COMM_LEN is 16 (newer kernels print up to 64): the `-pid [` anchor is never far from the start. */
const MAX_COMM_SCAN = 128;
/** A split kprobe string cannot exceed MAX_STRING_SIZE (4096) bytes; stop joining past this many lines. */
const MAX_CONTINUATION_LINES = 64;
const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9];
const EMPTY_ARGS: Readonly<Record<string, string>> = Object.freeze({});

// Constants rather than function declarations: a module's functions are mutable bindings, and V8
// re-checks one it inlined on every iteration of the digit and blank loops that call it.
const isBlank = (c: number): boolean => c === C_SPACE || c === C_TAB;
const isDigit = (c: number): boolean => c >= C_0 && c <= C_9;

/** Scratch results of the timestamp scanner (one parse runs at a time; avoids an object per line). */
const tsScratch: { ts: number; unit: TraceTimestampUnit; raw: string | null } = {
  ts: 0,
  unit: "seconds",
  raw: null,
};

/** First index of char `code` in [p, e), or -1; never scans past the line (indexOf would). */
function findChar(text: string, code: number, p: number, e: number): number {
  for (let q = p; q < e; q++) if (text.charCodeAt(q) === code) return q;
  return -1;
}

/** First ` <- ` in [p, e), or -1. */
function findArrow(text: string, p: number, e: number): number {
  for (let q = p; q + 3 < e; q++) {
    if (
      text.charCodeAt(q) === C_SPACE &&
      text.charCodeAt(q + 1) === C_LT &&
      text.charCodeAt(q + 2) === C_DASH &&
      text.charCodeAt(q + 3) === C_SPACE
    ) {
      return q;
    }
  }
  return -1;
}

/**
 * Reads `digits[.digits]:` at text index `p` from the window's bytes; returns the index after the
 * colon or -1. Fractions of up to 9 digits are computed as integer / 10^d, which rounds exactly like
 * Number() of the same text. The byte at `e` (newline, CR, or padding past the end) is never a digit,
 * so the digit loops need no bound.
 */
function scanTimestamp(w: AsciiWindow, text: string, p: number, e: number): number {
  const u = w.bytes;
  const o = w.base;
  const start = p;
  let whole = 0;
  let c = u[p - o] ?? 0;
  for (; isDigit(c); c = u[++p - o] ?? 0) whole = whole * 10 + (c - C_0);
  if (p === start || p >= e) return -1;
  if (c === C_COLON) {
    tsScratch.ts = whole;
    tsScratch.unit = "ticks";
    tsScratch.raw = text.slice(start, p);
    return p + 1;
  }
  if (c !== C_DOT) return -1;
  p++;
  const fracStart = p;
  let frac = 0;
  for (c = u[p - o] ?? 0; isDigit(c); c = u[++p - o] ?? 0) frac = frac * 10 + (c - C_0);
  const digits = p - fracStart;
  if (digits === 0 || p >= e || c !== C_COLON) return -1;
  const scale = POW10[digits];
  const scaled = scale === undefined ? Number.POSITIVE_INFINITY : whole * scale + frac;
  tsScratch.ts =
    scale !== undefined && Number.isSafeInteger(scaled) ? scaled / scale : Number(text.slice(start, p));
  tsScratch.unit = "seconds";
  tsScratch.raw = null;
  return p + 1;
}

const INTERN_SLOTS = 8192;
const INTERN_MAX_CHARS = 64;

/**
 * Direct-mapped cache of short tokens (comms, function names, flags): a trace repeats a few hundred
 * of them millions of times, and sharing one string per token keeps allocation (and GC) down.
 */
class Interner {
  private readonly slots: (string | undefined)[];
  private readonly mask: number;

  /** `slots`: a power of two. */
  constructor(slots: number) {
    this.slots = new Array(slots);
    this.mask = slots - 1;
  }

  get(text: string, s: number, e: number): string {
    const len = e - s;
    if (len > INTERN_MAX_CHARS || len === 0) return text.slice(s, e);
    // Length and three characters pick the slot; === confirms, so a collision only costs a slice.
    const h =
      (Math.imul(Math.imul(Math.imul(len, 31) + text.charCodeAt(s), 31) + text.charCodeAt(e - 1), 31) +
        text.charCodeAt(s + (len >> 1))) |
      0;
    const slot = h & this.mask;
    const cached = this.slots[slot];
    const fresh = text.slice(s, e);
    if (cached !== undefined && cached === fresh) return cached;
    this.slots[slot] = fresh;
    return fresh;
  }
}

/** Where the ongoing parse is in a kprobe string argument that the line ended inside. */
interface OpenString {
  event: MutableEvent;
  args: Record<string, string>;
  name: string;
  value: string;
  lines: number;
}

/**
 * Parses `name=value` fields in [p, e) into `args`. A quoted value ends at a `"` followed by a blank or
 * the end of the line; kprobe `:string` fetches print raw bytes, so a quote may open a value that the
 * line does not close. Returns the open value (for joining with the next line) or null.
 */
function scanArgs(
  text: string,
  p: number,
  e: number,
  args: Record<string, string>,
  allowOpen: boolean,
): { name: string; value: string } | null {
  while (p < e) {
    while (p < e && isBlank(text.charCodeAt(p))) p++;
    if (p >= e) break;
    const nameStart = p;
    while (p < e) {
      const c = text.charCodeAt(p);
      if (c === C_EQ || isBlank(c)) break;
      p++;
    }
    if (p >= e || text.charCodeAt(p) !== C_EQ || p === nameStart) {
      // A token that is not name=value (`==>` in sched_switch): skip it.
      while (p < e && !isBlank(text.charCodeAt(p))) p++;
      continue;
    }
    const name = text.slice(nameStart, p);
    p++;
    if (p < e && text.charCodeAt(p) === C_QUOTE) {
      const close = closingQuote(text, p + 1, e);
      if (close === -1) {
        const value = text.slice(p + 1, e);
        if (allowOpen) return { name, value };
        args[name] = value;
        return null;
      }
      args[name] = text.slice(p + 1, close);
      p = close + 1;
      continue;
    }
    const valueStart = p;
    while (p < e && !isBlank(text.charCodeAt(p))) p++;
    args[name] = text.slice(valueStart, p);
  }
  return null;
}

/** Index of the `"` that closes a quoted value started before `p`: one followed by a blank or the line end. */
function closingQuote(text: string, p: number, e: number): number {
  for (let q = p; q < e; q++) {
    if (text.charCodeAt(q) === C_QUOTE && (q + 1 === e || isBlank(text.charCodeAt(q + 1)))) return q;
  }
  return -1;
}

/** `-16`, `0`, `0xfffffff0`: a probe's return value as a number; null for anything else. */
function parseRet(v: string): number | null {
  if (v.length === 0 || v.length > 24) return null;
  if (v.startsWith("0x") || v.startsWith("0X")) {
    if (!/^0[xX][0-9a-fA-F]{1,16}$/.test(v)) return null;
    // `:x64` prints the full 64 bits: sixteen digits with the top bit set are a negative errno.
    const n = v.length === 18 ? Number(BigInt.asIntN(64, BigInt(v))) : Number(v);
    return Number.isSafeInteger(n) ? n : null;
  }
  let i = v.charCodeAt(0) === C_DASH ? 1 : 0;
  if (i === v.length) return null;
  for (; i < v.length; i++) if (!isDigit(v.charCodeAt(i))) return null;
  const n = Number(v);
  return Number.isSafeInteger(n) ? n : null;
}

/** `bind_store+0x0/0x150` -> `bind_store`. */
function symbolEnd(text: string, p: number, e: number): number {
  for (let q = p; q < e; q++) {
    const c = text.charCodeAt(q);
    if (c === C_PLUS || isBlank(c)) return q;
  }
  return e;
}

/** Function-tracer body: `func[+off/size] [mod] [<addr>] <-parent[+off/size] [pmod] [(repeats: N, delta: D)]`. */
function fillFunctionBody(b: TraceBuilder, ev: MutableEvent, text: string, p: number, e: number): void {
  let tokenEnd = p;
  while (tokenEnd < e && !isBlank(text.charCodeAt(tokenEnd))) tokenEnd++;
  ev.func = b.strings.get(text, p, symbolEnd(text, p, tokenEnd));
  p = tokenEnd;
  let seenParent = false;
  while (p < e) {
    while (p < e && isBlank(text.charCodeAt(p))) p++;
    if (p >= e) break;
    const c = text.charCodeAt(p);
    let end = p;
    while (end < e && !isBlank(text.charCodeAt(end))) end++;
    if (c === C_LBRACKET) {
      const close = findChar(text, C_RBRACKET, p, e);
      if (close === -1) break;
      if (!seenParent) ev.module = b.strings.get(text, p + 1, close);
      end = close + 1;
    } else if (c === C_LT && p + 1 < e && text.charCodeAt(p + 1) === C_DASH) {
      ev.parent = b.strings.get(text, p + 2, symbolEnd(text, p + 2, end));
      seenParent = true;
    } else if (c === C_LPAREN && text.startsWith("(repeats:", p)) {
      // options/func-no-repeats: `(repeats: 3, delta: 12)`.
      const args: Record<string, string> = {};
      const close = findChar(text, C_RPAREN, p, e);
      const inner = text.slice(p + 1, close === -1 ? e : close);
      for (const part of inner.split(",")) {
        const colon = part.indexOf(":");
        if (colon > 0) args[part.slice(0, colon).trim()] = part.slice(colon + 1).trim();
      }
      ev.args = args;
      break;
    } else if (c !== C_LT) {
      // Unknown trailing token: keep what was read, the rest is not ours to guess.
      break;
    }
    p = end;
  }
}

/**
 * Probe body after `name: `: `(sym+off/size [mod]) args` for a kprobe, `(caller+off/size [mod] <- func
 * [mod]) args` for a kretprobe. Returns an open string when a `:string` argument runs past the line.
 */
function fillProbeBody(
  ev: MutableEvent,
  text: string,
  p: number,
  e: number,
): { name: string; value: string; args: Record<string, string> } | null {
  const close = findChar(text, C_RPAREN, p, e);
  if (close === -1) {
    ev.kind = "other";
    ev.func = ev.event ?? "";
    return null;
  }
  const arrow = findArrow(text, p, close);
  if (arrow !== -1) {
    ev.kind = "kretprobe";
    ev.parent = text.slice(p + 1, symbolEnd(text, p + 1, arrow));
    const fStart = arrow + 4;
    const fEnd = symbolEnd(text, fStart, close);
    ev.func = text.slice(fStart, fEnd);
    ev.module = moduleIn(text, fEnd, close);
  } else {
    ev.kind = "kprobe";
    const sEnd = symbolEnd(text, p + 1, close);
    ev.func = text.slice(p + 1, sEnd);
    ev.module = moduleIn(text, sEnd, close);
  }
  const args: Record<string, string> = {};
  ev.args = args;
  const open = scanArgs(text, close + 1, e, args, true);
  if (open) return { name: open.name, value: open.value, args };
  const ret = args.ret;
  ev.ret = ret === undefined ? null : parseRet(ret);
  return null;
}

/** ` [nvme]` within [p, e), or null. */
function moduleIn(text: string, p: number, e: number): string | null {
  const open = findChar(text, C_LBRACKET, p, e);
  if (open === -1 || open === p || text.charCodeAt(open - 1) !== C_SPACE) return null;
  const close = findChar(text, C_RBRACKET, open, e);
  return close === -1 ? null : text.slice(open + 1, close);
}

/** Parse-wide state; one instance per parseTrace call. */
class TraceBuilder {
  constructor(readonly text: string) {
    this.window = new AsciiWindow(text);
    const slots = segmentSlots(text.length);
    this.tasks = new SegmentCache(slots);
    this.bodies = new SegmentCache(slots);
    this.flags = new SegmentCache(Math.min(FLAG_SLOTS, slots));
    this.strings = new Interner(internSlots(text.length));
    this.table = new EventTable(text.length);
  }

  /** The bytes the event-line scanners read (ascii.ts); parseLines moves it to each line. */
  readonly window: AsciiWindow;
  readonly issues = new IssueList();
  readonly strings: Interner;
  readonly nextBracket = new NextChar("[");
  /** Task parts and function bodies seen before, by their text: ids into `table`. */
  readonly tasks: SegmentCache;
  readonly bodies: SegmentCache;
  readonly flags: SegmentCache;
  readonly table: EventTable;
  readonly lost: Mutable<TraceLostEvents>[] = [];
  readonly bufferStarted: TraceBufferStarted[] = [];
  readonly wallAnchors: TraceWallAnchor[] = [];
  readonly graphReturns: TraceGraphReturn[] = [];
  readonly header: Mutable<TraceHeader> = {
    tracer: null,
    entriesInBuffer: null,
    entriesWritten: null,
    overwritten: null,
    cpus: null,
    flagColumns: null,
    tgidColumn: null,
  };
  open: OpenString | null = null;
  /** Lost-event markers waiting for the timestamp of the next event. */
  lostAwaitingTs = 0;
  seconds = 0;
  ticks = 0;

  /** Length and hash of the task part and flags of the last line read by parseEventFast. */
  readonly lastTask = { length: 0, hash: 0 };
  readonly lastFlags = { length: 0, hash: 0 };

  /** The flags column (`.....`, `dN.2.`) at [s, e): a handful of distinct values, so one string each. */
  flagsOf(s: number, e: number): number {
    const hash = hashBytes(this.window, s, e);
    this.lastFlags.length = e - s;
    this.lastFlags.hash = hash;
    const id = this.flags.get(this.window, s, e, hash);
    if (id !== -1) return id;
    const fresh = this.table.addFlags(this.text.slice(s, e));
    this.flags.set(this.window, s, e, hash, fresh);
    return fresh;
  }

  /** A plain function-tracer event on a `seconds` clock: one row of the table, no object. */
  pushRow(line: number, cpu: number, task: number, flags: number, body: number): void {
    const ts = tsScratch.ts;
    this.eventAt(ts);
    this.seconds++;
    this.table.addRow(line, ts, cpu, task, flags, body);
  }

  push(ev: MutableEvent): void {
    this.eventAt(ev.ts);
    this.count(ev);
    if (ev.kind === "marker" && ev.text.startsWith("WALL ")) this.wallAnchor(ev);
    this.table.addEvent(ev);
  }

  /** Gives lost-event markers waiting for a timestamp the one of the event after them. */
  private eventAt(ts: number): void {
    if (this.lostAwaitingTs === 0) return;
    for (let i = this.lost.length - this.lostAwaitingTs; i < this.lost.length; i++) {
      const l = this.lost[i];
      if (l) l.beforeTs = ts;
    }
    this.lostAwaitingTs = 0;
  }

  private count(ev: MutableEvent): void {
    if (ev.tsUnit === "seconds") this.seconds++;
    else this.ticks++;
  }

  private wallAnchor(ev: MutableEvent): void {
    let end = 5;
    while (end < ev.text.length && !isBlank(ev.text.charCodeAt(end))) end++;
    const wall = ev.text.slice(5, end);
    const wallSec = Number(wall);
    if (wall.length === 0 || !Number.isFinite(wallSec)) {
      this.issues.add("invalid_field", `WALL marker without an epoch time: ${preview(ev.text)}`, ev.line);
      return;
    }
    this.wallAnchors.push({ line: ev.line, cpu: ev.cpu, ts: ev.ts, tsUnit: ev.tsUnit, wallSec, wall });
  }

  /**
   * Holds the place of a probe event whose string argument the line left open: it belongs before
   * whatever the following lines produce, and is finished by closeOpen or closeCut.
   */
  reserve(ev: MutableEvent): void {
    this.table.addEvent(ev);
  }

  /** Ends an open kprobe string: joined when complete, dropped (with an issue) when the text stopped inside it. */
  closeOpen(complete: boolean): void {
    const o = this.open;
    if (!o) return;
    this.open = null;
    const ev = this.finish(o, complete);
    this.eventAt(ev.ts);
    this.count(ev);
  }

  /** Ends an open kprobe string that the next line showed was cut: the argument is dropped. */
  closeCut(o: OpenString): void {
    this.count(this.finish(o, false));
  }

  private finish(o: OpenString, complete: boolean): MutableEvent {
    if (complete) {
      o.args[o.name] = o.value;
    } else {
      this.issues.add(
        "truncated",
        `string argument ${o.name} of ${o.event.event ?? "probe"} never closed; argument dropped`,
        o.event.line,
      );
    }
    const ret = o.args.ret;
    o.event.ret = ret === undefined ? null : parseRet(ret);
    return o.event;
  }
}

/**
 * The events of a trace, column by column. A plain function-tracer line on a `seconds` clock (almost
 * every line of a big trace) is a row of numbers and ids of shared strings; any other event is kept as
 * its object. `toEvents` builds the objects of the rows on first use.
 */
class EventTable {
  private readonly lines: Int32Column;
  private readonly stamps: Float64Column;
  private readonly cpus: Int32Column;
  /** Id into `tasks`; -1 for an event kept as an object. */
  private readonly taskIds: Int32Column;
  /** Id into `flagValues`; -1 for no flags column. */
  private readonly flagIds: Int32Column;
  private readonly bodyIds: Int32Column;
  private readonly tasks: LineTask[] = [];
  private readonly bodies: FunctionBody[] = [];
  private readonly flagValues: string[] = [];
  private readonly objects = new Map<number, MutableEvent>();
  /** The row of each CPU's first event, in the order the CPUs first appear. */
  private readonly firstRows = new Int32Column(MIN_CPUS);
  /**
   * CPU numbers are small: a byte per number is cheaper than a Set lookup per event. It grows to the
   * highest CPU seen: a byte for every possible number was an 8 KB allocation per parse.
   */
  private seenCpus = new Uint8Array(64);
  private readonly seenLargeCpus = new Set<number>();

  /** `chars`: the trace's length, to size the columns' first chunks by an estimate of its rows. */
  constructor(chars: number) {
    const rows = rowsIn(chars);
    this.lines = new Int32Column(rows);
    this.stamps = new Float64Column(rows);
    this.cpus = new Int32Column(rows);
    this.taskIds = new Int32Column(rows);
    this.flagIds = new Int32Column(rows);
    this.bodyIds = new Int32Column(rows);
  }

  get count(): number {
    return this.lines.length;
  }

  addTask(task: LineTask): number {
    return this.tasks.push(task) - 1;
  }

  addBody(body: FunctionBody): number {
    return this.bodies.push(body) - 1;
  }

  addFlags(flags: string): number {
    return this.flagValues.push(flags) - 1;
  }

  task(id: number): LineTask {
    const task = this.tasks[id];
    if (task === undefined) throw new Error(`bug: no task ${id}`);
    return task;
  }

  /** The flags column of id `id`; null for -1 (no column). */
  flags(id: number): string | null {
    return this.flagValues[id] ?? null;
  }

  get lastTs(): number | null {
    return this.count === 0 ? null : this.stamps.at(this.count - 1);
  }

  /** Each CPU's first timestamp, in the order the CPUs first appear. */
  get firstTsByCpu(): { cpu: number; ts: number }[] {
    const out: { cpu: number; ts: number }[] = [];
    for (let i = 0; i < this.firstRows.length; i++) {
      const row = this.firstRows.at(i);
      out.push({ cpu: this.cpus.at(row), ts: this.stamps.at(row) });
    }
    return out;
  }

  addRow(line: number, ts: number, cpu: number, task: number, flag: number, body: number): number {
    if (cpu <= MAX_CPU_ID ? this.seenCpus[cpu] !== 1 : !this.seenLargeCpus.has(cpu)) {
      if (cpu <= MAX_CPU_ID) this.markCpu(cpu);
      else this.seenLargeCpus.add(cpu);
      this.firstRows.push(this.lines.length);
    }
    this.lines.push(line);
    this.stamps.push(ts);
    this.cpus.push(cpu);
    this.taskIds.push(task);
    this.flagIds.push(flag);
    this.bodyIds.push(body);
    return this.lines.length - 1;
  }

  private markCpu(cpu: number): void {
    if (cpu >= this.seenCpus.length) {
      let size = this.seenCpus.length * 2;
      while (size <= cpu) size *= 2;
      const bigger = new Uint8Array(Math.min(size, MAX_CPU_ID + 1));
      bigger.set(this.seenCpus);
      this.seenCpus = bigger;
    }
    this.seenCpus[cpu] = 1;
  }

  addEvent(ev: MutableEvent): number {
    const row = this.addRow(ev.line, ev.ts, ev.cpu, -1, -1, -1);
    this.objects.set(row, ev);
    return row;
  }

  toEvents(): TraceEvent[] {
    const events: TraceEvent[] = [];
    for (let row = 0; row < this.count; row++) {
      const task = this.tasks[this.taskIds.at(row)];
      const body = this.bodies[this.bodyIds.at(row)];
      if (task === undefined || body === undefined) {
        const ev = this.objects.get(row);
        if (ev) events.push(ev);
        continue;
      }
      events.push({
        line: this.lines.at(row),
        ts: this.stamps.at(row),
        tsUnit: "seconds",
        tsRaw: null,
        cpu: this.cpus.at(row),
        comm: task.comm,
        pid: task.pid,
        tgid: task.tgid,
        flags: this.flagValues[this.flagIds.at(row)] ?? null,
        kind: "function",
        event: null,
        func: body.func,
        parent: body.parent,
        module: body.module,
        args: EMPTY_ARGS,
        ret: null,
        text: "",
      });
    }
    return events;
  }
}

function preview(s: string): string {
  return JSON.stringify(s.length > 80 ? `${s.slice(0, 80)}…` : s);
}

/** What the task part of a line (`<pad>comm-pid <pad>[(tgid) ]`) says; shared by the task's lines. */
interface LineTask {
  readonly comm: string;
  readonly pid: number;
  readonly tgid: number | null;
}

/** What a function-tracer body (`func <-parent`, with offsets and modules) says. */
interface FunctionBody {
  readonly func: string;
  readonly parent: string | null;
  readonly module: string | null;
}

/** CONFIG_NR_CPUS is at most 8192. */
const MAX_CPU_ID = 8191;
/** CPUs a first `firstRows` chunk holds before it grows. */
const MIN_CPUS = 16;

/**
 * About how many event lines a trace of `chars` characters holds: a function-tracer line is 60-100
 * characters. The columns' first chunks take this size, so a snapshot's trace of a few dozen lines
 * takes 64-value chunks, not 256, and a big one starts at full chunks. With the chunks cut from a
 * shared slab (columns.ts) and `seenCpus` grown to the CPUs seen, readTrace on the bench bundle went
 * from ~0.089 to ~0.081 ms and readKernelLog from ~0.012 to ~0.010 ms (Node, minimums).
 */
function rowsIn(chars: number): number {
  return Math.ceil(chars / 64);
}

/**
 * Cache slots for a text of `chars` characters: a power of two, small for small files. A snapshot's
 * trace is a few KB: fixed-size caches (8,192 interner slots, 64-slot segment caches of 128-byte keys)
 * allocated ~90 KB per parse for two dozen lines, ~0.02 ms of readTrace with its GC share.
 */
function segmentSlots(chars: number): number {
  let slots = 16;
  while (slots < 16384 && slots * 256 < chars) slots *= 2;
  return slots;
}
const FLAG_SLOTS = 64;

/** Interner slots for a text of `chars` characters: INTERN_SLOTS from 512 KB up. */
function internSlots(chars: number): number {
  let slots = 256;
  while (slots < INTERN_SLOTS && slots * 64 < chars) slots *= 2;
  return slots;
}

/**
 * The common line shape: `<pad>comm-pid <pad>[(tgid) ][cpu] [flags ]ts: body`, with the task part and a
 * function-tracer body looked up in the segment caches. Returns false (nothing consumed) when the line
 * does not have it, and the general path reads it. The byte at `e` (newline, CR or padding) is neither
 * a digit nor a space, so the digit and space loops stop at the line end unguarded.
 */
function parseEventFast(b: TraceBuilder, s: number, e: number, lineNo: number): boolean {
  const w = b.window;
  const u = w.bytes;
  const o = w.base;
  // The task part `<pad>comm-pid <pad>[(tgid) ]` repeats on every line of the task, and a task often
  // writes several lines in a row: first try the previous line's (a cached key holds no `[`, so its
  // end is this line's first `[`), then look the part up by hash.
  let lb = s + b.lastTask.length;
  let task = lb < e && u[lb - o] === C_LBRACKET ? b.tasks.get(w, s, lb, b.lastTask.hash) : -1;
  if (task === -1) {
    lb = b.nextBracket.find(b.text, s);
    if (lb >= e || lb - s < 3) return false;
    const th = hashBytes(w, s, lb);
    task = b.tasks.get(w, s, lb, th);
    if (task === -1) {
      const parsed = parseTask(b, s, lb);
      if (parsed === undefined) return false;
      task = b.table.addTask(parsed);
      b.tasks.set(w, s, lb, th, task);
    }
    b.lastTask.length = lb - s;
    b.lastTask.hash = th;
  }
  let p = lb + 1;
  let cpu = 0;
  let c = u[p - o] ?? 0;
  for (; isDigit(c); c = u[++p - o] ?? 0) cpu = cpu * 10 + (c - C_0);
  if (p === lb + 1 || c !== C_RBRACKET || u[p + 1 - o] !== C_SPACE) return false;
  p += 2;
  while (u[p - o] === C_SPACE) p++;
  let flags = -1;
  if (!isDigit(u[p - o] ?? 0)) {
    // Usually the same as on the line before (`.....`).
    const flagsStart = p;
    p += b.lastFlags.length;
    flags = p < e && u[p - o] === C_SPACE ? b.flags.get(w, flagsStart, p, b.lastFlags.hash) : -1;
    if (flags === -1) {
      p = flagsStart;
      while (p < e && u[p - o] !== C_SPACE) p++;
      if (p >= e) return false;
      flags = b.flagsOf(flagsStart, p);
    }
    while (u[p - o] === C_SPACE) p++;
  }
  const after = scanTimestamp(w, b.text, p, e);
  if (after === -1 || after >= e || u[after - o] !== C_SPACE) return false;
  const body = after + 1;
  const len = e - body;
  const bh = hashBytes(w, body, e);
  const fn = len > 0 && tsScratch.unit === "seconds" ? b.bodies.get(w, body, e, bh) : -1;
  if (fn !== -1) {
    b.pushRow(lineNo, cpu, task, flags, fn);
    return true;
  }
  // Anything but a function body seen before: parse it into an event object.
  const ev = newEvent(lineNo, cpu, b.table.task(task), b.table.flags(flags));
  fillBody(b, ev, b.text, body, e);
  if (len > 0 && ev.kind === "function" && ev.args === EMPTY_ARGS && ev.tsUnit === "seconds") {
    b.bodies.set(w, body, e, bh, b.table.addBody({ func: ev.func, parent: ev.parent, module: ev.module }));
  }
  return true;
}

/** A function-tracer event with the timestamp the last scanTimestamp read; the body fills in the rest. */
function newEvent(line: number, cpu: number, task: LineTask, flags: string | null): MutableEvent {
  return {
    line,
    ts: tsScratch.ts,
    tsUnit: tsScratch.unit,
    tsRaw: tsScratch.raw,
    cpu,
    comm: task.comm,
    pid: task.pid,
    tgid: task.tgid,
    flags,
    kind: "function",
    event: null,
    func: "",
    parent: null,
    module: null,
    args: EMPTY_ARGS,
    ret: null,
    text: "",
  };
}

/** Reads `<pad>comm-pid <pad>[(tgid) ]` backwards from the CPU bracket at `lb`. */
function parseTask(b: TraceBuilder, s: number, lb: number): LineTask | undefined {
  const u = b.window.bytes;
  const o = b.window.base;
  const at = (i: number): number => u[i - o] ?? 0;
  let k = lb - 1;
  if (at(k) !== C_SPACE) return undefined;
  while (k > s && at(k) === C_SPACE) k--;
  let c = at(k);
  let tgid: number | null = null;
  if (c === C_RPAREN) {
    let q = k - 1;
    let n = 0;
    let mul = 1;
    for (c = at(q); q > s && isDigit(c); c = at(--q)) {
      n += (c - C_0) * mul;
      mul *= 10;
    }
    if (q === k - 1) {
      while (q > s && at(q) === C_DASH) q--;
      if (q === k - 1) return undefined;
    } else {
      tgid = n;
    }
    while (q > s && at(q) === C_SPACE) q--;
    if (at(q) !== C_LPAREN) return undefined;
    k = q - 1;
    if (k <= s || at(k) !== C_SPACE) return undefined;
    while (k > s && at(k) === C_SPACE) k--;
  }
  const pidEnd = k;
  let pid = 0;
  let mul = 1;
  for (c = at(k); k > s && isDigit(c); c = at(--k)) {
    pid += (c - C_0) * mul;
    mul *= 10;
  }
  if (k === pidEnd || at(k) !== C_DASH) return undefined;
  const dash = k;
  let commStart = s;
  while (commStart < dash && at(commStart) === C_SPACE) commStart++;
  if (commStart === dash) return undefined;
  return { comm: b.strings.get(b.text, commStart, dash), pid, tgid };
}

/**
 * Parses an event line in [s, e). The comm is anchored on a `-<digits>` followed by blanks and `[` or
 * `(` (comms contain `-`, spaces and `/`); a candidate whose remainder does not read as
 * `[cpu] flags ts:` is skipped, so `a-1 (x)-22 [003]` still finds pid 22.
 */
function parseEventLine(b: TraceBuilder, text: string, s: number, e: number, lineNo: number): boolean {
  let i = s;
  while (i < e && isBlank(text.charCodeAt(i))) i++;
  const commStart = i;
  const scanEnd = Math.min(e, commStart + MAX_COMM_SCAN);
  for (let d = commStart + 1; d < scanEnd; d++) {
    if (text.charCodeAt(d) !== C_DASH) continue;
    let j = d + 1;
    let pid = 0;
    while (j < e && isDigit(text.charCodeAt(j))) {
      pid = pid * 10 + (text.charCodeAt(j) - C_0);
      j++;
    }
    if (j === d + 1 || j >= e || !isBlank(text.charCodeAt(j))) continue;
    while (j < e && isBlank(text.charCodeAt(j))) j++;
    const c = text.charCodeAt(j);
    if (c !== C_LBRACKET && c !== C_LPAREN) continue;
    if (parseAfterPid(b, text, d, commStart, pid, j, e, lineNo)) return true;
  }
  return false;
}

function parseAfterPid(
  b: TraceBuilder,
  text: string,
  dash: number,
  commStart: number,
  pid: number,
  k: number,
  e: number,
  lineNo: number,
): boolean {
  let tgid: number | null = null;
  if (text.charCodeAt(k) === C_LPAREN) {
    k++;
    while (k < e && text.charCodeAt(k) === C_SPACE) k++;
    const digitsStart = k;
    let n = 0;
    while (k < e && isDigit(text.charCodeAt(k))) {
      n = n * 10 + (text.charCodeAt(k) - C_0);
      k++;
    }
    if (k > digitsStart) tgid = n;
    else while (k < e && text.charCodeAt(k) === C_DASH) k++;
    if (k === digitsStart || k >= e || text.charCodeAt(k) !== C_RPAREN) return false;
    k++;
    if (k >= e || !isBlank(text.charCodeAt(k))) return false;
    while (k < e && isBlank(text.charCodeAt(k))) k++;
    if (k >= e || text.charCodeAt(k) !== C_LBRACKET) return false;
  }
  k++;
  const cpuStart = k;
  let cpu = 0;
  while (k < e && isDigit(text.charCodeAt(k))) {
    cpu = cpu * 10 + (text.charCodeAt(k) - C_0);
    k++;
  }
  if (k === cpuStart || k >= e || text.charCodeAt(k) !== C_RBRACKET) return false;
  k++;
  if (k >= e || !isBlank(text.charCodeAt(k))) return false;
  while (k < e && isBlank(text.charCodeAt(k))) k++;
  // Either the timestamp (irq-info off) or the flag columns, then the timestamp.
  let flags: string | null = null;
  let after = scanTimestamp(b.window, text, k, e);
  if (after === -1) {
    const flagsStart = k;
    while (k < e && !isBlank(text.charCodeAt(k))) k++;
    if (k === flagsStart || k >= e) return false;
    flags = b.strings.get(text, flagsStart, k);
    while (k < e && isBlank(text.charCodeAt(k))) k++;
    after = scanTimestamp(b.window, text, k, e);
    if (after === -1) return false;
  }
  if (after < e && !isBlank(text.charCodeAt(after))) return false;
  const bodyStart = after < e ? after + 1 : e;
  const ev = newEvent(lineNo, cpu, { comm: b.strings.get(text, commStart, dash), pid, tgid }, flags);
  fillBody(b, ev, text, bodyStart, e);
  return true;
}

function fillBody(b: TraceBuilder, ev: MutableEvent, text: string, p: number, e: number): void {
  let tokenEnd = p;
  while (tokenEnd < e && !isBlank(text.charCodeAt(tokenEnd))) tokenEnd++;
  const named = tokenEnd > p + 1 && text.charCodeAt(tokenEnd - 1) === C_COLON;
  if (!named) {
    if (p < e && text.charCodeAt(p) === C_LT) {
      // `<stack trace>` and `<user stack trace>` (options/stacktrace) are events without a name.
      ev.kind = "other";
      ev.text = text.slice(p, e);
    } else {
      fillFunctionBody(b, ev, text, p, e);
    }
    b.push(ev);
    return;
  }
  const name = b.strings.get(text, p, tokenEnd - 1);
  ev.event = name;
  const rest = tokenEnd < e ? tokenEnd + 1 : e;
  ev.text = text.slice(rest, e);
  if (name === "tracing_mark_write") {
    ev.kind = "marker";
    ev.func = name;
    b.push(ev);
    return;
  }
  if (rest < e && text.charCodeAt(rest) === C_LPAREN) {
    const open = fillProbeBody(ev, text, rest, e);
    if (open) {
      b.reserve(ev);
      b.open = { event: ev, args: open.args, name: open.name, value: open.value, lines: 1 };
      return;
    }
    b.push(ev);
    return;
  }
  ev.kind = "other";
  ev.func = name;
  const args: Record<string, string> = {};
  scanArgs(text, rest, e, args, false);
  ev.args = args;
  b.push(ev);
}

/** Continues an open kprobe string with the line [s, e): up to its closing quote, then more arguments. */
function continueOpen(b: TraceBuilder, o: OpenString, text: string, s: number, e: number): void {
  const close = closingQuote(text, s, e);
  o.event.text += `\n${text.slice(s, e)}`;
  o.lines++;
  if (close === -1) {
    o.value += `\n${text.slice(s, e)}`;
    if (o.lines >= MAX_CONTINUATION_LINES) b.closeOpen(false);
    return;
  }
  o.value += `\n${text.slice(s, close)}`;
  o.args[o.name] = o.value;
  const more = scanArgs(text, close + 1, e, o.args, true);
  if (more) {
    o.name = more.name;
    o.value = more.value;
    return;
  }
  b.closeOpen(true);
}

/** `# ...` lines: tracer, entries counters, the column legend, and the annotate marker. */
function parseHashLine(b: TraceBuilder, text: string, s: number, e: number, lineNo: number): void {
  const h = b.header;
  if (text.startsWith("##### CPU ", s)) {
    let k = s + 10;
    const start = k;
    let cpu = 0;
    while (k < e && isDigit(text.charCodeAt(k))) {
      cpu = cpu * 10 + (text.charCodeAt(k) - C_0);
      k++;
    }
    if (k > start && text.startsWith(" buffer started", k)) b.bufferStarted.push({ cpu, line: lineNo });
    else b.issues.add("malformed_line", `unknown annotation ${preview(text.slice(s, e))}`, lineNo);
    return;
  }
  const line = text.slice(s, e);
  if (line.startsWith("# tracer: ")) {
    h.tracer = line.slice(10).trim();
    return;
  }
  if (line.startsWith("# entries-in-buffer/entries-written: ")) {
    const m = /^# entries-in-buffer\/entries-written: (\d+)\/(\d+)\s+#P:(\d+)/.exec(line);
    if (!m?.[1] || !m[2] || !m[3]) {
      b.issues.add("invalid_field", `unreadable entries header ${preview(line)}`, lineNo);
      return;
    }
    h.entriesInBuffer = Number(m[1]);
    h.entriesWritten = Number(m[2]);
    h.overwritten = Math.max(0, h.entriesWritten - h.entriesInBuffer);
    h.cpus = Number(m[3]);
    return;
  }
  const taskPid = line.indexOf("TASK-PID");
  if (taskPid !== -1) {
    h.tgidColumn = line.includes("TGID", taskPid);
    const cpuCol = line.indexOf("CPU#", taskPid);
    const tsCol = line.indexOf("TIMESTAMP", taskPid);
    if (cpuCol !== -1 && tsCol > cpuCol) {
      let bars = 0;
      for (let q = cpuCol; q < tsCol; q++) if (line.charCodeAt(q) === 124) bars++;
      h.flagColumns = bars;
    }
  }
  // Other `#` lines are the column legend and latency-format headers: nothing to keep.
}

/** `CPU:17 [LOST 2048 EVENTS]` / `CPU:17 [LOST EVENTS]`; false when the line is not one. */
function parseLostLine(b: TraceBuilder, text: string, s: number, e: number, lineNo: number): boolean {
  let k = s + 4;
  const start = k;
  let cpu = 0;
  while (k < e && isDigit(text.charCodeAt(k))) {
    cpu = cpu * 10 + (text.charCodeAt(k) - C_0);
    k++;
  }
  if (k === start || !text.startsWith(" [LOST", k)) return false;
  k += 6;
  let count: number | null = null;
  if (k < e && text.charCodeAt(k) === C_SPACE && k + 1 < e && isDigit(text.charCodeAt(k + 1))) {
    k++;
    count = 0;
    while (k < e && isDigit(text.charCodeAt(k))) {
      count = count * 10 + (text.charCodeAt(k) - C_0);
      k++;
    }
  }
  if (!text.startsWith(" EVENTS]", k)) return false;
  b.lost.push({ cpu, count, line: lineNo, beforeTs: null });
  b.lostAwaitingTs++;
  return true;
}

/**
 * `function_graph` lines: `[abstime |] cpu) [comm-pid |] [duration] | body`. Only return values
 * (options/funcgraph-retval) are kept: the graph's entries carry no timestamp unless abstime is on.
 * Returns false when the line does not have the shape.
 */
function parseGraphLine(b: TraceBuilder, text: string, s: number, e: number, lineNo: number): boolean {
  let k = s;
  while (k < e && isBlank(text.charCodeAt(k))) k++;
  let ts: number | null = null;
  const numStart = k;
  while (k < e && (isDigit(text.charCodeAt(k)) || text.charCodeAt(k) === C_DOT)) k++;
  let q = k;
  while (q < e && isBlank(text.charCodeAt(q))) q++;
  if (q < e && text.charCodeAt(q) === 124 && k > numStart) {
    ts = Number(text.slice(numStart, k));
    k = q + 1;
    while (k < e && isBlank(text.charCodeAt(k))) k++;
  } else {
    k = numStart;
  }
  if (text.charCodeAt(k) === C_DASH) {
    // `------------------------------------------` around context-switch notes.
    let q = k;
    while (q < e && text.charCodeAt(q) === C_DASH) q++;
    while (q < e && isBlank(text.charCodeAt(q))) q++;
    return q === e && e - k > 8;
  }
  const cpuStart = k;
  let cpu = 0;
  while (k < e && isDigit(text.charCodeAt(k))) {
    cpu = cpu * 10 + (text.charCodeAt(k) - C_0);
    k++;
  }
  if (k === cpuStart || k >= e || text.charCodeAt(k) !== C_RPAREN) return false;
  let bar = e - 1;
  while (bar > k && text.charCodeAt(bar) !== 124) bar--;
  if (bar <= k) return true; // `1) ===> sh-1 ...` context-switch notes and similar: graph noise.
  const body = text.slice(bar + 1, e).trim();
  const comment = body.indexOf("/* ");
  if (comment === -1 || !body.endsWith(" */")) return true;
  const eq = body.indexOf(" = ", comment);
  if (eq === -1) return true;
  let func: string;
  if (body.charCodeAt(0) === C_RBRACE) {
    func = body.slice(comment + 3, eq).trim();
  } else {
    const paren = body.indexOf("(");
    if (paren <= 0) return true;
    func = body.slice(0, paren);
  }
  const mod = func.indexOf(" [");
  if (mod !== -1) func = func.slice(0, mod);
  const retText = body.slice(eq + 3, body.length - 3).trim();
  b.graphReturns.push({ line: lineNo, cpu, func, ret: parseRet(retText), retText, ts });
  return true;
}

/**
 * Parses a tracefs `trace` file (or `trace_pipe` text): the header, every event line variant (5, 4 or no
 * flag columns, TGID column, tick clocks, function / kprobe / kretprobe / marker / tracepoint bodies, kprobe
 * strings split over lines), lost-event and buffer-started markers, and funcgraph-retval returns.
 */
export function parseTrace(text: string): ParseResult<Trace> {
  const b = new TraceBuilder(text);
  parseLines(b, text);
  b.closeOpen(false);
  const bad = text.indexOf("\uFFFD");
  if (bad !== -1) b.issues.add("non_utf8", "bytes that are not UTF-8 were replaced", lineAt(text, bad));
  const tsUnit = b.seconds > 0 ? (b.ticks > 0 ? "mixed" : "seconds") : b.ticks > 0 ? "ticks" : null;
  let table: EventTable | null = b.table;
  let events: readonly TraceEvent[] = [];
  const { firstTsByCpu, lastTs } = table;
  const value: Trace = {
    header: b.header,
    // An own, enumerable getter: spreads, JSON and test snapshots see the events like a plain field.
    get events() {
      if (table !== null) {
        events = table.toEvents();
        table = null;
      }
      return events;
    },
    eventCount: table.count,
    firstTsByCpu,
    lastTs,
    lost: b.lost,
    bufferStarted: b.bufferStarted,
    wallAnchors: b.wallAnchors,
    graphReturns: b.graphReturns,
    tsUnit,
  };
  return result(value, b.issues.done());
}

/**
 * The line loop, apart from parseTrace: V8 compiles a long loop while it runs, and code after the loop
 * that had not run yet would throw that compilation away on every parse.
 */
function parseLines(b: TraceBuilder, text: string): void {
  const n = text.length;
  let start = 0;
  let lineNo = 0;
  while (start < n) {
    let end = text.indexOf("\n", start);
    const complete = end !== -1;
    if (end === -1) end = n;
    lineNo++;
    let stop = end;
    if (stop > start && text.charCodeAt(stop - 1) === 13) stop--;
    if (!complete) {
      b.issues.add(
        "truncated",
        "last line has no newline (read raced the writer or a size cap); dropped",
        lineNo,
      );
      break;
    }
    if (stop - start > MAX_LINE_CHARS) {
      b.closeOpen(false);
      b.issues.add("too_large", `line of ${stop - start} characters skipped`, lineNo);
    } else {
      b.window.cover(start, stop);
      parseLine(b, text, start, stop, lineNo);
    }
    start = end + 1;
  }
}

// The parse state of an empty trace: see keepShapes.
keepShapes(new TraceBuilder(""));

function parseLine(b: TraceBuilder, text: string, s: number, e: number, lineNo: number): void {
  const open = b.open;
  if (open) {
    // The usual split: `dev="0000:3b:00.5` then a line holding only `"` (echo wrote the newline).
    if (s < e && text.charCodeAt(s) === C_QUOTE) {
      continueOpen(b, open, text, s, e);
      return;
    }
    // Anything that reads as a trace line means the string was cut, not split: the open event keeps
    // its place before whatever this line produced.
    b.open = null;
    if (s < e && parseRecognised(b, text, s, e, lineNo)) {
      b.closeCut(open);
      return;
    }
    b.open = open;
    continueOpen(b, open, text, s, e);
    return;
  }
  if (s === e) return;
  if (!parseRecognised(b, text, s, e, lineNo)) {
    b.issues.add(
      "malformed_line",
      `not a trace line: ${preview(text.slice(s, Math.min(e, s + 200)))}`,
      lineNo,
    );
  }
}

function parseRecognised(b: TraceBuilder, text: string, s: number, e: number, lineNo: number): boolean {
  const c = text.charCodeAt(s);
  if (c === C_HASH) {
    parseHashLine(b, text, s, e, lineNo);
    return true;
  }
  if (c === 67 && text.startsWith("CPU:", s) && parseLostLine(b, text, s, e, lineNo)) return true;
  if (parseEventFast(b, s, e, lineNo) || parseEventLine(b, text, s, e, lineNo)) return true;
  let k = s;
  while (k < e && isBlank(text.charCodeAt(k))) k++;
  if (k === e) return true;
  // options/func_stack_trace frames (` => drv_attr_store`) belong to the event above; not kept.
  if (text.startsWith("=> ", k)) return true;
  return parseGraphLine(b, text, s, e, lineNo);
}

function lineAt(text: string, index: number): number {
  let line = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < index; i = text.indexOf("\n", i + 1)) line++;
  return line;
}

// ---------------------------------------------------------------------------------------------------
// trace_clock, per_cpu stats, set_ftrace_filter

/** Clocks that print plain integers instead of `sec.usec` (kernel/trace/trace.c `trace_clocks[]`, in_ns = 0). */
const TICK_CLOCKS = new Set(["counter", "uptime", "x86-tsc", "ppc-tb"]);

export interface TraceClock {
  /** The bracketed entry; null when none is marked. */
  readonly active: string | null;
  readonly available: readonly string[];
  /** How `trace` prints timestamps on the active clock; null when no clock is active. */
  readonly unit: TraceTimestampUnit | null;
}

/** Parses `trace_clock` (`[local] global counter uptime ...`): the active clock and the available ones. */
export function parseTraceClock(text: string): ParseResult<TraceClock> {
  const issues = new IssueList();
  const available: string[] = [];
  let active: string | null = null;
  for (const token of text.split(/\s+/)) {
    if (token === "") continue;
    if (token.startsWith("[") && token.endsWith("]") && token.length > 2) {
      const name = token.slice(1, -1);
      if (active !== null) issues.add("inconsistent", `two active clocks: ${active} and ${name}`, 1);
      else active = name;
      available.push(name);
    } else {
      available.push(token);
    }
  }
  if (available.length === 0) issues.add("missing", "trace_clock is empty", 1);
  else if (active === null) issues.add("missing", "no clock is marked active ([name])", 1);
  const unit = active === null ? null : TICK_CLOCKS.has(active) ? "ticks" : "seconds";
  return result({ active, available, unit }, issues.done());
}

/** `per_cpu/cpuN/stats`; fields older kernels lack are null. */
export interface PerCpuStats {
  readonly entries: number | null;
  readonly overrun: number | null;
  readonly commitOverrun: number | null;
  readonly bytes: number | null;
  /** On the trace clock (seconds, or ticks for tick clocks); `0.000000` when the buffer is empty. */
  readonly oldestEventTs: number | null;
  readonly nowTs: number | null;
  readonly droppedEvents: number | null;
  readonly readEvents: number | null;
}

/** The stats field a `key: value` line's key names; undefined for a counter this parser does not know. */
function statsField(key: string): keyof PerCpuStats | undefined {
  // A switch compares the sliced key with each literal; looking it up in a record first hashed and
  // internalized it (~0.03 ms per snapshot over 48 CPUs' 8 lines).
  switch (key) {
    case "entries":
      return "entries";
    case "overrun":
      return "overrun";
    case "commit overrun":
      return "commitOverrun";
    case "bytes":
      return "bytes";
    case "oldest event ts":
      return "oldestEventTs";
    case "now ts":
      return "nowTs";
    case "dropped events":
      return "droppedEvents";
    case "read events":
      return "readEvents";
    default:
      return undefined;
  }
}

/** `^\d+(\.\d+)?$` without the regex: digits, optionally a dot and more digits. */
function isDecimal(raw: string): boolean {
  const n = raw.length;
  let i = 0;
  while (i < n && isDigit(raw.charCodeAt(i))) i++;
  if (i === 0) return false;
  if (i === n) return true;
  if (raw.charCodeAt(i) !== C_DOT) return false;
  const frac = ++i;
  while (i < n && isDigit(raw.charCodeAt(i))) i++;
  return i === n && i > frac;
}

/** Parses `per_cpu/cpuN/stats` (`entries: 2`, `oldest event ts: 1843212.917902`, ...). */
export function parsePerCpuStats(text: string): ParseResult<PerCpuStats> {
  const issues = new IssueList();
  const stats: Mutable<PerCpuStats> = {
    entries: null,
    overrun: null,
    commitOverrun: null,
    bytes: null,
    oldestEventTs: null,
    nowTs: null,
    droppedEvents: null,
    readEvents: null,
  };
  eachLine(text, issues, (line, lineNo) => {
    const colon = line.indexOf(":");
    if (colon <= 0) {
      issues.add("malformed_line", `not a "key: value" line: ${preview(line)}`, lineNo);
      return;
    }
    const field = statsField(line.slice(0, colon));
    if (field === undefined) return; // a counter this parser does not know (newer kernels add some)
    const raw = line.slice(colon + 1).trim();
    const value = isDecimal(raw) ? Number(raw) : Number.NaN;
    if (!Number.isFinite(value)) {
      issues.add("invalid_field", `${line.slice(0, colon)} is not a number: ${preview(raw)}`, lineNo);
      return;
    }
    stats[field] = value;
  });
  return result(stats, issues.done());
}

/** `set_ftrace_filter`: the functions the function tracers are limited to. */
export interface FtraceFilter {
  /** The file reads `#### all functions enabled ####` (or is empty): every function is traced. */
  readonly allFunctions: boolean;
  readonly functions: readonly { readonly name: string; readonly module: string | null }[];
  /** Trigger and cached-module lines (`schedule:traceoff:unlimited`, `:mod:nvme:nvme_probe`), as written. */
  readonly commands: readonly string[];
}

/** Parses `set_ftrace_filter` (`bind_store`, `nvme_probe [nvme]`, `#### all functions enabled ####`). */
export function parseFtraceFilter(text: string): ParseResult<FtraceFilter> {
  const issues = new IssueList();
  const functions: { name: string; module: string | null }[] = [];
  const commands: string[] = [];
  let allFunctions = false;
  eachLine(text, issues, (line) => {
    const t = line.trim();
    if (t === "") return;
    if (t.startsWith("#")) {
      if (t.includes("all functions enabled")) allFunctions = true;
      return;
    }
    const space = t.indexOf(" ");
    const name = space === -1 ? t : t.slice(0, space);
    if (name.includes(":")) {
      commands.push(t);
      return;
    }
    const mod = space === -1 ? null : /^\[([^\]]+)\]$/.exec(t.slice(space + 1).trim());
    functions.push({ name, module: mod?.[1] ?? null });
  });
  if (functions.length === 0 && commands.length === 0) allFunctions = true;
  return result({ allFunctions, functions, commands }, issues.done());
}

/** Line loop for the small tracefs files: drops a cut final line as `truncated`. */
function eachLine(text: string, issues: IssueList, fn: (line: string, lineNo: number) => void): void {
  let start = 0;
  let lineNo = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    lineNo++;
    if (end === -1) {
      if (start < text.length) {
        issues.add("truncated", "last line has no newline; dropped", lineNo);
      }
      return;
    }
    if (end - start > MAX_LINE_CHARS) issues.add("too_large", "line skipped", lineNo);
    else fn(text.slice(start, text.charCodeAt(end - 1) === 13 ? end - 1 : end), lineNo);
    end++;
    start = end;
  }
}

// ---------------------------------------------------------------------------------------------------
// Coverage

export const TRACE_COVERAGE_WARNINGS = [
  "no_events", // nothing traced on any CPU: absence means nothing
  "tracing_off", // tracing_on = 0 at capture: the window ended at some unknown point
  "all_functions", // empty set_ftrace_filter with a function tracer: the buffer floods, the window is tiny
  "lost_events", // `[LOST ...]` markers or per-CPU dropped events
  "overwritten", // the ring buffer wrapped; start is the oldest surviving event
  "tick_clock", // counter/uptime/x86-tsc: timestamps are not seconds and cannot meet the kernel log directly
  "no_per_cpu_stats", // start/end were estimated from the trace lines alone
] as const;
export type TraceCoverageWarning = (typeof TRACE_COVERAGE_WARNINGS)[number];

/** The window in which the trace can speak for the absence of an event. */
export interface TraceCoverage {
  /**
   * From when every CPU's events are all present: the latest oldest-surviving event among CPUs that
   * overwrote history (per-CPU `overrun` > 0; without stats, any CPU unless the header shows no
   * overwrite), and never before the first event seen (tracing may have started, or the buffer been
   * cleared, just before it). A CPU that lost nothing does not move the start: with a function filter
   * its first event is only its first matching call.
   */
  readonly start: number | null;
  readonly startCpu: number | null;
  readonly startSource: "per_cpu_stats" | "trace" | null;
  /** `now ts` at capture (latest over CPUs), else the last event's ts. */
  readonly end: number | null;
  readonly endSource: "per_cpu_stats" | "trace" | null;
  readonly unit: TraceTimestampUnit | null;
  /** Events lost per CPU from `[LOST N EVENTS]` markers; null when a marker gave no count. */
  readonly lostByCpu: Readonly<Record<number, number | null>>;
  /** Per-CPU stats `dropped events` (overwrite=0 and the buffer filled: new events were refused). */
  readonly droppedByCpu: Readonly<Record<number, number>>;
  /** Loss markers with the timestamp they precede, to test against a window. */
  readonly lostMarkers: readonly TraceLostEvents[];
  readonly overwritten: number | null;
  readonly filter: {
    readonly functions: readonly string[];
    readonly allFunctions: boolean;
    readonly floodRisk: boolean;
  } | null;
  readonly tracer: string | null;
  readonly tracingOn: boolean | null;
  readonly clock: string | null;
  readonly warnings: readonly TraceCoverageWarning[];
}

/**
 * Computes the trace coverage window (§5.7): start = max over CPUs that overwrote history of their oldest
 * event (per_cpu stats when present, else the trace's first event on that CPU) and not before the first
 * event, end = `now ts`, plus losses, overwrites, the function filter and the tracer state that qualify it.
 */
export function traceCoverage(args: {
  trace: Trace | null;
  perCpu?: readonly { readonly cpu: number; readonly stats: PerCpuStats }[];
  filter?: FtraceFilter | null;
  tracer?: string | null;
  tracingOn?: boolean | null;
  clock?: TraceClock | null;
}): TraceCoverage {
  const { trace } = args;
  const perCpu = args.perCpu ?? [];
  const warnings: TraceCoverageWarning[] = [];
  const lastTs = trace?.lastTs ?? null;
  type Bound = { ts: number; cpu: number; source: "per_cpu_stats" | "trace" };
  // The first event seen anywhere: tracing was on (and the buffer not cleared) at least since then.
  let earliest: Bound | null = null;
  // CPUs whose oldest events were overwritten: their history starts at their oldest surviving event.
  let wrapped: Bound | null = null;
  const later = (a: Bound | null, b: Bound): Bound => (a === null || b.ts > a.ts ? b : a);
  const sooner = (a: Bound | null, b: Bound): Bound => (a === null || b.ts < a.ts ? b : a);
  let end: number | null = null;
  let endSource: TraceCoverage["endSource"] = null;
  const lostByCpu: Record<number, number | null> = {};
  const droppedByCpu: Record<number, number> = {};
  const statsCpus = new Set<number>();
  for (const { cpu, stats } of perCpu) {
    statsCpus.add(cpu);
    if (stats.entries !== null && stats.entries > 0 && stats.oldestEventTs !== null) {
      const bound: Bound = { ts: stats.oldestEventTs, cpu, source: "per_cpu_stats" };
      earliest = sooner(earliest, bound);
      if (stats.overrun === null || stats.overrun > 0) wrapped = later(wrapped, bound);
    }
    if (stats.nowTs !== null && (end === null || stats.nowTs > end)) {
      end = stats.nowTs;
      endSource = "per_cpu_stats";
    }
    if (stats.droppedEvents !== null && stats.droppedEvents > 0) droppedByCpu[cpu] = stats.droppedEvents;
  }
  // Without stats, a CPU counts as wrapped unless the header says nothing was overwritten.
  const headerOverwritten = trace?.header.overwritten ?? null;
  const annotated = new Set((trace?.bufferStarted ?? []).map((b) => b.cpu));
  for (const { cpu, ts } of trace?.firstTsByCpu ?? []) {
    const bound: Bound = { ts, cpu, source: "trace" };
    earliest = sooner(earliest, bound);
    if (statsCpus.has(cpu)) continue;
    if (headerOverwritten === null || headerOverwritten > 0 || annotated.has(cpu))
      wrapped = later(wrapped, bound);
  }
  const startBound = earliest === null ? null : wrapped === null ? earliest : later(earliest, wrapped);
  const start = startBound?.ts ?? null;
  const startCpu = startBound?.cpu ?? null;
  const startSource: TraceCoverage["startSource"] = startBound?.source ?? null;
  if (end === null && lastTs !== null) {
    end = lastTs;
    endSource = "trace";
  }
  for (const l of trace?.lost ?? []) addLost(lostByCpu, l.cpu, l.count);

  const header = trace?.header;
  const tracer = args.tracer ?? header?.tracer ?? null;
  let overwritten = header?.overwritten ?? null;
  if (overwritten === null && perCpu.length > 0) {
    overwritten = perCpu.reduce((sum, p) => sum + (p.stats.overrun ?? 0), 0);
  }
  const isFunctionTracer = tracer === "function" || tracer === "function_graph";
  const filter = args.filter
    ? {
        functions: args.filter.functions.map((f) => f.name),
        allFunctions: args.filter.allFunctions,
        floodRisk: args.filter.allFunctions && isFunctionTracer,
      }
    : null;
  const clock = args.clock?.active ?? null;
  const unit = args.clock?.unit ?? (trace?.tsUnit === "mixed" ? null : (trace?.tsUnit ?? null));

  if (start === null) warnings.push("no_events");
  if (args.tracingOn === false) warnings.push("tracing_off");
  if (filter?.floodRisk) warnings.push("all_functions");
  if (Object.keys(lostByCpu).length > 0 || Object.keys(droppedByCpu).length > 0) warnings.push("lost_events");
  if (overwritten !== null && overwritten > 0) warnings.push("overwritten");
  if (unit === "ticks") warnings.push("tick_clock");
  if (perCpu.length === 0) warnings.push("no_per_cpu_stats");
  return {
    start,
    startCpu,
    startSource,
    end,
    endSource,
    unit,
    lostByCpu,
    droppedByCpu,
    lostMarkers: trace?.lost ?? [],
    overwritten,
    filter,
    tracer,
    tracingOn: args.tracingOn ?? null,
    clock,
    warnings,
  };
}

function addLost(into: Record<number, number | null>, cpu: number, count: number | null): void {
  const prev = into[cpu];
  into[cpu] = count === null || prev === null ? null : (prev ?? 0) + count;
}

export const TRACE_BLIND_REASONS = [
  "no_events", // the trace saw nothing at all
  "starts_after_window", // coverage start is after the window start: the ring buffer lost that history
  "ends_before_window", // the capture ended before the window did
  "lost_in_window", // a LOST marker falls in (or cannot be placed outside) the window
  "dropped_events", // overwrite=0 and the buffer filled: newer events were dropped, times unknown
  "tracing_off", // tracing was off at capture: when it stopped is unknown
  "function_not_filtered", // set_ftrace_filter does not list the function asked about
  "not_function_tracer", // function entries cannot appear under this tracer
  "unit_mismatch", // the trace clock prints ticks; a window in seconds cannot be compared
] as const;
export type TraceBlindReason = (typeof TRACE_BLIND_REASONS)[number];

/**
 * Whether the trace can speak for the absence of `functions` (function-tracer entries) in [from, to]
 * on the trace clock; `blind` lists every reason it cannot (the `trace-blind-spot` verdict).
 */
export function traceCovers(args: {
  coverage: TraceCoverage;
  from: number;
  to: number;
  functions?: readonly string[];
}): { readonly verdict: "covered" | "blind"; readonly reasons: readonly TraceBlindReason[] } {
  const { coverage: c, from, to } = args;
  const reasons: TraceBlindReason[] = [];
  if (c.start === null) reasons.push("no_events");
  else if (c.start > from) reasons.push("starts_after_window");
  if (c.end !== null && c.end < to) reasons.push("ends_before_window");
  if (c.lostMarkers.some((l) => l.beforeTs === null || (l.beforeTs >= from && l.beforeTs <= to))) {
    reasons.push("lost_in_window");
  }
  if (Object.keys(c.droppedByCpu).length > 0) reasons.push("dropped_events");
  if (c.tracingOn === false) reasons.push("tracing_off");
  if (args.functions && args.functions.length > 0) {
    if (c.tracer !== null && c.tracer !== "function" && c.tracer !== "function_graph") {
      reasons.push("not_function_tracer");
    }
    if (c.filter && !c.filter.allFunctions && args.functions.some((f) => !c.filter?.functions.includes(f))) {
      reasons.push("function_not_filtered");
    }
  }
  if (c.unit === "ticks") reasons.push("unit_mismatch");
  return { verdict: reasons.length === 0 ? "covered" : "blind", reasons };
}

// ---------------------------------------------------------------------------------------------------
// Bundle level

export const TRACEFS_ROOTS = ["sys/kernel/tracing/", "sys/kernel/debug/tracing/"] as const;
const TRACE_OPTIONS = ["irq-info", "record-tgid", "sym-offset", "overwrite", "annotate"] as const;
export type TraceOptionName = (typeof TRACE_OPTIONS)[number];

/** Everything the bundle shipped from tracefs, parsed, with the coverage window. */
export interface TraceView {
  /** The tracefs directory the evidence came from (`sys/kernel/tracing/` or the debugfs one). */
  readonly root: string;
  readonly trace: Trace | null;
  readonly clock: TraceClock | null;
  readonly tracer: string | null;
  readonly filter: FtraceFilter | null;
  readonly tracingOn: boolean | null;
  /** `buffer_size_kb`: `1408`, or `7 (expanded: 1408)` before the buffer was first used. */
  readonly bufferSizeKb: number | null;
  readonly perCpu: readonly { readonly cpu: number; readonly stats: PerCpuStats }[];
  readonly options: Readonly<Record<TraceOptionName, boolean | null>>;
  readonly coverage: TraceCoverage;
  /** Files that were shipped as read errors or timeouts (absent files are simply null). */
  readonly unreadable: readonly { readonly path: string; readonly reason: Unreadable }[];
}

/**
 * Reads the ftrace evidence of a bundle, preferring `sys/kernel/tracing/` over the debugfs mount; null
 * (without issues) when the shipper sent no tracefs files at all.
 */
export function readTrace(reader: EvidenceReader): ParseResult<TraceView | null> {
  const root = TRACEFS_ROOTS.find((r) => reader.entry(`${r}trace`) !== undefined) ?? findAnyRoot(reader);
  if (root === undefined) return { ok: true, value: null };
  const issues: ParseIssue[] = [];
  const unreadable: { path: string; reason: Unreadable }[] = [];
  // One lookup per file, its text and cap flag read from the entry (asking the reader `unreadable`,
  // `text` and `capped` in turn looked each of the ~60 paths up three times: ~0.02 ms per snapshot).
  const fileAt = (path: string): FileEntry | undefined => {
    const entry = reader.entry(path);
    if (entry?.kind === "file") return entry;
    const why = whyUnreadable(entry, "file");
    if (why !== undefined && why.reason !== "absent") unreadable.push({ path, reason: why });
    return undefined;
  };
  const textOf = (path: string, entry: FileEntry): string =>
    entry.encoding === "base64" ? (reader.text(path) ?? "") : entry.data;
  const read = (name: string): string | undefined => {
    const path = root + name;
    const entry = fileAt(path);
    return entry === undefined ? undefined : textOf(path, entry);
  };
  const parsed = <T>(name: string, parse: (text: string) => ParseResult<T>): T | null => {
    const path = root + name;
    const entry = fileAt(path);
    if (entry === undefined) return null;
    const r = parse(textOf(path, entry));
    if (!r.ok) for (const i of r.issues) issues.push({ ...i, path: [path, ...i.path] });
    if (entry.capped === true) {
      issues.push({ code: "truncated", path: [path], message: "cut by the shipper's size cap" });
    }
    return r.value;
  };

  const trace = parsed("trace", parseTrace);
  if (trace === null) {
    const why = reader.unreadable(`${root}trace`, "file");
    issues.push({
      code: "missing",
      path: [`${root}trace`],
      message: `trace not readable (${why ? why.reason : "unknown"}): coverage unknown`,
    });
  }
  const clock = parsed("trace_clock", parseTraceClock);
  const filter = parsed("set_ftrace_filter", parseFtraceFilter);
  const tracerText = read("current_tracer");
  const tracer = tracerText === undefined ? null : tracerText.trim() || null;
  const tracingOn = flag(read("tracing_on"));
  const sizeText = read("buffer_size_kb");
  const sizeMatch = sizeText === undefined ? null : /(\d+)(?:\s*\(expanded:\s*(\d+)\))?/.exec(sizeText);
  const bufferSizeKb = sizeMatch ? Number(sizeMatch[2] ?? sizeMatch[1]) : null;

  const perCpu: { cpu: number; stats: PerCpuStats }[] = [];
  for (const cpu of perCpuIds(reader, root)) {
    const stats = parsed(`per_cpu/cpu${cpu}/stats`, parsePerCpuStats);
    if (stats) perCpu.push({ cpu, stats });
  }
  const options = {
    "irq-info": flag(read("options/irq-info")),
    "record-tgid": flag(read("options/record-tgid")),
    "sym-offset": flag(read("options/sym-offset")),
    overwrite: flag(read("options/overwrite")),
    annotate: flag(read("options/annotate")),
  } satisfies Record<TraceOptionName, boolean | null>;

  const coverage = traceCoverage({ trace, perCpu, filter, tracer, tracingOn, clock });
  const value: TraceView = {
    root,
    trace,
    clock,
    tracer,
    filter,
    tracingOn,
    bufferSizeKb,
    perCpu,
    options,
    coverage,
    unreadable,
  };
  return result(value, issues);
}

function findAnyRoot(reader: EvidenceReader): string | undefined {
  for (const r of TRACEFS_ROOTS) {
    for (const name of ["trace_clock", "current_tracer", "tracing_on", "per_cpu/"]) {
      if (reader.entry(r + name) !== undefined) return r;
    }
  }
  return undefined;
}

/** CPU numbers from the `per_cpu/` listing, else from the shipped `per_cpu/cpuN/stats` paths. */
function perCpuIds(reader: EvidenceReader, root: string): number[] {
  const prefix = `${root}per_cpu/`;
  const names = reader.list(prefix) ?? [];
  const ids = new Set<number>();
  for (const name of names) {
    const id = cpuIdIn(name, 0, name.length);
    if (id !== null) ids.add(id);
  }
  if (ids.size === 0) {
    for (const path of reader.paths(prefix)) {
      const id = path.endsWith("/stats") ? cpuIdIn(path, prefix.length, path.length - 6) : null;
      if (id !== null) ids.add(id);
    }
  }
  return [...ids].sort((a, b) => a - b);
}

/** N when text[s, e) is `cpuN` (`/^cpu(\d+)$/` without the regex: 48 names per snapshot). */
function cpuIdIn(text: string, s: number, e: number): number | null {
  if (e - s < 4 || !text.startsWith("cpu", s)) return null;
  for (let i = s + 3; i < e; i++) if (!isDigit(text.charCodeAt(i))) return null;
  return Number(text.slice(s + 3, e));
}

/** `1\n` / `0\n` tracefs booleans. */
function flag(text: string | undefined): boolean | null {
  const t = text?.trim();
  return t === "1" ? true : t === "0" ? false : null;
}
