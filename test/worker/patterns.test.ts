import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startTestService, type TestService } from "../support/service.js";

let svc: TestService;
const DAY = 86_400_000;
const T = Date.UTC(2026, 2, 10);

interface Seed {
  id: string;
  detector: string;
  host: string;
  first: number;
  last: number;
  status?: "open" | "resolved";
  regressions?: number;
}

const seeds: Seed[] = [
  { id: "ep_a1", detector: "reattach-bdf-race", host: "i-a", first: T - 5 * DAY, last: T - 5 * DAY },
  { id: "ep_a2", detector: "reattach-bdf-race", host: "i-a", first: T - 2 * DAY, last: T - 2 * DAY },
  { id: "ep_b1", detector: "reattach-bdf-race", host: "i-b", first: T - 1 * DAY, last: T, regressions: 1 },
  {
    id: "ep_c1",
    detector: "reattach-bdf-race",
    host: "i-c",
    first: T - 40 * DAY,
    last: T - 35 * DAY,
    status: "resolved",
  },
  { id: "ep_d1", detector: "globalmount-held-foreign-ns", host: "i-d", first: T - 3 * DAY, last: T },
];
const fleet = [
  ["i-a", "5.10.134-16.al8.x86_64", "zone-k", "nvme"],
  ["i-b", "5.10.134-16.al8.x86_64", "zone-k", "nvme,vfio-pci"],
  ["i-c", "6.6.71", "zone-j", "nvme"],
  ["i-d", "6.6.71", "zone-j", "nvme"],
  ["i-e", "6.6.71", "zone-j", "nvme"],
  ["i-f", "6.6.71", "zone-k", "vfio-pci"],
] as const;

beforeAll(async () => {
  svc = await startTestService();
  const d1 = await svc.mf.getD1Database("DB");
  await d1.batch([
    ...seeds.map((s) =>
      d1
        .prepare(
          `INSERT INTO episodes (id, detector, host_id, subject, status, confidence, first_seen_ms, last_seen_ms, first_snapshot_ms, resolved_at_ms, regressions, summary, evidence, blind_spots, updated_at_ms)
           VALUES (?, ?, ?, ?, ?, 'high', ?, ?, ?, ?, ?, ?, '[]', '[]', ?)`,
        )
        .bind(
          s.id,
          s.detector,
          s.host,
          `subject-${s.id}`,
          s.status ?? "open",
          s.first,
          s.last,
          s.first,
          s.status === "resolved" ? s.last : null,
          s.regressions ?? 0,
          `summary of ${s.id}`,
          s.last,
        ),
    ),
    ...fleet.map(([host, kernel, zone, drivers]) =>
      d1
        .prepare(
          `INSERT INTO hosts (host_id, first_seen_ms, last_seen_ms, view_captured_at_ms, latest_snapshot_key, kernel_release, labels, zone, disk_drivers, view_summary)
           VALUES (?, ?, ?, ?, 'k', ?, '{}', ?, ?, '{}')`,
        )
        .bind(host, T - 60 * DAY, T, T, kernel, zone, drivers),
    ),
  ]);
});
afterAll(async () => {
  await svc?.dispose();
});

const get = async <T>(path: string) => {
  const res = await svc.call(path);
  const body = (await res.json()) as T;
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body;
};

const window = `since=${new Date(T - 7 * DAY).toISOString()}&until=${new Date(T).toISOString()}`;

describe("GET /v1/patterns", () => {
  it("counts hosts and occurrences (episodes plus regressions) per detector in the window", async () => {
    const body = await get<{ patterns: unknown[] }>(`/v1/patterns?${window}`);
    expect(body.patterns).toEqual([
      {
        detector: "reattach-bdf-race",
        hosts: 2,
        occurrences: 4,
        firstSeen: new Date(T - 5 * DAY).toISOString(),
        lastSeen: new Date(T).toISOString(),
      },
      {
        detector: "globalmount-held-foreign-ns",
        hosts: 1,
        occurrences: 1,
        firstSeen: new Date(T - 3 * DAY).toISOString(),
        lastSeen: new Date(T).toISOString(),
      },
    ]);
  });

  it("includes older episodes only when the window reaches them", async () => {
    const body = await get<{ patterns: { detector: string; hosts: number }[] }>(
      `/v1/patterns?since=${new Date(T - 60 * DAY).toISOString()}&until=${new Date(T).toISOString()}`,
    );
    expect(body.patterns.find((p) => p.detector === "reattach-bdf-race")?.hosts).toBe(3);
  });

  it("rejects a bad window with the error envelope", async () => {
    const res = await svc.call("/v1/patterns?since=yesterday");
    expect(res.status).toBe(400);
    const inverted = await svc.call(
      `/v1/patterns?since=${new Date(T).toISOString()}&until=${new Date(T - DAY).toISOString()}`,
    );
    expect(inverted.status).toBe(400);
  });
});

