/**
 * `/proc/<pid>/mountinfo` (proc(5); reference/evidence-formats.md §7.1). One mount per line:
 * `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`.
 * Fields are split on single spaces (the source can be empty, giving two spaces in a row), and the
 * kernel's octal escapes are undone per field after the split.
 */
import { AsciiWindow } from "./ascii.js";
import { IssueList, MAX_LINE_CHARS, type ParseResult, result } from "./result.js";
import { RowTable } from "./rows.js";

export const PROPAGATIONS = ["private", "shared", "slave", "shared+slave", "unbindable"] as const;
/** Mount propagation derived from the optional fields; no optional field means `private`. */
export type Propagation = (typeof PROPAGATIONS)[number];

/** One mountinfo line, every field kept; the raw line and its number let an incident cite it. */
export interface Mount {
  readonly mountId: number;
  /** For the root of a namespace (or a chroot) this can name a mount that is not listed. */
  readonly parentId: number;
  readonly major: number;
  readonly minor: number;
  /** `major:minor` as written: the join key with `sys/block/<d>/dev`. */
  readonly devt: string;
  /** Root of the mount within its filesystem, unescaped, without the `//deleted` suffix. */
  readonly root: string;
  /** The root dentry was unlinked (`//deleted` suffix), e.g. a bind of a removed device node. */
  readonly rootDeleted: boolean;
  /** Relative to the reading process's root, unescaped. */
  readonly mountPoint: string;
  /** Per-mount options as written (`rw,nosuid,relatime`). */
  readonly options: string;
  readonly readOnly: boolean;
  /** Optional fields this parser does not know (future kernels), as written; the known ones are below. */
  readonly otherTags: readonly string[];
  readonly propagation: Propagation;
  /** `shared:N` */
  readonly peerGroup: number | null;
  /** `master:N` */
  readonly masterGroup: number | null;
  /** `propagate_from:N` */
  readonly propagateFrom: number | null;
  /** Filesystem type without its subtype (`fuse` for `fuse.sshfs`). */
  readonly fsType: string;
  readonly fsSubtype: string | null;
  /** Mount source, unescaped (`/dev/nvme2n1`, `overlay`, `none`; can be empty). */
  readonly source: string;
  /** Super options, unescaped (may hold `,` `=` `:`, e.g. overlay `lowerdir=...`). */
  readonly superOptions: string;
  /** 1-based line number in the file it came from. */
  readonly line: number;
  /** The line exactly as read. */
  readonly raw: string;
  /** Evidence path of the file (`proc/77102/mountinfo`), null when parsed outside a bundle. */
  readonly evidencePath: string | null;
}

const DIGIT_0 = 48;
const DELETED_SUFFIX = "//deleted";

/**
 * Undoes the kernel's `\ooo` escapes (it escapes space, tab, newline and backslash, all ASCII). Only
 * a backslash followed by exactly three octal digits of an ASCII value is an escape; anything else is
 * kept as written rather than guessed at.
 */
export function unescapeMountField(field: string): string {
  let at = field.indexOf("\\");
  if (at === -1) return field;
  let out = "";
  let copied = 0;
  while (at !== -1 && at + 3 < field.length) {
    const a = field.charCodeAt(at + 1) - DIGIT_0;
    const b = field.charCodeAt(at + 2) - DIGIT_0;
    const c = field.charCodeAt(at + 3) - DIGIT_0;
    if (a >= 0 && a <= 1 && b >= 0 && b <= 7 && c >= 0 && c <= 7) {
      out += field.slice(copied, at) + String.fromCharCode(a * 64 + b * 8 + c);
      copied = at + 4;
      at = field.indexOf("\\", copied);
    } else {
      at = field.indexOf("\\", at + 1);
    }
  }
  return copied === 0 ? field : out + field.slice(copied);
}

/**
 * The decimal digits in `s[start, end)` as a number, or -1 when empty, not all digits, or longer than
 * 15 digits (past exact doubles). In place, with no slice: the /proc parsers call it per field.
 */
