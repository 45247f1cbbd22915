/**
 * The evidence recorder: every read the collector makes goes through here, so per-file timeouts,
 * size caps, the entry cap, bounded concurrency and "stop reading a subtree that already hung" live in
 * one place. A read never throws: it records a file, link, dir, error or timeout entry and goes on.
 */
import { closeSync, constants as fsConstants, open, read, readdir, readlink, readSync, stat } from "node:fs";
import type { EvidenceEntry, ReadOp } from "../shared/contracts/snapshot.js";

/** Limits in force for one capture; `capture.limits` records the first three. */
export interface CollectLimits {
  /** Size cap for ordinary files (sysfs attributes, /proc files). */
  maxFileBytes: number;
  /** Size cap for the ftrace `trace` and `dev/kmsg`. */
  maxBigFileBytes: number;
  /** Per-read timeout; big files get `bigReadTimeoutFactor` times this. */
  readTimeoutMs: number;
  /** Most evidence entries one bundle holds; past it, reads are not made and a gap is recorded. */
  maxEntries: number;
  /** Most directory names kept per listing (`proc/<pid>/fd/` of a busy process). */
  maxDirNames: number;
  /** Most bytes of file content per bundle, so the gzip body stays under the ingest limits. */
  maxTotalBytes: number;
  /** Reads in flight at once. */
  concurrency: number;
  /** After this many ms from the start, reads are skipped (recorded) so a capture always ends. */
  deadlineMs: number;
}

export const DEFAULT_LIMITS: CollectLimits = {
  maxFileBytes: 1024 * 1024,
  maxBigFileBytes: 8 * 1024 * 1024,
  readTimeoutMs: 2000,
  maxEntries: 200_000,
  maxDirNames: 20_000,
  maxTotalBytes: 40 * 1024 * 1024,
  concurrency: 32,
  deadlineMs: 60_000,
};

/** Big files (trace, kmsg) legitimately take longer than one sysfs attribute. */
const BIG_READ_TIMEOUT_FACTOR = 5;

/** What a file read produced, for callers that look inside (ns links, mountinfo, stats). */
export interface FileRead {
  readonly bytes: Uint8Array;
  /** The content as text when it was valid UTF-8 (it is stored as such), else undefined. */
  readonly text: string | undefined;
  readonly capped: boolean;
}

/** Per-section bookkeeping for `capture.sections`. */
export interface SectionStats {
  name: string;
  startedMs: number;
  endedMs: number;
  entries: number;
}

export interface ReadOptions {
  /** The section the entry is counted under. */
  section?: SectionStats;
  /** A device or process subtree: once one read under it times out, the rest are skipped. */
  subtree?: string;
  /** Use the big-file cap and timeout (trace, kmsg). */
  big?: boolean;
  /** Do not store the entry (fd links that are not kept), only return the result. */
  record?: boolean;
  /**
   * A single-value kernel attribute (sysfs, sysctl, `/proc/<pid>/{comm,stat,cgroup}`): one read(2)
   * returns it whole, so a short first read is the end and the EOF read is skipped.
   */
  attribute?: boolean;
}

type Settled<T> = { ok: true; value: T } | { ok: false; error: unknown };
type Timed<T> = Settled<T> | { ok: "timeout"; afterMs: number };

const utf8 = new TextDecoder("utf-8", { fatal: true });

/** Records evidence entries for one capture under `root`. */
export class EvidenceRecorder {
  private readonly entries = new Map<string, EvidenceEntry>();
  private readonly stuckSubtrees = new Map<string, string>();
  private readonly waiters: (() => void)[] = [];
  private inFlight = 0;
  private totalBytes = 0;
  /** Reads that timed out and have not returned yet (each holds a libuv threadpool thread). */
  stuckReads = 0;
  private readonly gapSet = new Set<string>();
  readonly startedAt = performance.now();

  constructor(
    readonly root: string,
    readonly limits: CollectLimits,
    /** Subtrees that hung in an earlier capture: skipped without a read (see ship state). */
    knownStuck: ReadonlyMap<string, string> = new Map(),
  ) {
    for (const [k, why] of knownStuck) this.stuckSubtrees.set(k, why);
  }

