/**
 * The snapshot bundle: what the shipper uploads. Raw evidence only (file contents, link targets,
 * directory listings, read errors and timeouts) plus capture metadata; all parsing happens centrally
 * so stored bundles can be re-parsed after a parser fix. Documented in docs/snapshot-format.md.
 */
import { z } from "zod";

export const SNAPSHOT_SCHEMA_VERSION = 1 as const;

/** Bundle size limits shared by the shipper (caps) and the ingest path (rejections). */
export const SNAPSHOT_LIMITS = {
  /** Largest gzip body accepted by POST /v1/snapshots and by the queue consumer. */
  maxCompressedBytes: 8 * 1024 * 1024,
  /** Largest bundle after gunzip; a gzip bomb stops here. */
  maxDecompressedBytes: 64 * 1024 * 1024,
} as const;

export const READ_OPS = ["read", "readlink", "readdir", "stat"] as const;
export const ReadOp = z.enum(READ_OPS);
export type ReadOp = z.infer<typeof ReadOp>;

/**
 * Standard base64 with its padding, as the shipper writes it (Buffer's `base64`): whole groups of four,
 * the last one padded. A fixed-width pattern, so a long value is matched in one linear pass.
 */
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** True when `data` is what a `base64` file entry may carry (so decoding it cannot fail later). */
export function isBase64(data: string): boolean {
  return data.length % 4 === 0 && BASE64.test(data);
}

/** A regular file (or a char device read like one: /dev/kmsg), as bytes from the host. */
export const FileEntry = z
  .object({
    kind: z.literal("file"),
    /** The content: UTF-8 text as is, anything else base64. */
    data: z.string(),
    /**
     * `base64` for content that is not UTF-8; absent (the shipper's choice for text) or `utf8` otherwise.
     * Leaving it out of nearly every entry makes a bundle about 6% smaller and its JSON.parse about 13%
     * cheaper; nothing fills it in on reading, so read it as "base64 or not".
     */
    encoding: z.enum(["utf8", "base64"]).optional(),
    /** Bytes read (after a cap, what was kept). */
    bytes: z.number().int().nonnegative(),
    /** Set when the size cap cut the file; the last line is then incomplete. */
    capped: z.boolean().optional(),
  })
  .refine((e) => e.encoding !== "base64" || isBase64(e.data), {
    message: "encoding is base64 but data is not base64",
    path: ["data"],
  });
export type FileEntry = z.infer<typeof FileEntry>;

/** A symbolic link: the target exactly as readlink(2) returned it (relative or absolute). */
export const LinkEntry = z.object({ kind: z.literal("link"), target: z.string() });
export type LinkEntry = z.infer<typeof LinkEntry>;

/** A directory listing: entry names, sorted. */
export const DirEntry = z.object({
  kind: z.literal("dir"),
  names: z.array(z.string()),
  capped: z.boolean().optional(),
});
export type DirEntry = z.infer<typeof DirEntry>;

/** A read that failed: `code` is the errno name (ENOENT, EACCES, EIO, ESRCH, ...). */
export const ErrorEntry = z.object({
  kind: z.literal("error"),
  op: ReadOp,
  code: z.string(),
  message: z.string(),
});
export type ErrorEntry = z.infer<typeof ErrorEntry>;

/** A read that did not finish within the per-file timeout (sysfs reads can block on a pulled device). */
export const TimeoutEntry = z.object({
  kind: z.literal("timeout"),
  op: ReadOp,
  afterMs: z.number().nonnegative(),
});
export type TimeoutEntry = z.infer<typeof TimeoutEntry>;

export const EvidenceEntry = z.discriminatedUnion("kind", [
  FileEntry,
  LinkEntry,
  DirEntry,
  ErrorEntry,
  TimeoutEntry,
]);
export type EvidenceEntry = z.infer<typeof EvidenceEntry>;

/** A clock reading bracketed by two wall-clock reads: converts kernel timestamps to wall time. */
export const ClockAnchor = z.object({
  /** Which clock `value` is on: boottime (/proc/uptime), or the trace clock (per_cpu stats "now ts"). */
  clock: z.enum(["boottime", "monotonic", "trace"]),
  /** The evidence path it was read from. */
  source: z.string(),
  /** Seconds on that clock. */
  value: z.number(),
  wallBeforeMs: z.number(),
  wallAfterMs: z.number(),
});
export type ClockAnchor = z.infer<typeof ClockAnchor>;

