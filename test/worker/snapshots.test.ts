import { mkdtempSync, rmSync } from "node:fs";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { SnapshotBundleInput } from "../../shared/contracts/snapshot.js";
import { collectBundle } from "../../shipper/collect.js";
import { gzipBundle, keyOf, makeBundle } from "../support/bundles.js";
import { globalmountLeakHost, type HostTreeSpec, healthyHost, writeHostTree } from "../support/host-tree.js";
import { ADMIN_TOKEN, startTestService, type TestService } from "../support/service.js";

let svc: TestService;
beforeAll(async () => {
  svc = await startTestService();
});
afterAll(async () => {
  await svc?.dispose();
});

type Json = Record<string, unknown>;

/** A bundle the real shipper collects from a synthetic host tree, captured at `atMs`. */
async function collected(spec: HostTreeSpec, hostId: string, atMs: number): Promise<SnapshotBundleInput> {
  const dir = mkdtempSync(join(tmpdir(), "fl-worker-tree-"));
  try {
    await writeHostTree(dir, spec);
    const { bundle } = await collectBundle({ root: dir, hostId, nsenter: null, version: "test" });
    return { ...bundle, capture: { ...bundle.capture, startedAtMs: atMs, finishedAtMs: atMs + 150 } };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

async function post(body: Uint8Array, token?: string, headers: Record<string, string> = {}) {
  const res = await svc.call("/v1/snapshots", {
    method: "POST",
    body,
    headers: { "content-type": "application/json", "content-encoding": "gzip", ...headers },
    ...(token ? { token } : {}),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

async function issueToken(scopes: string[], hostId: string | null) {
  const res = await svc.call("/v1/tokens", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ name: "t", scopes, hostId }),
  });
  return ((await res.json()) as { token: string }).token;
}

async function snapshotStatus(hostId: string) {
  const res = await svc.call(`/v1/hosts/${hostId}`);
  if (res.status !== 200) return undefined;
  return (await res.json()) as {
    timeline: { key: string; status: string }[];
    kernelRelease: string;
    labels: Json;
  };
}

describe("POST /v1/snapshots", () => {
  it("stores, queues and parses a bundle; GET /v1/hosts shows the host", async () => {
    const bundle = makeBundle({ hostId: "i-ingest-1", labels: { zone: "cn-hangzhou-k" } });
    const { body, sha256 } = gzipBundle(bundle);
    expect((await svc.call("/v1/hosts/i-ingest-1")).status).toBe(404);

    const res = await post(body, undefined, { "x-faultline-sha256": sha256 });
    expect(res.status, JSON.stringify(res.body)).toBe(201);
    expect(res.body).toEqual({ key: keyOf(bundle, sha256), sha256, status: "accepted" });

    const host = await svc.eventually(async () => {
      const h = await snapshotStatus("i-ingest-1");
      return h?.timeline[0]?.status === "parsed" ? h : undefined;
    });
    expect(host.kernelRelease).toBe("5.10.134-16.al8.x86_64");
    expect(host.labels).toEqual({ zone: "cn-hangzhou-k" });

    const bucket = await svc.mf.getR2Bucket("SNAPSHOTS");
    const obj = await bucket.get(keyOf(bundle, sha256));
    expect(Buffer.from(await (obj as NonNullable<typeof obj>).arrayBuffer()).equals(body)).toBe(true);
  });

  it("treats the same bundle shipped twice as one snapshot", async () => {
    const bundle = makeBundle({ hostId: "i-ingest-dup" });
    const { body } = gzipBundle(bundle);
    expect((await post(body)).status).toBe(201);
    const again = await post(body);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe("duplicate");
    const host = await svc.eventually(async () => {
      const h = await snapshotStatus("i-ingest-dup");
      return h?.timeline[0]?.status === "parsed" ? h : undefined;
    });
    expect(host.timeline).toHaveLength(1);
  });

  it("accepts an uncompressed JSON bundle and stores it gzipped", async () => {
    const bundle = makeBundle({ hostId: "i-ingest-plain" });
    const res = await svc.call("/v1/snapshots", {
      method: "POST",
      body: JSON.stringify(bundle),
      headers: { "content-type": "application/json" },
    });
    const body = (await res.json()) as { key: string };
    expect(res.status, JSON.stringify(body)).toBe(201);
    const obj = await (await svc.mf.getR2Bucket("SNAPSHOTS")).get(body.key);
    const bytes = new Uint8Array(await (obj as NonNullable<typeof obj>).arrayBuffer());
    expect([bytes[0], bytes[1]]).toEqual([0x1f, 0x8b]);
  });

  it.each([
    [
      "a truncated gzip stream",
      () => gzipBundle(makeBundle({ hostId: "i-bad" })).body.subarray(0, 40),
      "corrupt_gzip",
      400,
    ],
    ["a gzip bomb", () => gzipSync(Buffer.alloc(80 * 1024 * 1024, 0x20)), "too_large", 413],
    [
      "a wrong schema version",
      () => gzipBundle({ ...makeBundle({ hostId: "i-bad" }), schemaVersion: 99 }).body,
      "unsupported_schema_version",
      400,
    ],
    ["JSON that is not a bundle", () => gzipSync(Buffer.from('{"hello":"world"}')), "invalid_bundle", 400],
    ["bytes that are not JSON", () => gzipSync(Buffer.from("not json at all")), "invalid_json", 400],
  ])("rejects %s with a reason, records it and keeps the raw body", async (_name, make, code, status) => {
    const res = await post(make());
    expect(res.status, JSON.stringify(res.body)).toBe(status);
    const err = res.body.error as { code: string; message: string; details: { storedAs: string } };
    expect(err.message.length).toBeGreaterThan(10);
    const kept = await (await svc.mf.getR2Bucket("SNAPSHOTS")).head(err.details.storedAs);
    expect(kept, "raw body kept").not.toBeNull();
    const errors = (await (await svc.call("/v1/ingest/errors?kind=snapshot")).json()) as {
      errors: { ref: string; code: string }[];
    };
    expect(errors.errors.find((e) => e.ref === err.details.storedAs)?.code).toBe(code);
  });

  it("refuses a body whose declared length is over the compressed size limit before reading it", async () => {
    // fetch cannot declare a length it does not send, so speak HTTP/1.1 directly.
    const status = await new Promise<number>((resolve, reject) => {
      const req = request(new URL("/v1/snapshots", svc.url), {
        method: "POST",
        headers: { authorization: `Bearer ${ADMIN_TOKEN}`, "content-length": String(9 * 1024 * 1024) },
      });
      req.on("response", (res) => {
        res.resume();
        resolve(res.statusCode ?? 0);
        req.destroy();
      });
      req.on("error", reject);
      req.write(Buffer.alloc(1024));
    });
    expect(status).toBe(413);
  });

  /** POSTs `parts` as a chunked body (no Content-Length): the route has to count the bytes itself. */
  const postChunked = (parts: Buffer[]) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = request(new URL("/v1/snapshots", svc.url), {
        method: "POST",
        headers: {
          authorization: `Bearer ${ADMIN_TOKEN}`,
          "content-type": "application/json",
          "transfer-encoding": "chunked",
        },
      });
      req.on("response", (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      });
      // The service may answer 413 and close while the rest is still being written.
      req.on("error", (err: NodeJS.ErrnoException) => {
        if (err.code !== "EPIPE" && err.code !== "ECONNRESET") reject(err);
      });
      for (const part of parts) req.write(part);
      req.end();
    });

  it("accepts a chunked upload without a declared length", async () => {
    const gz = gzipBundle(makeBundle({ hostId: "i-chunked" })).body;
    const half = Math.floor(gz.length / 2);
    const res = await postChunked([Buffer.from(gz.subarray(0, half)), Buffer.from(gz.subarray(half))]);
    expect(res.status, res.body).toBe(201);
  });

  it("refuses a chunked upload once it passes the compressed size limit", async () => {
    const res = await postChunked(Array.from({ length: 9 }, () => Buffer.alloc(1024 * 1024, 1)));
    expect(res.status, res.body).toBe(413);
  });

  it("lets a host-bound ingest token write only its own host", async () => {
    const token = await issueToken(["ingest"], "i-bound-1");
    expect((await post(gzipBundle(makeBundle({ hostId: "i-bound-1" })).body, token)).status).toBe(201);
    const other = await post(gzipBundle(makeBundle({ hostId: "i-bound-2" })).body, token);
    expect(other.status).toBe(403);
    expect((other.body.error as { code: string }).code).toBe("forbidden");
  });
});

