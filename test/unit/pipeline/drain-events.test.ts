/**
 * drainEvents against an in-memory EventSource (SQS delivery rules on a simulated clock) and a real
 * D1 database (miniflare's, with the project's migrations), so storage and its failures are real.
 */
import type { D1Database } from "@cloudflare/workers-types";
import { drizzle } from "drizzle-orm/d1";
import fc from "fast-check";
import type { Miniflare } from "miniflare";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { applyMigrations } from "../../../infra/node/migrations.js";
import { schema } from "../../../shared/db/schema.js";
import type { Db } from "../../../shared/db/types.js";
import { type DrainArgs, drainEvents, splitMessageBody } from "../../../shared/pipeline/drain-events.js";
import { startBareD1 } from "../../support/bare-d1.js";
import { MemoryEventSource } from "../../support/sqs-memory-source.js";

let mf: Miniflare;
let d1: D1Database;
/** When set, D1 batches fail with this error (storage outage); counts every batch call. */
let failBatch: ((call: number) => boolean) | null = null;
let batchCalls = 0;

beforeAll(async () => {
  ({ mf, d1 } = await startBareD1());
  await applyMigrations(d1, "infra/migrations");
});
afterAll(async () => {
  await mf?.dispose();
});
beforeEach(async () => {
  failBatch = null;
  batchCalls = 0;
  await d1.batch([
    d1.prepare("DELETE FROM control_plane_events"),
    d1.prepare("DELETE FROM ingest_errors"),
    d1.prepare("DELETE FROM hosts"),
  ]);
});

/** The D1 binding with `batch` able to fail on demand (every write drainEvents makes goes through it). */
function makeDb(): Db {
  const flaky = new Proxy(d1, {
    get(target, prop) {
      if (prop === "batch") {
        return async (statements: Parameters<D1Database["batch"]>[0]) => {
          const call = ++batchCalls;
          if (failBatch?.(call)) throw new Error("D1_ERROR: storage unavailable");
          return target.batch(statements);
        };
      }
      const value: unknown = Reflect.get(target, prop);
      return typeof value === "function" ? value.bind(target) : value;
    },
  });
  return drizzle(flaky, { schema });
}

function drain(source: MemoryEventSource, extra: Partial<DrainArgs> = {}) {
  return drainEvents({ source, db: makeDb(), nowMs: source.now, budgetMs: 40_000, maxBatches: 20, ...extra });
}

async function storedEvents() {
  const { results } = await d1
    .prepare("SELECT id, instance_id, type, outcome, bdf, at_ms, via FROM control_plane_events ORDER BY id")
    .all<Record<string, unknown>>();
  return results;
}

async function ingestErrors() {
  const { results } = await d1
    .prepare("SELECT kind, ref, code, message FROM ingest_errors ORDER BY id")
    .all<{ kind: string; ref: string; code: string; message: string }>();
  return results;
}

/** A control-plane event as a cloud control plane would publish it. */
function event(id: string, over: Record<string, unknown> = {}) {
  return {
    id,
    type: "attach",
    outcome: "succeeded",
    diskId: "d-bp1g6qn7zcd3f8l2x9ab",
    instanceId: "i-8vb0ch3k2v5m1q",
    bdf: "0000:21:01.4",
    serial: "d-bp1g6qn7zcd3f8l2x9ab",
    mode: "vfio",
    at: "2026-03-03T10:14:02Z",
    ...over,
  };
}

