/**
 * Hand-captured `lsof` output (reference/evidence-formats.md §4), in either of its two shapes: the
 * default columns (`COMMAND PID [TID TASKCMD] USER FD TYPE DEVICE SIZE/OFF NODE NAME`) or the `-F`
 * field output, NL- or NUL-terminated (`-F ...0`). Empty output is lsof's rc=1 "nothing matched",
 * not an error; `lsof: WARNING ...` lines merged in from stderr are kept as notes.
 */
import { keepShapes } from "../ascii.js";
import { IssueList, MAX_LINE_CHARS, type ParseResult, result } from "../result.js";
import { RowTable } from "../rows.js";
import {
  eachCompleteLine,
  isBlank,
  isBoundary,
  parseDecimal,
  parseHex,
  reportReplacementChars,
} from "./lines.js";

/** A Linux dev_t split into its numbers. */
export interface DeviceNumber {
  readonly major: number;
  readonly minor: number;
}

/** SIZE/OFF: lsof prints a size, or an offset as `0t<dec>` / `0x<hex>`. */
export interface SizeOrOffset {
  readonly kind: "size" | "offset";
  readonly value: number;
}

/** One open file of one process (or task) as lsof reported it. */
export interface LsofFile {
  readonly pid: number;
  /** Task id when lsof listed threads (`TID` column, `K` field); null for the process itself. */
  readonly tid: number | null;
  /** Kernel comm, truncated by lsof (9 characters by default, 15 at most). */
  readonly command: string;
  readonly taskCommand: string | null;
  /** Login name (`USER` column, `L` field); null when lsof printed a number or no name. */
  readonly user: string | null;
  /** `u` field, or a numeric `USER` column (lsof prints the uid when it has no name for it). */
  readonly uid: number | null;
  /** `31`, `cwd`, `rtd`, `txt`, `mem`, `DEL`, `NOFD`... without the mode and lock characters. */
  readonly fd: string;
  /** Mode: `r`, `w` or `u`; null when not printed. */
  readonly access: string | null;
  /** Lock character (`W`, `r`...); null when none. */
  readonly lock: string | null;
  /** `REG`, `DIR`, `CHR`, `BLK`, `FIFO`, `unix`, `a_inode`...; null when absent. */
  readonly type: string | null;
  /** Device of the filesystem holding the inode (`-F D`; the DEVICE column for non-device files). */
  readonly device: DeviceNumber | null;
  /** The device a CHR/BLK node stands for (`-F r`; the DEVICE column for CHR and BLK). */
  readonly rdev: DeviceNumber | null;
  readonly sizeOff: SizeOrOffset | null;
  readonly inode: number | null;
  /** Path as seen by the owning process (its mount namespace and root), without ` (deleted)`. */
  readonly name: string;
  readonly deleted: boolean;
  /** Line of the row (default output) or of the `f` field (field output); with `-F0`, of the set. */
  readonly line: number;
}

/** Everything in one lsof capture. */
export interface LsofOutput {
  /** `empty` is lsof's rc=1 output: nothing holds the names it was given. */
  readonly format: "default" | "fields" | "empty";
  readonly files: LsofFile[];
  /** stderr lines merged into the capture (`lsof: WARNING: can't stat() ...`): the list may be incomplete. */
  readonly notes: string[];
}

const DELETED_SUFFIX = " (deleted)";
const NOTE_PREFIX = "lsof: ";

/** Decodes a Linux dev_t as lsof prints it in `-F D`/`r` (`0xf300` is 243,0): new_encode_dev's layout. */
export function decodeDevT(devt: number): DeviceNumber {
  return { major: (devt >>> 8) & 0xfff, minor: (devt & 0xff) | ((devt >>> 12) & 0xfff00) };
}

/** `243,0` -> {243,0}; null for `0xffff...` socket addresses and anything else. */
function readMajorMinor(value: string): DeviceNumber | null {
  const comma = value.indexOf(",");
  if (comma <= 0) return null;
  const major = parseDecimal(value.slice(0, comma));
  const minor = parseDecimal(value.slice(comma + 1));
  return major === -1 || minor === -1 ? null : { major, minor };
}

/** `0t123` and `0x7b` are offsets, plain digits a size; null when unreadable. */
function readSizeOff(value: string, defaultKind: "size" | "offset"): SizeOrOffset | null {
  if (value.startsWith("0t")) {
    const v = parseDecimal(value.slice(2));
    return v === -1 ? null : { kind: "offset", value: v };
  }
  if (value.startsWith("0x")) {
    const v = parseHex(value.slice(2));
    return v === -1 ? null : { kind: "offset", value: v };
  }
  const v = parseDecimal(value);
  return v === -1 ? null : { kind: defaultKind, value: v };
}

