/**
 * Line handling shared by the hand-captured command parsers: complete lines only, size cap, one
 * report of replaced (non-UTF-8) bytes, and the ls conventions (long-format lines, shell quoting).
 */
import { forEachLine, type IssueList, MAX_LINE_CHARS } from "../result.js";

const SPACE = 32;
const TAB = 9;

/**
 * Calls `fn` for each complete line that is not over MAX_LINE_CHARS. A final line without its newline
 * is dropped and reported as `truncated`: a pasted or capped output cut mid-line must not be misread.
 */
export function eachCompleteLine(
  text: string,
  issues: IssueList,
  fn: (line: string, lineNo: number) => void,
): void {
  forEachLine(text, (line, lineNo, complete) => {
    if (!complete) {
      issues.add("truncated", "final line has no newline (output cut?); dropped", lineNo);
      return;
    }
    if (line.length > MAX_LINE_CHARS) {
      issues.add("too_large", `line of ${line.length} characters skipped`, lineNo);
      return;
    }
    fn(line, lineNo);
  });
}

/** Reports once where U+FFFD first appears: the evidence decoder put it in place of invalid UTF-8. */
export function reportReplacementChars(text: string, issues: IssueList): void {
  const at = text.indexOf("\uFFFD");
  if (at === -1) return;
  let lineNo = 1;
  for (let i = text.indexOf("\n"); i !== -1 && i < at; i = text.indexOf("\n", i + 1)) lineNo++;
  issues.add("non_utf8", "bytes that are not UTF-8 were replaced (U+FFFD)", lineNo);
}

/** A column separator in command output: space or tab. */
export function isBlank(code: number): boolean {
  return code === SPACE || code === TAB;
}

/** `total 12` (`insgesamt 0`, `合计 0` in other locales), the first line of `ls -l` on a directory. */
export function isLsTotalLine(line: string): boolean {
  return /^[^\s/.]+ \d+(?:[.,]\d+)?[KMGTP]?$/.test(line);
}

/** A GNU `ls -l` entry: file type, nine permission characters, optional ACL/SELinux mark, then a blank. */
export function isLsLongLine(line: string): boolean {
  return /^[-bcdlpsD?][-rwxsStTlL?]{9}[.+@]?[ \t]/.test(line);
}

/** `ls: cannot access '/dev/vfio': No such file or directory` and other ls complaints. */
export function isLsError(line: string): boolean {
  return line.startsWith("ls: ");
}

/** The whitespace-separated words of a line (no quoting rules). */
export function splitWords(line: string): string[] {
  return line.split(/[ \t]+/).filter((w) => w !== "");
}

const C_ESCAPES: Readonly<Record<string, string>> = {
  n: "\n",
  t: "\t",
  r: "\r",
  a: "\x07",
  b: "\b",
  f: "\f",
  v: "\v",
  e: "\x1b",
  "\\": "\\",
  "'": "'",
  '"': '"',
  "?": "?",
};

/**
 * Splits a line into words the way a POSIX shell reads what `ls --quoting-style=shell-escape` (the
 * TTY default) writes: `'a b'`, `"vd'b"`, `$'\n'` and backslash escapes, concatenated. Returns null
 * when a quote is left open, i.e. the line was not written with shell quoting.
 */
export function splitShellWords(line: string): string[] | null {
  const words: string[] = [];
  let word = "";
  let inWord = false;
  let i = 0;
  const n = line.length;
  while (i < n) {
    const c = line[i];
    if (c === " " || c === "\t") {
      if (inWord) words.push(word);
      word = "";
      inWord = false;
      i++;
      continue;
    }
    inWord = true;
    if (c === "'") {
      const close = line.indexOf("'", i + 1);
      if (close === -1) return null;
      word += line.slice(i + 1, close);
      i = close + 1;
    } else if (c === '"') {
      i++;
      let closed = false;
      while (i < n) {
        const d = line[i];
        if (d === '"') {
          closed = true;
          i++;
          break;
        }
        const next = line[i + 1];
        if (d === "\\" && next !== undefined && '"\\$`'.includes(next)) {
          word += next;
          i += 2;
        } else {
          word += d;
          i++;
        }
      }
      if (!closed) return null;
    } else if (c === "$" && line[i + 1] === "'") {
      i += 2;
      let closed = false;
      while (i < n) {
        const d = line[i];
        if (d === "'") {
          closed = true;
          i++;
          break;
        }
        if (d === "\\" && i + 1 < n) {
          const [text, used] = cEscape(line, i + 1);
          word += text;
          i += 1 + used;
        } else {
          word += d;
          i++;
        }
      }
      if (!closed) return null;
    } else if (c === "\\" && i + 1 < n) {
      word += line[i + 1];
      i += 2;
    } else {
      word += c;
      i++;
    }
  }
  if (inWord) words.push(word);
  return words;
}

/** One `$'...'` escape starting after the backslash: the text it stands for and how many chars it used. */
function cEscape(s: string, at: number): [string, number] {
  const c = s[at] ?? "";
  const simple = C_ESCAPES[c];
  if (simple !== undefined) return [simple, 1];
  const octal = /^[0-7]{1,3}/.exec(s.slice(at, at + 3));
  if (octal) return [String.fromCharCode(Number.parseInt(octal[0], 8) & 0xff), octal[0].length];
  const hex = c === "x" ? /^[0-9a-fA-F]{1,2}/.exec(s.slice(at + 1, at + 3)) : null;
  if (hex) return [String.fromCharCode(Number.parseInt(hex[0], 16)), 1 + hex[0].length];
  return [`\\${c}`, 1];
}

/** True when the character at `i` is a blank or the end of the line (a column boundary). */
export function isBoundary(line: string, i: number): boolean {
  return i >= line.length || isBlank(line.charCodeAt(i));
}

/** Parses a non-empty run of decimal digits (`s[start..end)`, all of `s` by default); -1 when it is anything else. */
export function parseDecimal(s: string, start = 0, end = s.length): number {
  if (end <= start || end - start > 15) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const d = s.charCodeAt(i) - 48;
    if (d < 0 || d > 9) return -1;
    v = v * 10 + d;
  }
  return v;
}

/** Parses a non-empty run of hex digits (no prefix; `s[start..end)`, all of `s` by default); -1 when it is anything else or over 2^52. */
export function parseHex(s: string, start = 0, end = s.length): number {
  if (end <= start || end - start > 13) return -1;
  let v = 0;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1;
    if (d === -1) return -1;
    v = v * 16 + d;
  }
  return v;
}
