import { describe, expect, it } from "vitest";
import {
  type AlertMessage,
  parseWebhooks,
  renderAlert,
  signBody,
  verifySignature,
  wants,
} from "../../../shared/alerts/webhook.js";

const alert: AlertMessage = {
  kind: "episode.opened",
  episodeId: "ep_1x2y",
  detector: "reattach-bdf-race",
  hostId: "i-8vb0ch3k2v",
  subject: "d-2ze5cz8kqm1h0r7v4tw1|ev-42",
  confidence: "high",
  summary: "Disk d-2ze5 attached at 0000:3b:00.5 has no vfio group: nvme probed the BDF first.",
  atMs: Date.UTC(2026, 2, 3, 10, 20),
};

describe("webhook alerts", () => {
  it("renders Slack-compatible text and the plain JSON event", () => {
    expect(
      JSON.parse(renderAlert({ alert, format: "slack", apiBase: "https://faultline.example" })),
    ).toMatchInlineSnapshot(`
      {
        "text": "*reattach-bdf-race* (new, high confidence) on \`i-8vb0ch3k2v\`: <https://faultline.example/v1/incidents/ep_1x2y|ep_1x2y>
      Disk d-2ze5 attached at 0000:3b:00.5 has no vfio group: nvme probed the BDF first.",
      }
    `);
    expect(JSON.parse(renderAlert({ alert, format: "json" }))).toMatchObject({
      ...alert,
      at: "2026-03-03T10:20:00.000Z",
    });
  });

  it("signs with HMAC-SHA256 over timestamp and body, and verification catches tampering and replays", async () => {
    const body = renderAlert({ alert, format: "json" });
    const header = await signBody({ secret: "s3cret-s3cret-s3cret", body, timestampSec: 1_772_532_000 });
    expect(header).toMatch(/^t=1772532000,v1=[0-9a-f]{64}$/);
    expect(
      await verifySignature({ secret: "s3cret-s3cret-s3cret", body, header, nowSec: 1_772_532_010 }),
    ).toBe(true);
    expect(
      await verifySignature({
        secret: "s3cret-s3cret-s3cret",
        body: `${body} `,
        header,
        nowSec: 1_772_532_010,
      }),
    ).toBe(false);
    expect(
      await verifySignature({ secret: "another-secret-xxxx", body, header, nowSec: 1_772_532_010 }),
    ).toBe(false);
    expect(
      await verifySignature({ secret: "s3cret-s3cret-s3cret", body, header, nowSec: 1_772_533_000 }),
    ).toBe(false);
  });

  it("filters by detector and sends resolutions only when asked", () => {
    const [hook] = (
      parseWebhooks(
        JSON.stringify([
          { url: "https://chat.example/h", secret: "0123456789abcdef", detectors: ["reattach-bdf-race"] },
        ]),
      ) as { ok: true; hooks: Parameters<typeof wants>[0][] }
    ).hooks;
    if (!hook) throw new Error("no hook");
    expect(wants(hook, alert)).toBe(true);
    expect(wants(hook, { ...alert, detector: "orphan-globalmount" })).toBe(false);
    expect(wants(hook, { ...alert, kind: "episode.resolved" })).toBe(false);
  });

  it.each([
    ["not json", /not JSON/],
    ['[{"url":"nope","secret":"0123456789abcdef"}]', /url/],
    ['[{"url":"https://x.example","secret":"short"}]', /secret/],
  ])("explains a bad FAULTLINE_WEBHOOKS value %j", (text, message) => {
    const r = parseWebhooks(text);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.message).toMatch(message);
  });
});