/** Which mount namespace the shipper took to be the host's, and why (PID 1's link may be unreadable). */
export const HostNamespace = z.object({
  /** `mnt:[N]` text. */
  mnt: z.string().nullable(),
  /** The evidence path the choice was read from, e.g. `proc/1/ns/mnt`. */
  source: z.string(),
  reason: z.string(),
});
export type HostNamespace = z.infer<typeof HostNamespace>;

export const CaptureSection = z.object({
  name: z.string(),
  startedMs: z.number(),
  endedMs: z.number(),
  entries: z.number().int().nonnegative(),
});

export const SnapshotBundle = z.object({
  schemaVersion: z.literal(SNAPSHOT_SCHEMA_VERSION),
  /** Cloud instance id; control-plane events carry the same as `instanceId`. */
  hostId: z.string().min(1).max(256),
  /** Host attributes from `--label key=value` (zone, instanceType, cluster, ...). */
  labels: z.record(z.string(), z.string()).default({}),
  shipper: z.object({
    version: z.string(),
    /** Where the host id came from: the flag, DMI board asset tag, or the hostname. */
    hostIdSource: z.enum(["flag", "dmi", "hostname"]),
  }),
  capture: z.object({
    /** The --root the evidence was read under. */
    root: z.string(),
    /** Wall clock (epoch ms) read before the first and after the last evidence read. */
    startedAtMs: z.number(),
    finishedAtMs: z.number(),
    hostname: z.string().nullable(),
    kernelRelease: z.string().nullable(),
    bootId: z.string().nullable(),
    /** Boot time from /proc/stat `btime`, epoch seconds (1 s resolution). */
    btime: z.number().nullable(),
    /** /proc/uptime first field, seconds (CLOCK_BOOTTIME). */
    uptimeSec: z.number().nullable(),
    anchors: z.array(ClockAnchor).default([]),
    hostNamespace: HostNamespace,
    sections: z.array(CaptureSection).default([]),
    limits: z.object({ maxFileBytes: z.number(), readTimeoutMs: z.number(), maxEntries: z.number() }),
    /** Evidence the shipper knows it could not read completely (entry cap hit, namespaces it could not enter). */
    gaps: z.array(z.string()).default([]),
  }),
  /**
   * Raw evidence keyed by path relative to the root, without a leading slash (`sys/block/vda`);
   * directory listings are keyed with a trailing slash (`sys/block/`).
   */
  evidence: z.record(z.string(), EvidenceEntry),
});
export type SnapshotBundle = z.infer<typeof SnapshotBundle>;
export type SnapshotBundleInput = z.input<typeof SnapshotBundle>;

/** `snapshots/{hostId}/{yyyy-mm-dd}/{capturedAtMs}-{sha256}.json.gz`, the one key layout for every writer. */
export function snapshotKey(args: { hostId: string; capturedAtMs: number; sha256: string }): string {
  const day = new Date(args.capturedAtMs).toISOString().slice(0, 10);
  return `snapshots/${encodeURIComponent(args.hostId)}/${day}/${args.capturedAtMs}-${args.sha256}.json.gz`;
}

const KEY_RE = /^snapshots\/([^/]+)\/(\d{4}-\d{2}-\d{2})\/(\d+)-([0-9a-f]{64})\.json\.gz$/;

/** Reads host id, capture time and content hash back out of a snapshot key; null for any other key. */
export function parseSnapshotKey(
  key: string,
): { hostId: string; capturedAtMs: number; sha256: string } | null {
  const m = KEY_RE.exec(key);
  if (!m?.[1] || !m[3] || !m[4]) return null;
  try {
    return { hostId: decodeURIComponent(m[1]), capturedAtMs: Number(m[3]), sha256: m[4] };
  } catch {
    return null;
  }
}

/**
 * The bundle schema with `evidence` left unchecked: checked entry by entry in validateBundle. Not even
 * as a record of unknowns: zod would copy thousands of keys into a new object only to throw it away.
 */
const BundleShell = SnapshotBundle.extend({ evidence: z.unknown() });