function splitDeleted(name: string): { name: string; deleted: boolean } {
  return name.endsWith(DELETED_SUFFIX)
    ? { name: name.slice(0, -DELETED_SUFFIX.length), deleted: true }
    : { name, deleted: false };
}

/** Notes and their indented continuation lines (`      Output information may be incomplete.`). */
function addNote(notes: string[], line: string): boolean {
  if (line.startsWith(NOTE_PREFIX)) {
    notes.push(line);
    return true;
  }
  if (notes.length > 0 && line.length > 0 && isBlank(line.charCodeAt(0))) {
    notes[notes.length - 1] += ` ${line.trim()}`;
    return true;
  }
  return false;
}

/**
 * Parses lsof output of either shape, picking the format from the first line that is not a stderr
 * note (a `COMMAND` header, or a `p<pid>` field); empty output is `format: "empty"`.
 */
export function parseLsof(text: string): ParseResult<LsofOutput> {
  if (text.indexOf("\0") !== -1) return parseLsofFields(text);
  let start = 0;
  while (start < text.length) {
    let end = text.indexOf("\n", start);
    if (end === -1) end = text.length;
    const c = text.charCodeAt(start);
    const isNote = text.startsWith(NOTE_PREFIX, start) || isBlank(c) || end === start || c === 13;
    if (!isNote) {
      if (text.startsWith("COMMAND", start)) return parseLsofDefault(text);
      if (c === 112 /* p */ && parseDecimal(text.slice(start + 1, end).trimEnd()) !== -1) {
        return parseLsofFields(text);
      }
      return parseLsofDefault(text);
    }
    start = end + 1;
  }
  return parseLsofDefault(text);
}

// ---------------------------------------------------------------------------------------------------
// Default (column) output

interface Column {
  readonly label: string;
  readonly start: number;
  readonly end: number;
}

interface Layout {
  readonly pid: Column;
  readonly tid: Column | null;
  readonly taskCmd: Column | null;
  readonly user: Column;
  readonly type: Column | null;
  readonly device: Column | null;
  readonly sizeOff: Column | null;
  readonly node: Column | null;
  readonly name: Column;
}

function readLayout(header: string): Layout | null {
  const columns = new Map<string, Column>();
  const re = /\S+/g;
  for (let m = re.exec(header); m !== null; m = re.exec(header)) {
    columns.set(m[0], { label: m[0], start: m.index, end: m.index + m[0].length });
  }
  const pid = columns.get("PID");
  const user = columns.get("USER");
  const name = columns.get("NAME");
  if (!columns.has("COMMAND") || !pid || !user || !name || !columns.has("FD")) return null;
  return {
    pid,
    tid: columns.get("TID") ?? null,
    taskCmd: columns.get("TASKCMD") ?? null,
    user,
    type: columns.get("TYPE") ?? null,
    device: columns.get("DEVICE") ?? null,
    sizeOff: columns.get("SIZE/OFF") ?? columns.get("SIZE") ?? columns.get("OFFSET") ?? null,
    node: columns.get("NODE") ?? null,
    name,
  };
}

/**
 * A right-aligned value ends under the end of its label: [start, text], null when the cell is blank,
 * undefined when the row does not line up with the header there.
 */
function rightAligned(line: string, col: Column): [number, string] | null | undefined {
  const end = col.end;
  if (end > line.length || isBlank(line.charCodeAt(end - 1))) return null;
  // A value running past its label's end means the row is not aligned with the header.
  if (!isBoundary(line, end)) return undefined;
  let start = end - 1;
  while (start > 0 && !isBlank(line.charCodeAt(start - 1))) start--;
  return [start, line.slice(start, end)];
}

interface RowFields {
  command: string;
  pid: string;
  tid: string | null;
  taskCmd: string | null;
  user: string;
  fd: string;
  type: string | null;
  device: string | null;
  sizeOff: string | null;
  node: string | null;
  name: string;
}

