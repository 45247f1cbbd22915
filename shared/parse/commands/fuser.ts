/**
 * Hand-captured `fuser -mv PATH 2>&1` (reference/evidence-formats.md §8): per NAME, the `kernel mount`
 * lines (which filesystem NAME resolved to in fuser's mount namespace) and the processes using that
 * filesystem; and `interpretFuser`, the §8.3 rules that tell a real holder from the INC-2 signature.
 */
import { AsciiWindow } from "../ascii.js";
import { IssueList, MAX_LINE_CHARS, type ParseResult, result } from "../result.js";
import { isBlank, parseDecimal, reportReplacementChars } from "./lines.js";

/** The five ACCESS columns `[fF.][r.][c.][e.][m.]`, decoded. */
export interface FuserAccess {
  readonly raw: string;
  /** `f` or `F`: an open file on the filesystem. */
  readonly openFile: boolean;
  /** `F`: open for writing. */
  readonly openForWrite: boolean;
  /** `r`: its root directory is there. */
  readonly rootDir: boolean;
  /** `c`: its current directory is there. */
  readonly cwd: boolean;
  /** `e`: it runs an executable from there. */
  readonly executable: boolean;
  /** `m`: a mapped file or shared library from there. */
  readonly mmap: boolean;
}

export interface FuserProcess {
  readonly user: string;
  readonly pid: number;
  readonly access: FuserAccess;
  /** Kernel comm (15 characters at most). */
  readonly command: string;
  readonly line: number;
}

/** A `kernel` entry other than `mount`: `swap` (COMMAND is the swap file) or `knfsd`. */
export interface FuserKernelUse {
  readonly kind: string;
  readonly target: string;
  readonly line: number;
}

/** Everything fuser printed for one NAME. */
export interface FuserName {
  /** As given on the command line (fuser does not canonicalise it). */
  readonly name: string;
  /** Mount points from `kernel mount <mountpoint>`: where NAME's filesystem is mounted, in fuser's namespace. */
  readonly kernelMounts: string[];
  readonly kernelOther: FuserKernelUse[];
  /** Built on first access from what the parse kept (see ProcessRows). */
  readonly processes: readonly FuserProcess[];
  /** Lines about this NAME only: `Specified filename X does not exist.` */
  readonly warnings: string[];
  readonly line: number;
}

/** A whole `fuser -mv` capture. */
export interface FuserOutput {
  readonly names: FuserName[];
  /**
   * Lines about the scan as a whole (`Cannot stat file /proc/1/fd/7: Permission denied`): fuser
   * could not look at every process, so each NAME's process list may be incomplete.
   */
  readonly warnings: string[];
}

// fuser pads `NAME:` to 20 columns and starts the entry after one blank; a longer NAME gets a line
// of its own (psmisc NAME_FIELD).
const NAME_FIELD = 20;
const NAME_SPECIFIC = /^Specified filename (.+) (?:does not exist|is not a mountpoint)\.$/;

/** The 48 valid ACCESS values, built once and shared by every entry (a node lists thousands). */
const ACCESS_TABLE: readonly FuserAccess[] = (() => {
  const table: FuserAccess[] = [];
  for (const f of ".fF")
    for (const r of ".r")
      for (const c of ".c")
        for (const e of ".e")
          for (const m of ".m") {
            table.push({
              raw: f + r + c + e + m,
              openFile: f !== ".",
              openForWrite: f === "F",
              rootDir: r === "r",
              cwd: c === "c",
              executable: e === "e",
              mmap: m === "m",
            });
          }
  return table;
})();

const NO_ACCESS: FuserAccess = {
  raw: ".....",
  openFile: false,
  openForWrite: false,
  rootDir: false,
  cwd: false,
  executable: false,
  mmap: false,
};

const DOT = 46;
const SPACE = 32;
const TAB = 9;

/** 0 for the `.` placeholder, 1 for the column's letter, -1 for anything else. */
function accessBit(code: number, letter: number): number {
  return code === DOT ? 0 : code === letter ? 1 : -1;
}

