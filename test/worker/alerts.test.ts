import { createServer, type IncomingHttpHeaders, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifySignature } from "../../shared/alerts/webhook.js";
import { startTestService, type TestService } from "../support/service.js";

const SECRET = "webhook-secret-0123456789";
let svc: TestService;
let receiver: Server;
const received: { path: string; headers: IncomingHttpHeaders; body: string }[] = [];

beforeAll(async () => {
  // A real HTTP receiver on loopback standing where the chat service would be.
  receiver = createServer((req, res) => {
    let body = "";
    req.on("data", (c: Buffer) => {
      body += c.toString();
    });
    req.on("end", () => {
      received.push({ path: req.url ?? "", headers: req.headers, body });
      res.statusCode = req.url === "/gone" ? 410 : 200;
      res.end("ok");
    });
  });
  await new Promise<void>((r) => receiver.listen(0, "127.0.0.1", r));
  const port = (receiver.address() as AddressInfo).port;
  svc = await startTestService({
    FAULTLINE_WEBHOOKS: JSON.stringify([
      { url: `http://127.0.0.1:${port}/slack`, secret: SECRET, format: "slack" },
      {
        url: `http://127.0.0.1:${port}/json`,
        secret: SECRET,
        format: "json",
        detectors: ["globalmount-held-foreign-ns"],
      },
      {
        url: `http://127.0.0.1:${port}/gone`,
        secret: SECRET,
        format: "json",
        detectors: ["orphan-globalmount"],
      },
    ]),
  });
});
afterAll(async () => {
  await svc?.dispose();
  receiver?.close();
});

const alert = (detector: string, episodeId: string) => ({
  kind: "episode.opened",
  episodeId,
  detector,
  hostId: "i-alerts",
  subject: "/var/lib/kubelet/plugins/kubernetes.io/csi/pv/pv-1/globalmount|mnt:[4026532871]",
  confidence: "high",
  summary: "globalmount still mounted in another mount namespace",
  atMs: Date.UTC(2026, 2, 3, 10, 20),
});

describe("alerts queue", () => {
  it("delivers signed alerts to the webhooks that want them", async () => {
    const queue = await svc.mf.getQueueProducer("ALERT_QUEUE");
    await queue.send(alert("globalmount-held-foreign-ns", "ep_g1"));
    const got = await svc.eventually(async () =>
      received.filter((r) => r.body.includes("ep_g1")).length >= 2
        ? received.filter((r) => r.body.includes("ep_g1"))
        : undefined,
    );
    expect(got.map((r) => r.path).sort()).toEqual(["/json", "/slack"]);
    for (const r of got) {
      const header = String(r.headers["x-faultline-signature"]);
      expect(
        await verifySignature({
          secret: SECRET,
          body: r.body,
          header,
          nowSec: Math.floor(Date.now() / 1000),
        }),
        r.path,
      ).toBe(true);
      expect(r.headers["x-faultline-event"]).toBe("episode.opened");
    }
    expect(JSON.parse(got.find((r) => r.path === "/json")?.body ?? "{}")).toMatchObject({
      episodeId: "ep_g1",
      at: "2026-03-03T10:20:00.000Z",
    });
  });

  it("does not retry a webhook that answers with a permanent 4xx", async () => {
    const queue = await svc.mf.getQueueProducer("ALERT_QUEUE");
    await queue.send(alert("orphan-globalmount", "ep_o1"));
    await svc.eventually(async () =>
      received.some((r) => r.path === "/gone" && r.body.includes("ep_o1")) ? true : undefined,
    );
    await new Promise((r) => setTimeout(r, 500));
    expect(received.filter((r) => r.path === "/gone").length).toBe(1);
  });
});
