/**
 * `/proc/<pid>/mountinfo` (proc(5); reference/evidence-formats.md §7.1). One mount per line:
 * `id parent major:minor root mountpoint options [optional...] - fstype source superoptions`.
 * Fields are split on single spaces (the source can be empty, giving two spaces in a row), and the
 * kernel's octal escapes are undone per field after the split.
 */
import { IssueList, MAX_LINE_CHARS, type ParseResult, result } from "./result.js";

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

// MountLine flags.
/** The line holds a backslash: its string fields go through unescapeMountField. */
const ESCAPED = 1;
const ROOT_DELETED = 2;
const READ_ONLY = 4;
/** The `unbindable` tag (propagation is derived from it and the peer and master groups). */
const UNBINDABLE = 8;

/**
 * A mount read from one line of a mountinfo file. The numbers, tags and flags are read while the line
 * is validated; the string fields stay in the file text and are sliced out (and unescaped) each time
 * they are read. Nine strings kept per line made a big file cost 3-4 times the baseline, most of it in
 * the garbage collector copying them (bench/parsers/mountinfo.ts), while the detectors read the mount
 * point and devt of each mount and the other strings of a few. This object holds only small integers
 * and shared values, which the collector moves cheaply.
 */
class MountLine implements Mount {
  readonly mountId: number;
  readonly parentId: number;
  readonly major: number;
  readonly minor: number;
  readonly otherTags: readonly string[];
  readonly peerGroup: number | null;
  readonly masterGroup: number | null;
  readonly propagateFrom: number | null;
  readonly line: number;
  readonly evidencePath: string | null;
  readonly #text: string;
  /** The line is `#text[#start, #end)`; the other offsets index `#text` too (see FieldEnds). */
  readonly #start: number;
  readonly #end: number;
  readonly #s2: number;
  readonly #s3: number;
  readonly #s4: number;
  readonly #s5: number;
  readonly #s6: number;
  readonly #typeStart: number;
  readonly #dot: number;
  readonly #t1: number;
  readonly #t2: number;
  /** ESCAPED, ROOT_DELETED, READ_ONLY, UNBINDABLE: one number rather than four fields per mount. */
  readonly #flags: number;

  constructor(text: string, line: number, evidencePath: string | null, f: FieldEnds) {
    this.mountId = f.mountId;
    this.parentId = f.parentId;
    this.major = f.major;
    this.minor = f.minor;
    this.otherTags = f.otherTags;
    this.peerGroup = f.peerGroup;
    this.masterGroup = f.masterGroup;
    this.propagateFrom = f.propagateFrom;
    this.line = line;
    this.evidencePath = evidencePath;
    this.#text = text;
    this.#start = f.start;
    this.#end = f.end;
    this.#s2 = f.s2;
    this.#s3 = f.s3;
    this.#s4 = f.s4;
    this.#s5 = f.s5;
    this.#s6 = f.s6;
    this.#typeStart = f.typeStart;
    this.#dot = f.dot;
    this.#t1 = f.t1;
    this.#t2 = f.t2;
    this.#flags = f.flags;
  }

  #field(start: number, end: number): string {
    const s = this.#text.slice(start, end);
    return (this.#flags & ESCAPED) !== 0 ? unescapeMountField(s) : s;
  }