/**
 * The index in ACCESS_TABLE of the five ACCESS columns at `s[start..end)`, read without slicing; -1
 * unless they are `[fF.][r.][c.][e.][m.]`.
 */
function accessIndexAt(s: string, start: number, end: number): number {
  if (end - start !== 5) return -1;
  const f = s.charCodeAt(start);
  const fi = f === DOT ? 0 : f === 102 ? 1 : f === 70 ? 2 : -1;
  const r = accessBit(s.charCodeAt(start + 1), 114);
  const c = accessBit(s.charCodeAt(start + 2), 99);
  const e = accessBit(s.charCodeAt(start + 3), 101);
  const m = accessBit(s.charCodeAt(start + 4), 109);
  if (fi < 0 || r < 0 || c < 0 || e < 0 || m < 0) return -1;
  return fi * 16 + r * 8 + c * 4 + e * 2 + m;
}

const ENTRY_INDENT = NAME_FIELD + 1;
const FOUR_SPACES = 0x20202020;

/** The 21 spaces of an entry's indent at `view[at]`, compared four bytes at a time. */
function isIndent(view: DataView, at: number): boolean {
  for (let k = 0; k < 20; k += 4) if (view.getInt32(at + k) !== FOUR_SPACES) return false;
  return view.getUint8(at + 20) === SPACE;
}

/** accessIndexAt over the window's bytes: `u[at..at + 5)`. */
function accessIndexInBytes(u: Uint8Array, at: number): number {
  const f = u[at];
  const fi = f === DOT ? 0 : f === 102 ? 1 : f === 70 ? 2 : -1;
  const r = accessBit(u[at + 1] ?? 0, 114);
  const c = accessBit(u[at + 2] ?? 0, 99);
  const e = accessBit(u[at + 3] ?? 0, 101);
  const m = accessBit(u[at + 4] ?? 0, 109);
  if (fi < 0 || r < 0 || c < 0 || e < 0 || m < 0) return -1;
  return fi * 16 + r * 8 + c * 4 + e * 2 + m;
}

/** The decoded ACCESS of an index from accessIndexAt (all-dots for an index it never returns). */
function accessAt(index: number): FuserAccess {
  return ACCESS_TABLE[index] ?? NO_ACCESS;
}

/** Index of the first space at or after `i`, or `end` (fuser separates with spaces only). */
function wordEnd(s: string, i: number, end: number): number {
  const at = s.indexOf(" ", i);
  return at === -1 || at > end ? end : at;
}

/** Index of the first non-blank at or after `i`, or `end`. */
function skipBlanks(s: string, i: number, end: number): number {
  while (i < end && isBlank(s.charCodeAt(i))) i++;
  return i;
}

/**
 * The processes of every NAME of one capture, as numbers: per entry its pid, ACCESS index, line, and
 * where its user and command are in the text. A big capture lists a million entries; an object and
 * two strings each, kept until the result is dropped, made the collector the main cost of parsing.
 * Typed arrays hold them for next to nothing, and FuserGroup builds the objects of one NAME when its
 * processes are first read.
 */
class ProcessRows {
  count = 0;
  // Rows live in chunks of CHUNK_ROWS: growing one array by copying cost more than reading entries.
  private readonly pids: Float64Array[] = [];
  /** Per row (CELLS numbers): ACCESS index, line, user start and end, command start and end. */
  private readonly cells: Int32Array[] = [];
  private lastPids = new Float64Array(0);
  private lastCells = new Int32Array(0);
  constructor(private readonly text: string) {}

  /** Adds a row: the user is `text[userStart, userEnd)`, the command `text[commandStart, commandEnd)`. */
  add(
    pid: number,
    access: number,
    line: number,
    userStart: number,
    userEnd: number,
    commandStart: number,
    commandEnd: number,
  ): void {
    const slot = this.count++ & CHUNK_MASK;
    if (slot === 0) {
      this.lastPids = new Float64Array(CHUNK_ROWS);
      this.lastCells = new Int32Array(CHUNK_ROWS * CELLS);
      this.pids.push(this.lastPids);
      this.cells.push(this.lastCells);
    }
    this.lastPids[slot] = pid;
    const cells = this.lastCells;
    const at = slot * CELLS;
    cells[at] = access;
    cells[at + 1] = line;
    cells[at + 2] = userStart;
    cells[at + 3] = userEnd;
    cells[at + 4] = commandStart;
    cells[at + 5] = commandEnd;
  }

