/**
 * Read access to a bundle's raw evidence by path, the way the kernel layout is addressed
 * (`sys/bus/pci/devices/0000:3b:00.5/driver`). Every bundle-level extractor reads through this, so the
 * rules for missing, failed, timed-out and capped reads live in one place.
 */
import type { EvidenceEntry, SnapshotBundle } from "../contracts/snapshot.js";

/** Why a piece of evidence could not be read, for "what the detector could not see". */
export type Unreadable =
  | { readonly reason: "absent" }
  | { readonly reason: "error"; readonly code: string; readonly message: string }
  | { readonly reason: "timeout"; readonly afterMs: number }
  | { readonly reason: "wrong_kind"; readonly kind: EvidenceEntry["kind"] };

const decoder = new TextDecoder("utf-8");

function decodeBase64(data: string): string {
  const bin = atob(data);
  const bytes = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) bytes[i] = bin.charCodeAt(i);
  return decoder.decode(bytes);
}

export class EvidenceReader {
  private readonly decoded = new Map<string, string>();
  constructor(readonly evidence: Readonly<Record<string, EvidenceEntry>>) {}

  static of(bundle: Pick<SnapshotBundle, "evidence">): EvidenceReader {
    return new EvidenceReader(bundle.evidence);
  }

  entry(path: string): EvidenceEntry | undefined {
    return this.evidence[path];
  }

  /** File content as text (base64 evidence decoded, invalid UTF-8 replaced), or undefined. */
  text(path: string): string | undefined {
    const e = this.evidence[path];
    if (e?.kind !== "file") return undefined;
    if (e.encoding !== "base64") return e.data;
    let s = this.decoded.get(path);
    if (s === undefined) {
      s = decodeBase64(e.data);
      this.decoded.set(path, s);
    }
    return s;
  }

  /** Single-value sysfs/procfs attribute: the text with its trailing newline removed. */
  value(path: string): string | undefined {
    const t = this.text(path);
    if (t === undefined) return undefined;
    return t.endsWith("\n") ? t.slice(0, -1) : t;
  }

  /** True when the file was cut by the shipper's size cap. */
  capped(path: string): boolean {
    const e = this.evidence[path] ?? this.evidence[dirKey(path)];
    return (e?.kind === "file" || e?.kind === "dir") && e.capped === true;
  }

  /** Symlink target as readlink returned it, or undefined. */
  link(path: string): string | undefined {
    const e = this.evidence[path];
    return e?.kind === "link" ? e.target : undefined;
  }

  /**
   * Directory listing, or undefined when the directory was not listed. Listings are keyed with a
   * trailing slash (`sys/class/nvme/nvme2/`) because the same path is often also a symlink.
   */
  list(path: string): readonly string[] | undefined {
    const e = this.evidence[dirKey(path)];
    return e?.kind === "dir" ? e.names : undefined;
  }

  /** Why `path` has no usable evidence of the wanted kind; undefined when it has. */
  unreadable(path: string, want: "file" | "link" | "dir"): Unreadable | undefined {
    const e = this.evidence[want === "dir" ? dirKey(path) : path];
    if (!e) return { reason: "absent" };
    if (e.kind === want) return undefined;
    if (e.kind === "error") return { reason: "error", code: e.code, message: e.message };
    if (e.kind === "timeout") return { reason: "timeout", afterMs: e.afterMs };
    return { reason: "wrong_kind", kind: e.kind };
  }

  /** Every evidence path that starts with `prefix`. Linear in the bundle; callers cache what they need. */
  *paths(prefix: string): Iterable<string> {
    for (const p of Object.keys(this.evidence)) if (p.startsWith(prefix)) yield p;
  }
}

/** The last path component of a link target (`../../../../bus/pci/drivers/nvme` -> `nvme`). */
export function basename(target: string): string {
  const t = target.endsWith("/") ? target.slice(0, -1) : target;
  return t.slice(t.lastIndexOf("/") + 1);
}

/** The evidence key of a directory listing: the path with one trailing slash. */
export function dirKey(path: string): string {
  return path.endsWith("/") ? path : `${path}/`;
}