describe("GET /v1/patterns/{detector}/hosts", () => {
  it("pages through affected hosts, most recent first", async () => {
    const first = await get<{ hosts: { hostId: string; occurrences: number }[]; nextCursor: string | null }>(
      `/v1/patterns/reattach-bdf-race/hosts?${window}&limit=1`,
    );
    expect(first.hosts).toEqual([
      {
        hostId: "i-b",
        occurrences: 2,
        firstSeen: new Date(T - DAY).toISOString(),
        lastSeen: new Date(T).toISOString(),
      },
    ]);
    expect(first.nextCursor).toBeTruthy();
    const second = await get<{ hosts: { hostId: string; occurrences: number }[]; nextCursor: string | null }>(
      `/v1/patterns/reattach-bdf-race/hosts?${window}&limit=1&cursor=${first.nextCursor}`,
    );
    expect(second.hosts.map((h) => [h.hostId, h.occurrences])).toEqual([["i-a", 2]]);
    expect(second.nextCursor).toBeNull();
  });

  it("refuses an unknown detector and a forged cursor", async () => {
    expect((await svc.call("/v1/patterns/not-a-detector/hosts")).status).toBe(400);
    expect((await svc.call("/v1/patterns/reattach-bdf-race/hosts?cursor=garbage")).status).toBe(400);
  });
});

describe("GET /v1/patterns/{detector}/breakdown", () => {
  it("shows which kernel is over-represented among affected hosts", async () => {
    const body = await get<{
      affectedHosts: number;
      fleetHosts: number;
      groups: { value: string; affectedHosts: number; share: number; lift: number }[];
    }>(`/v1/patterns/reattach-bdf-race/breakdown?${window}&by=kernel`);
    expect(body.affectedHosts).toBe(2);
    expect(body.fleetHosts).toBe(6);
    expect(body.groups).toEqual([
      {
        value: "5.10.134-16.al8.x86_64",
        affectedHosts: 2,
        fleetHosts: 2,
        share: 1,
        fleetShare: 0.333,
        lift: 3,
        rate: 1,
      },
    ]);
  });

  it.each(["zone", "driver", "instanceType"])("breaks down by %s", async (by) => {
    const body = await get<{ groups: unknown[] }>(
      `/v1/patterns/reattach-bdf-race/breakdown?${window}&by=${by}`,
    );
    expect(body.groups.length).toBeGreaterThan(0);
  });
});

describe("GET /v1/patterns/{detector}/timeline", () => {
  it("gives one bucket per day with active hosts and new episodes", async () => {
    const body = await get<{ buckets: { day: string; hosts: number; active: number; started: number }[] }>(
      `/v1/patterns/reattach-bdf-race/timeline?since=${new Date(T - 5 * DAY).toISOString()}&until=${new Date(T).toISOString()}`,
    );
    expect(body.buckets).toHaveLength(6);
    expect(body.buckets[0]).toEqual({ day: "2026-03-05", hosts: 1, active: 1, started: 1 });
    expect(body.buckets.find((b) => b.day === "2026-03-09")).toEqual({
      day: "2026-03-09",
      hosts: 1,
      active: 1,
      started: 1,
    });
    expect(body.buckets.find((b) => b.day === "2026-03-07")).toEqual({
      day: "2026-03-07",
      hosts: 0,
      active: 0,
      started: 0,
    });
  });
});

describe("GET /v1/incidents", () => {
  it("filters by detector and status and pages newest first", async () => {
    const body = await get<{ incidents: { id: string }[]; nextCursor: string | null }>(
      "/v1/incidents?detector=reattach-bdf-race&status=open&limit=2",
    );
    expect(body.incidents.map((i) => i.id)).toEqual(["ep_b1", "ep_a2"]);
    const next = await get<{ incidents: { id: string }[]; nextCursor: string | null }>(
      `/v1/incidents?detector=reattach-bdf-race&status=open&limit=2&cursor=${body.nextCursor}`,
    );
    expect(next.incidents.map((i) => i.id)).toEqual(["ep_a1"]);
    expect(next.nextCursor).toBeNull();
  });

  it("returns one incident with its evidence and explanation, 404 for an unknown id", async () => {
    const one = await get<{ id: string; explanation: string; evidence: unknown[] }>("/v1/incidents/ep_d1");
    expect(one).toMatchObject({ id: "ep_d1", explanation: "summary of ep_d1", evidence: [] });
    expect((await svc.call("/v1/incidents/ep_nope")).status).toBe(404);
  });
});