  /** Absolute path of an evidence path (`sys/block/` -> `<root>/sys/block`). */
  abs(path: string): string {
    const rel = path.endsWith("/") ? path.slice(0, -1) : path;
    return this.root === "/" ? `/${rel}` : `${this.root.replace(/\/+$/, "")}/${rel}`;
  }

  /** True once the entry cap or the byte budget is reached: callers stop issuing reads. */
  get full(): boolean {
    return this.entries.size >= this.limits.maxEntries || this.totalBytes >= this.limits.maxTotalBytes;
  }

  /** Records why the bundle stopped growing (the entry cap or the content budget). */
  private noteFull(): void {
    if (this.entries.size >= this.limits.maxEntries) {
      this.addGap(`entry cap ${this.limits.maxEntries} reached: later evidence was not collected`);
    } else {
      this.addGap(
        `content budget ${this.limits.maxTotalBytes} bytes reached: later files were not collected`,
      );
    }
  }

  get gaps(): string[] {
    return [...this.gapSet];
  }

  addGap(text: string): void {
    this.gapSet.add(text);
  }

  /** Subtrees that timed out during this capture (key -> why), so the next capture can skip them. */
  get timedOutSubtrees(): ReadonlyMap<string, string> {
    return this.stuckSubtrees;
  }

  get(path: string): EvidenceEntry | undefined {
    return this.entries.get(path);
  }

  /** Stores an entry produced outside the fs reads (pinned-namespace mountinfo read via nsenter). */
  put(path: string, entry: EvidenceEntry, section?: SectionStats): void {
    if (this.entries.has(path)) {
      this.entries.set(path, entry);
      return;
    }
    if (
      this.entries.size >= this.limits.maxEntries ||
      (entry.kind === "file" && this.totalBytes >= this.limits.maxTotalBytes)
    ) {
      this.noteFull();
      return;
    }
    if (entry.kind === "file") this.totalBytes += entry.bytes;
    this.entries.set(path, entry);
    if (section) section.entries++;
  }

  /** The evidence record with keys sorted, so equal evidence serialises to equal bytes. */
  toRecord(): Record<string, EvidenceEntry> {
    const out: Record<string, EvidenceEntry> = {};
    for (const k of [...this.entries.keys()].sort()) {
      const e = this.entries.get(k);
      if (e) out[k] = e;
    }
    return out;
  }

  /** Reads a file into a `file` entry (UTF-8 or base64), or an error/timeout entry. */
  async readFile(path: string, opts: ReadOptions = {}): Promise<FileRead | undefined> {
    const cap = opts.big ? this.limits.maxBigFileBytes : this.limits.maxFileBytes;
    const r = await this.run(
      path,
      "read",
      opts,
      (abs) => readCapped(abs, cap, opts.attribute === true),
      opts.big,
    );
    if (r === undefined) return undefined;
    const stored = encodeFile(r.bytes, r.capped);
    if (opts.record !== false) this.put(path, stored.entry, opts.section);
    return { bytes: r.bytes, text: stored.text, capped: r.capped };
  }

  /**
   * Reads `dev/kmsg`: on a host a char device read record by record until EAGAIN; in a synthetic
   * tree a regular file read whole. Stored as one file entry either way.
   */
  async readKmsg(path: string, opts: ReadOptions = {}): Promise<void> {
    const kind = await this.kind(path, opts);
    if (kind !== "char") {
      await this.readFile(path, { ...opts, big: true });
      return;
    }
    const cap = this.limits.maxBigFileBytes;
    const r = await this.run(path, "read", opts, (abs) => readKmsgDevice(abs, cap), true);
    if (r !== undefined) this.put(path, encodeFile(r.bytes, r.capped).entry, opts.section);
  }

  /** Reads a symlink's target into a `link` entry. */
  async readLink(path: string, opts: ReadOptions = {}): Promise<string | undefined> {
    const target = await this.run(path, "readlink", opts, readlinkP);
    if (target !== undefined && opts.record !== false) this.put(path, { kind: "link", target }, opts.section);
    return target;
  }