describe("snapshots consumer", () => {
  it("rejects an object uploaded straight to storage whose body names another host, keeping it", async () => {
    const bundle = makeBundle({ hostId: "i-claimed" });
    const { body, sha256 } = gzipBundle({ ...bundle, hostId: "i-actual" });
    const key = keyOf(bundle, sha256);
    await (await svc.mf.getR2Bucket("SNAPSHOTS")).put(key, new Uint8Array(body));
    const queue = await svc.mf.getQueueProducer("SNAPSHOT_QUEUE");
    await queue.send({
      action: "PutObject",
      bucket: "faultline-snapshots",
      object: { key, size: body.length },
    });
    const err = await svc.eventually(async () => {
      const r = (await (await svc.call("/v1/ingest/errors?kind=snapshot")).json()) as {
        errors: { ref: string; code: string }[];
      };
      return r.errors.find((e) => e.ref === key);
    });
    expect(err.code).toBe("host_mismatch");
  });

  it("rejects a bundle whose base64 file is not base64 once, with the entry named, instead of retrying it", async () => {
    const bundle = makeBundle({ hostId: "i-bad-base64" });
    bundle.evidence = {
      ...bundle.evidence,
      "sys/class/nvme/nvme0/serial": { kind: "file", encoding: "base64", data: "not base64!", bytes: 8 },
    };
    const { body } = gzipBundle(bundle);
    const res = await post(new Uint8Array(body));
    expect(res.status).toBe(201);
    const err = await svc.eventually(async () => {
      const r = (await (await svc.call("/v1/ingest/errors?kind=snapshot")).json()) as {
        errors: { ref: string; code: string; message: string }[];
      };
      return r.errors.find((e) => e.ref === res.body.key);
    });
    expect(err.code).toBe("invalid_bundle");
    expect(err.message).toContain(
      "evidence.sys/class/nvme/nvme0/serial.data: encoding is base64 but data is not base64",
    );
    expect((await snapshotStatus("i-bad-base64"))?.timeline ?? []).toEqual([]);
  });

  it("decides a batch of several hosts' snapshots as one at a time would, a host's two snapshots in order", async () => {
    const at = Date.UTC(2026, 2, 5, 8, 0);
    const leak = globalmountLeakHost();
    const items = [
      await collected(leak, "i-batch-a", at),
      await collected(leak, "i-batch-b", at),
      await collected(healthyHost(), "i-batch-c", at),
      // Two of one host in one batch: the second (healthy) resolves what the first opened.
      await collected(leak, "i-batch-d", at),
      await collected(healthyHost(), "i-batch-d", at + 600_000),
      // A rejection in the same batch does not hold the others back.
      { ...(await collected(healthyHost(), "i-batch-e", at)), hostId: "i-batch-other" },
    ];
    const bucket = await svc.mf.getR2Bucket("SNAPSHOTS");
    const keys: string[] = [];
    for (const [i, b] of items.entries()) {
      const { body, sha256 } = gzipBundle(b);
      const key = keyOf({ ...b, hostId: i === 5 ? "i-batch-e" : b.hostId }, sha256);
      await bucket.put(key, new Uint8Array(body));
      keys.push(key);
    }
    const queue = await svc.mf.getQueueProducer("SNAPSHOT_QUEUE");
    await queue.sendBatch(
      keys.map((key) => ({ body: { action: "PutObject", bucket: "faultline-snapshots", object: { key } } })),
    );
    const d1 = await svc.mf.getD1Database("DB");
    const statuses = await svc.eventually(async () => {
      const { results } = await d1
        .prepare(
          `SELECT key, status, reason_code FROM snapshots WHERE key IN (${keys.map(() => "?").join(",")})`,
        )
        .bind(...keys)
        .all<{ key: string; status: string; reason_code: string | null }>();
      return results.length === keys.length && results.every((r) => r.status !== "received")
        ? new Map(results.map((r) => [r.key, r.reason_code ?? r.status]))
        : undefined;
    });
    expect(keys.map((k) => statuses.get(k))).toEqual([
      "parsed",
      "parsed",
      "parsed",
      "parsed",
      "parsed",
      "host_mismatch",
    ]);
    const { results: episodes } = await d1
      .prepare(
        `SELECT host_id, detector, status, count(*) AS n FROM episodes WHERE host_id LIKE 'i-batch-%'
         GROUP BY host_id, detector, status ORDER BY host_id`,
      )
      .all<{ host_id: string; detector: string; status: string; n: number }>();
    // The leak host shows two holdings (the node agent's private copy and the pinned namespace).
    const held = { detector: "globalmount-held-foreign-ns", n: 2 };
    expect(episodes).toEqual([
      { host_id: "i-batch-a", status: "open", ...held },
      { host_id: "i-batch-b", status: "open", ...held },
      { host_id: "i-batch-d", status: "resolved", ...held },
    ]);
    const d = await snapshotStatus("i-batch-d");
    expect(d?.timeline.map((t) => t.key)).toEqual([keys[4], keys[3]]);
  });

  it("records a queue message that is not an object notification and moves on", async () => {
    const queue = await svc.mf.getQueueProducer("SNAPSHOT_QUEUE");
    await queue.send({ hello: "world" });
    const bundle = makeBundle({ hostId: "i-after-bad-msg" });
    expect((await post(gzipBundle(bundle).body)).status).toBe(201);
    await svc.eventually(
      async () => (await snapshotStatus("i-after-bad-msg"))?.timeline[0]?.status === "parsed" || undefined,
    );
    const r = (await (await svc.call("/v1/ingest/errors?kind=queue")).json()) as {
      errors: { code: string }[];
    };
    expect(r.errors.map((e) => e.code)).toContain("invalid_message");
  });
});

