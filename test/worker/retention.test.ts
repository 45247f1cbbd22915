import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../support/service.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.dispose();
});

const HOUR = 3600_000;
const NOW = Date.UTC(2026, 10, 26, 12);

describe("hourly retention job", () => {
  it("drops what aged out of D1 and keeps the rest (raw objects are untouched)", async () => {
    const d1 = await svc.mf.getD1Database("DB");
    const event = (id: string, at: number) =>
      d1
        .prepare(
          "INSERT INTO control_plane_events (id, instance_id, type, outcome, disk_id, at_ms, received_at_ms, via, raw) VALUES (?, 'i-r', 'attach', 'succeeded', 'd-1', ?, ?, 'http', '{}')",
        )
        .bind(id, at, at);
    const snapshot = (key: string, status: string, at: number) =>
      d1
        .prepare(
          "INSERT INTO snapshots (key, host_id, sha256, captured_at_ms, received_at_ms, bytes, status) VALUES (?, 'i-r', 'x', ?, ?, 1, ?)",
        )
        .bind(key, at, at, status);
    const episode = (id: string, status: string, last: number) =>
      d1
        .prepare(
          "INSERT INTO episodes (id, detector, host_id, subject, status, confidence, first_seen_ms, last_seen_ms, first_snapshot_ms, summary, evidence, updated_at_ms) VALUES (?, 'orphan-globalmount', 'i-r', ?, ?, 'high', ?, ?, ?, 's', '[]', ?)",
        )
        .bind(id, id, status, last, last, last, last);
    await d1.batch([
      event("old-event", NOW - 73 * HOUR),
      event("new-event", NOW - 71 * HOUR),
      snapshot("old-parsed", "parsed", NOW - 4 * 24 * HOUR),
      snapshot("new-parsed", "parsed", NOW - 2 * 24 * HOUR),
      snapshot("recent-rejected", "rejected", NOW - 10 * 24 * HOUR),
      snapshot("old-rejected", "rejected", NOW - 31 * 24 * HOUR),
      episode("ep_old_resolved", "resolved", NOW - 91 * 24 * HOUR),
      episode("ep_old_open", "open", NOW - 91 * 24 * HOUR),
    ]);
    const worker = await svc.mf.getWorker();
    await worker.scheduled({ cron: "0 * * * *", scheduledTime: new Date(NOW) });
    const ids = async (sql: string) =>
      (await d1.prepare(sql).all<{ id: string }>()).results.map((r) => r.id).sort();
    expect(await ids("SELECT id FROM control_plane_events WHERE instance_id = 'i-r'")).toEqual(["new-event"]);
    expect(await ids("SELECT key AS id FROM snapshots WHERE host_id = 'i-r'")).toEqual([
      "new-parsed",
      "recent-rejected",
    ]);
    expect(await ids("SELECT id FROM episodes WHERE host_id = 'i-r'")).toEqual(["ep_old_open"]);
  });
});