export function readDecimal(s: string, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = s.charCodeAt(i) - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

const NO_TAGS: readonly string[] = [];
const SPACE = 32;
const SLASH = 47;
const COLON = 58;
const DASH = 45;
const DOT_CHAR = 46;

// MountRows flags.
/** The line holds a backslash: its string fields go through unescapeMountField. */
const ESCAPED = 1;
const ROOT_DELETED = 2;
const READ_ONLY = 4;
/** The `unbindable` tag (propagation is derived from it and the peer and master groups). */
const UNBINDABLE = 8;

// A row of MountRows. Offsets index the file text: `S1`..`S6` are the first six spaces of the line,
// `T1`/`T2` the spaces after the type and after the source, `DOT` the `.` before a subtype (-1: none).
// The ids and device numbers are kept as the line scan read them (the detectors read the ids of every
// mount several times); the optional tags too, -1 standing for "absent".
const START = 0;
const END = 1;
const S1 = 2;
const S2 = 3;
const S3 = 4;
const S4 = 5;
const S5 = 6;
const S6 = 7;
const TYPE_START = 8;
const T1 = 9;
const T2 = 10;
const PEER_GROUP = 11;
const MASTER_GROUP = 12;
const PROPAGATE_FROM = 13;
const FLAGS = 14;
const LINE = 15;
const MOUNT_ID = 16;
const PARENT_ID = 17;
const MAJOR = 18;
const MINOR = 19;
const DOT = 20;
const STRIDE = 21;
/** Kernel group ids are C ints: a larger number is damaged input. */
const INT_MAX = 0x7fffffff;
/** In an id or device slot: the number is past a C int (damaged input, still read as written), so it is read from the text. */
const BIG = -2;

/**
 * The mounts of one file as rows of offsets into its text, in chunks of Int32Array. A mount object holds
 * only its table and row, and slices its strings out of the text when they are read. Objects that held
 * every field made a big file cost several times the baseline (bench/parsers/mountinfo.ts): most of it
 * was the garbage collector moving them and fresh memory for them, while the detectors read the mount
 * point and devt of each mount and the other strings of a few.
 */
class MountRows extends RowTable {
  /** Optional fields this parser does not know, by row; null until a line has one. */
  otherTags: Map<number, string[]> | null = null;
  /** Mount points read so far, by row (see MountLine.mountPoint); null until one is read. */
  mountPoints: (string | undefined)[] | null = null;

  constructor(
    readonly text: string,
    readonly evidencePath: string | null,
  ) {
    // One row per 64 characters of the file to start with.
    super(STRIDE, (text.length >>> 6) + 1);
  }
}

/** A mount read from one line of a mountinfo file: a row of a MountRows. */
class MountLine implements Mount {
  readonly #rows: MountRows;
  readonly #row: number;

  constructor(rows: MountRows, row: number) {
    this.#rows = rows;
    this.#row = row;
  }

  #at(slot: number): number {
    return this.#rows.get(this.#row, slot);
  }
  #flag(flag: number): boolean {
    return (this.#at(FLAGS) & flag) !== 0;
  }
  #nullable(slot: number): number | null {
    const n = this.#at(slot);
    return n === -1 ? null : n;
  }
  #decimal(start: number, end: number): number {
    return readDecimal(this.#rows.text, start, end);
  }
  /** A string field, unescaped when its line holds a backslash. */
  #field(start: number, end: number): string {
    const s = this.#rows.text.slice(start, end);
    return this.#flag(ESCAPED) ? unescapeMountField(s) : s;
  }

  /** A number the row holds, or (past a C int, BIG) the digits in text[start, end) read again. */
  #number(slot: number, start: () => number, end: () => number): number {
    const n = this.#at(slot);
    return n !== BIG ? n : this.#decimal(start(), end());
  }
  /** The colon of `major:minor`. */
  #colon(): number {
    return this.#rows.text.indexOf(":", this.#at(S2) + 1);
  }

  get mountId(): number {
    return this.#number(
      MOUNT_ID,
      () => this.#at(START),
      () => this.#at(S1),
    );
  }
  get parentId(): number {
    return this.#number(
      PARENT_ID,
      () => this.#at(S1) + 1,
      () => this.#at(S2),
    );
  }
  get major(): number {
    return this.#number(
      MAJOR,
      () => this.#at(S2) + 1,
      () => this.#colon(),
    );
  }
  get minor(): number {
    return this.#number(
      MINOR,
      () => this.#colon() + 1,
      () => this.#at(S3),
    );
  }
  get line(): number {
    return this.#at(LINE);
  }
  get evidencePath(): string | null {
    return this.#rows.evidencePath;
  }
  get otherTags(): readonly string[] {
    return this.#rows.otherTags?.get(this.#row) ?? NO_TAGS;
  }
  get peerGroup(): number | null {
    return this.#nullable(PEER_GROUP);
  }
  get masterGroup(): number | null {
    return this.#nullable(MASTER_GROUP);
  }
  get propagateFrom(): number | null {
    return this.#nullable(PROPAGATE_FROM);
  }
  get rootDeleted(): boolean {
    return this.#flag(ROOT_DELETED);
  }
  get readOnly(): boolean {
    return this.#flag(READ_ONLY);
  }
  get propagation(): Propagation {
    const peer = this.#at(PEER_GROUP) !== -1;
    const master = this.#at(MASTER_GROUP) !== -1;
    if (peer) return master ? "shared+slave" : "shared";
    if (master) return "slave";
    return this.#flag(UNBINDABLE) ? "unbindable" : "private";
  }

  get devt(): string {
    return this.#rows.text.slice(this.#at(S2) + 1, this.#at(S3));
  }
  get root(): string {
    const end = this.#at(S4);
    return this.#field(this.#at(S3) + 1, this.rootDeleted ? end - DELETED_SUFFIX.length : end);
  }
  get mountPoint(): string {
    // Kept once read, in the table rather than in the mount: a third field would make each of a big
    // file's mounts a fifth larger, and most callers read no mount point at all.
    this.#rows.mountPoints ??= new Array<string | undefined>(this.#rows.rows);
    const kept = this.#rows.mountPoints;
    let m = kept[this.#row];
    if (m === undefined) {
      m = this.#field(this.#at(S4) + 1, this.#at(S5));
      kept[this.#row] = m;
    }
    return m;
  }
  get options(): string {
    return this.#rows.text.slice(this.#at(S5) + 1, this.#at(S6));
  }
  get fsType(): string {
    const dot = this.#at(DOT);
    return this.#rows.text.slice(this.#at(TYPE_START), dot === -1 ? this.#at(T1) : dot);
  }
  get fsSubtype(): string | null {
    const dot = this.#at(DOT);
    return dot === -1 ? null : this.#rows.text.slice(dot + 1, this.#at(T1));
  }
  get source(): string {
    return this.#field(this.#at(T1) + 1, this.#at(T2));
  }
  get superOptions(): string {
    return this.#field(this.#at(T2) + 1, this.#at(END));
  }
  get raw(): string {
    return this.#rows.text.slice(this.#at(START), this.#at(END));
  }

  /** Every field as a plain object: what JSON and test snapshots show. */
  toJSON(): Mount {
    return {
      mountId: this.mountId,
      parentId: this.parentId,
      major: this.major,
      minor: this.minor,
      devt: this.devt,
      root: this.root,
      rootDeleted: this.rootDeleted,
      mountPoint: this.mountPoint,
      options: this.options,
      readOnly: this.readOnly,
      otherTags: this.otherTags,
      propagation: this.propagation,
      peerGroup: this.peerGroup,
      masterGroup: this.masterGroup,
      propagateFrom: this.propagateFrom,
      fsType: this.fsType,
      fsSubtype: this.fsSubtype,
      source: this.source,
      superOptions: this.superOptions,
      line: this.line,
      raw: this.raw,
      evidencePath: this.evidencePath,
    };
  }
}

/** The line's bytes hold `word` at `at`. */
function hasAt(b: Uint8Array, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (b[at + i] !== word.charCodeAt(i)) return false;
  return true;
}

/** The first space in `b[at, end)`, or -1. */
function spaceIn(b: Uint8Array, at: number, end: number): number {
  while (at < end && b[at] !== SPACE) at++;
  return at < end ? at : -1;
}

/**
 * spaceIn for the long fields (a root other than `/`, the mount point, the options), searched in the
 * text, as an index of the window at `base`: on fields this long `indexOf` beats a loop over the
 * bytes (a snapshot's 52 files parse in 0.20 ms instead of 0.26, a 5 MB file 20% faster; on the short
 * fields it lost). A line without the space makes the search run on into later lines up to the next
 * space: no other search covers that stretch, so the total stays linear.
 */
function longSpaceIn(text: string, at: number, end: number, base: number): number {
  const i = text.indexOf(" ", at);
  return i === -1 || i >= end ? -1 : i - base;
}

/** readDecimal on the line's bytes: the number in `b[start, end)`, or -1. */
function decimalIn(b: Uint8Array, start: number, end: number): number {
  if (end <= start || end - start > 15) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const d = (b[i] ?? 0) - DIGIT_0;
    if (d < 0 || d > 9) return -1;
    n = n * 10 + d;
  }
  return n;
}

