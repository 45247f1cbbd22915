/**
 * The spool: bundles the endpoint has not accepted yet, one file per bundle named
 * `{capturedAtMs}-{sha256}.json.gz` (so the same bundle is stored once and sorts oldest first).
 * Bounded in files and bytes: when full it drops the oldest and says so. `rejected/` keeps what the
 * endpoint refused for good, with the reason beside it. Every write is atomic (temp file + rename).
 */
import { randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, stat, unlink } from "node:fs/promises";
import { join } from "node:path";

export interface SpoolEntry {
  name: string;
  path: string;
  capturedAtMs: number;
  sha256: string;
  bytes: number;
}

export interface SpoolBounds {
  maxFiles: number;
  maxBytes: number;
}

const NAME_RE = /^(\d+)-([0-9a-f]{64})\.json\.gz$/;
/** Rejected bundles kept; past this the oldest go (a shipper whose every bundle is refused must not fill the disk). */
export const MAX_REJECTED = 50;
/** Temp files older than this are leftovers of a crash mid-write. */
const STALE_TMP_MS = 3_600_000;

/** Writes `data` to `path` atomically: a temp file in the same directory, fsync, rename, fsync the directory. */
export async function writeFileAtomic(path: string, data: Uint8Array | string): Promise<void> {
  const dir = join(path, "..");
  const tmp = join(dir, `.tmp-${process.pid}-${randomBytes(6).toString("hex")}`);
  const fh = await open(tmp, "w", 0o600);
  try {
    await fh.writeFile(data);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, path);
  } catch (e) {
    await unlink(tmp).catch(() => {});
    throw e;
  }
  const dh = await open(dir, "r");
  try {
    await dh.sync();
  } catch {
    // Some filesystems refuse fsync on a directory; the rename is still atomic.
  } finally {
    await dh.close();
  }
}

/** The spool name of a bundle. */
export function spoolName(capturedAtMs: number, sha256: string): string {
  return `${capturedAtMs}-${sha256}.json.gz`;
}

export class Spool {
  readonly rejectedDir: string;

  constructor(
    readonly dir: string,
    readonly bounds: SpoolBounds,
    private readonly log: (line: string) => void,
  ) {
    this.rejectedDir = join(dir, "rejected");
  }

  /** Spooled bundles, oldest first. Leftover temp files from a crash are removed. */
  async list(): Promise<SpoolEntry[]> {
    return this.entriesIn(this.dir);
  }

  private async entriesIn(dir: string): Promise<SpoolEntry[]> {
    let names: string[];
    try {
      names = await readdir(dir);
    } catch (e) {
      if (e instanceof Error && "code" in e && e.code === "ENOENT") return [];
      throw e;
    }
    const entries: SpoolEntry[] = [];
    for (const name of names) {
      const path = join(dir, name);
      if (name.startsWith(".tmp-")) {
        const s = await stat(path).catch(() => undefined);
        if (s && Date.now() - s.mtimeMs > STALE_TMP_MS) await unlink(path).catch(() => {});
        continue;
      }
      const m = NAME_RE.exec(name);
      if (!m?.[1] || !m[2]) continue;
      const s = await stat(path).catch(() => undefined);
      if (!s?.isFile()) continue;
      entries.push({ name, path, capturedAtMs: Number(m[1]), sha256: m[2], bytes: s.size });
    }
    return entries.sort((a, b) => a.capturedAtMs - b.capturedAtMs || (a.name < b.name ? -1 : 1));
  }

  /** Adds a bundle, then drops the oldest others until the bounds hold; returns what was dropped. */
  async add(body: Uint8Array, meta: { capturedAtMs: number; sha256: string }): Promise<SpoolEntry[]> {
    await mkdir(this.dir, { recursive: true, mode: 0o700 });
    const name = spoolName(meta.capturedAtMs, meta.sha256);
    await writeFileAtomic(join(this.dir, name), body);
    return this.enforce(this.dir, this.bounds, name, "spool");
  }

  /** Reads a spooled bundle's bytes. */
  read(entry: SpoolEntry): Promise<Buffer> {
    return readFile(entry.path);
  }

  /** Removes a delivered bundle (already gone is fine: another run delivered it). */
  async remove(entry: SpoolEntry): Promise<void> {
    await unlink(entry.path).catch((e: unknown) => {
      if (!(e instanceof Error && "code" in e && e.code === "ENOENT")) throw e;
    });
  }

  /**
   * Keeps a bundle the endpoint refused for good under `rejected/`, with the reason in `<name>.reason.txt`.
   * `source` is a spooled entry (moved) or the bytes of a bundle that was never spooled.
   */
  async reject(
    source: SpoolEntry | { body: Uint8Array; capturedAtMs: number; sha256: string },
    reason: string,
  ): Promise<string> {
    await mkdir(this.rejectedDir, { recursive: true, mode: 0o700 });
    const name = "path" in source ? source.name : spoolName(source.capturedAtMs, source.sha256);
    const dest = join(this.rejectedDir, name);
    await writeFileAtomic(`${dest}.reason.txt`, `${new Date().toISOString()} ${reason}\n`);
    if ("path" in source) await rename(source.path, dest);
    else await writeFileAtomic(dest, source.body);
    const dropped = await this.enforce(
      this.rejectedDir,
      { maxFiles: MAX_REJECTED, maxBytes: Number.MAX_SAFE_INTEGER },
      name,
      "rejected",
    );
    for (const d of dropped) await unlink(`${d.path}.reason.txt`).catch(() => {});
    return dest;
  }

  private async enforce(dir: string, bounds: SpoolBounds, keep: string, what: string): Promise<SpoolEntry[]> {
    const entries = await this.entriesIn(dir);
    let bytes = entries.reduce((n, e) => n + e.bytes, 0);
    let files = entries.length;
    const dropped: SpoolEntry[] = [];
    for (const e of entries) {
      if (files <= bounds.maxFiles && bytes <= bounds.maxBytes) break;
      // The bundle just written always stays: the newest evidence is the last to go.
      if (e.name === keep) continue;
      await unlink(e.path).catch(() => {});
      files--;
      bytes -= e.bytes;
      dropped.push(e);
      this.log(
        `${what} full (${bounds.maxFiles} files / ${Math.round(bounds.maxBytes / 1048576)} MiB): dropped the oldest, ${e.name} (${e.bytes} bytes, captured ${new Date(e.capturedAtMs).toISOString()})`,
      );
    }
    return dropped;
  }
}