  /** Lists a directory into a `dir` entry keyed with a trailing slash; names sorted. */
  async readDir(path: string, opts: ReadOptions = {}): Promise<string[] | undefined> {
    const key = path.endsWith("/") ? path : `${path}/`;
    const names = await this.run(key, "readdir", opts, readdirP);
    if (names === undefined) return undefined;
    names.sort();
    const capped = names.length > this.limits.maxDirNames;
    const kept = capped ? names.slice(0, this.limits.maxDirNames) : names;
    if (opts.record !== false) {
      this.put(key, capped ? { kind: "dir", names: kept, capped } : { kind: "dir", names }, opts.section);
    }
    return names;
  }

  /** stat(2) through the same timeout; records nothing. Undefined when it failed or hung. */
  async kind(path: string, opts: ReadOptions = {}): Promise<"file" | "dir" | "char" | "other" | undefined> {
    return this.run(path, "stat", { ...opts, record: false }, statKind);
  }

  /** Records a read that was deliberately not made, as an error entry the parsers treat as unknown. */
  skip(path: string, op: ReadOp, why: string, section?: SectionStats): void {
    this.put(path, { kind: "error", op, code: "SKIPPED", message: why }, section);
  }

  /**
   * Runs one fs operation under the concurrency limit and the timeout, recording an error or timeout
   * entry on failure (unless `record: false`). Returns the value, or undefined when there is none.
   */
  private async run<T>(
    path: string,
    op: ReadOp,
    opts: ReadOptions,
    fn: (abs: string) => Promise<T>,
    big = false,
  ): Promise<T | undefined> {
    const record = opts.record !== false;
    const stuck = opts.subtree === undefined ? undefined : this.stuckSubtrees.get(opts.subtree);
    if (stuck !== undefined) {
      if (record) this.skip(path, op, stuck, opts.section);
      return undefined;
    }
    if (record && this.full) {
      this.noteFull();
      return undefined;
    }
    if (performance.now() - this.startedAt > this.limits.deadlineMs) {
      this.addGap(`capture deadline ${this.limits.deadlineMs} ms passed: later reads were skipped`);
      if (record) this.skip(path, op, "not read: the capture deadline passed", opts.section);
      return undefined;
    }
    await this.acquire();
    const timeoutMs = big ? this.limits.readTimeoutMs * BIG_READ_TIMEOUT_FACTOR : this.limits.readTimeoutMs;
    let r: Timed<T>;
    try {
      r = await this.withTimeout(fn(this.abs(path)), timeoutMs);
    } finally {
      this.release();
    }
    if (r.ok === true) return r.value;
    if (r.ok === "timeout") {
      if (opts.subtree !== undefined) {
        this.stuckSubtrees.set(opts.subtree, `not read: a read of ${path} timed out after ${timeoutMs} ms`);
      }
      if (record) this.put(path, { kind: "timeout", op, afterMs: r.afterMs }, opts.section);
      return undefined;
    }
    if (record) this.put(path, errorEntry(op, r.error), opts.section);
    return undefined;
  }

  private withTimeout<T>(p: Promise<T>, ms: number): Promise<Timed<T>> {
    return new Promise((resolve) => {
      let done = false;
      const timer = setTimeout(() => {
        done = true;
        this.stuckReads++;
        resolve({ ok: "timeout", afterMs: ms });
      }, ms);
      p.then(
        (value) => {
          if (done) this.stuckReads--;
          else resolve({ ok: true, value });
          done = true;
          clearTimeout(timer);
        },
        (error: unknown) => {
          if (done) this.stuckReads--;
          else resolve({ ok: false, error });
          done = true;
          clearTimeout(timer);
        },
      );
    });
  }

  private acquire(): Promise<void> {
    if (this.inFlight < this.limits.concurrency) {
      this.inFlight++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiters.push(resolve));
  }

  private release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.inFlight--;
  }
}