describe("splitMessageBody", () => {
  const notJson = (detail: string) => [
    { index: 0, id: undefined, error: `SQS message 8a888b25: body is not JSON: ${detail}` },
  ];
  it.each([
    ["one event object", JSON.stringify(event("ev-1")), [{ index: 0, id: "ev-1", error: undefined }]],
    [
      "an array of events",
      JSON.stringify([event("ev-1"), event("ev-2")]),
      [
        { index: 0, id: "ev-1", error: undefined },
        { index: 1, id: "ev-2", error: undefined },
      ],
    ],
    ["an empty array", "[]", []],
    [
      "a body with a byte-order mark",
      `\uFEFF${JSON.stringify({ id: "ev-bom" })}`,
      [{ index: 0, id: "ev-bom", error: undefined }],
    ],
    ["a JSON scalar (left for validation to reject)", "42", [{ index: 0, id: undefined, error: undefined }]],
    [
      "a body that is not JSON",
      "attach d-bp1g6qn7zcd3f8l2x9ab to i-8vb0ch3k2v5m1q",
      notJson(`SyntaxError: Unexpected token 'a', "attach d-b"... is not valid JSON`),
    ],
    ["an empty body", "", notJson("SyntaxError: Unexpected end of JSON input")],
    [
      "a cut-off array",
      '[{"id":"ev-1","type":"attach"',
      notJson("SyntaxError: Expected ',' or '}' after property value in JSON at position 29"),
    ],
  ])("splits %s into candidate events", (_name, body, expected) => {
    const items = splitMessageBody({ id: "8a888b25", body }).map((i) => ({
      index: i.index,
      id: (i.value as { id?: string } | undefined)?.id,
      error: i.error,
    }));
    expect(items).toEqual(expected);
  });

  it("rejects a message with more events than a request may carry, naming the message", () => {
    const body = JSON.stringify(Array.from({ length: 5001 }, (_, i) => ({ id: `ev-${i}` })));
    expect(splitMessageBody({ id: "m-big", body })).toEqual([
      { index: 0, value: undefined, error: "SQS message m-big: 5001 events; at most 5000 per message" },
    ]);
  });

  it("never throws, whatever the body", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), (body) => {
        const items = splitMessageBody({ id: "m", body });
        expect(items.length, body).toBeGreaterThanOrEqual(0);
      }),
    );
  });
});