/** Cuts a row by the header's column positions (lsof pads every column to its widest value). */
function cutAligned(line: string, layout: Layout): RowFields | null {
  const pid = rightAligned(line, layout.pid);
  if (!pid || parseDecimal(pid[1]) === -1) return null;
  const tid = layout.tid ? rightAligned(line, layout.tid) : null;
  if (tid === undefined) return null;
  // USER is right-aligned too (`  nobody`, `   12345`: a uid with no passwd entry).
  const user = rightAligned(line, layout.user);
  if (!user) return null;
  const nameStart = layout.name.start;
  if (nameStart < line.length && !isBlank(line.charCodeAt(nameStart - 1))) return null;
  const values: ([number, string] | null)[] = [];
  for (const col of [layout.type, layout.device, layout.sizeOff, layout.node]) {
    const v = col ? rightAligned(line, col) : null;
    if (v === undefined) return null;
    values.push(v);
  }
  const [type, device, sizeOff, node] = values;
  const userEnd = layout.user.end;
  const fdEnd = values.find((v) => v !== null)?.[0] ?? Math.min(nameStart, line.length);
  if (fdEnd < userEnd) return null;
  return {
    command: unescapeLsof(line.slice(0, pid[0]).trimEnd()),
    pid: pid[1],
    tid: tid ? tid[1] : null,
    // TASKCMD is left-aligned under its label; it is blank on the process's own row.
    taskCmd: layout.taskCmd ? unescapeLsof(line.slice(layout.taskCmd.start, user[0]).trim()) || null : null,
    user: user[1],
    fd: line.slice(userEnd, fdEnd).trim(),
    type: type?.[1] ?? null,
    device: device?.[1] ?? null,
    sizeOff: sizeOff?.[1] ?? null,
    node: node?.[1] ?? null,
    name: nameStart < line.length ? line.slice(nameStart) : "",
  };
}

/**
 * lsof writes blanks and unprintable bytes of a command name as `\xHH` so the columns stay split
 * (`ib\x20pg` for comm `ib pg flush`); undone so the name matches the `-F c` field.
 */
function unescapeLsof(s: string): string {
  if (s.indexOf("\\x") === -1) return s;
  // Only ASCII: bytes of a multi-byte character are left escaped rather than decoded one by one.
  return s.replace(/\\x([0-7][0-9a-fA-F])/g, (_, hex: string) =>
    String.fromCharCode(Number.parseInt(hex, 16)),
  );
}

/** Rows whose alignment was lost (pasted through a tool that squeezed blanks): nine or more words. */
function cutWords(line: string, layout: Layout): RowFields | null {
  if (layout.tid) return null;
  const re = /\S+/g;
  const words: { text: string; start: number }[] = [];
  for (let m = re.exec(line); m !== null && words.length < 9; m = re.exec(line)) {
    words.push({ text: m[0], start: m.index });
  }
  const [command, pid, user, fd, type, device, sizeOff, node, name] = words;
  if (!command || !pid || !user || !fd || !type || !device || !sizeOff || !node || !name) return null;
  if (parseDecimal(pid.text) === -1) return null;
  return {
    command: unescapeLsof(command.text),
    pid: pid.text,
    tid: null,
    taskCmd: null,
    user: user.text,
    fd: fd.text,
    type: type.text,
    device: device.text,
    sizeOff: sizeOff.text,
    node: node.text,
    name: line.slice(name.start),
  };
}

/** `31u` -> fd 31, mode u; `3uW` adds lock W; `cwd`, `mem`, `NOFD` are kept whole. */
function splitFd(fd: string): { fd: string; access: string | null; lock: string | null } {
  let digits = 0;
  while (digits < fd.length && fd.charCodeAt(digits) >= 48 && fd.charCodeAt(digits) <= 57) digits++;
  if (digits === 0 || digits === fd.length) return { fd, access: null, lock: null };
  const mode = fd[digits] ?? " ";
  const lock = fd[digits + 1] ?? " ";
  return {
    fd: fd.slice(0, digits),
    access: mode === " " ? null : mode,
    lock: lock === " " ? null : lock,
  };
}

