/**
 * Compiled statements (shared/db/statement.ts): the SQL and values they bind are what drizzle builds
 * for the same values call by call, and they run on a real D1 database (miniflare's, with the
 * project's migrations), alone, awaited, and batched with drizzle's own queries.
 */
import type { D1Database } from "@cloudflare/workers-types";
import { and, eq, inArray, sql } from "drizzle-orm";
import { drizzle } from "drizzle-orm/d1";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { applyMigrations } from "../../../infra/node/migrations.js";
import { episodeStatements } from "../../../shared/db/episodes.js";
import { upsertHostFromSnapshot } from "../../../shared/db/hosts.js";
import { markSnapshot, recordIngestError, recordReceived } from "../../../shared/db/ingest.js";
import { episodes, ingestErrors, schema, snapshots } from "../../../shared/db/schema.js";
import { compiled, runBatch, type Statement, value } from "../../../shared/db/statement.js";
import type { Db } from "../../../shared/db/types.js";
import type { EpisodeChange } from "../../../shared/detect/episodes.js";
import { startBareD1 } from "../../support/bare-d1.js";

let mf: Miniflare;
let d1: D1Database;
let db: Db;

beforeAll(async () => {
  ({ mf, d1 } = await startBareD1());
  await applyMigrations(d1, "infra/migrations");
  db = drizzle(d1, { schema });
});
afterAll(async () => {
  await mf?.dispose();
});
beforeEach(async () => {
  await d1.batch([
    d1.prepare("DELETE FROM snapshots"),
    d1.prepare("DELETE FROM ingest_errors"),
    d1.prepare("DELETE FROM hosts"),
    d1.prepare("DELETE FROM episodes"),
  ]);
});

const built = (s: Statement) => ({ sql: s.sql, params: [...s.params] });

describe("compiled statements bind what drizzle builds per call", () => {
  it("markSnapshot, guarded and forced", () => {
    const args = { key: "k1", status: "parsed" as const, nowMs: 42, issueCount: 3 };
    const set = {
      status: "parsed" as const,
      reasonCode: null,
      reason: null,
      issueCount: 3,
      processedAtMs: 42,
      attempts: sql`${snapshots.attempts} + 1`,
    };
    expect(built(markSnapshot(db, args))).toEqual(
      db
        .update(snapshots)
        .set(set)
        .where(and(eq(snapshots.key, "k1"), inArray(snapshots.status, ["received", "failed"])))
        .toSQL(),
    );
    expect(built(markSnapshot(db, { ...args, force: true }))).toEqual(
      db.update(snapshots).set(set).where(eq(snapshots.key, "k1")).toSQL(),
    );
  });

  it("recordIngestError, message cut at 2,000 characters", () => {
    const s = recordIngestError(db, {
      kind: "snapshot",
      ref: "r",
      code: "c",
      message: "m".repeat(2500),
      atMs: 7,
    });
    expect(built(s)).toEqual(
      db
        .insert(ingestErrors)
        .values({ kind: "snapshot", ref: "r", hostId: null, code: "c", message: "m".repeat(2000), atMs: 7 })
        .toSQL(),
    );
  });

  it("every kind of episode change", () => {
    const verdict = {
      detector: "repeated-attach-race",
      subject: "0000:3b:00.5",
      confidence: "high",
      summary: "s",
      evidence: [],
      blindSpots: [],
    } as unknown as Extract<EpisodeChange, { kind: "open" }>["verdict"];
    const changes: EpisodeChange[] = [
      { kind: "open", id: "e1", verdict, firstSeenMs: 1, lastSeenMs: 2 },
      { kind: "regressed", id: "e1", verdict, lastSeenMs: 5 },
      { kind: "resolved", id: "e1", resolvedAtMs: 9 },
      { kind: "withdrawn", id: "e1" },
    ] as EpisodeChange[];
    const [open, regressed, resolved, withdrawn] = episodeStatements(db, {
      hostId: "h",
      changes,
      snapshotMs: 3,
      nowMs: 10,
    }).map(built);
    expect(open).toEqual(
      db
        .insert(episodes)
        .values({
          id: "e1",
          detector: "repeated-attach-race",
          hostId: "h",
          subject: "0000:3b:00.5",
          status: "open",
          confidence: "high",
          firstSeenMs: 1,
          lastSeenMs: 2,
          firstSnapshotMs: 3,
          summary: "s",
          evidence: "[]",
          blindSpots: "[]",
          updatedAtMs: 10,
        })
        .onConflictDoUpdate({
          target: episodes.id,
          set: {
            firstSeenMs: sql`min(${episodes.firstSeenMs}, excluded.first_seen_ms)`,
            lastSeenMs: sql`max(${episodes.lastSeenMs}, excluded.last_seen_ms)`,
            firstSnapshotMs: sql`min(${episodes.firstSnapshotMs}, excluded.first_snapshot_ms)`,
            confidence: sql`excluded.confidence`,
            summary: sql`excluded.summary`,
            evidence: sql`excluded.evidence`,
            blindSpots: sql`excluded.blind_spots`,
            updatedAtMs: sql`excluded.updated_at_ms`,
          },
        })
        .toSQL(),
    );
    expect(regressed).toEqual(
      db
        .update(episodes)
        .set({
          status: "open",
          resolvedAtMs: null,
          regressions: sql`${episodes.regressions} + 1`,
          lastSeenMs: sql`max(${episodes.lastSeenMs}, ${5})`,
          confidence: "high",
          summary: "s",
          evidence: "[]",
          blindSpots: "[]",
          updatedAtMs: 10,
        })
        .where(and(eq(episodes.id, "e1"), eq(episodes.status, "resolved")))
        .toSQL(),
    );
    expect(resolved).toEqual(
      db
        .update(episodes)
        .set({ status: "resolved", resolvedAtMs: 9, updatedAtMs: 10 })
        .where(and(eq(episodes.id, "e1"), eq(episodes.status, "open")))
        .toSQL(),
    );
    expect(withdrawn).toEqual(db.delete(episodes).where(eq(episodes.id, "e1")).toSQL());
  });

  it("refuses drizzle's own placeholders, which would bind through the column's encoder", () => {
    const byKey = compiled<{ key: string }>((d) =>
      d
        .insert(ingestErrors)
        .values({ kind: "queue", ref: sql.placeholder("ref"), code: "c", message: "m", atMs: 1 }),
    );
    expect(() => byKey(db, { key: "k" })).toThrow(/value\(name\)/);
  });

  it("a missing value is a bug and throws", () => {
    const byKey = compiled<{ key: string }>((d) =>
      d.delete(snapshots).where(eq(snapshots.key, value("key"))),
    );
    expect(() => byKey(db, {} as { key: string })).toThrow(/no value for "key"/);
  });
});

