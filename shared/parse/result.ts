/**
 * The result model every evidence parser returns. Parsers never throw on input: they return what they
 * could read (`value`) and, when something was wrong, the issues with their line numbers.
 */

export const ISSUE_CODES = [
  "malformed_line", // a line that does not have the shape of the format
  "invalid_field", // a line with the right shape but a field that cannot be read (bad number, bad BDF)
  "truncated", // input cut short: a final line without its newline, a record cut mid-way
  "too_large", // input or a line over a size limit; the rest was skipped
  "missing", // something the format requires is absent (a header, a separator)
  "unsupported", // a valid variant this parser does not interpret (kept raw)
  "non_utf8", // bytes that are not UTF-8 were replaced
  "inconsistent", // two pieces of evidence contradict each other
] as const;
export type IssueCode = (typeof ISSUE_CODES)[number];

/** One problem found in the input. `line` is 1-based for text formats. */
export interface ParseIssue {
  readonly code: IssueCode;
  readonly path: readonly (string | number)[];
  readonly message: string;
  readonly line?: number;
}

/**
 * `ok: true` when the whole input was understood. `ok: false` still carries the good part in `value`
 * (partial results), so one damaged line never hides the rest of a file.
 */
export type ParseResult<T> =
  | { readonly ok: true; readonly value: T }
  | { readonly ok: false; readonly value: T; readonly issues: readonly ParseIssue[] };

/** Builds a ParseResult from a value and the issues gathered while producing it. */
export function result<T>(value: T, issues: readonly ParseIssue[]): ParseResult<T> {
  return issues.length === 0 ? { ok: true, value } : { ok: false, value, issues };
}

/** The issues of a result, empty when it is ok. */
export function issuesOf<T>(r: ParseResult<T>): readonly ParseIssue[] {
  return r.ok ? [] : r.issues;
}

/** Longest line any text parser reads; longer lines are reported as `too_large` and skipped. */
export const MAX_LINE_CHARS = 1 << 20;

/** At most this many issues are kept per parse; a file of garbage yields a bounded report. */
export const MAX_ISSUES = 100;

/** Collects issues up to MAX_ISSUES and counts the rest. */
export class IssueList {
  readonly items: ParseIssue[] = [];
  dropped = 0;
  constructor(private readonly basePath: readonly (string | number)[] = []) {}

  add(code: IssueCode, message: string, line?: number, path: readonly (string | number)[] = []): void {
    if (this.items.length >= MAX_ISSUES) {
      this.dropped++;
      return;
    }
    const issue: ParseIssue =
      line === undefined
        ? { code, path: [...this.basePath, ...path], message }
        : { code, path: [...this.basePath, ...path], message, line };
    this.items.push(issue);
  }

  /** The issues, with one closing issue saying how many were dropped past the cap. */
  done(): readonly ParseIssue[] {
    if (this.dropped === 0) return this.items;
    return [
      ...this.items,
      { code: "too_large", path: [...this.basePath], message: `${this.dropped} more issues not listed` },
    ];
  }
}

/**
 * Calls `fn` for each line of `text` without building an array of lines (parsers stream over the
 * input). The final line is passed with `complete = false` when the text does not end in a newline,
 * which is how a size cap or a read racing a writer shows up.
 */
export function forEachLine(
  text: string,
  fn: (line: string, lineNo: number, complete: boolean) => void,
): void {
  const n = text.length;
  let start = 0;
  let lineNo = 0;
  while (start < n) {
    let end = text.indexOf("\n", start);
    const complete = end !== -1;
    if (end === -1) end = n;
    lineNo++;
    fn(
      text.charCodeAt(end - 1) === 13 ? text.slice(start, end - 1) : text.slice(start, end),
      lineNo,
      complete,
    );
    start = end + 1;
  }
}