/** A propagation group id in `b[start, end)`: decimal digits of a C int, or -1. */
function groupIn(b: Uint8Array, start: number, end: number): number {
  const n = decimalIn(b, start, end);
  return n > INT_MAX ? -1 : n;
}

/**
 * Reads the line `text[start, end)` (no newline) into a new row of `rows`, or reports why the line was
 * skipped. The fields are found in the line's bytes in the window `w` (reading
 * a Uint8Array costs a fraction of a `charCodeAt` or an `indexOf` call per field); offsets are stored as
 * indexes of the text, which the string fields are sliced from. `escaped` says whether the line holds a
 * backslash.
 */
function parseLine(
  rows: MountRows,
  w: AsciiWindow,
  start: number,
  end: number,
  escaped: boolean,
  lineNo: number,
  issues: IssueList,
): void {
  const b = w.bytes;
  const base = w.base;
  const ls = start - base;
  const le = end - base;
  // Six positional fields, each ended by a single space. The root is nearly always `/`.
  const s1 = spaceIn(b, ls, le);
  const s2 = s1 === -1 ? -1 : spaceIn(b, s1 + 1, le);
  const s3 = s2 === -1 ? -1 : spaceIn(b, s2 + 1, le);
  const s4 =
    s3 === -1
      ? -1
      : b[s3 + 1] === SLASH && s3 + 2 < le && b[s3 + 2] === SPACE
        ? s3 + 2
        : longSpaceIn(rows.text, s3 + 1 + base, end, base);
  const s5 = s4 === -1 ? -1 : longSpaceIn(rows.text, s4 + 1 + base, end, base);
  const s6 = s5 === -1 ? -1 : longSpaceIn(rows.text, s5 + 1 + base, end, base);
  if (s6 === -1) {
    issues.add("malformed_line", "fewer than 6 fields before the separator", lineNo);
    return;
  }
  const mountId = decimalIn(b, ls, s1);
  const parentId = decimalIn(b, s1 + 1, s2);
  let colon = s2 + 1;
  while (colon < s3 && b[colon] !== COLON) colon++;
  const major = colon === s3 ? -1 : decimalIn(b, s2 + 1, colon);
  const minor = major === -1 ? -1 : decimalIn(b, colon + 1, s3);
  if (mountId < 0 || parentId < 0 || minor < 0) {
    const which = mountId < 0 ? "mount id" : parentId < 0 ? "parent id" : "major:minor";
    issues.add("invalid_field", `bad ${which}`, lineNo);
    return;
  }

  // Optional fields up to the lone `-`. Known tags are read in place; future kernels may add tags,
  // so unknown ones are kept as written. -1 stands for "absent".
  let peerGroup = -1;
  let masterGroup = -1;
  let propagateFrom = -1;
  let unbindable = false;
  let otherTags: string[] | null = null;
  let at = s6 + 1;
  let sep = -1;
  for (;;) {
    const fieldEnd = spaceIn(b, at, le);
    if (fieldEnd === -1) break;
    const c = b[at];
    if (fieldEnd === at + 1 && c === DASH) {
      sep = at;
      break;
    }
    // The first letter picks the tag to compare, so each field costs one comparison at most.
    let n = -2;
    if (c === 115 && hasAt(b, at, "shared:")) {
      n = groupIn(b, at + 7, fieldEnd);
      if (n >= 0) peerGroup = n;
    } else if (c === 109 && hasAt(b, at, "master:")) {
      n = groupIn(b, at + 7, fieldEnd);
      if (n >= 0) masterGroup = n;
    } else if (c === 112 && hasAt(b, at, "propagate_from:")) {
      n = groupIn(b, at + 15, fieldEnd);
      if (n >= 0) propagateFrom = n;
    } else if (c === 117 && fieldEnd - at === 10 && hasAt(b, at, "unbindable")) {
      unbindable = true;
    } else {
      otherTags ??= [];
      otherTags.push(rows.text.slice(at + base, fieldEnd + base));
    }
    if (n === -1) {
      issues.add(
        "invalid_field",
        `bad optional field ${rows.text.slice(at + base, fieldEnd + base)}`,
        lineNo,
      );
    }
    at = fieldEnd + 1;
  }
  if (sep === -1) {
    issues.add("missing", "no ` - ` separator", lineNo);
    return;
  }
  const typeStart = sep + 2;
  const t1 = spaceIn(b, typeStart, le);
  const t2 = t1 === -1 ? -1 : spaceIn(b, t1 + 1, le);
  if (t2 === -1 || t1 === typeStart) {
    issues.add("malformed_line", "fewer than 3 fields after the separator", lineNo);
    return;
  }

  let dot = typeStart;
  while (dot < t1 && b[dot] !== DOT_CHAR) dot++;

  const rootDeleted =
    s4 - s3 > DELETED_SUFFIX.length && b[s4 - 1] === 100 && hasAt(b, s4 - 9, DELETED_SUFFIX); // "d": most roots are "/"
  const readOnly = b[s5 + 1] === 114 && b[s5 + 2] === 111; // "ro"

  const row = rows.rows;
  const r = rows.chunkFor(row);
  const o = rows.offsetOf(row);
  r[o + START] = start;
  r[o + END] = end;
  r[o + S1] = s1 + base;
  r[o + S2] = s2 + base;
  r[o + S3] = s3 + base;
  r[o + S4] = s4 + base;
  r[o + S5] = s5 + base;
  r[o + S6] = s6 + base;
  r[o + TYPE_START] = typeStart + base;
  r[o + T1] = t1 + base;
  r[o + T2] = t2 + base;
  r[o + PEER_GROUP] = peerGroup;
  r[o + MASTER_GROUP] = masterGroup;
  r[o + PROPAGATE_FROM] = propagateFrom;
  r[o + FLAGS] =
    (escaped ? ESCAPED : 0) |
    (rootDeleted ? ROOT_DELETED : 0) |
    (readOnly ? READ_ONLY : 0) |
    (unbindable ? UNBINDABLE : 0);
  r[o + LINE] = lineNo;
  r[o + MOUNT_ID] = mountId > INT_MAX ? BIG : mountId;
  r[o + PARENT_ID] = parentId > INT_MAX ? BIG : parentId;
  r[o + MAJOR] = major > INT_MAX ? BIG : major;
  r[o + MINOR] = minor > INT_MAX ? BIG : minor;
  r[o + DOT] = dot === t1 ? -1 : dot + base;
  if (otherTags !== null) {
    rows.otherTags ??= new Map();
    rows.otherTags.set(row, otherTags);
  }
  rows.rows++;
}