describe("POST /v1/reprocess", () => {
  it("re-queues a host's stored snapshots in the range and the consumer parses them again", async () => {
    const at = Date.UTC(2026, 2, 3, 10, 20);
    const bundle = makeBundle({ hostId: "i-reprocess", capturedAtMs: at });
    const { body, sha256 } = gzipBundle(bundle);
    expect((await post(body)).status).toBe(201);
    const key = keyOf(bundle, sha256);
    const d1 = await svc.mf.getD1Database("DB");
    const attempts = async () =>
      (await d1
        .prepare("SELECT status, attempts FROM snapshots WHERE key = ?")
        .bind(key)
        .first<{ status: string; attempts: number }>()) ?? undefined;
    await svc.eventually(async () => ((await attempts())?.status === "parsed" ? true : undefined));

    const res = await svc.call("/v1/reprocess", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({
        hostId: "i-reprocess",
        since: "2026-03-03T00:00:00Z",
        until: "2026-03-04T00:00:00+08:00",
      }),
    });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ queued: 1, nextCursor: null });
    const after = await svc.eventually(async () => {
      const a = await attempts();
      return a && a.attempts >= 2 ? a : undefined;
    });
    expect(after.status).toBe("parsed");
  });

  it("is admin-only", async () => {
    const res = await svc.call("/v1/tokens", {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ name: "r", scopes: ["read", "ingest"] }),
    });
    const { token } = (await res.json()) as { token: string };
    const denied = await svc.call("/v1/reprocess", {
      method: "POST",
      token,
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ hostId: "i-reprocess", since: "2026-03-03T00:00:00Z" }),
    });
    expect(denied.status).toBe(403);
  });
});
