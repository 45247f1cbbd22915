/** The pattern endpoints' answer cache: repeated questions are served from the isolate, writes drop it. */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gzipBundle, makeBundle } from "../support/bundles.js";
import { startTestService, type TestService } from "../support/service.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.dispose();
});

const T = Date.UTC(2026, 10, 20);
const PATH = `/v1/patterns?since=${new Date(T - 86_400_000).toISOString()}&until=${new Date(T).toISOString()}`;

async function patterns(headers: Record<string, string> = {}) {
  const res = await svc.call(PATH, { headers });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { patterns: { detector: string; hosts: number }[] };
  return { cache: res.headers.get("x-faultline-cache"), age: res.headers.get("age"), body };
}

async function insertEpisode(id: string) {
  const d1 = await svc.mf.getD1Database("DB");
  await d1
    .prepare(
      `INSERT INTO episodes (id, detector, host_id, subject, status, confidence, first_seen_ms, last_seen_ms, first_snapshot_ms, summary, evidence, updated_at_ms)
       VALUES (?, 'orphan-globalmount', ?, ?, 'open', 'high', ?, ?, ?, 's', '[]', ?)`,
    )
    .bind(id, `i-${id}`, id, T - 3_600_000, T - 3_600_000, T, T)
    .run();
}

describe("answer cache", () => {
  it("serves a repeated question from the isolate, bypasses on no-cache, and drops answers after writes", async () => {
    await insertEpisode("c1");
    const first = await patterns();
    expect(first.cache).toBe("miss");
    expect(first.body.patterns).toEqual([
      expect.objectContaining({ detector: "orphan-globalmount", hosts: 1 }),
    ]);
    const again = await patterns();
    expect(again.cache).toBe("hit");
    expect(again.age).toBe("0");
    expect(again.body).toEqual(first.body);

    // A write made behind the Worker's back is only seen by a request that skips the cache.
    await insertEpisode("c2");
    expect((await patterns()).body).toEqual(first.body);
    const fresh = await patterns({ "cache-control": "no-cache" });
    expect(fresh.cache).toBe("bypass");
    expect(fresh.body.patterns[0]?.hosts).toBe(2);

    // A snapshot processed by this isolate's consumer drops every cached answer.
    const bundle = makeBundle({ hostId: "i-cache-writer" });
    const { body, sha256 } = gzipBundle(bundle);
    const posted = await svc.call("/v1/snapshots", {
      method: "POST",
      body,
      headers: {
        "content-type": "application/json",
        "content-encoding": "gzip",
        "x-faultline-sha256": sha256,
      },
    });
    expect(posted.status).toBe(201);
    await svc.eventually(async () => {
      const h = await svc.call("/v1/hosts/i-cache-writer");
      return h.status === 200 ? true : undefined;
    });
    await svc.eventually(async () => ((await patterns()).cache === "miss" ? true : undefined));
    const after = await patterns();
    expect(after.cache).toBe("hit");
    expect(after.body.patterns[0]?.hosts).toBe(2);
  });

  it("answers concurrent askers of one question with one computation", async () => {
    const path = `/v1/patterns/orphan-globalmount/hosts?since=${new Date(T - 86_400_000).toISOString()}&until=${new Date(T).toISOString()}`;
    const answers = await Promise.all(Array.from({ length: 6 }, () => svc.call(path)));
    const kinds = answers.map((r) => r.headers.get("x-faultline-cache")).sort();
    expect(kinds.filter((k) => k === "miss")).toHaveLength(1);
    expect(kinds.filter((k) => k === "hit")).toHaveLength(5);
    const bodies = await Promise.all(answers.map((r) => r.text()));
    expect(new Set(bodies).size).toBe(1);
  });

  it("never caches an error and checks the token before answering from the cache", async () => {
    expect((await svc.call(PATH, { token: null })).status).toBe(401);
    expect((await svc.call(PATH, { token: "fl_unknown_token" })).status).toBe(401);
    const bad = await svc.call("/v1/patterns?since=yesterday");
    expect(bad.status).toBe(400);
    expect((await svc.call("/v1/patterns?since=yesterday")).headers.get("x-faultline-cache")).not.toBe("hit");
  });
});
