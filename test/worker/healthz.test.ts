import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type LocalService, startLocalService } from "../../infra/node/local-service.js";

describe("worker on miniflare", () => {
  let svc: LocalService;
  beforeAll(async () => {
    svc = await startLocalService({ queueBatchTimeout: 0 });
  });
  afterAll(async () => {
    await svc?.dispose();
  });

  it("answers GET /healthz without a token", async () => {
    const res = await fetch(new URL("/healthz", svc.url));
    const body = await res.json();
    expect(res.status, JSON.stringify(body)).toBe(200);
    expect(body).toEqual({ status: "ok" });
  });
});