  process(row: number): FuserProcess {
    const chunk = row >> CHUNK_BITS;
    const slot = row & CHUNK_MASK;
    const c = this.cells[chunk] ?? EMPTY_CELLS;
    const at = slot * CELLS;
    return {
      user: this.text.slice(c[at + 2], c[at + 3]),
      pid: this.pids[chunk]?.[slot] ?? 0,
      access: accessAt(c[at] ?? 0),
      command: this.text.slice(c[at + 4], c[at + 5]),
      line: c[at + 1] ?? 0,
    };
  }
}
const CELLS = 6;
const CHUNK_BITS = 12;
const CHUNK_ROWS = 1 << CHUNK_BITS;
const CHUNK_MASK = CHUNK_ROWS - 1;
const EMPTY_CELLS = new Int32Array(CELLS);

/** One NAME; its processes are rows `[first, first + count)` of the capture's ProcessRows. */
class FuserGroup implements FuserName {
  readonly kernelMounts: string[] = [];
  readonly kernelOther: FuserKernelUse[] = [];
  readonly warnings: string[] = [];
  readonly #rows: ProcessRows;
  #first = -1;
  #count = 0;
  #built: FuserProcess[] | null = null;
  constructor(
    readonly name: string,
    readonly line: number,
    rows: ProcessRows,
  ) {
    this.#rows = rows;
  }