describe("compiled statements on D1", () => {
  const received = (key: string) =>
    recordReceived(db, {
      key,
      hostId: "h",
      sha256: "0".repeat(64),
      capturedAtMs: 1,
      receivedAtMs: 2,
      bytes: 3,
      source: "snapshot",
    });

  it("runs when awaited, and the guard keeps a decided snapshot decided", async () => {
    await received("k1");
    const first = await markSnapshot(db, { key: "k1", status: "parsed", nowMs: 5, issueCount: 2 });
    expect(first.meta.changes).toBe(1);
    const again = await markSnapshot(db, { key: "k1", status: "rejected", nowMs: 6, reason: "late" });
    expect(again.meta.changes).toBe(0);
    const row = await d1
      .prepare("SELECT status, issue_count, attempts FROM snapshots WHERE key = 'k1'")
      .first();
    expect(row).toEqual({ status: "parsed", issue_count: 2, attempts: 1 });
  });

  it("batches with drizzle's own queries, all or nothing", async () => {
    await received("k2");
    await runBatch(db, [
      markSnapshot(db, { key: "k2", status: "rejected", nowMs: 5, reasonCode: "x", reason: "why" }),
      db.insert(ingestErrors).values({ kind: "snapshot", ref: "k2", code: "x", message: "why", atMs: 5 }),
    ]);
    expect(await d1.prepare("SELECT status, reason FROM snapshots WHERE key = 'k2'").first()).toEqual({
      status: "rejected",
      reason: "why",
    });
    expect(await d1.prepare("SELECT count(*) AS n FROM ingest_errors").first()).toEqual({ n: 1 });

    // A failing statement (NOT NULL) rolls back the whole batch.
    await expect(
      runBatch(db, [
        recordIngestError(db, { kind: "queue", ref: "r", code: "c", message: "m", atMs: 1 }),
        db
          .insert(ingestErrors)
          .values({ kind: "queue", ref: "r", code: null as never, message: "m", atMs: 1 }),
      ]),
    ).rejects.toThrow();
    expect(await d1.prepare("SELECT count(*) AS n FROM ingest_errors").first()).toEqual({ n: 1 });
  });

  it("the host upsert never rolls a host back to an older view", async () => {
    const host = (capturedAtMs: number, hostname: string) =>
      upsertHostFromSnapshot(db, {
        hostId: "h",
        capturedAtMs,
        snapshotKey: `s${capturedAtMs}`,
        hostname,
        kernelRelease: null,
        bootId: null,
        labels: { zone: "z1" },
        diskDrivers: null,
        viewSummary: {},
      });
    await runBatch(db, [host(100, "new")]);
    await host(50, "old");
    expect(
      await d1
        .prepare("SELECT first_seen_ms, last_seen_ms, hostname, zone, latest_snapshot_key FROM hosts")
        .first(),
    ).toEqual({
      first_seen_ms: 50,
      last_seen_ms: 100,
      hostname: "new",
      zone: "z1",
      latest_snapshot_key: "s100",
    });
  });

  it("an empty batch is no round trip", async () => {
    expect(await runBatch(db, [])).toEqual([]);
  });
});

describe("recordReceived", () => {
  it("says whether the key was new", async () => {
    const row = {
      key: "k9",
      hostId: "h",
      sha256: "0".repeat(64),
      capturedAtMs: 1,
      receivedAtMs: 2,
      bytes: 3,
      source: "snapshot" as const,
    };
    expect(await recordReceived(db, row)).toBe(true);
    expect(await recordReceived(db, { ...row, bytes: 99 })).toBe(false);
    expect(await d1.prepare("SELECT bytes, status, command FROM snapshots WHERE key = 'k9'").first()).toEqual(
      {
        bytes: 3,
        status: "received",
        command: null,
      },
    );
  });
});