/**
 * Parses a mountinfo file. Damaged lines are skipped with an issue naming their line; a final line
 * without its newline (a size cap or a racing read) is dropped as `truncated`, never half-read.
 * The mounts keep `text` and slice their string fields out of it on demand.
 */
export function parseMountinfo(text: string, opts: { evidencePath?: string } = {}): ParseResult<Mount[]> {
  const evidencePath = opts.evidencePath ?? null;
  const issues = new IssueList(evidencePath === null ? [] : [evidencePath]);
  const rows = new MountRows(text, evidencePath);
  // Done with when the parse returns (mounts read the text, never the window): a shared buffer will do.
  const w = AsciiWindow.borrow(text);
  const n = text.length;
  let start = 0;
  let lineNo = 0;
  // The next backslash at or after `start` (-1: none left). One search over the file replaces one
  // per field, and lines without one (nearly all) skip unescaping.
  let backslash = text.indexOf("\\");
  while (start < n) {
    let end = text.indexOf("\n", start);
    const complete = end !== -1;
    if (end === -1) end = n;
    lineNo++;
    const lineEnd = text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (!complete) {
      issues.add("truncated", "last line has no newline; dropped", lineNo);
    } else if (lineEnd - start > MAX_LINE_CHARS) {
      issues.add("too_large", `line longer than ${MAX_LINE_CHARS} characters; skipped`, lineNo);
    } else if (lineEnd > start) {
      if (backslash !== -1 && backslash < start) backslash = text.indexOf("\\", start);
      const escaped = backslash !== -1 && backslash < lineEnd;
      w.cover(start, lineEnd);
      parseLine(rows, w, start, lineEnd, escaped, lineNo, issues);
    }
    start = end + 1;
  }
  // Made at the end, at their exact number: an array grown by a push per line cost a fifth of a big
  // file's parse in copies and collections.
  const mounts = new Array<Mount>(rows.rows);
  for (let i = 0; i < mounts.length; i++) mounts[i] = new MountLine(rows, i);
  return result(mounts, issues.done());
}
