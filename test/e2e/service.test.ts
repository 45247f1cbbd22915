/**
 * End to end: `npm start` (the real command, on a free port with its own state dir), the real shipper
 * CLI over a small synthetic fleet, control-plane events over HTTP, then the fleet-pattern API.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  GLOBALMOUNT,
  globalmountLeakHost,
  type HostTreeSpec,
  healthyHost,
  INCIDENT_BDF,
  reattachRaceHost,
  writeHostTree,
} from "../support/host-tree.js";

const REPO = resolve(import.meta.dirname, "../..");
const TOKEN = "fl_e2e_admin_token_0123456789";
let service: ChildProcess;
let base: string;
let work: string;
let log = "";

async function freePort(): Promise<number> {
  return new Promise((done) => {
    const srv = createServer();
    srv.listen(0, "127.0.0.1", () => {
      const port = (srv.address() as { port: number }).port;
      srv.close(() => done(port));
    });
  });
}

async function api<T>(path: string, init: RequestInit = {}): Promise<{ status: number; body: T }> {
  const res = await fetch(`${base}${path}`, {
    ...init,
    headers: { authorization: `Bearer ${TOKEN}`, ...(init.headers ?? {}) },
  });
  return { status: res.status, body: (await res.json()) as T };
}

async function until<T>(check: () => Promise<T | undefined>, ms = 30_000): Promise<T> {
  const stop = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > stop)
      throw new Error(`condition not met in ${ms} ms; service log:\n${log.slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

function ship(args: {
  root: string;
  hostId: string;
  labels: string[];
}): Promise<{ code: number | null; stderr: string }> {
  return new Promise((done) => {
    const child = spawn(
      process.execPath,
      [
        join(REPO, "bin/faultline.mjs"),
        "ship",
        "--root",
        args.root,
        "--host-id",
        args.hostId,
        "--endpoint",
        base,
        "--token",
        TOKEN,
        "--state-dir",
        join(args.root, ".shipper-state"),
        ...args.labels.flatMap((l) => ["--label", l]),
      ],
      { stdio: ["ignore", "ignore", "pipe"] },
    );
    let stderr = "";
    child.stderr?.on("data", (d: Buffer) => (stderr += d.toString()));
    child.on("exit", (code) => done({ code, stderr }));
  });
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), "fl-e2e-"));
  const port = await freePort();
  base = `http://127.0.0.1:${port}`;
  service = spawn("npm", ["start"], {
    cwd: REPO,
    env: {
      ...process.env,
      PORT: String(port),
      FAULTLINE_STATE_DIR: join(work, "state"),
      FAULTLINE_ADMIN_TOKEN: TOKEN,
      WRANGLER_SEND_METRICS: "false",
    },
    stdio: ["ignore", "pipe", "pipe"],
    detached: true,
  });
  service.stdout?.on("data", (d: Buffer) => (log += d.toString()));
  service.stderr?.on("data", (d: Buffer) => (log += d.toString()));
  await until(async () => {
    try {
      return (await fetch(`${base}/healthz`)).ok || undefined;
    } catch {
      return undefined;
    }
  }, 60_000);
}, 90_000);

afterAll(async () => {
  if (service?.pid) {
    try {
      process.kill(-service.pid, "SIGTERM");
    } catch {
      // already gone
    }
    await new Promise((r) => setTimeout(r, 500));
  }
  if (work) rmSync(work, { recursive: true, force: true });
});

const fleet: { hostId: string; spec: () => HostTreeSpec; zone: string }[] = [
  { hostId: "i-race-1", spec: reattachRaceHost, zone: "zone-k" },
  { hostId: "i-leak-1", spec: globalmountLeakHost, zone: "zone-j" },
  { hostId: "i-ok-1", spec: healthyHost, zone: "zone-k" },
  { hostId: "i-ok-2", spec: healthyHost, zone: "zone-j" },
];

describe("npm start + faultline ship + control-plane events", () => {
  it("ships a small fleet, correlates the race with its events, and reports the patterns", async () => {
    // The race host's kernel log shows the failed nvme probe on X about 85 s before capture: the
    // control plane freed X two minutes before capture and re-attached a disk there a minute later.
    const now = Date.now();
    const events = [
      {
        id: "e2e-detach-old",
        type: "detach",
        diskId: "d-old-tenant",
        instanceId: "i-race-1",
        bdf: INCIDENT_BDF,
        mode: "vfio",
        at: new Date(now - 150_000).toISOString(),
      },
      {
        id: "e2e-attach-new",
        type: "attach",
        diskId: "d-new-tenant",
        instanceId: "i-race-1",
        bdf: INCIDENT_BDF,
        mode: "vfio",
        at: new Date(now - 75_000).toISOString().replace("Z", "+00:00"),
      },
    ];
    const posted = await api<{ accepted: number }>("/v1/control-plane/events", {
      method: "POST",
      body: events.map((e) => JSON.stringify(e)).join("\n"),
      headers: { "content-type": "application/x-ndjson" },
    });
    expect(posted.body.accepted, JSON.stringify(posted.body)).toBe(2);

    for (const h of fleet) {
      const root = join(work, h.hostId);
      await writeHostTree(root, h.spec());
      const run = await ship({
        root,
        hostId: h.hostId,
        labels: [`zone=${h.zone}`, "instanceType=ecs.ebmg7.32xlarge"],
      });
      expect(run.code, run.stderr).toBe(0);
    }

    for (const h of fleet) {
      const host = await until(async () => {
        const r = await api<{ timeline: { status: string }[]; labels: Record<string, string> }>(
          `/v1/hosts/${h.hostId}`,
        );
        return r.status === 200 && r.body.timeline[0]?.status === "parsed" ? r.body : undefined;
      });
      expect(host.labels.zone).toBe(h.zone);
    }

    const patterns = await until(async () => {
      const r = await api<{ patterns: { detector: string; hosts: number; occurrences: number }[] }>(
        "/v1/patterns",
      );
      const race = r.body.patterns.find((p) => p.detector === "reattach-bdf-race");
      const leak = r.body.patterns.find((p) => p.detector === "globalmount-held-foreign-ns");
      return race && leak ? r.body.patterns : undefined;
    });
    expect(patterns.find((p) => p.detector === "reattach-bdf-race")).toMatchObject({
      hosts: 1,
      occurrences: 1,
    });
    expect(patterns.find((p) => p.detector === "globalmount-held-foreign-ns")).toMatchObject({ hosts: 1 });

    const raceHosts = await api<{ hosts: { hostId: string; occurrences: number }[] }>(
      "/v1/patterns/reattach-bdf-race/hosts",
    );
    expect(raceHosts.body.hosts.map((h) => [h.hostId, h.occurrences])).toEqual([["i-race-1", 1]]);
    const leakHosts = await api<{ hosts: { hostId: string }[] }>(
      "/v1/patterns/globalmount-held-foreign-ns/hosts",
    );
    expect(leakHosts.body.hosts.map((h) => h.hostId)).toEqual(["i-leak-1"]);

    const incidents = await api<{ incidents: { id: string; detector: string; subject: string }[] }>(
      "/v1/incidents?hostId=i-leak-1&detector=globalmount-held-foreign-ns",
    );
    expect(incidents.body.incidents[0]?.subject).toContain(GLOBALMOUNT);
    const race = await api<{ incidents: { id: string }[] }>("/v1/incidents?detector=reattach-bdf-race");
    const detail = await api<{ evidence: { kind: string }[]; explanation: string }>(
      `/v1/incidents/${race.body.incidents[0]?.id}`,
    );
    expect(detail.body.evidence.some((e) => e.kind === "event")).toBe(true);
    expect(detail.body.evidence.some((e) => e.kind === "fact")).toBe(true);
    expect(detail.body.explanation).toContain(INCIDENT_BDF);

    // Shipping the same evidence again changes nothing: change-only uploads skip it, and counts stay.
    const again = await ship({ root: join(work, "i-race-1"), hostId: "i-race-1", labels: ["zone=zone-k"] });
    expect(again.code, again.stderr).toBe(0);
    const after = await api<{ patterns: { detector: string; occurrences: number }[] }>("/v1/patterns");
    expect(after.body.patterns.find((p) => p.detector === "reattach-bdf-race")?.occurrences).toBe(1);
  }, 120_000);
});
