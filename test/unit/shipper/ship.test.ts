import { existsSync, mkdtempSync, readdirSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterEach, describe, expect, it } from "vitest";
import { parseCommandLine, type ShipConfig } from "../../../shipper/args.js";
import { sha256Hex } from "../../../shipper/bundle.js";
import type { CollectorReply, CollectorRequest } from "../../../shipper/collector.js";
import { EXIT, type ShipDeps, shipLoop, shipOnce, spooledHostId } from "../../../shipper/ship.js";
import { loadState, saveState } from "../../../shipper/state.js";
import type { Uploader, UploadItem, UploadOutcome } from "../../../shipper/upload.js";

const T0 = Date.UTC(2026, 2, 3, 10, 0);
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function config(extra: string[] = []): ShipConfig {
  const dir = mkdtempSync(join(tmpdir(), "faultline-ship-"));
  dirs.push(dir);
  const cfg = parseCommandLine(
    [
      "ship",
      "--endpoint",
      "http://127.0.0.1:9",
      "--token",
      "t",
      "--state-dir",
      dir,
      "--retries",
      "0",
      ...extra,
    ],
    {},
  );
  if (cfg.command !== "ship") throw new Error("expected a ship config");
  return cfg;
}

/** A capture as the collector child would send it: `n` orders captures, `digest` stands for the evidence. */
function capture(n: number, digest: string): CollectorReply {
  const body = gzipSync(JSON.stringify({ schemaVersion: 1, hostId: "i-test", capture: { n } }));
  return {
    body,
    sha256: sha256Hex(body),
    jsonBytes: 100,
    digest,
    hostId: "i-test",
    hostIdNote: "host id from --host-id",
    capturedAtMs: T0 + n * 600_000,
    entries: 10,
    gaps: [],
    timedOut: [],
    stuckReads: 0,
    collectMs: 5,
    maxRssKb: 1000,
  };
}

/** An uploader whose answers are scripted; it records what it was given. */
function scripted(answers: (UploadOutcome | "hang")[]): Uploader & { items: UploadItem[] } {
  const items: UploadItem[] = [];
  return {
    target: "double",
    items,
    upload(item, signal) {
      items.push(item);
      const a = answers.shift() ?? { status: "accepted", key: `k-${item.capturedAtMs}`, detail: "HTTP 201" };
      if (a !== "hang") return Promise.resolve(a);
      return new Promise((_, reject) =>
        signal.addEventListener("abort", () => reject(signal.reason), { once: true }),
      );
    },
  };
}

function deps(
  replies: CollectorReply[],
  uploader: Uploader,
  extra: Partial<ShipDeps> = {},
): ShipDeps & { logs: string[] } {
  const logs: string[] = [];
  return {
    logs,
    log: (l) => logs.push(l),
    signal: new AbortController().signal,
    version: "0.0.0-test",
    uploader,
    collect: async (_req: CollectorRequest) => {
      const r = replies.shift();
      if (!r) throw new Error("no more captures scripted");
      return r;
    },
    now: () => T0 + 3_600_000,
    ...extra,
  };
}

const down: UploadOutcome = { status: "retryable", message: "fetch failed: ECONNREFUSED 127.0.0.1:9" };