/** A plain object as JSON.parse makes it (no symbol keys), the only kind the fast path accepts. */
function isJsonObject(v: unknown): v is Record<string, unknown> {
  return (
    typeof v === "object" &&
    v !== null &&
    Object.getPrototypeOf(v) === Object.prototype &&
    Object.getOwnPropertySymbols(v).length === 0
  );
}

const OPS: ReadonlySet<string> = new Set(READ_OPS);

/** Checks one evidence entry exactly as EvidenceEntry would, without zod's per-value overhead. */
function isEvidenceEntry(v: unknown): boolean {
  if (typeof v !== "object" || v === null || Array.isArray(v)) return false;
  const e = v as Record<string, unknown>;
  switch (e.kind) {
    case "file":
      return (
        typeof e.data === "string" &&
        (e.encoding === undefined ||
          e.encoding === "utf8" ||
          (e.encoding === "base64" && isBase64(e.data))) &&
        typeof e.bytes === "number" &&
        Number.isSafeInteger(e.bytes) &&
        e.bytes >= 0 &&
        (e.capped === undefined || typeof e.capped === "boolean")
      );
    case "link":
      return typeof e.target === "string";
    case "dir":
      return (
        Array.isArray(e.names) &&
        e.names.every((n) => typeof n === "string") &&
        (e.capped === undefined || typeof e.capped === "boolean")
      );
    case "error":
      return (
        typeof e.op === "string" &&
        OPS.has(e.op) &&
        typeof e.code === "string" &&
        typeof e.message === "string"
      );
    case "timeout":
      return (
        typeof e.op === "string" &&
        OPS.has(e.op) &&
        typeof e.afterMs === "number" &&
        Number.isFinite(e.afterMs) &&
        e.afterMs >= 0
      );
    default:
      return false;
  }
}

/** A bundle's evidence as two lists in record order: `entries[i]` is at `paths[i]`. */
export interface EvidenceList {
  readonly paths: readonly string[];
  readonly entries: readonly EvidenceEntry[];
}

/**
 * The evidence lists of bundles that passed validateBundle's fast path, kept so the reader does not
 * list them again: a record of thousands of keys is a dictionary, and listing its keys sorts them, and
 * looking each one up again costs as much (about 0.25 ms a snapshot together). Weak, so a bundle's lists
 * go with the bundle; a validated bundle's evidence is not changed afterwards.
 */
const validatedLists = new WeakMap<object, EvidenceList>();

/** A bundle's evidence in record order (the lists validation made, when it made them). */
export function evidenceList(evidence: Readonly<Record<string, EvidenceEntry>>): EvidenceList {
  const known = validatedLists.get(evidence);
  if (known) return known;
  const paths = Object.keys(evidence);
  return { paths, entries: paths.map((p) => evidence[p] as EvidenceEntry) };
}

/**
 * Validates a bundle with the same verdict as `SnapshotBundle.safeParse`, several times faster on
 * real bundles (hundreds of evidence entries): zod checks the envelope, a hand-written check the
 * entries, and only a failing bundle pays for zod's full walk (to explain the failure).
 */
export function validateBundle(
  json: unknown,
): { success: true; data: SnapshotBundle } | { success: false; error: z.ZodError } {
  const shell = BundleShell.safeParse(json);
  if (shell.success && isJsonObject(shell.data.evidence)) {
    // Stricter than or equal to zod's record check (an own `__proto__` key, which zod skips, is checked
    // here too): anything this refuses goes to zod's full walk below, which has the last word.
    const evidence = shell.data.evidence;
    const paths = Object.keys(evidence);
    const entries = new Array<EvidenceEntry>(paths.length);
    let ok = true;
    for (let i = 0; i < paths.length; i++) {
      const e = evidence[paths[i] as string];
      if (!isEvidenceEntry(e)) {
        ok = false;
        break;
      }
      entries[i] = e as EvidenceEntry;
    }
    if (ok) {
      validatedLists.set(evidence, { paths, entries });
      return { success: true, data: shell.data as SnapshotBundle };
    }
  }
  const full = SnapshotBundle.safeParse(json);
  return full.success ? { success: true, data: full.data } : { success: false, error: full.error };
}