/** Parses the default column output of lsof (with or without TID/TASKCMD columns). */
export function parseLsofDefault(text: string): ParseResult<LsofOutput> {
  const issues = new IssueList();
  const files: LsofFile[] = [];
  const notes: string[] = [];
  let layout: Layout | null = null;
  let sawHeader = false;
  reportReplacementChars(text, issues);
  eachCompleteLine(text, issues, (line, lineNo) => {
    if (line === "" || addNote(notes, line)) return;
    if (!sawHeader) {
      sawHeader = true;
      layout = readLayout(line);
      if (!layout) issues.add("missing", "no `COMMAND PID ... NAME` header", lineNo);
      return;
    }
    if (!layout) return;
    const row = cutAligned(line, layout) ?? cutWords(line, layout);
    if (!row) {
      issues.add("malformed_line", "row does not line up with the header", lineNo);
      return;
    }
    const pid = parseDecimal(row.pid);
    const tid = row.tid === null ? null : parseDecimal(row.tid);
    if (tid === -1) {
      issues.add("invalid_field", `TID ${JSON.stringify(row.tid)} is not a number`, lineNo);
      return;
    }
    const uid = parseDecimal(row.user);
    const isDeviceNode = row.type === "CHR" || row.type === "BLK";
    const devno = row.device === null ? null : readMajorMinor(row.device);
    const inode = row.node === null ? -1 : parseDecimal(row.node);
    files.push({
      pid,
      tid,
      command: row.command,
      taskCommand: row.taskCmd,
      user: uid === -1 ? row.user : null,
      uid: uid === -1 ? null : uid,
      ...splitFd(row.fd),
      type: row.type,
      // The DEVICE column of a device node is its rdev (§4.1): keep it where -F puts it.
      device: isDeviceNode ? null : devno,
      rdev: isDeviceNode ? devno : null,
      sizeOff: row.sizeOff === null ? null : readSizeOff(row.sizeOff, "size"),
      inode: inode === -1 ? null : inode,
      ...splitDeleted(row.name),
      line: lineNo,
    });
  });
  return result({ format: sawHeader ? "default" : "empty", files, notes }, issues.done());
}

// ---------------------------------------------------------------------------------------------------
// Field output (-F)

const CR = 13;
const SPACE = 32;
const CLOSE_PAREN = 41;
const TWO_32 = 0x100000000;

// A row of FieldRows: one file set. Strings are indexes into the parse's string table (-1: null); the
// device numbers are dev_t values, and the sizes and inodes (up to 2^52) are split in two 32-bit halves.
const PROC = 0;
const FD = 1;
const ACCESS = 2;
const LOCK = 3;
const TYPE = 4;
const DEVICE = 5;
const RDEV = 6;
const SIZE_LO = 7;
const SIZE_HI = 8;
const INODE_LO = 9;
const INODE_HI = 10;
/** Text index of the `n` value, -1 without one; it ends at NAME_END, before any ` (deleted)`. */
const NAME_START = 11;
const NAME_END = 12;
const LINE = 13;
const FLAGS = 14;
const STRIDE = 16;
// FLAGS bits.
const HAS_DEVICE = 1;
const HAS_RDEV = 2;
/** sizeOff is not null; OFFSET says which kind it is. */
const HAS_SIZE = 4;
const OFFSET = 8;
const HAS_INODE = 16;
const DELETED = 32;
/** Longest value the string table looks up before adding it (`a_inode`); longer ones are added each time. */
const SHORT_MAX = 8;
const SHORT_SLOTS = 256;

/** The process fields of the files flushed while they held: a later `c`, `u`... makes a new one. */
type ProcessFields = Pick<LsofFile, "pid" | "tid" | "command" | "taskCommand" | "user" | "uid">;

/**
 * The files of one `-F` capture as rows of numbers in chunks of Int32Array, with the strings they
 * share; a file object holds only its table and row, and slices its name out of the text when read.
 * An object per file with every field (and its own SizeOrOffset, DeviceNumbers and strings) made most
 * of the parse of a large capture garbage collection and fresh memory (bench/parsers/commands.ts).
 */
class FieldRows extends RowTable {
  readonly procs: ProcessFields[] = [];
  /** The strings rows refer to: `t`, `f`, `a` and `l` values, each short one kept once. */
  readonly strings: string[] = [];
  /** Index into strings of each value of up to 4 ASCII characters, by a key made of them. */
  readonly #byKey = new Map<number, number>();
  /** Index into strings of a longer value, per slot of a direct-mapped cache on a hash of it. */
  readonly #short = new Int32Array(SHORT_SLOTS).fill(-1);
  /** One DeviceNumber per dev_t, handed to every file on that device. */
  readonly #devices = new Map<number, DeviceNumber>();

  constructor(readonly text: string) {
    // One row per 128 characters of the text to start with (a set with a path is longer).
    super(STRIDE, (text.length >>> 7) + 1);
  }

