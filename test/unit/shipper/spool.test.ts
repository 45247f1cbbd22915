import {
  existsSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  utimesSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { sha256Hex } from "../../../shipper/bundle.js";
import { MAX_REJECTED, Spool } from "../../../shipper/spool.js";
import { loadState, recordStuck, STUCK_RETRY_MS, saveState, stuckToSkip } from "../../../shipper/state.js";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), "faultline-spool-"));
  dirs.push(d);
  return d;
}

function bundle(i: number, size = 100): { body: Buffer; capturedAtMs: number; sha256: string } {
  const body = Buffer.alloc(size, i);
  return { body, capturedAtMs: 1_772_532_842_000 + i * 600_000, sha256: sha256Hex(body) };
}

function spoolAt(dir: string, bounds = { maxFiles: 100, maxBytes: 1 << 30 }) {
  const logs: string[] = [];
  return { spool: new Spool(join(dir, "spool"), bounds, (l) => logs.push(l)), logs };
}

describe("Spool", () => {
  it("lists bundles oldest first whatever order they were added in", async () => {
    const { spool } = spoolAt(tempDir());
    for (const i of [3, 1, 2]) await spool.add(bundle(i).body, bundle(i));
    expect((await spool.list()).map((e) => e.capturedAtMs)).toEqual(
      [1, 2, 3].map((i) => bundle(i).capturedAtMs),
    );
  });

  it.each([
    ["file count", { maxFiles: 3, maxBytes: 1 << 30 }, 5, [3, 4, 5]],
    ["bytes", { maxFiles: 100, maxBytes: 250 }, 4, [3, 4]],
  ] as const)(
    "drops the oldest and logs each drop when over its %s bound",
    async (_what, bounds, count, kept) => {
      const { spool, logs } = spoolAt(tempDir(), bounds);
      const dropped = [];
      for (let i = 1; i <= count; i++) dropped.push(...(await spool.add(bundle(i).body, bundle(i))));
      expect((await spool.list()).map((e) => e.capturedAtMs)).toEqual(
        kept.map((i) => bundle(i).capturedAtMs),
      );
      expect(dropped.length, "one log line per dropped bundle").toBe(count - kept.length);
      expect(logs).toHaveLength(count - kept.length);
      expect(logs[0]).toMatch(
        /^spool full .*dropped the oldest, \d+-[0-9a-f]{64}\.json\.gz \(100 bytes, captured 2026-/,
      );
    },
  );

  it("keeps the newest bundle even when it alone is over the byte bound", async () => {
    const { spool } = spoolAt(tempDir(), { maxFiles: 10, maxBytes: 50 });
    await spool.add(bundle(1).body, bundle(1));
    await spool.add(bundle(2, 80).body, bundle(2, 80));
    expect((await spool.list()).map((e) => e.bytes)).toEqual([80]);
  });

  it("stores the same bundle once and leaves no temp files behind", async () => {
    const dir = tempDir();
    const { spool } = spoolAt(dir);
    await spool.add(bundle(1).body, bundle(1));
    await spool.add(bundle(1).body, bundle(1));
    expect(readdirSync(join(dir, "spool"))).toEqual([
      `${bundle(1).capturedAtMs}-${bundle(1).sha256}.json.gz`,
    ]);
  });

  it("removes stale temp files from a crash and ignores foreign files", async () => {
    const dir = tempDir();
    const { spool } = spoolAt(dir);
    mkdirSync(join(dir, "spool"));
    writeFileSync(join(dir, "spool", ".tmp-123-abc"), "half a bundle");
    utimesSync(join(dir, "spool", ".tmp-123-abc"), new Date(0), new Date(0));
    writeFileSync(join(dir, "spool", "README"), "not a bundle");
    expect(await spool.list()).toEqual([]);
    expect(existsSync(join(dir, "spool", ".tmp-123-abc"))).toBe(false);
  });

  it("moves a rejected bundle to rejected/ with its reason, and bounds rejected/", async () => {
    const dir = tempDir();
    const { spool } = spoolAt(dir);
    await spool.add(bundle(1).body, bundle(1));
    const [entry] = await spool.list();
    if (!entry) throw new Error("spooled entry missing");
    const where = await spool.reject(entry, "HTTP 400 invalid_bundle: schemaVersion");
    expect(where).toBe(join(dir, "spool", "rejected", entry.name));
    expect(readFileSync(where)).toEqual(bundle(1).body);
    expect(readFileSync(`${where}.reason.txt`, "utf8")).toMatch(
      /^\d{4}-.*Z HTTP 400 invalid_bundle: schemaVersion\n$/,
    );
    expect(await spool.list(), "no longer waiting for delivery").toEqual([]);
    for (let i = 2; i <= MAX_REJECTED + 3; i++) await spool.reject(bundle(i), "HTTP 413");
    const kept = readdirSync(join(dir, "spool", "rejected")).filter((n) => n.endsWith(".json.gz"));
    expect(kept).toHaveLength(MAX_REJECTED);
    expect(readdirSync(join(dir, "spool", "rejected")).filter((n) => n.endsWith(".reason.txt"))).toHaveLength(
      MAX_REJECTED,
    );
  });
});

describe("shipper state", () => {
  it("round-trips, and starts empty from a missing or damaged file", async () => {
    const dir = tempDir();
    const logs: string[] = [];
    expect(await loadState(dir, (l) => logs.push(l))).toMatchObject({
      spoolDropped: 0,
      rejected: 0,
      stuck: {},
    });
    const state = await loadState(dir, () => {});
    state.lastDigest = "d".repeat(64);
    state.spoolDropped = 2;
    await saveState(dir, state);
    expect(await loadState(dir, () => {})).toEqual(state);
    writeFileSync(join(dir, "state.json"), "{ half");
    expect(await loadState(dir, (l) => logs.push(l))).toMatchObject({ spoolDropped: 0 });
    expect(logs.join("\n")).toMatch(/is damaged/);
  });

  it("leaves a hung subtree alone for an hour, then tries it again", async () => {
    const state = await loadState(tempDir(), () => {});
    recordStuck(
      state,
      [["pci:0000:3b:00.5", "not read: a read of sys/.../serial timed out after 2000 ms"]],
      0,
    );
    expect(stuckToSkip(state, STUCK_RETRY_MS - 1).map(([k]) => k)).toEqual(["pci:0000:3b:00.5"]);
    expect(stuckToSkip(state, STUCK_RETRY_MS)).toEqual([]);
    recordStuck(state, [["pci:0000:3b:00.5", "again"]], 1000);
    expect(state.stuck["pci:0000:3b:00.5"]?.sinceMs, "a repeat keeps its first time").toBe(0);
    recordStuck(state, [], 2000);
    expect(state.stuck, "a subtree that read fine is forgotten").toEqual({});
  });
});