describe("drainEvents", () => {
  it("stores valid events once, records the invalid ones and deletes every message", async () => {
    const source = new MemoryEventSource();
    source.send(
      JSON.stringify(event("ev-single")),
      JSON.stringify([
        event("ev-arr-1", { type: "detach", instanceId: "i-2ze5f1k9d0c" }),
        event("ev-arr-2", { instanceId: "i-2ze5f1k9d0c", mode: "host" }),
      ]),
      JSON.stringify(event("ev-single")),
      JSON.stringify([
        event("ev-tz-shanghai", { at: "2026-03-03T18:14:02+08:00" }),
        event("ev-bad", { bdf: "21:01.4" }),
      ]),
      JSON.stringify(event("ev-tz-newyork", { at: "2026-03-03T05:14:02.250-05:00" })),
      JSON.stringify(event("ev-tz-kolkata", { at: "2026-03-03T15:44:02+05:30" })),
      JSON.stringify({ type: "attach", diskId: "vol-0a1b2c3d4e5f67890" }),
      "<Event>attach</Event>",
    );
    const result = await drain(source);
    expect(result).toMatchInlineSnapshot(`
      {
        "accepted": 6,
        "batches": 1,
        "deleted": 8,
        "duplicates": 1,
        "hosts": [
          "i-2ze5f1k9d0c",
          "i-8vb0ch3k2v5m1q",
        ],
        "kept": 0,
        "polls": 2,
        "received": 8,
        "redecided": 0,
        "rejected": 3,
        "stoppedBy": "drained",
      }
    `);
    expect(source.remaining(), "every message is recorded, so every message is deleted").toEqual([]);
    expect(await storedEvents()).toMatchInlineSnapshot(`
      [
        {
          "at_ms": 1772532842000,
          "bdf": "0000:21:01.4",
          "id": "ev-arr-1",
          "instance_id": "i-2ze5f1k9d0c",
          "outcome": "succeeded",
          "type": "detach",
          "via": "sqs",
        },
        {
          "at_ms": 1772532842000,
          "bdf": "0000:21:01.4",
          "id": "ev-arr-2",
          "instance_id": "i-2ze5f1k9d0c",
          "outcome": "succeeded",
          "type": "attach",
          "via": "sqs",
        },
        {
          "at_ms": 1772532842000,
          "bdf": "0000:21:01.4",
          "id": "ev-single",
          "instance_id": "i-8vb0ch3k2v5m1q",
          "outcome": "succeeded",
          "type": "attach",
          "via": "sqs",
        },
        {
          "at_ms": 1772532842000,
          "bdf": "0000:21:01.4",
          "id": "ev-tz-kolkata",
          "instance_id": "i-8vb0ch3k2v5m1q",
          "outcome": "succeeded",
          "type": "attach",
          "via": "sqs",
        },
        {
          "at_ms": 1772532842250,
          "bdf": "0000:21:01.4",
          "id": "ev-tz-newyork",
          "instance_id": "i-8vb0ch3k2v5m1q",
          "outcome": "succeeded",
          "type": "attach",
          "via": "sqs",
        },
        {
          "at_ms": 1772532842000,
          "bdf": "0000:21:01.4",
          "id": "ev-tz-shanghai",
          "instance_id": "i-8vb0ch3k2v5m1q",
          "outcome": "succeeded",
          "type": "attach",
          "via": "sqs",
        },
      ]
    `);
    expect(await ingestErrors()).toMatchInlineSnapshot(`
      [
        {
          "code": "invalid_event",
          "kind": "event",
          "message": "bdf: expected a PCI address like 0000:21:01.4",
          "ref": "ev-bad",
        },
        {
          "code": "invalid_event",
          "kind": "event",
          "message": "id: Invalid input: expected string, received undefined; instanceId: Invalid input: expected string, received undefined; at: Invalid input: expected string, received undefined",
          "ref": "item 0",
        },
        {
          "code": "invalid_event",
          "kind": "event",
          "message": "SQS message msg-008: body is not JSON: SyntaxError: Unexpected token '<', "<Event>att"... is not valid JSON",
          "ref": "item 0",
        },
      ]
    `);
  });

  it("changes nothing when a message is delivered again", async () => {
    const source = new MemoryEventSource({ visibilityTimeoutSeconds: 30 });
    source.send(JSON.stringify([event("ev-re-1"), event("ev-re-2")]));
    source.failAcks = 1;
    const first = await drain(source);
    expect(first, "stored, but the delete failed").toMatchObject({
      accepted: 2,
      deleted: 0,
      stoppedBy: "ack_failed",
      error: "Error: DeleteMessageBatch: 10 entries failed",
    });
    expect(source.remaining()).toEqual(["msg-001"]);

    source.advance(31_000);
    const second = await drain(source);
    expect(second, "redelivered after the visibility timeout").toMatchObject({
      received: 1,
      accepted: 0,
      duplicates: 2,
      deleted: 1,
      stoppedBy: "drained",
    });
    expect(source.remaining()).toEqual([]);
    expect((await storedEvents()).map((e) => e.id)).toEqual(["ev-re-1", "ev-re-2"]);
  });

  it("leaves a message undeleted when storing it fails, and stores it on redelivery", async () => {
    const source = new MemoryEventSource({ visibilityTimeoutSeconds: 30 });
    source.send(JSON.stringify(event("ev-outage")), JSON.stringify({ id: "ev-outage-bad" }));
    failBatch = () => true;
    const during = await drain(source);
    expect(during).toMatchInlineSnapshot(`
      {
        "accepted": 0,
        "batches": 1,
        "deleted": 0,
        "duplicates": 0,
        "error": "message msg-001: Error: D1_ERROR: storage unavailable",
        "hosts": [],
        "kept": 2,
        "polls": 1,
        "received": 2,
        "redecided": 0,
        "rejected": 0,
        "stoppedBy": "storage_failed",
      }
    `);
    expect(source.remaining(), "nothing deleted while storage is down").toEqual(["msg-001", "msg-002"]);
    expect(source.acks).toEqual([]);
    expect(await storedEvents()).toEqual([]);

    failBatch = null;
    const early = await drain(source);
    expect(early.received, "still invisible inside the visibility timeout").toBe(0);

    source.advance(30_000);
    const after = await drain(source);
    expect(after).toMatchObject({ received: 2, accepted: 1, rejected: 1, deleted: 2, kept: 0 });
    expect(source.remaining()).toEqual([]);
    expect((await storedEvents()).map((e) => e.id)).toEqual(["ev-outage"]);
  });

  it("queues one re-decision per host whose latest snapshot predates a new event, per batch", async () => {
    const snapshotAt = Date.UTC(2026, 2, 3, 10, 30);
    await d1.batch(
      ["i-late-1", "i-late-2"].map((hostId) =>
        d1
          .prepare(
            "INSERT INTO hosts (host_id, first_seen_ms, last_seen_ms, view_captured_at_ms, latest_snapshot_key) VALUES (?, ?, ?, ?, ?)",
          )
          .bind(
            hostId,
            snapshotAt,
            snapshotAt,
            snapshotAt,
            `snapshots/${hostId}/2026-03-03/103000-ab12.json.gz`,
          ),
      ),
    );
    const source = new MemoryEventSource();
    source.send(
      JSON.stringify(event("ev-late-1a", { instanceId: "i-late-1", at: "2026-03-03T10:20:00Z" })),
      JSON.stringify(event("ev-late-1b", { instanceId: "i-late-1", at: "2026-03-03T18:25:00+08:00" })),
      JSON.stringify(event("ev-late-2-after", { instanceId: "i-late-2", at: "2026-03-03T10:40:00Z" })),
      JSON.stringify(event("ev-late-unknown-host", { instanceId: "i-never-shipped" })),
    );
    const calls: unknown[] = [];
    const result = await drain(source, {
      redecide: async (hosts) => {
        calls.push(hosts);
      },
    });
    expect(result.redecided).toBe(1);
    expect(calls, "only i-late-1 had an event older than its snapshot").toEqual([
      [{ hostId: "i-late-1", snapshotKey: "snapshots/i-late-1/2026-03-03/103000-ab12.json.gz" }],
    ]);
  });

  it("still deletes the messages when queueing the re-decision fails", async () => {
    const snapshotAt = Date.UTC(2026, 2, 3, 10, 30);
    await d1
      .prepare(
        "INSERT INTO hosts (host_id, first_seen_ms, last_seen_ms, view_captured_at_ms, latest_snapshot_key) VALUES (?, ?, ?, ?, ?)",
      )
      .bind(
        "i-late-3",
        snapshotAt,
        snapshotAt,
        snapshotAt,
        "snapshots/i-late-3/2026-03-03/103000-cd34.json.gz",
      )
      .run();
    const source = new MemoryEventSource();
    source.send(JSON.stringify(event("ev-late-3", { instanceId: "i-late-3" })));
    const result = await drain(source, {
      redecide: () => Promise.reject(new Error("Queue send failed")),
    });
    expect(result).toMatchObject({
      accepted: 1,
      deleted: 1,
      redecided: 0,
      error: "redecide: Error: Queue send failed",
    });
    expect(source.remaining()).toEqual([]);
  });

  it("deletes the messages it stored when one message of the batch fails to store", async () => {
    const source = new MemoryEventSource();
    source.send(
      JSON.stringify(event("ev-p-1")),
      JSON.stringify(event("ev-p-2")),
      JSON.stringify(event("ev-p-3")),
    );
    // One D1 batch per message here: fail the second message's insert only.
    failBatch = (call) => call === 2;
    const result = await drain(source, { maxBatches: 1 });
    expect(result).toMatchObject({ received: 3, accepted: 2, deleted: 2, kept: 1, stoppedBy: "max_batches" });
    expect(result.error).toMatch(/^message msg-002: Error: D1_ERROR: storage unavailable/);
    expect(source.remaining()).toEqual(["msg-002"]);
    expect(source.acks).toEqual([["msg-001", "msg-003"]]);
  });

  it("stops polling when what is left of the budget is the reserve, shortening the last waits", async () => {
    const source = new MemoryEventSource({ receiveCostMs: 6_000 });
    source.send(...Array.from({ length: 35 }, (_, i) => JSON.stringify(event(`ev-b-${i}`))));
    const result = await drain(source, { budgetMs: 20_000, reserveMs: 5_000, maxWaitSeconds: 5 });
    expect(result.stoppedBy).toBe("budget");
    const start = Date.UTC(2026, 2, 3, 10, 0, 0);
    expect(
      source.polls.map((p) => ({ ...p, startedAtMs: p.startedAtMs - start })),
      "each poll starts before budget - reserve (15 s) and waits no longer than what is left",
    ).toMatchInlineSnapshot(`
      [
        {
          "got": 10,
          "startedAtMs": 0,
          "waitSeconds": 5,
        },
        {
          "got": 10,
          "startedAtMs": 6000,
          "waitSeconds": 5,
        },
        {
          "got": 10,
          "startedAtMs": 12000,
          "waitSeconds": 3,
        },
      ]
    `);
    expect(result.received).toBe(source.polls.reduce((n, p) => n + p.got, 0));
    expect(source.remaining().length).toBe(35 - result.deleted);
  });

  it("waits at most what is left of the budget on an empty queue, then stops", async () => {
    const source = new MemoryEventSource();
    const result = await drain(source, { budgetMs: 8_000, reserveMs: 5_000, maxWaitSeconds: 20 });
    expect(result).toMatchObject({ received: 0, polls: 1, stoppedBy: "drained" });
    expect(source.polls.map((p) => p.waitSeconds)).toEqual([3]);
  });

  it.each([
    [undefined, 5],
    [20, 20],
    [60, 20],
    [0, 0],
  ])("caps the long poll given maxWaitSeconds %s at %s s", async (maxWaitSeconds, expected) => {
    const source = new MemoryEventSource();
    await drain(source, maxWaitSeconds === undefined ? {} : { maxWaitSeconds });
    expect(source.polls.map((p) => p.waitSeconds)).toEqual([expected]);
  });

  it("stops after maxBatches non-empty batches and leaves the rest for the next run", async () => {
    const source = new MemoryEventSource();
    source.send(...Array.from({ length: 25 }, (_, i) => JSON.stringify(event(`ev-m-${i}`))));
    const result = await drain(source, { maxBatches: 2 });
    expect(result).toMatchObject({
      received: 20,
      accepted: 20,
      deleted: 20,
      batches: 2,
      stoppedBy: "max_batches",
    });
    expect(source.remaining()).toHaveLength(5);
  });

  it("stops on a receive failure, keeping the counts of the batches it already stored", async () => {
    const source = new MemoryEventSource();
    source.send(...Array.from({ length: 12 }, (_, i) => JSON.stringify(event(`ev-r-${i}`))));
    const receive = source.receive.bind(source);
    let calls = 0;
    source.receive = (max, wait) =>
      ++calls === 2 ? Promise.reject(new Error("ReceiveMessage: connection reset")) : receive(max, wait);
    const result = await drain(source);
    expect(result).toMatchObject({
      polls: 2,
      received: 10,
      accepted: 10,
      deleted: 10,
      stoppedBy: "receive_failed",
    });
    expect(result.error).toBe("Error: ReceiveMessage: connection reset");
    expect(source.remaining()).toHaveLength(2);
  });

  it("deletes every message whatever its body, when storage works", async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(
          fc.oneof(
            fc.string({ unit: "binary", maxLength: 80 }),
            fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
            fc
              .record({ id: fc.string({ minLength: 1, maxLength: 8 }), at: fc.string({ maxLength: 30 }) })
              .map((r) => JSON.stringify(event(`ev-prop-${r.id}`, { at: r.at }))),
          ),
          { minLength: 1, maxLength: 12 },
        ),
        async (bodies) => {
          const source = new MemoryEventSource();
          source.send(...bodies);
          const result = await drain(source);
          expect(source.remaining(), JSON.stringify(bodies)).toEqual([]);
          expect(result.deleted).toBe(bodies.length);
          expect(result.kept).toBe(0);
        },
      ),
      { numRuns: 15 },
    );
  });
});
