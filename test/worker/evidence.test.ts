import { readFileSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../support/service.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.dispose();
});

const realLsSysBlock = readFileSync(
  new URL("../fixtures/real/commands/ls-l-sys-block.txt", import.meta.url),
  "utf8",
);

async function status(key: string) {
  const d1 = await svc.mf.getD1Database("DB");
  return (
    (await d1
      .prepare("SELECT status, source, command, issue_count, reason FROM snapshots WHERE key = ?")
      .bind(key)
      .first<Record<string, unknown>>()) ?? undefined
  );
}

describe("POST /v1/hosts/{hostId}/evidence", () => {
  it("stores hand-captured output (text/plain with ?command=) and parses it with the snapshot parsers", async () => {
    const res = await svc.call(
      `/v1/hosts/i-hand/evidence?command=${encodeURIComponent("ls -l /sys/block")}&capturedAt=2026-03-03T10:20:00Z`,
      {
        method: "POST",
        body: realLsSysBlock,
        headers: { "content-type": "text/plain" },
      },
    );
    const body = (await res.json()) as { key: string; kind: string; status: string };
    expect(res.status, JSON.stringify(body)).toBe(201);
    expect(body.kind).toBe("ls-sys-block");
    expect(body.key).toMatch(/^evidence\/i-hand\/2026-03-03\/\d+-[0-9a-f]{64}\.json\.gz$/);
    const row = await svc.eventually(async () => {
      const r = await status(body.key);
      return r?.status === "parsed" ? r : undefined;
    });
    expect(row).toMatchObject({ source: "evidence", command: "ls -l /sys/block", issue_count: 0 });
    expect(String(row.reason)).toMatch(/^ls-sys-block: \d+ records read/);
  });

  it("accepts JSON and treats the same capture twice as one piece of evidence", async () => {
    const payload = JSON.stringify({
      command: "LC_ALL=C fuser -mv /var/lib/kubelet/plugins/kubernetes.io/csi/pv/pv-1/globalmount 2>&1",
      output:
        "/var/lib/kubelet/plugins/kubernetes.io/csi/pv/pv-1/globalmount:\n                     root     kernel mount /\n",
      capturedAt: "2026-03-03T18:20:00+08:00",
    });
    const first = await svc.call("/v1/hosts/i-hand/evidence", {
      method: "POST",
      body: payload,
      headers: { "content-type": "application/json" },
    });
    expect(first.status).toBe(201);
    const again = await svc.call("/v1/hosts/i-hand/evidence", {
      method: "POST",
      body: payload,
      headers: { "content-type": "application/json" },
    });
    expect(again.status).toBe(200);
    expect(((await again.json()) as { status: string }).status).toBe("duplicate");
  });

  it("refuses a command it cannot read, listing the ones it can", async () => {
    const res = await svc.call("/v1/hosts/i-hand/evidence", {
      method: "POST",
      body: JSON.stringify({ command: "cat /etc/passwd", output: "root:x:0:0" }),
      headers: { "content-type": "application/json" },
    });
    const body = (await res.json()) as { error: { code: string; message: string } };
    expect(res.status).toBe(400);
    expect(body.error.message).toMatch(/supported: .*ls -l \/sys\/block/);
  });

  it("lets a host-bound token attach evidence only to its own host", async () => {
    const t = await svc.call("/v1/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "sre", scopes: ["ingest"], hostId: "i-mine" }),
    });
    const { token } = (await t.json()) as { token: string };
    const ok = await svc.call("/v1/hosts/i-mine/evidence?command=dmesg%20-r", {
      method: "POST",
      token,
      body: "<6>[    1.000000] hello\n",
      headers: { "content-type": "text/plain" },
    });
    expect(ok.status).toBe(201);
    const denied = await svc.call("/v1/hosts/i-other/evidence?command=dmesg%20-r", {
      method: "POST",
      token,
      body: "x",
      headers: { "content-type": "text/plain" },
    });
    expect(denied.status).toBe(403);
  });
});
