/**
 * The kernel log (reference/evidence-formats.md §2.5, §6): `/dev/kmsg` records, `dmesg -r`, `dmesg` and
 * `journalctl -k -o short-monotonic` text, and the lines of it that matter for PCI/NVMe/VFIO incidents.
 * Timestamps stay on the kernel's `local_clock` (µs since boot), the base ftrace's `local` clock shares.
 */
import { BDF_RE } from "../contracts/events.js";
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
  readonly records: readonly KernelLogRecord[];
  /** Sequence gaps inside the read (/dev/kmsg only). */
  readonly lost: readonly KmsgGap[];
  /** First and last seq read; records before `firstSeq` had already left the ring buffer. */
  readonly firstSeq: number | null;
  readonly lastSeq: number | null;
  /** journalctl `-- Boot <id> --` lines: records after each belong to a later boot (timestamps restart). */
  readonly bootBreaks: readonly number[];
}

type MutableRecord = { -readonly [K in keyof KernelLogRecord]: KernelLogRecord[K] };

const C_TAB = 9;
const C_SPACE = 32;
const C_COMMA = 44;
const C_DASH = 45;
const C_DOT = 46;
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

function isDigit(c: number): boolean {
  return c >= C_0 && c <= C_9;
}

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

/** Line loop shared by both parsers: drops a cut final line and skips oversized ones, with issues. */
function eachLine(text: string, issues: IssueList, fn: (s: number, e: number, lineNo: number) => void): void {
  const n = text.length;
  let start = 0;
  let lineNo = 0;
  while (start < n) {
    let end = text.indexOf("\n", start);
    lineNo++;
    if (end === -1) {
      issues.add("truncated", "last line has no newline (read cut short); dropped", lineNo);
      return;
    }
    const stop = end > start && text.charCodeAt(end - 1) === 13 ? end - 1 : end;
    if (stop - start > MAX_LINE_CHARS)
      issues.add("too_large", `line of ${stop - start} characters skipped`, lineNo);
    else fn(start, stop, lineNo);
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

const MAX_SHARED_DICTS = 4096;

/**
 * The dictionary of a record from its ` KEY=VALUE` lines (`raw`, newline-separated). Records about the
 * same device carry the same lines, so equal dictionaries are one shared frozen object.
 */
function dictOf(
  raw: string,
  shared: Map<string, Readonly<Record<string, string>>>,
  before: Readonly<Record<string, string>>,
): Readonly<Record<string, string>> {
  let dict = shared.get(raw);
  if (dict === undefined) {
    const fresh: Record<string, string> = {};
    for (const line of raw.split("\n")) {
      const l = line.endsWith("\r") ? line.slice(0, -1) : line;
      const eq = l.indexOf("=");
      fresh[l.slice(1, eq)] = unescapeKmsg(l.slice(eq + 1));
    }
    dict = Object.freeze(fresh);
    if (shared.size < MAX_SHARED_DICTS) shared.set(raw, dict);
  }
  // Lines split by a malformed one: both parts belong to the record.
  return before === EMPTY_DICT ? dict : Object.freeze({ ...before, ...dict });
}

/**
 * Parses `/dev/kmsg` records (`prio,seq,usec,flags[,more];text` plus ` KEY=VALUE` dictionary lines).
 * A jump in `seq` is reported in `lost` (the ring buffer wrapped), not as an issue.
 */
export function parseKmsg(text: string): ParseResult<KernelLog> {
  const issues = new IssueList();
  const records: MutableRecord[] = [];
  const lost: KmsgGap[] = [];
  let last: MutableRecord | null = null;
  let firstSeq: number | null = null;
  let prevSeq: number | null = null;
  // Dictionary lines of `last` not yet turned into its dict: [dictStart, dictEnd) of the text.
  let dictStart = -1;
  let dictEnd = -1;
  const dicts = new Map<string, Readonly<Record<string, string>>>();
  const closeDict = () => {
    if (dictStart === -1 || !last) return;
    last.dict = dictOf(text.slice(dictStart, dictEnd), dicts, last.dict);
    dictStart = -1;
  };
  eachLine(text, issues, (s, e, lineNo) => {
    if (s === e) return;
    const c0 = text.charCodeAt(s);
    if (c0 === C_SPACE) {
      if (!last) {
        issues.add("malformed_line", "dictionary line with no readable record above it", lineNo);
        return;
      }
      const eq = text.indexOf("=", s);
      if (eq === -1 || eq >= e || eq === s + 1) {
        closeDict();
        issues.add("malformed_line", `dictionary line without KEY=: ${preview(text.slice(s, e))}`, lineNo);
        return;
      }
      if (dictStart === -1) dictStart = s;
      dictEnd = e;
      return;
    }
    closeDict();
    // prio,seq,usec,flags[,...];text
    // The character at `e` (newline, CR, past the end) is never a digit: the digit loops need no bound.
    let p = s;
    let prio = 0;
    let c = c0;
    for (; isDigit(c); c = text.charCodeAt(++p)) prio = prio * 10 + (c - C_0);
    const prioEnd = p;
    let seq = 0;
    if (c === C_COMMA) p++;
    const seqStart = p;
    for (c = text.charCodeAt(p); isDigit(c); c = text.charCodeAt(++p)) seq = seq * 10 + (c - C_0);
    const seqEnd = p;
    let usec = 0;
    if (c === C_COMMA) p++;
    const usecStart = p;
    for (c = text.charCodeAt(p); isDigit(c); c = text.charCodeAt(++p)) usec = usec * 10 + (c - C_0);
    if (
      prioEnd === s ||
      seqEnd === seqStart ||
      p === usecStart ||
      p >= e ||
      text.charCodeAt(p) !== C_COMMA ||
      text.charCodeAt(seqStart - 1) !== C_COMMA
    ) {
      last = null;
      issues.add(
        "malformed_line",
        `not a kmsg record: ${preview(text.slice(s, Math.min(e, s + 200)))}`,
        lineNo,
      );
      return;
    }
    let semi = p;
    while (semi < e && text.charCodeAt(semi) !== C_SEMI) semi++;
    if (semi >= e) {
      last = null;
      issues.add("malformed_line", `kmsg record without ";": ${preview(text.slice(s, e))}`, lineNo);
      return;
    }
    if (!Number.isSafeInteger(seq) || !Number.isSafeInteger(usec) || prio > 1023) {
      last = null;
      issues.add("invalid_field", `kmsg numbers out of range: ${preview(text.slice(s, semi))}`, lineNo);
      return;
    }
    if (firstSeq === null) firstSeq = seq;
    if (prevSeq !== null) {
      if (seq > prevSeq + 1) {
        lost.push({ afterSeq: prevSeq, beforeSeq: seq, count: seq - prevSeq - 1, line: lineNo });
      } else if (seq <= prevSeq) {
        issues.add(
          "inconsistent",
          `seq went back from ${prevSeq} to ${seq} (two reads, or a reboot)`,
          lineNo,
        );
      }
    }
    prevSeq = seq;
    const rec: MutableRecord = {
      line: lineNo,
      seq,
      tsUsec: usec,
      level: prio & 7,
      facility: prio >> 3,
      text: unescapeKmsg(text.slice(semi + 1, e)),
      dict: EMPTY_DICT,
    };
    records.push(rec);
    last = rec;
  });
  closeDict();
  nonUtf8(text, issues);
  return result({ source: "kmsg", records, lost, firstSeq, lastSeq: prevSeq, bootBreaks: [] }, issues.done());
}

/** Result slot of scanBracketTs (one parse at a time; saves an object per line). */
let tsUsecScratch = 0;

/** Reads `[  123.456789]` at p; returns the index after `]` (and one space) or -1; sets tsUsecScratch. */
function scanBracketTs(text: string, p: number, e: number): number {
  if (text.charCodeAt(p) !== C_LBRACKET) return -1;
  p++;
  while (p < e && text.charCodeAt(p) === C_SPACE) p++;
  const secStart = p;
  let sec = 0;
  while (p < e && isDigit(text.charCodeAt(p))) sec = sec * 10 + (text.charCodeAt(p++) - C_0);
  if (p === secStart || p >= e || text.charCodeAt(p) !== C_DOT) return -1;
  p++;
  const fracStart = p;
  let frac = 0;
  while (p < e && isDigit(text.charCodeAt(p))) {
    if (p - fracStart < 6) frac = frac * 10 + (text.charCodeAt(p) - C_0);
    p++;
  }
  const digits = Math.min(p - fracStart, 6);
  if (digits === 0 || p >= e || text.charCodeAt(p) !== C_RBRACKET) return -1;
  tsUsecScratch = sec * 1e6 + frac * (POW10[6 - digits] ?? 1);
  p++;
  if (p < e && text.charCodeAt(p) === C_SPACE) p++;
  return p;
}

/** `node-1 kernel: ` after the journal's timestamp; returns the index after it or -1. */
function journalPrefixEnd(text: string, p: number, e: number): number {
  let q = p;
  while (q < e && text.charCodeAt(q) !== C_SPACE) q++;
  if (q === p || !text.startsWith(" kernel: ", q)) return -1;
  return q + 9;
}

/**
 * Parses `dmesg -r` (`<6>[  123.456789] text`), plain `dmesg` (`[  123.456789] text`) and
 * `journalctl -k -o short-monotonic` (`[1843212.918502] node-1 kernel: text`). Lines starting with a blank
 * continue the previous record (dmesg indents the later lines of a multi-line message).
 */
export function parseDmesg(text: string): ParseResult<KernelLog> {
  const issues = new IssueList();
  const records: MutableRecord[] = [];
  let source: KernelLogSource | null = null;
  let last: MutableRecord | null = null;
  let indent = 0;
  const bootBreaks: number[] = [];
  eachLine(text, issues, (s, e, lineNo) => {
    if (s === e) return;
    const c0 = text.charCodeAt(s);
    if (c0 === C_SPACE || c0 === C_TAB) {
      if (!last) {
        issues.add("malformed_line", "continuation line with no readable record above it", lineNo);
        return;
      }
      let p = s;
      while (p < e && p - s < indent && text.charCodeAt(p) === C_SPACE) p++;
      last.text += `\n${text.slice(p, e)}`;
      return;
    }
    if (c0 === C_DASH && text.startsWith("-- ", s)) {
      // journalctl notes: `-- Logs begin at ... --`, `-- No entries --`, `-- Boot <id> --`.
      if (text.startsWith("-- Boot ", s)) bootBreaks.push(lineNo);
      last = null;
      return;
    }
    let p = s;
    let prio: number | null = null;
    if (c0 === C_LT) {
      p++;
      let v = 0;
      const start = p;
      while (p < e && isDigit(text.charCodeAt(p))) v = v * 10 + (text.charCodeAt(p++) - C_0);
      if (p === start || p >= e || text.charCodeAt(p) !== C_GT || v > 1023) {
        last = null;
        issues.add(
          "malformed_line",
          `bad <prio> prefix: ${preview(text.slice(s, Math.min(e, s + 200)))}`,
          lineNo,
        );
        return;
      }
      prio = v;
      p++;
      source ??= "dmesg-raw";
    }
    let tsUsec: number | null = null;
    if (text.charCodeAt(p) === C_LBRACKET) {
      const after = scanBracketTs(text, p, e);
      if (after === -1) {
        last = null;
        issues.add(
          "malformed_line",
          `bad [timestamp]: ${preview(text.slice(s, Math.min(e, s + 200)))}`,
          lineNo,
        );
        return;
      }
      tsUsec = tsUsecScratch;
      p = after;
      if (source === null) source = journalPrefixEnd(text, p, e) === -1 ? "dmesg" : "journal";
      if (source === "journal") {
        const q = journalPrefixEnd(text, p, e);
        if (q !== -1) p = q;
      }
    } else if (prio === null) {
      last = null;
      issues.add(
        "malformed_line",
        `not a kernel log line: ${preview(text.slice(s, Math.min(e, s + 200)))}`,
        lineNo,
      );
      return;
    }
    // `dmesg -r` from util-linux before 2.39 prints facility|level without shifting the facility, so
    // user-facility records (`<12>` in /dev/kmsg) show as `<5>`: only /dev/kmsg's prio is trustworthy.
    const rec: MutableRecord = {
      line: lineNo,
      seq: null,
      tsUsec,
      level: prio === null ? null : prio & 7,
      facility: prio === null ? null : prio >> 3,
      text: text.slice(p, e),
      dict: EMPTY_DICT,
    };
    indent = p - s;
    records.push(rec);
    last = rec;
  });
  nonUtf8(text, issues);
  return result({ source, records, lost: [], firstSeq: null, lastSeq: null, bootBreaks }, issues.done());
}

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
  for (const record of log.records) {
    const fact = classifyKernelMessage(record.text);
    if (fact) out.push({ record, fact });
  }
  return out;
}