  /**
   * Adds the process whose user is `text[userStart, userEnd)` and command `text[commandStart, end)`.
   * Entries of one NAME follow its NAME line, so its rows are contiguous.
   */
  addProcess(
    pid: number,
    access: number,
    line: number,
    userStart: number,
    userEnd: number,
    commandStart: number,
    end: number,
  ): void {
    if (this.#first === -1) this.#first = this.#rows.count;
    this.#rows.add(pid, access, line, userStart, userEnd, commandStart, end);
    this.#count++;
  }

  get processes(): readonly FuserProcess[] {
    if (this.#built === null) {
      this.#built = [];
      for (let i = 0; i < this.#count; i++) this.#built.push(this.#rows.process(this.#first + i));
    }
    return this.#built;
  }

  /** Every field as a plain object: what JSON shows (`processes` is a getter). */
  toJSON(): FuserName {
    return {
      name: this.name,
      kernelMounts: this.kernelMounts,
      kernelOther: this.kernelOther,
      processes: this.processes,
      warnings: this.warnings,
      line: this.line,
    };
  }
}

/** The NAME of a line that starts a NAME group and where its first entry begins, or null. */
function readNameLine(line: string): { name: string; entryAt: number } | null {
  if (line.endsWith(":")) return { name: line.slice(0, -1), entryAt: -1 };
  if (line.length <= NAME_FIELD + 1 || line.charCodeAt(NAME_FIELD) !== SPACE) return null;
  const field = line.slice(0, NAME_FIELD).trimEnd();
  if (!field.endsWith(":") || isBlank(line.charCodeAt(NAME_FIELD + 1))) return null;
  return { name: field.slice(0, -1), entryAt: NAME_FIELD + 1 };
}

/**
 * Parses `fuser -mv NAME... 2>&1` into one record per NAME (kernel mounts, processes with decoded
 * ACCESS, NAME-specific warnings) plus the scan-wide warnings; the header line is optional.
 */
export function parseFuserMv(text: string): ParseResult<FuserOutput> {
  const issues = new IssueList();
  const names: FuserName[] = [];
  const warnings: string[] = [];
  const rows = new ProcessRows(text);
  const w = new AsciiWindow(text);
  let current: FuserGroup | null = null;
  reportReplacementChars(text, issues);

  // One loop over line bounds, entries read in place: a capture is mostly entry lines, and copying
  // each out first doubled the work.
  const n = text.length;
  let start = 0;
  let lineNo = 0;
  while (start < n) {
    let end = text.indexOf("\n", start);
    const next = end + 1;
    lineNo++;
    if (end === -1) {
      issues.add("truncated", "final line has no newline (output cut?); dropped", lineNo);
      break;
    }
    if (end > start && text.charCodeAt(end - 1) === 13) end--;
    if (end - start > MAX_LINE_CHARS) {
      issues.add("too_large", `line of ${end - start} characters skipped`, lineNo);
    } else if (end > start && isBlank(text.charCodeAt(start))) {
      // Most of a capture is entries, indented to column 21: they are read from the line's bytes,
      // several times faster than charCodeAt (see ascii.ts), the indent four bytes at a time.
      // (startsWith or indexOf with a 21-blank pattern cost more than a charCodeAt loop.)
      w.cover(start, end);
      const u = w.bytes;
      let i = start - w.base;
      const e = end - w.base;
      if (e - i > ENTRY_INDENT && isIndent(w.view, i)) i += ENTRY_INDENT;
      while (i < e && (u[i] === SPACE || u[i] === TAB)) i++;
      const from = i + w.base;
      // Skips blank lines and the `USER PID ACCESS COMMAND` header.
      if (from !== end && !isHeader(text, from, end)) {
        if (current === null) issues.add("malformed_line", "entry before any NAME", lineNo);
        else if (!readProcessFast(current, w, from, end, lineNo))
          readEntry(current, text, from, end, lineNo, issues);
      }
    } else if (end > start) {
      const line = text.slice(start, end);
      const named = readNameLine(line);
      if (named !== null) {
        current = startName(names, rows, named.name, lineNo);
        if (named.entryAt !== -1) readEntry(current, text, start + named.entryAt, end, lineNo, issues);
      } else {
        const specific = NAME_SPECIFIC.exec(line);
        if (specific?.[1] !== undefined) startName(names, rows, specific[1], lineNo).warnings.push(line);
        else warnings.push(line);
      }
    }
    start = next;
  }
  return result({ names, warnings }, issues.done());
}

function isHeader(text: string, from: number, end: number): boolean {
  return text.charCodeAt(from) === 85 && /^USER\s+PID\s+ACCESS\s+COMMAND\s*$/.test(text.slice(from, end));
}

function startName(names: FuserName[], rows: ProcessRows, name: string, lineNo: number): FuserGroup {
  const group = new FuserGroup(name, lineNo, rows);
  names.push(group);
  return group;
}

/**
 * The common entry, `user  <digits> <5 ACCESS chars> COMMAND` at `text[from, end)`, read in one pass
 * over the window's bytes (covering the line) without slicing anything; false sends the line to
 * readEntry's general path.
 */
function readProcessFast(
  target: FuserGroup,
  w: AsciiWindow,
  from: number,
  end: number,
  lineNo: number,
): boolean {
  const u = w.bytes;
  const base = w.base;
  const e = end - base;
  let i = from - base;
  while (i < e && u[i] !== SPACE) i++;
  const userEnd = i + base;
  while (i < e && u[i] === SPACE) i++;
  const pidStart = i;
  let pid = 0;
  let c = 0;
  while (i < e) {
    c = u[i] ?? 0;
    if (c < 48 || c > 57) break;
    pid = pid * 10 + (c - 48);
    i++;
  }
  // Digits, one space, five ACCESS columns, one space, a command.
  if (i === pidStart || i - pidStart > 15 || c !== SPACE || i + 7 >= e || u[i + 6] !== SPACE) return false;
  const access = accessIndexInBytes(u, i + 1);
  if (access === -1) return false;
  target.addProcess(pid, access, lineNo, from, userEnd, i + 7 + base, end);
  return true;
}

/** `user  pid|kernel  ACCESS COMMAND` in `s[from..end)`; COMMAND is everything after one blank (paths keep theirs). */
function readEntry(
  target: FuserGroup,
  s: string,
  from: number,
  end: number,
  lineNo: number,
  issues: IssueList,
): void {
  const userStart = skipBlanks(s, from, end);
  const userEnd = wordEnd(s, userStart, end);
  const pidStart = skipBlanks(s, userEnd, end);
  const pidEnd = wordEnd(s, pidStart, end);
  const accessStart = skipBlanks(s, pidEnd, end);
  const accessEnd = wordEnd(s, accessStart, end);
  if (accessEnd === accessStart || accessEnd + 1 >= end) {
    issues.add("malformed_line", "expected `USER PID ACCESS COMMAND`", lineNo);
    return;
  }
  if (pidEnd - pidStart === 6 && s.startsWith("kernel", pidStart)) {
    const command = s.slice(accessEnd + 1, end);
    const kind = s.slice(accessStart, accessEnd);
    if (kind === "mount") target.kernelMounts.push(command);
    else target.kernelOther.push({ kind, target: command, line: lineNo });
    return;
  }
  const pid = parseDecimal(s, pidStart, pidEnd);
  const access = accessIndexAt(s, accessStart, accessEnd);
  if (pid === -1 || access === -1) {
    const [what, at, to] = pid === -1 ? ["PID", pidStart, pidEnd] : ["ACCESS", accessStart, accessEnd];
    issues.add("invalid_field", `${what} ${JSON.stringify(s.slice(at, Math.min(to, at + 40)))}`, lineNo);
    return;
  }
  target.addProcess(pid, access, lineNo, userStart, userEnd, accessEnd + 1, end);
}

/** What `fuser -m` writes to stdout alone: right-aligned PIDs and `kernel`, with no NAME and no newline. */
export interface FuserPids {
  /** A `kernel` entry (a mount, swap or knfsd use) was printed. */
  readonly kernel: boolean;
  readonly pids: number[];
}

/**
 * Parses the stdout-only form of `fuser -m` (PIDs only). fuser ends it without a newline, so a cut
 * cannot be told from a complete capture here: prefer `2>&1` captures for evidence.
 */
export function parseFuserPids(text: string): ParseResult<FuserPids> {
  const issues = new IssueList();
  const pids: number[] = [];
  let kernel = false;
  let lineNo = 1;
  reportReplacementChars(text, issues);
  let i = 0;
  while (i < text.length) {
    const c = text.charCodeAt(i);
    if (c === 10) lineNo++;
    if (c === 10 || c === 13 || isBlank(c)) {
      i++;
      continue;
    }
    let end = i;
    while (end < text.length && !isBlank(text.charCodeAt(end)) && text.charCodeAt(end) !== 10) end++;
    const word = text.slice(i, Math.min(end, i + 64));
    const pid = parseDecimal(word);
    if (pid !== -1) pids.push(pid);
    else if (word === "kernel") kernel = true;
    else issues.add("invalid_field", `not a PID: ${JSON.stringify(word)}`, lineNo);
    i = end;
  }
  return result({ kernel, pids }, issues.done());
}

export const FUSER_VERDICTS = [
  "mounted", // P is a mount point here; the processes (if any) use the volume
  "mounted-idle", // K = {P}, no process: rm gets EBUSY only because P is a live mount point
  "host-fs-bind", // P is a mount point sharing its filesystem with / or a parent: a host fs bound onto P
  "not-mounted-here", // P is not a mount in fuser's namespace; the process list is the parent fs's (INC-2)
  "resolved-elsewhere", // P resolved to a filesystem fuser names by another mount point (bind, block device)
  "unknown", // NAME absent from the output, or no kernel mount line, or a relative NAME
] as const;
/** The §8.3 reading of one NAME's fuser output. */
export type FuserVerdict = (typeof FUSER_VERDICTS)[number];

export interface FuserInterpretation {
  readonly name: string;
  readonly verdict: FuserVerdict;
  /** K, normalised. */
  readonly kernelMounts: readonly string[];
  /** Mount points in K that are `/` or a parent directory of NAME. */
  readonly parentMounts: readonly string[];
  /** False when the listed processes are users of some other filesystem than NAME's volume. */
  readonly processesMeaningful: boolean;
  /** False when fuser could not see every process, NAME had warnings, or the capture was damaged. */
  readonly complete: boolean;
  readonly reason: string;
}

/** `/a//b/` -> `/a/b`; `/` stays. */
function normalisePath(p: string): string {
  const collapsed = p.replace(/\/{2,}/g, "/");
  return collapsed.length > 1 && collapsed.endsWith("/") ? collapsed.slice(0, -1) : collapsed;
}

function processes(n: number): string {
  return n === 1 ? "1 process" : `${n} processes`;
}

function isParentOf(mount: string, path: string): boolean {
  return mount === "/" ? path !== "/" : path.startsWith(`${mount}/`);
}

/**
 * Applies §8.3 to the fuser output for NAME=P with K its `kernel mount` targets: mounted (P in K),
 * idle (K = {P}, no process), host-fs-bind (P and a parent in K), or not mounted in fuser's
 * namespace (P not in K, a parent in K: the INC-2 signature, the process list is meaningless).
 */
export function interpretFuser(args: {
  name: string;
  result: ParseResult<FuserOutput>;
}): FuserInterpretation {
  const p = normalisePath(args.name);
  const out = args.result.value;
  const entry = out.names.find((n) => normalisePath(n.name) === p);
  const base = {
    name: args.name,
    complete: args.result.ok && out.warnings.length === 0 && (entry?.warnings.length ?? 0) === 0,
  };
  if (entry === undefined) {
    return {
      ...base,
      verdict: "unknown",
      kernelMounts: [],
      parentMounts: [],
      processesMeaningful: false,
      reason: "NAME does not appear in this fuser output",
    };
  }
  const k = [...new Set(entry.kernelMounts.map(normalisePath))];
  const parents = k.filter((m) => m !== p && isParentOf(m, p));
  const withK = { ...base, kernelMounts: k, parentMounts: parents };
  const nProc = entry.processes.length;
  if (!p.startsWith("/")) {
    return {
      ...withK,
      verdict: "unknown",
      processesMeaningful: false,
      reason: "relative NAME: cannot compare with mount points",
    };
  }
  if (k.length === 0) {
    const why = entry.warnings[0] ?? "no `kernel mount` line (NAME not found, or the capture was cut)";
    return { ...withK, verdict: "unknown", processesMeaningful: false, reason: why };
  }
  if (k.includes(p)) {
    if (parents.length > 0) {
      return {
        ...withK,
        verdict: "host-fs-bind",
        processesMeaningful: false,
        reason: `P is a mount point sharing its filesystem with ${parents.join(", ")}: a host filesystem is bound onto P (check mountinfo: root != / on the root device); its process list (${processes(nProc)}) shows users of that host filesystem`,
      };
    }
    if (k.length === 1 && nProc === 0) {
      return {
        ...withK,
        verdict: "mounted-idle",
        processesMeaningful: true,
        reason:
          "P is a mount point in fuser's namespace and nothing uses it: rm fails with EBUSY only because P is still mounted",
      };
    }
    return {
      ...withK,
      verdict: "mounted",
      processesMeaningful: true,
      reason: `P is mounted in fuser's namespace, with ${processes(nProc)} on its filesystem`,
    };
  }
  if (parents.length > 0) {
    return {
      ...withK,
      verdict: "not-mounted-here",
      processesMeaningful: false,
      // Seen on psmisc 23.6 (test/fixtures/real/commands/fuser-mv-rootbind.txt): one kernel mount
      // line per filesystem, so a bind of / onto P prints exactly this too.
      reason: `P is not a mount point in fuser's namespace: it resolved to the filesystem at ${parents.join(", ")}, and its process list (${processes(nProc)}) shows users of that filesystem, not of P (INC-2 signature: look for the holder in other mount namespaces). psmisc 23.6 prints the same for a bind of that filesystem onto P: confirm with mountinfo`,
    };
  }
  return {
    ...withK,
    verdict: "resolved-elsewhere",
    processesMeaningful: true,
    reason: `P resolved to the filesystem fuser names by ${k.join(", ")} (a block device holding it, or a bind or second mount of it); its process list (${processes(nProc)}) shows users of that filesystem`,
  };
}