  get rootDeleted(): boolean {
    return (this.#flags & ROOT_DELETED) !== 0;
  }
  get readOnly(): boolean {
    return (this.#flags & READ_ONLY) !== 0;
  }
  get propagation(): Propagation {
    if (this.peerGroup !== null) return this.masterGroup !== null ? "shared+slave" : "shared";
    if (this.masterGroup !== null) return "slave";
    return (this.#flags & UNBINDABLE) !== 0 ? "unbindable" : "private";
  }

  get devt(): string {
    return this.#text.slice(this.#s2 + 1, this.#s3);
  }
  get root(): string {
    return this.#field(this.#s3 + 1, this.rootDeleted ? this.#s4 - DELETED_SUFFIX.length : this.#s4);
  }
  get mountPoint(): string {
    return this.#field(this.#s4 + 1, this.#s5);
  }
  get options(): string {
    return this.#text.slice(this.#s5 + 1, this.#s6);
  }
  get fsType(): string {
    return this.#text.slice(this.#typeStart, this.#dot === -1 ? this.#t1 : this.#dot);
  }
  get fsSubtype(): string | null {
    return this.#dot === -1 ? null : this.#text.slice(this.#dot + 1, this.#t1);
  }
  get source(): string {
    return this.#field(this.#t1 + 1, this.#t2);
  }
  get superOptions(): string {
    return this.#field(this.#t2 + 1, this.#end);
  }
  get raw(): string {
    return this.#text.slice(this.#start, this.#end);
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

/**
 * What parseLine found in a line: offsets into the file text (`sN` is the Nth space of the line,
 * `t1`/`t2` the spaces after the type and the source) and the values read. Short-lived: MountLine
 * copies it.
 */
interface FieldEnds {
  readonly start: number;
  readonly end: number;
  readonly s2: number;
  readonly s3: number;
  readonly s4: number;
  readonly s5: number;
  readonly s6: number;
  readonly typeStart: number;
  readonly dot: number;
  readonly t1: number;
  readonly t2: number;
  readonly flags: number;
  readonly mountId: number;
  readonly parentId: number;
  readonly major: number;
  readonly minor: number;
  readonly otherTags: readonly string[];
  readonly peerGroup: number | null;
  readonly masterGroup: number | null;
  readonly propagateFrom: number | null;
}

/** `s` holds `word` at `at`. A loop: startsWith costs several times more on words this short. */
function hasAt(s: string, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (s.charCodeAt(at + i) !== word.charCodeAt(i)) return false;
  return true;
}

/**
 * The first space in `text[at, end)`, or -1. The search runs on past `end` when the line has no more
 * spaces; parseMountinfo keeps that from repeating over a run of lines without spaces (see there).
 */
function spaceIn(text: string, at: number, end: number): number {
  const i = text.indexOf(" ", at);
  return i < end ? i : -1;
}

/**
 * Reads the line `text[start, end)` (no newline) whose first space is `s1` (-1: none); returns where
 * its fields are, or reports why the line was skipped. Offsets index the whole text: characters and
 * searches on the flat file string cost about half what they cost on a slice of it. `escaped` says
 * whether the line holds a backslash.
 */
function parseLine(
  text: string,
  start: number,
  end: number,
  s1: number,
  escaped: boolean,
  lineNo: number,
  issues: IssueList,
): FieldEnds | undefined {
  // Six positional fields, each ended by a single space. The root is nearly always `/`.
  const s2 = s1 === -1 ? -1 : spaceIn(text, s1 + 1, end);
  const s3 = s2 === -1 ? -1 : spaceIn(text, s2 + 1, end);
  const s4 =
    s3 === -1
      ? -1
      : text.charCodeAt(s3 + 1) === 47 && s3 + 2 < end && text.charCodeAt(s3 + 2) === SPACE
        ? s3 + 2
        : spaceIn(text, s3 + 1, end);
  const s5 = s4 === -1 ? -1 : spaceIn(text, s4 + 1, end);
  const s6 = s5 === -1 ? -1 : spaceIn(text, s5 + 1, end);
  if (s6 === -1) {
    issues.add("malformed_line", "fewer than 6 fields before the separator", lineNo);
    return undefined;
  }
  const mountId = readDecimal(text, start, s1);
  const parentId = readDecimal(text, s1 + 1, s2);
  let colon = s2 + 1;
  while (colon < s3 && text.charCodeAt(colon) !== 58) colon++;
  const major = colon === s3 ? -1 : readDecimal(text, s2 + 1, colon);
  const minor = major === -1 ? -1 : readDecimal(text, colon + 1, s3);
  if (mountId < 0 || parentId < 0 || minor < 0) {
    const which = mountId < 0 ? "mount id" : parentId < 0 ? "parent id" : "major:minor";
    issues.add("invalid_field", `bad ${which}`, lineNo);
    return undefined;
  }

  // Optional fields up to the lone `-`. Known tags are read in place; future kernels may add tags,
  // so unknown ones are kept as written.
  let peerGroup: number | null = null;
  let masterGroup: number | null = null;
  let propagateFrom: number | null = null;
  let unbindable = false;
  let otherTags: string[] | null = null;
  let at = s6 + 1;
  let sep = -1;
  for (;;) {
    const fieldEnd = spaceIn(text, at, end);
    if (fieldEnd === -1) break;
    const c = text.charCodeAt(at);
    if (fieldEnd === at + 1 && c === 45) {
      sep = at;
      break;
    }
    // The first letter picks the tag to compare, so each field costs one comparison at most.
    let n = -2;
    if (c === 115 && hasAt(text, at, "shared:")) {
      n = readDecimal(text, at + 7, fieldEnd);
      if (n >= 0) peerGroup = n;
    } else if (c === 109 && hasAt(text, at, "master:")) {
      n = readDecimal(text, at + 7, fieldEnd);
      if (n >= 0) masterGroup = n;
    } else if (c === 112 && hasAt(text, at, "propagate_from:")) {
      n = readDecimal(text, at + 15, fieldEnd);
      if (n >= 0) propagateFrom = n;
    } else if (c === 117 && fieldEnd - at === 10 && hasAt(text, at, "unbindable")) {
      unbindable = true;
    } else {
      otherTags ??= [];
      otherTags.push(text.slice(at, fieldEnd));
    }
    if (n === -1) issues.add("invalid_field", `bad optional field ${text.slice(at, fieldEnd)}`, lineNo);
    at = fieldEnd + 1;
  }
  if (sep === -1) {
    issues.add("missing", "no ` - ` separator", lineNo);
    return undefined;
  }
  // The type is short: one loop finds its end and the `.` before a subtype.
  const typeStart = sep + 2;
  let t1 = typeStart;
  let dot = -1;
  for (; t1 < end; t1++) {
    const c = text.charCodeAt(t1);
    if (c === SPACE) break;
    if (c === 46 && dot === -1) dot = t1;
  }
  const t2 = t1 === end ? -1 : spaceIn(text, t1 + 1, end);
  if (t2 === -1 || t1 === typeStart) {
    issues.add("malformed_line", "fewer than 3 fields after the separator", lineNo);
    return undefined;
  }

  const rootDeleted =
    s4 - s3 > DELETED_SUFFIX.length &&
    text.charCodeAt(s4 - 1) === 100 && // "d": most roots are "/"
    text.startsWith(DELETED_SUFFIX, s4 - DELETED_SUFFIX.length);
  const readOnly = text.charCodeAt(s5 + 1) === 114 && text.charCodeAt(s5 + 2) === 111; // "ro"
  return {
    start,
    end,
    s2,
    s3,
    s4,
    s5,
    s6,
    typeStart,
    dot,
    t1,
    t2,
    flags:
      (escaped ? ESCAPED : 0) |
      (rootDeleted ? ROOT_DELETED : 0) |
      (readOnly ? READ_ONLY : 0) |
      (unbindable ? UNBINDABLE : 0),
    mountId,
    parentId,
    major,
    minor,
    otherTags: otherTags ?? NO_TAGS,
    peerGroup,
    masterGroup,
    propagateFrom,
  };
}

/**
 * Parses a mountinfo file. Damaged lines are skipped with an issue naming their line; a final line
 * without its newline (a size cap or a racing read) is dropped as `truncated`, never half-read.
 * The mounts keep `text` and slice their string fields out of it on demand.
 */
export function parseMountinfo(text: string, opts: { evidencePath?: string } = {}): ParseResult<Mount[]> {
  const evidencePath = opts.evidencePath ?? null;
  const issues = new IssueList(evidencePath === null ? [] : [evidencePath]);
  const mounts: Mount[] = [];
  const n = text.length;
  let start = 0;
  let lineNo = 0;
  // The next backslash at or after `start` (-1: none left). One search over the file replaces one
  // per field, and lines without one (nearly all) skip unescaping.
  let backslash = text.indexOf("\\");
  // The first space at or after `start`, likewise kept across lines: searches within a line run on
  // into the next lines when it has too few spaces, and without this a run of lines with none would
  // be scanned again for each of them (quadratic).
  let space = text.indexOf(" ");
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
      if (space !== -1 && space < start) space = text.indexOf(" ", start);
      const s1 = space !== -1 && space < lineEnd ? space : -1;
      const fields = parseLine(text, start, lineEnd, s1, escaped, lineNo, issues);
      if (fields) mounts.push(new MountLine(text, lineNo, evidencePath, fields));
    }
    start = end + 1;
  }
  return result(mounts, issues.done());
}
