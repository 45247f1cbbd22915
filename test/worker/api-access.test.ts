import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../support/service.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.dispose();
});

describe("access control", () => {
  it("answers GET /healthz without a token", async () => {
    const res = await svc.call("/healthz", { token: null });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ status: "ok" });
  });

  it("refuses every /v1 route in /openapi.json without a token, with the one error envelope", async () => {
    const doc = (await (await svc.call("/openapi.json", { token: null })).json()) as {
      paths: Record<string, Record<string, unknown>>;
    };
    const routes = Object.entries(doc.paths).flatMap(([path, ops]) =>
      Object.keys(ops).map((m) => [m, path] as const),
    );
    expect(routes.length).toBeGreaterThan(3);
    for (const [method, path] of routes) {
      const url = path.replace(/\{[^}]+\}/g, "x");
      const res = await svc.call(url, { method: method.toUpperCase(), token: null });
      const body = (await res.json()) as { error?: { code: string; requestId: string } };
      expect(res.status, `${method} ${path}`).toBe(401);
      expect(body.error?.code, `${method} ${path}`).toBe("unauthorized");
      expect(body.error?.requestId).toBeTruthy();
    }
  });

  it("rejects an unknown token", async () => {
    const res = await svc.call("/v1/ingest/errors", { token: "fl_nope_nope" });
    expect(res.status).toBe(401);
  });

  it("enforces scopes: a read token cannot ingest, an ingest token cannot read or issue tokens", async () => {
    const issue = async (scopes: string[], hostId: string | null = null) => {
      const res = await svc.call("/v1/tokens", {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ name: `t-${scopes.join("-")}`, scopes, hostId }),
      });
      const body = (await res.json()) as { token: string };
      expect(res.status, JSON.stringify(body)).toBe(201);
      return body.token;
    };
    const read = await issue(["read"]);
    const ingest = await issue(["ingest"]);

    expect((await svc.call("/v1/ingest/errors", { token: read })).status).toBe(200);
    const denied = await svc.call("/v1/control-plane/events", { method: "POST", token: read, body: "[]" });
    expect(denied.status).toBe(403);
    expect(((await denied.json()) as { error: { code: string } }).error.code).toBe("forbidden");

    expect((await svc.call("/v1/ingest/errors", { token: ingest })).status).toBe(403);
    const tokenAttempt = await svc.call("/v1/tokens", {
      method: "POST",
      token: ingest,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "x", scopes: ["admin"] }),
    });
    expect(tokenAttempt.status).toBe(403);
  });

  it("validates token requests", async () => {
    const res = await svc.call("/v1/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "", scopes: ["root"] }),
    });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(400);
    expect(body.error.code).toBe("invalid_request");
    expect(body.error.message).toMatch(/scopes/);
  });

  it("answers unknown paths with the error envelope", async () => {
    const res = await svc.call("/v1/nope");
    expect(res.status).toBe(404);
    expect(((await res.json()) as { error: { code: string } }).error.code).toBe("not_found");
  });
});