  /**
   * The index of text[s, e) in strings. Values repeat on most sets (types, descriptors), and finding
   * the one kept costs less than slicing a copy per set: up to 4 ASCII characters are their own key
   * (`cwd`, `1023`, `REG`: most values), up to SHORT_MAX share a direct-mapped cache.
   */
  stringIndex(s: number, e: number): number {
    const text = this.text;
    const len = e - s;
    if (len <= SHORT_MAX) {
      // The length, then 7 bits per character: under 2^31 for 4 characters, and one key per value.
      let key = len;
      let hash = len;
      let ascii = true;
      for (let i = s; i < e; i++) {
        const c = text.charCodeAt(i);
        key = key * 128 + c;
        hash = (Math.imul(hash, 31) + c) | 0;
        if (c > 127) ascii = false;
      }
      if (len <= 4 && ascii) {
        const at = this.#byKey.get(key);
        if (at !== undefined) return at;
        this.#byKey.set(key, this.strings.length);
      } else {
        const slot = (hash ^ (hash >>> 8)) & (SHORT_SLOTS - 1);
        const at = this.#short[slot] ?? -1;
        const kept = at === -1 ? undefined : this.strings[at];
        if (kept !== undefined && kept.length === len && text.startsWith(kept, s)) return at;
        this.#short[slot] = this.strings.length;
      }
    }
    return this.strings.push(text.slice(s, e)) - 1;
  }

  string(index: number): string | null {
    return index === -1 ? null : (this.strings[index] ?? null);
  }

  device(devt: number): DeviceNumber {
    let dev = this.#devices.get(devt);
    if (dev === undefined) {
      dev = decodeDevT(devt);
      this.#devices.set(devt, dev);
    }
    return dev;
  }
}

/** An open file read from `lsof -F` output: a row of a FieldRows. */
class FieldsFile implements LsofFile {
  readonly #rows: FieldRows;
  readonly #row: number;

  constructor(rows: FieldRows, row: number) {
    this.#rows = rows;
    this.#row = row;
  }

