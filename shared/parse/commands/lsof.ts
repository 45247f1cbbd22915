/**
 * Hand-captured `lsof` output (reference/evidence-formats.md §4), in either of its two shapes: the
 * default columns (`COMMAND PID [TID TASKCMD] USER FD TYPE DEVICE SIZE/OFF NODE NAME`) or the `-F`
 * field output, NL- or NUL-terminated (`-F ...0`). Empty output is lsof's rc=1 "nothing matched",
 * not an error; `lsof: WARNING ...` lines merged in from stderr are kept as notes.
 */
import { IssueList, MAX_LINE_CHARS, type ParseResult, result } from "../result.js";
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

/** `0x6` -> {0,6}; null for anything that is not a 32-bit hex dev_t. */
function readHexDevice(value: string): DeviceNumber | null {
  if (!value.startsWith("0x")) return null;
  const v = parseHex(value.slice(2));
  return v === -1 || v > 0xffffffff ? null : decodeDevT(v);
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

interface ProcessState {
  pid: number;
  tid: number | null;
  command: string;
  taskCommand: string | null;
  user: string | null;
  uid: number | null;
}

interface FileState {
  fd: string;
  access: string | null;
  lock: string | null;
  type: string | null;
  device: DeviceNumber | null;
  rdev: DeviceNumber | null;
  size: SizeOrOffset | null;
  offset: SizeOrOffset | null;
  inode: number | null;
  /** null until the `n` field arrives; lsof writes it last in a set. */
  name: string | null;
  line: number;
}

const CR = 13;

/**
 * Parses `lsof -F` output: a state machine where `p` starts a process and `f` starts a file of the
 * current process; other fields may come in any order. Fields end with NL, or with NUL (`-F0`, where
 * each set ends with NL); the two may be mixed with NL-terminated stderr notes.
 */
export function parseLsofFields(text: string): ParseResult<LsofOutput> {
  const issues = new IssueList();
  const files: LsofFile[] = [];
  const notes: string[] = [];
  reportReplacementChars(text, issues);

  let proc: ProcessState | null = null;
  let file: FileState | null = null;
  let lastWasNote = false;
  let unnamedSeen = false;

  const flush = () => {
    if (file === null || proc === null) return;
    if (file.name === null) unnamedSeen = true;
    const { name, deleted } = splitDeleted(file.name ?? "");
    files.push({
      pid: proc.pid,
      tid: proc.tid,
      command: proc.command,
      taskCommand: proc.taskCommand,
      user: proc.user,
      uid: proc.uid,
      fd: file.fd,
      access: file.access,
      lock: file.lock,
      type: file.type,
      device: file.device,
      rdev: file.rdev,
      // Like the SIZE/OFF column: the size when lsof gave one, else the offset.
      sizeOff: file.size ?? file.offset,
      inode: file.inode,
      name,
      deleted,
      line: file.line,
    });
    file = null;
  };

  // Only what ends in NL is complete: -F0 ends each set with NL, plain -F each field.
  const n = text.length;
  const end = text.lastIndexOf("\n") + 1;
  let nextNl = text.indexOf("\n");
  let nextNul = text.indexOf("\0");
  let pos = 0;
  let lineNo = 1;
  while (pos < end) {
    if (nextNl !== -1 && nextNl < pos) nextNl = text.indexOf("\n", pos);
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
        const value = text.slice(pos + 1, fieldEnd);
        switch (id) {
          case 112 /* p */:
            {
              flush();
              const pid = parseDecimal(value);
              if (pid === -1) {
                issues.add(
                  "invalid_field",
                  `p field ${JSON.stringify(value.slice(0, 40))} is not a pid`,
                  lineNo,
                );
                proc = null;
              } else {
                proc = { pid, tid: null, command: "", taskCommand: null, user: null, uid: null };
              }
              lastWasNote = false;
              break;
            }
          case 102 /* f */:
            flush();
            if (proc === null) {
              issues.add("malformed_line", "file set (f) before any process set (p)", lineNo);
            } else {
              file = {
                fd: value,
                access: null,
                lock: null,
                type: null,
                device: null,
                rdev: null,
                size: null,
                offset: null,
                inode: null,
                name: null,
                line: lineNo,
              };
            }
            lastWasNote = false;
            break;
          case 99 /* c */:
          case 117 /* u */:
          case 76 /* L */:
          case 75 /* K */:
          case 77 /* M */:
            if (proc === null) issues.add("malformed_line", "process field before any p field", lineNo);
            else readProcessField(proc, id, value, issues, lineNo);
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
            } else if (file === null) {
              // lsof never sends file fields outside a set; a process-only set has none.
              issues.add(
                "malformed_line",
                `file field ${String.fromCharCode(id)} outside a file set`,
                lineNo,
              );
            } else {
              readFileField(file, id, value, issues, lineNo);
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
    if (first !== 112 && first !== 102) file = null;
    issues.add("truncated", "output ends without a newline (cut?); the partial set was dropped", lineNo);
  } else if (file?.name === null && !unnamedSeen) {
    // NL-terminated fields can be cut between two fields: a last set without the `n` every earlier
    // set had is incomplete. (A capture without `n` in its field list keeps all but a lone set.)
    issues.add("truncated", "last file set has no name field (cut?); dropped", file.line);
    file = null;
  }
  flush();
  return result(
    { format: files.length > 0 || proc !== null ? "fields" : "empty", files, notes },
    issues.done(),
  );
}

// Other identifiers lsof(8) documents for -F output; read as valid and ignored.
const OTHER_FIELD_IDS = new Set("gRkPTSdGNC0123456789".split("").map((c) => c.charCodeAt(0)));

function isKnownFieldId(id: number): boolean {
  return OTHER_FIELD_IDS.has(id);
}

function readProcessField(proc: ProcessState, id: number, value: string, issues: IssueList, lineNo: number) {
  switch (id) {
    case 99:
      proc.command = value;
      return;
    case 76:
      proc.user = value;
      return;
    case 77:
      proc.taskCommand = value;
      return;
  }
  const v = parseDecimal(value);
  if (v === -1) {
    issues.add(
      "invalid_field",
      `${String.fromCharCode(id)} field ${JSON.stringify(value.slice(0, 40))}`,
      lineNo,
    );
  } else if (id === 117) proc.uid = v;
  else proc.tid = v;
}

function readFileField(file: FileState, id: number, value: string, issues: IssueList, lineNo: number) {
  switch (id) {
    case 110:
      file.name = value;
      return;
    case 116:
      file.type = value;
      return;
    case 97:
      file.access = value === " " || value === "" ? null : value;
      return;
    case 108:
      file.lock = value === " " || value === "" ? null : value;
      return;
  }
  let ok = true;
  if (id === 68 || id === 114) {
    const dev = readHexDevice(value);
    if (id === 68) file.device = dev;
    else file.rdev = dev;
    ok = dev !== null;
  } else if (id === 115 || id === 111) {
    const v = readSizeOff(value, id === 115 ? "size" : "offset");
    if (id === 115) file.size = v;
    else file.offset = v;
    ok = v !== null;
  } else {
    const inode = parseDecimal(value);
    file.inode = inode === -1 ? null : inode;
    ok = inode !== -1;
  }
  if (!ok) {
    issues.add(
      "invalid_field",
      `${String.fromCharCode(id)} field ${JSON.stringify(value.slice(0, 40))}`,
      lineNo,
    );
  }
}