/** The errno name of a Node fs error (`ENOENT`), or undefined for anything else. */
export function errnoCode(error: unknown): string | undefined {
  return error instanceof Error && "code" in error && typeof error.code === "string" ? error.code : undefined;
}

/** An error entry with the errno name and the message without the absolute path. */
export function errorEntry(op: ReadOp, error: unknown): EvidenceEntry {
  const text = error instanceof Error ? error.message : String(error);
  // "ENOENT: no such file or directory, open '/abs/path'" -> "no such file or directory"
  const m = /^[A-Z0-9_]+: (.*?), \w+ '/.exec(text);
  return { kind: "error", op, code: errnoCode(error) ?? "EUNKNOWN", message: m?.[1] ?? text };
}

/** File bytes as an entry: UTF-8 text as is, anything else base64; a cap cut is trimmed to a char boundary. */
export function encodeFile(bytes: Uint8Array, capped: boolean): { entry: EvidenceEntry; text?: string } {
  const kept = capped ? bytes.subarray(0, utf8Boundary(bytes)) : bytes;
  try {
    const text = utf8.decode(kept);
    // Text goes without an `encoding` (absent means UTF-8): the field on every entry cost the
    // consumer's JSON.parse about a tenth of its time.
    const entry: EvidenceEntry = { kind: "file", data: text, bytes: kept.length };
    if (capped) entry.capped = true;
    return { entry, text };
  } catch {
    const entry: EvidenceEntry = {
      kind: "file",
      data: Buffer.from(bytes).toString("base64"),
      encoding: "base64",
      bytes: bytes.length,
    };
    if (capped) entry.capped = true;
    return { entry };
  }
}

/** Length of `bytes` without a trailing incomplete UTF-8 sequence (a cap can cut one in half). */
function utf8Boundary(bytes: Uint8Array): number {
  let i = bytes.length;
  // Walk back over at most 3 continuation bytes to the lead byte of the last sequence.
  for (let back = 0; back < 4 && i > 0; back++) {
    const b = bytes[i - 1] ?? 0;
    if ((b & 0xc0) !== 0x80) {
      const need = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
      return back + 1 >= need ? bytes.length : i - 1;
    }
    i--;
  }
  return bytes.length;
}

function readlinkP(abs: string): Promise<string> {
  return new Promise((resolve, reject) => readlink(abs, (err, t) => (err ? reject(err) : resolve(t))));
}

function readdirP(abs: string): Promise<string[]> {
  return new Promise((resolve, reject) => readdir(abs, (err, names) => (err ? reject(err) : resolve(names))));
}

function statKind(abs: string): Promise<"file" | "dir" | "char" | "other"> {
  return new Promise((resolve, reject) =>
    stat(abs, (err, s) => {
      if (err) reject(err);
      else resolve(s.isFile() ? "file" : s.isDirectory() ? "dir" : s.isCharacterDevice() ? "char" : "other");
    }),
  );
}

function openP(abs: string, flags: number): Promise<number> {
  return new Promise((resolve, reject) => open(abs, flags, (err, fd) => (err ? reject(err) : resolve(fd))));
}

function readP(fd: number, buf: Buffer, offset: number): Promise<number> {
  return new Promise((resolve, reject) =>
    read(fd, buf, offset, buf.length - offset, null, (err, n) => (err ? reject(err) : resolve(n))),
  );
}

/** close(2) of a read-only fd on procfs/sysfs never blocks: done inline, it saves a threadpool round trip. */
function closeQuietly(fd: number): void {
  try {
    closeSync(fd);
  } catch {}
}

/**
 * Reads up to `cap` bytes (one more to know whether the cap cut the file). procfs and sysfs report
 * size 0 or 4096 and multi-record seq_files (mountinfo) return short reads, so read until read(2)
 * returns 0, except for an `attribute`, whose first short read is all there is.
 */
