import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gzipBundle, keyOf, makeBundle } from "../support/bundles.js";
import { startTestService, type TestService } from "../support/service.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.dispose();
});

interface BatchAnswer {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: { index: number; id: string | null; status: string; reason?: string }[];
}

async function postEvents(body: string, contentType = "application/json") {
  const res = await svc.call("/v1/control-plane/events", {
    method: "POST",
    body,
    headers: { "content-type": contentType },
  });
  return { status: res.status, body: (await res.json()) as BatchAnswer };
}

const ev = (id: string, over: Record<string, unknown> = {}) => ({
  id,
  type: "attach",
  diskId: "d-2ze5cz8kqm1h0r7v4tw1",
  instanceId: "i-events",
  bdf: "0000:3b:00.5",
  mode: "vfio",
  at: "2026-03-03T10:14:02Z",
  ...over,
});

describe("POST /v1/control-plane/events", () => {
  it("stores a JSON array, normalising any offset to UTC and keeping unknown fields", async () => {
    const res = await postEvents(
      JSON.stringify([
        ev("ev-1"),
        ev("ev-2", { type: "detach", at: "2026-03-03T18:13:00+08:00", region: "cn-hangzhou" }),
      ]),
    );
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, duplicates: 0, rejected: 0 });
    const d1 = await svc.mf.getD1Database("DB");
    const row = await d1
      .prepare("SELECT at_ms, raw FROM control_plane_events WHERE id = 'ev-2'")
      .first<{ at_ms: number; raw: string }>();
    expect(row?.at_ms).toBe(Date.UTC(2026, 2, 3, 10, 13));
    expect(JSON.parse(row?.raw ?? "{}")).toMatchObject({ region: "cn-hangzhou" });
  });

  it("reads NDJSON, answers per line, and one bad line never blocks the others", async () => {
    const body = [
      JSON.stringify(ev("ev-10")),
      "{not json",
      JSON.stringify(ev("ev-11", { type: "explode" })),
      JSON.stringify(ev("ev-10")),
      JSON.stringify(ev("ev-12", { at: "2026-03-03T05:14:02-05:00" })),
    ].join("\n");
    const res = await postEvents(body, "application/x-ndjson");
    expect(res.status).toBe(200);
    expect(res.body.results.map((r) => [r.index, r.id, r.status])).toEqual([
      [0, "ev-10", "accepted"],
      [1, null, "rejected"],
      [2, "ev-11", "rejected"],
      [3, "ev-10", "duplicate"],
      [4, "ev-12", "accepted"],
    ]);
    expect(res.body.results[2]?.reason).toMatch(/type/);
    const errors = (await (await svc.call("/v1/ingest/errors?kind=event")).json()) as {
      errors: { ref: string; code: string }[];
    };
    expect(errors.errors.map((e) => e.ref)).toEqual(expect.arrayContaining(["ev-11", "item 1"]));
  });

  it("changes nothing when the same events are delivered again", async () => {
    const body = JSON.stringify([ev("ev-20"), ev("ev-21")]);
    expect((await postEvents(body)).body.accepted).toBe(2);
    const again = await postEvents(body);
    expect(again.body).toMatchObject({ accepted: 0, duplicates: 2 });
    const d1 = await svc.mf.getD1Database("DB");
    const n = await d1
      .prepare("SELECT count(*) AS n FROM control_plane_events WHERE id IN ('ev-20','ev-21')")
      .first<{ n: number }>();
    expect(n?.n).toBe(2);
  });

  it("refuses an empty body and a body that is not JSON", async () => {
    expect((await postEvents("")).status).toBe(400);
    const bad = await postEvents("[oops");
    expect(bad.body.results[0]?.status).toBe("rejected");
  });

  it("re-decides the host's latest snapshot when an event arrives late (older than that snapshot)", async () => {
    const bundle = makeBundle({ hostId: "i-late", capturedAtMs: Date.UTC(2026, 2, 3, 10, 30) });
    const { body, sha256 } = gzipBundle(bundle);
    const key = keyOf(bundle, sha256);
    await svc.call("/v1/snapshots", {
      method: "POST",
      body: new Uint8Array(body),
      headers: { "content-encoding": "gzip" },
    });
    const d1 = await svc.mf.getD1Database("DB");
    const attempts = async () =>
      (await d1
        .prepare("SELECT status, attempts FROM snapshots WHERE key = ?")
        .bind(key)
        .first<{ status: string; attempts: number }>()) ?? undefined;
    await svc.eventually(async () => ((await attempts())?.status === "parsed" ? true : undefined));

    // An event after the snapshot is for the next snapshot to judge: no re-decision.
    await postEvents(
      JSON.stringify([ev("ev-late-after", { instanceId: "i-late", at: "2026-03-03T10:40:00Z" })]),
    );
    // An event before it arrived late: the snapshot is judged again.
    await postEvents(
      JSON.stringify([ev("ev-late-before", { instanceId: "i-late", at: "2026-03-03T10:20:00Z" })]),
    );
    const after = await svc.eventually(async () => {
      const a = await attempts();
      return a && a.attempts >= 2 ? a : undefined;
    });
    expect(after).toEqual({ status: "parsed", attempts: 2 });
  });
});
