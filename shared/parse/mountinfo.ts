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

/** Parses one complete line; returns the mount or reports why the line was skipped. */
function parseLine(
  raw: string,
  lineNo: number,
  evidencePath: string | null,
  issues: IssueList,
): Mount | undefined {
  // Six positional fields, each ended by a single space.
  const s1 = raw.indexOf(" ");
  const s2 = s1 === -1 ? -1 : raw.indexOf(" ", s1 + 1);
  const s3 = s2 === -1 ? -1 : raw.indexOf(" ", s2 + 1);
  const s4 = s3 === -1 ? -1 : raw.indexOf(" ", s3 + 1);
  const s5 = s4 === -1 ? -1 : raw.indexOf(" ", s4 + 1);
  const s6 = s5 === -1 ? -1 : raw.indexOf(" ", s5 + 1);
  if (s6 === -1) {
    issues.add("malformed_line", "fewer than 6 fields before the separator", lineNo);
    return undefined;
  }
  const mountId = readDecimal(raw, 0, s1);
  const parentId = readDecimal(raw, s1 + 1, s2);
  const colon = raw.indexOf(":", s2 + 1);
  const major = colon === -1 || colon > s3 ? -1 : readDecimal(raw, s2 + 1, colon);
  const minor = major === -1 ? -1 : readDecimal(raw, colon + 1, s3);
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
    const end = raw.indexOf(" ", at);
    if (end === -1) break;
    if (end === at + 1 && raw.charCodeAt(at) === 45) {
      sep = at;
      break;
    }
    // The first letter picks the tag to compare, so each field costs one comparison at most.
    const c = raw.charCodeAt(at);
    let n = -2;
    if (c === 115 && raw.startsWith("shared:", at)) {
      n = readDecimal(raw, at + 7, end);
      if (n >= 0) peerGroup = n;
    } else if (c === 109 && raw.startsWith("master:", at)) {
      n = readDecimal(raw, at + 7, end);
      if (n >= 0) masterGroup = n;
    } else if (c === 112 && raw.startsWith("propagate_from:", at)) {
      n = readDecimal(raw, at + 15, end);
      if (n >= 0) propagateFrom = n;
    } else if (c === 117 && end - at === 10 && raw.startsWith("unbindable", at)) {
      unbindable = true;
    } else {
      otherTags ??= [];
      otherTags.push(raw.slice(at, end));
    }
    if (n === -1) issues.add("invalid_field", `bad optional field ${raw.slice(at, end)}`, lineNo);
    at = end + 1;
  }
  if (sep === -1) {
    issues.add("missing", "no ` - ` separator", lineNo);
    return undefined;
  }
  const t1 = raw.indexOf(" ", sep + 2);
  const t2 = t1 === -1 ? -1 : raw.indexOf(" ", t1 + 1);
  if (t2 === -1 || t1 === sep + 2) {
    issues.add("malformed_line", "fewer than 3 fields after the separator", lineNo);
    return undefined;
  }

  const type = raw.slice(sep + 2, t1);
  const dot = type.indexOf(".");
  const rootDeleted =
    s4 - s3 > DELETED_SUFFIX.length &&
    raw.charCodeAt(s4 - 1) === 100 && // "d": most roots are "/"
    raw.startsWith(DELETED_SUFFIX, s4 - DELETED_SUFFIX.length);
  const root = raw.slice(s3 + 1, rootDeleted ? s4 - DELETED_SUFFIX.length : s4);
  const options = raw.slice(s5 + 1, s6);
  return {
    mountId,
    parentId,
    major,
    minor,
    devt: raw.slice(s2 + 1, s3),
    root: unescapeMountField(root),
    rootDeleted,
    mountPoint: unescapeMountField(raw.slice(s4 + 1, s5)),
    options,
    readOnly: options.charCodeAt(0) === 114 && options.charCodeAt(1) === 111, // "ro"
    otherTags: otherTags ?? NO_TAGS,
    propagation:
      peerGroup !== null
        ? masterGroup !== null
          ? "shared+slave"
          : "shared"
        : masterGroup !== null
          ? "slave"
          : unbindable
            ? "unbindable"
            : "private",
    peerGroup,
    masterGroup,
    propagateFrom,
    fsType: dot === -1 ? type : type.slice(0, dot),
    fsSubtype: dot === -1 ? null : type.slice(dot + 1),
    source: unescapeMountField(raw.slice(t1 + 1, t2)),
    superOptions: unescapeMountField(raw.slice(t2 + 1)),
    line: lineNo,
    raw,
    evidencePath,
  };
}

/**
 * Parses a mountinfo file. Damaged lines are skipped with an issue naming their line; a final line
 * without its newline (a size cap or a racing read) is dropped as `truncated`, never half-read.
 */
export function parseMountinfo(text: string, opts: { evidencePath?: string } = {}): ParseResult<Mount[]> {
  const evidencePath = opts.evidencePath ?? null;
  const issues = new IssueList(evidencePath === null ? [] : [evidencePath]);
  const mounts: Mount[] = [];
  const n = text.length;
  let start = 0;
  let lineNo = 0;
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
      const mount = parseLine(text.slice(start, lineEnd), lineNo, evidencePath, issues);
      if (mount) mounts.push(mount);
    }
    start = end + 1;
  }
  return result(mounts, issues.done());
}