describe("shipOnce", () => {
  it("uploads a new snapshot, remembers its digest, and calls the next identical one unchanged", async () => {
    const cfg = config();
    const up = scripted([]);
    const first = await shipOnce(cfg, deps([capture(1, "d1")], up));
    expect(first).toMatchObject({ status: EXIT.ok });
    expect(first.summary).toMatch(/^accepted k-\d+ \(HTTP 201; 10 entries, .* gzip\) to double$/);
    const second = await shipOnce(cfg, deps([capture(2, "d1")], up));
    expect(second.status).toBe(EXIT.ok);
    expect(second.summary).toMatch(
      /^unchanged since the last upload 0 s ago \(digest d1\); next full upload within 24\.0 h$/,
    );
    expect(up.items).toHaveLength(1);
  });

  it("uploads an unchanged snapshot once the last upload is older than --full-every", async () => {
    const cfg = config(["--full-every", "1h"]);
    const state = await loadState(cfg.stateDir, () => {});
    await saveState(cfg.stateDir, { ...state, lastDigest: "d1", lastUploadAtMs: T0 });
    const up = scripted([]);
    const r = await shipOnce(cfg, deps([capture(1, "d1")], up, { now: () => T0 + 3_600_000 }));
    expect(r.summary).toMatch(/^accepted/);
    expect(up.items).toHaveLength(1);
  });

  it("spools when the endpoint is down, then sends the spool oldest first before the new snapshot", async () => {
    const cfg = config();
    const up = scripted([down, down]);
    expect(await shipOnce(cfg, deps([capture(1, "d1")], up))).toMatchObject({ status: EXIT.notDelivered });
    const r2 = await shipOnce(cfg, deps([capture(2, "d2")], up));
    expect(r2.status).toBe(EXIT.notDelivered);
    expect(r2.summary).toMatch(
      /^not delivered to double: spooled \d+-[0-9a-f]{64}\.json\.gz \(endpoint unavailable: fetch failed/,
    );
    expect(readdirSync(cfg.spoolDir).filter((n) => n.endsWith(".json.gz"))).toHaveLength(2);
    const r3 = await shipOnce(cfg, deps([capture(3, "d3")], up));
    expect(r3.status).toBe(EXIT.ok);
    const order = up.items.slice(2).map((i) => (i.capturedAtMs - T0) / 600_000);
    expect(order, "spooled 1 and 2 first, then the new 3").toEqual([1, 2, 3]);
    expect(readdirSync(cfg.spoolDir).filter((n) => n.endsWith(".json.gz"))).toEqual([]);
  });

  it("exits non-zero for an unchanged snapshot while spooled ones cannot be delivered", async () => {
    const cfg = config();
    const up = scripted([{ status: "accepted", key: "k0", detail: "HTTP 201" }, down, down]);
    await shipOnce(cfg, deps([capture(0, "d0")], up));
    await shipOnce(cfg, deps([capture(1, "d1")], up));
    const r = await shipOnce(cfg, deps([capture(2, "d1")], up));
    expect(r.status).toBe(EXIT.notDelivered);
    expect(r.summary).toMatch(/but 1 spooled bundles wait: fetch failed/);
  });

  it("keeps a bundle the endpoint rejects under rejected/ with the server's message, and exits 3", async () => {
    const cfg = config();
    const up = scripted([
      { status: "rejected", message: "HTTP 400 invalid_bundle: schemaVersion (request r-1)" },
    ]);
    const r = await shipOnce(cfg, deps([capture(1, "d1")], up));
    expect(r.status).toBe(EXIT.refused);
    expect(r.summary).toMatch(
      /^rejected by double: HTTP 400 invalid_bundle: schemaVersion \(request r-1\); bundle kept at .*\/spool\/rejected\//,
    );
    expect(readdirSync(join(cfg.spoolDir, "rejected")).sort()).toHaveLength(2);
    expect((await loadState(cfg.stateDir, () => {})).rejected).toBe(1);
  });

  it("keeps the bundle in the spool when the endpoint refuses the credentials (not the bundle's fault)", async () => {
    const cfg = config();
    const up = scripted([
      { status: "refused", message: "HTTP 401 unauthorized: missing or wrong bearer token" },
    ]);
    const r = await shipOnce(cfg, deps([capture(1, "d1")], up));
    expect(r.status).toBe(EXIT.refused);
    expect(readdirSync(cfg.spoolDir).filter((n) => n.endsWith(".json.gz"))).toHaveLength(1);
    expect(existsSync(join(cfg.spoolDir, "rejected"))).toBe(false);
  });

  it("moves a spooled bundle the endpoint rejects aside and goes on draining", async () => {
    const cfg = config();
    const up = scripted([down, down, { status: "rejected", message: "HTTP 413 too_large" }]);
    await shipOnce(cfg, deps([capture(1, "d1")], up));
    await shipOnce(cfg, deps([capture(2, "d2")], up));
    const r = await shipOnce(cfg, deps([capture(3, "d3")], up));
    expect(r.status).toBe(EXIT.ok);
    expect(up.items.slice(2).map((i) => (i.capturedAtMs - T0) / 600_000)).toEqual([1, 2, 3]);
    expect(readdirSync(join(cfg.spoolDir, "rejected")).filter((n) => n.endsWith(".json.gz"))).toHaveLength(1);
  });

  it("retries within the run when told to, honouring the endpoint's answer", async () => {
    const cfg = config(["--retries", "2"]);
    const up = scripted([{ status: "retryable", message: "HTTP 503", retryAfterMs: 0 }]);
    const d = deps([capture(1, "d1")], up);
    const r = await shipOnce(cfg, d);
    expect(r.status).toBe(EXIT.ok);
    expect(up.items).toHaveLength(2);
    // the first retry waits 0.5-1 s (jitter over the upper half of 1 s): "1.0 s" one time in ten
    expect(d.logs.join("\n")).toMatch(/upload failed \(HTTP 503\); retry 1\/2 in (0\.[5-9]|1\.0) s/);
  });

  it("spools the snapshot being uploaded when a signal stops the run, and exits 0", async () => {
    const cfg = config();
    const ac = new AbortController();
    const up = scripted(["hang"]);
    const run = shipOnce(cfg, deps([capture(1, "d1")], up, { signal: ac.signal }));
    setTimeout(() => ac.abort(new DOMException("stopped by SIGTERM", "AbortError")), 50);
    const r = await run;
    expect(r).toMatchObject({ status: EXIT.ok });
    expect(r.summary).toMatch(
      /^interrupted: spooled \d+-[0-9a-f]{64}\.json\.gz \(interrupted by a signal\)$/,
    );
    expect(readdirSync(cfg.spoolDir).filter((n) => n.endsWith(".json.gz"))).toHaveLength(1);
  });

  it("forgets the last digest when the spool had to drop a bundle, so the evidence is sent afresh", async () => {
    const cfg = config(["--spool-max-files", "1"]);
    const up = scripted([down, down]);
    await shipOnce(cfg, deps([capture(1, "d1")], up));
    await shipOnce(cfg, deps([capture(2, "d2")], up));
    const state = await loadState(cfg.stateDir, () => {});
    expect({ lastDigest: state.lastDigest, spoolDropped: state.spoolDropped }).toEqual({
      lastDigest: undefined,
      spoolDropped: 1,
    });
  });

  it("reports a capture that failed without touching the spool", async () => {
    const cfg = config();
    const d = deps([], scripted([]));
    const r = await shipOnce(cfg, d);
    expect(r).toEqual({ status: EXIT.notDelivered, summary: "no snapshot: no more captures scripted" });
  });
});

describe("shipLoop", () => {
  it("runs until the signal, then exits 0", async () => {
    const cfg = { ...config(), intervalMs: 20 };
    const ac = new AbortController();
    const replies = Array.from({ length: 50 }, (_, i) => capture(i, `d${i}`));
    const runs: string[] = [];
    const loop = shipLoop(cfg, deps(replies, scripted([]), { signal: ac.signal }), (r) => {
      runs.push(r.summary);
      if (runs.length === 3) ac.abort();
    });
    expect(await loop).toBe(EXIT.ok);
    expect(runs).toHaveLength(3);
  });
});

describe("spooledHostId", () => {
  it("reads the host id from the head of a bundle and refuses bytes that do not match their name", () => {
    const c = capture(1, "d");
    expect(spooledHostId(c.body, c.sha256)).toBe("i-test");
    expect(spooledHostId(c.body, "0".repeat(64))).toBeUndefined();
  });
});