async function readCapped(
  abs: string,
  cap: number,
  attribute: boolean,
): Promise<{ bytes: Uint8Array; capped: boolean }> {
  const fd = await openP(abs, fsConstants.O_RDONLY);
  try {
    let buf = Buffer.allocUnsafe(Math.min(4096, cap + 1));
    let len = 0;
    for (;;) {
      if (len === buf.length) {
        if (len > cap) break;
        const bigger = Buffer.allocUnsafe(Math.min(buf.length * 4, cap + 1));
        buf.copy(bigger, 0, 0, len);
        buf = bigger;
      }
      const want = buf.length - len;
      const n = await readP(fd, buf, len);
      len += n;
      if (n === 0 || (attribute && n < want)) break;
    }
    const capped = len > cap;
    return { bytes: buf.subarray(0, capped ? cap : len), capped };
  } finally {
    closeQuietly(fd);
  }
}

/**
 * Reads `/dev/kmsg` (a char device): one record per read(2). The fd is O_NONBLOCK, so the reads are
 * made synchronously (they cannot block) and EAGAIN ends them; EPIPE means records were overwritten
 * while reading and the next read continues after the gap. Yields every 256 records so timers run.
 */
export async function readKmsgDevice(
  abs: string,
  cap: number,
): Promise<{ bytes: Uint8Array; capped: boolean }> {
  const fd = await openP(abs, fsConstants.O_RDONLY | fsConstants.O_NONBLOCK);
  try {
    const chunks: Buffer[] = [];
    let total = 0;
    const rec = Buffer.allocUnsafe(16 * 1024);
    for (let i = 1; ; i++) {
      let n: number;
      try {
        n = readSync(fd, rec, 0, rec.length, null);
      } catch (e) {
        const code = errnoCode(e);
        if (code === "EAGAIN") break;
        if (code === "EPIPE") continue;
        throw e;
      }
      if (n === 0) break;
      if (total + n > cap) return { bytes: Buffer.concat(chunks, total), capped: true };
      chunks.push(Buffer.from(rec.subarray(0, n)));
      total += n;
      if (i % 256 === 0) await new Promise((resolve) => setImmediate(resolve));
    }
    return { bytes: Buffer.concat(chunks, total), capped: false };
  } finally {
    closeQuietly(fd);
  }
}

/** The recorder seen from one collection section: every entry it stores is counted under the section. */
export class SectionReader {
  readonly stats: SectionStats;

  constructor(
    readonly rec: EvidenceRecorder,
    name: string,
  ) {
    this.stats = { name, startedMs: Date.now(), endedMs: 0, entries: 0 };
  }

  get full(): boolean {
    return this.rec.full;
  }

  file(path: string, opts: ReadOptions = {}): Promise<FileRead | undefined> {
    return this.rec.readFile(path, { ...opts, section: this.stats });
  }

  /** A single-value kernel attribute (see `ReadOptions.attribute`). */
  attr(path: string, opts: ReadOptions = {}): Promise<FileRead | undefined> {
    return this.rec.readFile(path, { ...opts, attribute: true, section: this.stats });
  }

  link(path: string, opts: ReadOptions = {}): Promise<string | undefined> {
    return this.rec.readLink(path, { ...opts, section: this.stats });
  }

  dir(path: string, opts: ReadOptions = {}): Promise<string[] | undefined> {
    return this.rec.readDir(path, { ...opts, section: this.stats });
  }

  kind(path: string, opts: ReadOptions = {}): Promise<"file" | "dir" | "char" | "other" | undefined> {
    return this.rec.kind(path, opts);
  }

  kmsg(path: string, opts: ReadOptions = {}): Promise<void> {
    return this.rec.readKmsg(path, { ...opts, section: this.stats });
  }

  put(path: string, entry: EvidenceEntry): void {
    this.rec.put(path, entry, this.stats);
  }

  /** Closes the section: its end time. */
  end(): SectionStats {
    this.stats.endedMs = Date.now();
    return this.stats;
  }
}

/** Runs `fn` over `items` with at most `limit` calls in flight; stops starting new ones once `stop()` is true. */
export async function forEachLimit<T>(
  items: readonly T[],
  limit: number,
  fn: (item: T) => Promise<void>,
  stop: () => boolean = () => false,
): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < items.length && !stop()) {
      const item = items[next++];
      if (item !== undefined) await fn(item);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
}
