import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifySignature } from "../../shared/alerts/webhook.js";
import { startTestService, type TestService } from "../support/service.js";

const SECRET = "report-secret-0123456789";
const DAY = 86_400_000;
const NOW = Date.UTC(2026, 10, 26, 6);
let svc: TestService;
let receiver: Server;
const got: { body: string; signature: string }[] = [];

beforeAll(async () => {
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      got.push({ body, signature: String(req.headers["x-faultline-signature"]) });
      res.end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const port = (receiver.address() as AddressInfo).port;
  svc = await startTestService({
    FAULTLINE_WEBHOOKS: JSON.stringify([{ url: `http://127.0.0.1:${port}/chat`, secret: SECRET }]),
  });
  const d1 = await svc.mf.getD1Database("DB");
  const ep = (id: string, detector: string, host: string, first: number, last: number) =>
    d1
      .prepare(
        "INSERT INTO episodes (id, detector, host_id, subject, status, confidence, first_seen_ms, last_seen_ms, first_snapshot_ms, summary, evidence, updated_at_ms) VALUES (?, ?, ?, ?, 'open', 'high', ?, ?, ?, 's', '[]', ?)",
      )
      .bind(id, detector, host, id, first, last, first, last);
  await d1.batch([
    ep("ep_r1", "reattach-bdf-race", "i-a", NOW - 3 * DAY, NOW - 3 * DAY),
    ep("ep_r2", "reattach-bdf-race", "i-b", NOW - DAY, NOW - DAY + 3600_000),
    ep("ep_g1", "globalmount-held-foreign-ns", "i-c", NOW - 2 * DAY, NOW),
    ep("ep_old", "orphan-globalmount", "i-d", NOW - 30 * DAY, NOW - 29 * DAY),
  ]);
});
afterAll(async () => {
  await svc?.dispose();
  receiver?.close();
});

describe("daily fleet report", () => {
  it("writes JSON, Markdown and HTML with an SVG chart to R2 and posts a signed summary to chat", async () => {
    const worker = await svc.mf.getWorker();
    await worker.scheduled({ cron: "0 6 * * *", scheduledTime: new Date(NOW) });
    const bucket = await svc.mf.getR2Bucket("SNAPSHOTS");
    const json = JSON.parse(
      await (
        (await bucket.get("reports/2026-11-26/fleet.json")) as NonNullable<
          Awaited<ReturnType<typeof bucket.get>>
        >
      ).text(),
    ) as {
      patterns: {
        detector: string;
        hosts: number;
        occurrences: number;
        topHosts: { hostId: string }[];
        timeline: unknown[];
      }[];
    };
    expect(json.patterns.map((p) => [p.detector, p.hosts, p.occurrences])).toEqual([
      ["reattach-bdf-race", 2, 2],
      ["globalmount-held-foreign-ns", 1, 1],
    ]);
    expect(json.patterns[0]?.topHosts.map((h) => h.hostId)).toEqual(["i-b", "i-a"]);
    expect(json.patterns[0]?.timeline).toHaveLength(8);
    const html = await (
      (await bucket.get("reports/2026-11-26/fleet.html")) as NonNullable<
        Awaited<ReturnType<typeof bucket.get>>
      >
    ).text();
    expect(html).toContain("<svg");
    expect(html).toContain("reattach-bdf-race");
    const md = await (
      (await bucket.get("reports/2026-11-26/fleet.md")) as NonNullable<Awaited<ReturnType<typeof bucket.get>>>
    ).text();
    expect(md).toContain("| reattach-bdf-race | 2 | 2 |");
    expect(got).toHaveLength(1);
    const [post] = got;
    expect(
      await verifySignature({
        secret: SECRET,
        body: post?.body ?? "",
        header: post?.signature ?? "",
        nowSec: Math.floor(Date.now() / 1000),
      }),
    ).toBe(true);
    expect(JSON.parse(post?.body ?? "{}").text).toContain("faultline fleet report");
  });
});