  #at(slot: number): number {
    return this.#rows.get(this.#row, slot);
  }
  #flag(flag: number): boolean {
    return (this.#at(FLAGS) & flag) !== 0;
  }
  #proc(): ProcessFields | undefined {
    return this.#rows.procs[this.#at(PROC)];
  }
  #wide(lo: number): number {
    return this.#at(lo + 1) * TWO_32 + (this.#at(lo) >>> 0);
  }

  get pid(): number {
    return this.#proc()?.pid ?? 0;
  }
  get tid(): number | null {
    return this.#proc()?.tid ?? null;
  }
  get command(): string {
    return this.#proc()?.command ?? "";
  }
  get taskCommand(): string | null {
    return this.#proc()?.taskCommand ?? null;
  }
  get user(): string | null {
    return this.#proc()?.user ?? null;
  }
  get uid(): number | null {
    return this.#proc()?.uid ?? null;
  }
  get fd(): string {
    return this.#rows.string(this.#at(FD)) ?? "";
  }
  get access(): string | null {
    return this.#rows.string(this.#at(ACCESS));
  }
  get lock(): string | null {
    return this.#rows.string(this.#at(LOCK));
  }
  get type(): string | null {
    return this.#rows.string(this.#at(TYPE));
  }
  get device(): DeviceNumber | null {
    return this.#flag(HAS_DEVICE) ? this.#rows.device(this.#at(DEVICE) >>> 0) : null;
  }
  get rdev(): DeviceNumber | null {
    return this.#flag(HAS_RDEV) ? this.#rows.device(this.#at(RDEV) >>> 0) : null;
  }
  get sizeOff(): SizeOrOffset | null {
    if (!this.#flag(HAS_SIZE)) return null;
    return { kind: this.#flag(OFFSET) ? "offset" : "size", value: this.#wide(SIZE_LO) };
  }
  get inode(): number | null {
    return this.#flag(HAS_INODE) ? this.#wide(INODE_LO) : null;
  }
  get name(): string {
    const start = this.#at(NAME_START);
    return start === -1 ? "" : this.#rows.text.slice(start, this.#at(NAME_END));
  }
  get deleted(): boolean {
    return this.#flag(DELETED);
  }
  get line(): number {
    return this.#at(LINE);
  }

  /** Every field as a plain object: what JSON and test snapshots show. */
  toJSON(): LsofFile {
    return {
      pid: this.pid,
      tid: this.tid,
      command: this.command,
      taskCommand: this.taskCommand,
      user: this.user,
      uid: this.uid,
      fd: this.fd,
      access: this.access,
      lock: this.lock,
      type: this.type,
      device: this.device,
      rdev: this.rdev,
      sizeOff: this.sizeOff,
      inode: this.inode,
      name: this.name,
      deleted: this.deleted,
      line: this.line,
    };
  }
}

/**
 * One parse of `-F` output: the current process's fields, and the row of the file set being read,
 * which its fields are written to as they arrive and which becomes a file when the set ends.
 */
class FieldsParse {
  readonly rows: FieldRows;
  readonly notes: string[] = [];
  readonly issues = new IssueList();

  /** A `p` field with a pid was read. */
  hasProcess = false;
  pid = 0;
  tid: number | null = null;
  command = "";
  taskCommand: string | null = null;
  user: string | null = null;
  uid: number | null = null;
  /** A process field changed since rows.procs last got a copy of them. */
  processChanged = false;

  /** An `f` field opened a set (row rows.rows, in `chunk` at `at`) that is not flushed yet. */
  hasFile = false;
  chunk: Int32Array = new Int32Array(STRIDE);
  at = 0;
  /** The set's `s` and `o` values (-1: none, or unreadable); an `s` of `0t`/`0x` form is an offset. */
  size = -1;
  sizeIsOffset = false;
  offset = -1;
  /** The set's FLAGS, written to its row when it is flushed. */
  flags = 0;
  /** The set has an `n` field (lsof writes it last in a set). */
  named = false;
  line = 0;
  /** Some set ended without a name field: the capture was made without `n`. */
  unnamedSeen = false;

  constructor(readonly text: string) {
    this.rows = new FieldRows(text);
  }

  startProcess(pid: number): void {
    this.hasProcess = true;
    this.processChanged = true;
    this.pid = pid;
    this.tid = null;
    this.command = "";
    this.taskCommand = null;
    this.user = null;
    this.uid = null;
  }

  startFile(s: number, e: number, line: number): void {
    const rows = this.rows;
    const r = rows.chunkFor(rows.rows);
    const o = rows.offsetOf(rows.rows);
    this.hasFile = true;
    this.chunk = r;
    this.at = o;
    this.size = -1;
    this.sizeIsOffset = false;
    this.offset = -1;
    this.flags = 0;
    this.named = false;
    this.line = line;
    r[o + FD] = rows.stringIndex(s, e);
    r[o + ACCESS] = -1;
    r[o + LOCK] = -1;
    r[o + TYPE] = -1;
    r[o + NAME_START] = -1;
    r[o + LINE] = line;
  }

  /** Adds the open file set to the rows, with the process fields as they are now. */
  flush(): void {
    if (!this.hasFile || !this.hasProcess) return;
    this.hasFile = false;
    if (!this.named) this.unnamedSeen = true;
    const rows = this.rows;
    if (this.processChanged) {
      rows.procs.push({
        pid: this.pid,
        tid: this.tid,
        command: this.command,
        taskCommand: this.taskCommand,
        user: this.user,
        uid: this.uid,
      });
      this.processChanged = false;
    }
    const r = this.chunk;
    const o = this.at;
    r[o + PROC] = rows.procs.length - 1;
    // Like the SIZE/OFF column: the size when lsof gave one, else the offset.
    const offset = this.size === -1;
    const v = offset ? this.offset : this.size;
    let flags = this.flags;
    if (v !== -1) {
      flags |= offset || this.sizeIsOffset ? HAS_SIZE | OFFSET : HAS_SIZE;
      r[o + SIZE_LO] = v; // Int32Array keeps the low 32 bits
      r[o + SIZE_HI] = Math.floor(v / TWO_32);
    }
    r[o + FLAGS] = flags;
    rows.rows++;
  }

  /** `c`, `u`, `L`, `K` or `M` of the current process; the value is text[s, e). */
  processField(id: number, s: number, e: number, lineNo: number): void {
    const text = this.text;
    this.processChanged = true;
    switch (id) {
      case 99 /* c */:
        this.command = text.slice(s, e);
        return;
      case 76 /* L */:
        this.user = text.slice(s, e);
        return;
      case 77 /* M */:
        this.taskCommand = text.slice(s, e);
        return;
    }
    const v = parseDecimal(text, s, e);
    if (v === -1) this.invalid(id, s, e, lineNo);
    else if (id === 117 /* u */) this.uid = v;
    else this.tid = v;
  }

  /** `a`, `l`, `t`, `D`, `r`, `s`, `o`, `i` or `n` of the open file set; the value is text[s, e). */
  fileField(id: number, s: number, e: number, lineNo: number): void {
    const text = this.text;
    const r = this.chunk;
    const o = this.at;
    switch (id) {
      case 110 /* n */:
        {
          this.named = true;
          // As splitDeleted; most names do not end in `)`.
          const deleted =
            e - s >= DELETED_SUFFIX.length &&
            text.charCodeAt(e - 1) === CLOSE_PAREN &&
            text.startsWith(DELETED_SUFFIX, e - DELETED_SUFFIX.length);
          r[o + NAME_START] = s;
          r[o + NAME_END] = deleted ? e - DELETED_SUFFIX.length : e;
          this.flags = deleted ? this.flags | DELETED : this.flags & ~DELETED;
          return;
        }
      case 116 /* t */:
        r[o + TYPE] = this.rows.stringIndex(s, e);
        return;
      case 97 /* a */:
      case 108 /* l */:
        r[o + (id === 97 ? ACCESS : LOCK)] =
          s === e || (e - s === 1 && text.charCodeAt(s) === SPACE) ? -1 : this.rows.stringIndex(s, e);
        return;
      case 68 /* D */:
      case 114 /* r */:
        {
          const devt = readHexDevT(text, s, e);
          const flag = id === 68 ? HAS_DEVICE : HAS_RDEV;
          if (devt === -1) {
            this.flags &= ~flag;
            this.invalid(id, s, e, lineNo);
          } else {
            this.flags |= flag;
            r[o + (id === 68 ? DEVICE : RDEV)] = devt; // Int32Array keeps all 32 bits
          }
          return;
        }
      case 115 /* s */:
      case 111 /* o */:
        {
          const v = readSizeOffValue(text, s, e);
          if (id === 115) {
            this.size = v;
            // `0t`/`0x` mark an offset, as in the SIZE/OFF column (readSizeOff).
            const c = text.charCodeAt(s + 1);
            this.sizeIsOffset = e - s >= 2 && text.charCodeAt(s) === 48 /* 0 */ && (c === 116 || c === 120);
          } else {
            this.offset = v;
          }
          if (v === -1) this.invalid(id, s, e, lineNo);
          return;
        }
    }
    const inode = parseDecimal(text, s, e);
    if (inode === -1) {
      this.flags &= ~HAS_INODE;
      this.invalid(id, s, e, lineNo);
    } else {
      this.flags |= HAS_INODE;
      r[o + INODE_LO] = inode;
      r[o + INODE_HI] = Math.floor(inode / TWO_32);
    }
  }

  invalid(id: number, s: number, e: number, lineNo: number): void {
    this.issues.add(
      "invalid_field",
      `${String.fromCharCode(id)} field ${JSON.stringify(this.text.slice(s, Math.min(e, s + 40)))}`,
      lineNo,
    );
  }
}

/** The dev_t of a `D` or `r` value, text[s, e): `0x6` -> 6; -1 for anything that is not a 32-bit hex dev_t. */
function readHexDevT(text: string, s: number, e: number): number {
  if (e - s < 2 || text.charCodeAt(s) !== 48 /* 0 */ || text.charCodeAt(s + 1) !== 120 /* x */) return -1;
  const v = parseHex(text, s + 2, e);
  return v > 0xffffffff ? -1 : v;
}

/** readSizeOff's value, on text[s, e): `0t123`, `0x7b` or plain digits; -1 when unreadable. */
function readSizeOffValue(text: string, s: number, e: number): number {
  if (e - s >= 2 && text.charCodeAt(s) === 48 /* 0 */) {
    const c = text.charCodeAt(s + 1);
    if (c === 116 /* t */) return parseDecimal(text, s + 2, e);
    if (c === 120 /* x */) return parseHex(text, s + 2, e);
  }
  return parseDecimal(text, s, e);
}

// A parse's state and files are garbage once its caller is done with them: see keepShapes.
keepShapes(new FieldsParse(""), new FieldsFile(new FieldRows(""), 0));

/**
 * Parses `lsof -F` output: a state machine where `p` starts a process and `f` starts a file of the
 * current process; other fields may come in any order. Fields end with NL, or with NUL (`-F0`, where
 * each set ends with NL); the two may be mixed with NL-terminated stderr notes.
 */
export function parseLsofFields(text: string): ParseResult<LsofOutput> {
  const st = new FieldsParse(text);
  const { issues, notes } = st;
  reportReplacementChars(text, issues);
  let lastWasNote = false;

  // Only what ends in NL is complete: -F0 ends each set with NL, plain -F each field.
  const n = text.length;
  const end = text.lastIndexOf("\n") + 1;
  let nextNl = text.indexOf("\n");
  let nextNul = text.indexOf("\0");
  let pos = 0;
  let lineNo = 1;
  while (pos < end) {
    if (nextNl < pos) nextNl = text.indexOf("\n", pos);
    if (nextNul !== -1 && nextNul < pos) nextNul = text.indexOf("\0", pos);
    const atNl = nextNul === -1 || nextNl < nextNul;
    const stop = atNl ? nextNl : nextNul;
    let fieldEnd = stop;
    if (atNl && fieldEnd > pos && text.charCodeAt(fieldEnd - 1) === CR) fieldEnd--;
    if (fieldEnd > pos) {
      if (fieldEnd - pos > MAX_LINE_CHARS) {
        issues.add("too_large", `field of ${fieldEnd - pos} characters skipped`, lineNo);
      } else {
        const id = text.charCodeAt(pos);
        const s = pos + 1;
        switch (id) {
          case 112 /* p */:
            {
              st.flush();
              const pid = parseDecimal(text, s, fieldEnd);
              if (pid === -1) {
                issues.add(
                  "invalid_field",
                  `p field ${JSON.stringify(text.slice(s, Math.min(fieldEnd, s + 40)))} is not a pid`,
                  lineNo,
                );
                st.hasProcess = false;
              } else {
                st.startProcess(pid);
              }
              lastWasNote = false;
              break;
            }
          case 102 /* f */:
            st.flush();
            if (!st.hasProcess) {
              issues.add("malformed_line", "file set (f) before any process set (p)", lineNo);
            } else {
              st.startFile(s, fieldEnd, lineNo);
            }
            lastWasNote = false;
            break;
          case 99 /* c */:
          case 117 /* u */:
          case 76 /* L */:
          case 75 /* K */:
          case 77 /* M */:
            if (!st.hasProcess) issues.add("malformed_line", "process field before any p field", lineNo);
            else st.processField(id, s, fieldEnd, lineNo);
            lastWasNote = false;
            break;
          case 97 /* a */:
          case 108 /* l */:
          case 116 /* t */:
          case 68 /* D */:
          case 114 /* r */:
          case 115 /* s */:
          case 111 /* o */:
          case 105 /* i */:
          case 110 /* n */:
            if (id === 108 && text.startsWith(NOTE_PREFIX, pos)) {
              notes.push(text.slice(pos, fieldEnd));
              lastWasNote = true;
            } else if (!st.hasFile) {
              // lsof never sends file fields outside a set; a process-only set has none.
              issues.add(
                "malformed_line",
                `file field ${String.fromCharCode(id)} outside a file set`,
                lineNo,
              );
            } else {
              st.fileField(id, s, fieldEnd, lineNo);
              lastWasNote = false;
            }
            break;
          default:
            if (lastWasNote && isBlank(id)) {
              notes[notes.length - 1] += ` ${text.slice(pos, fieldEnd).trim()}`;
            } else if (!isKnownFieldId(id)) {
              issues.add("malformed_line", `unknown lsof field ${JSON.stringify(text[pos])}`, lineNo);
            }
        }
      }
    }
    if (atNl) lineNo++;
    pos = stop + 1;
  }
  if (end < n) {
    // A cut mid-set: the record being built may be missing fields unless the cut started a new set.
    const first = text.charCodeAt(end);
    if (first !== 112 && first !== 102) st.hasFile = false;
    issues.add("truncated", "output ends without a newline (cut?); the partial set was dropped", lineNo);
  } else if (st.hasFile && !st.named && !st.unnamedSeen) {
    // NL-terminated fields can be cut between two fields: a last set without the `n` every earlier
    // set had is incomplete. (A capture without `n` in its field list keeps all but a lone set.)
    issues.add("truncated", "last file set has no name field (cut?); dropped", st.line);
    st.hasFile = false;
  }
  st.flush();
  // The file objects are made once the count is known: an array of the right length costs less than
  // one grown (and copied) by a push per set.
  const rows = st.rows;
  const files = new Array<LsofFile>(rows.rows);
  for (let i = 0; i < files.length; i++) files[i] = new FieldsFile(rows, i);
  return result(
    { format: files.length > 0 || st.hasProcess ? "fields" : "empty", files, notes },
    issues.done(),
  );
}

// Other identifiers lsof(8) documents for -F output; read as valid and ignored.
const OTHER_FIELD_IDS = new Set("gRkPTSdGNC0123456789".split("").map((c) => c.charCodeAt(0)));

function isKnownFieldId(id: number): boolean {
  return OTHER_FIELD_IDS.has(id);
}
