/**
 * The control-plane SQS feed end to end: the real Worker bundle on miniflare, its every-minute cron
 * draining a queue through @aws-sdk/client-sqs inside workerd. Query protocol against sqslite (a
 * real local SQS server); the SDK's default JSON 1.0 protocol against test/support/sqs-json-double.ts.
 */
import {
  CreateQueueCommand,
  GetQueueAttributesCommand,
  SendMessageCommand,
  SQSClient,
} from "@aws-sdk/client-sqs";
import { AwsQueryProtocol } from "@aws-sdk/core/protocols";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { gzipBundle, keyOf, makeBundle } from "../support/bundles.js";
import { startTestService, type TestService } from "../support/service.js";
import { type SqsJsonDouble, startSqsJsonDouble } from "../support/sqs-json-double.js";
import { type Sqslite, startSqslite } from "../support/sqslite.js";

const REGION = "us-east-1";
const KEYS = { accessKeyId: "AKIAFAULTLINETEST01", secretAccessKey: "c2VjcmV0LWZvci10ZXN0cy1vbmx5" };

/** A control-plane event as the cloud control plane publishes it. */
function event(id: string, over: Record<string, unknown> = {}) {
  return {
    id,
    type: "attach",
    diskId: "d-bp1g6qn7zcd3f8l2x9ab",
    instanceId: "i-bp1c8x3k2m9qzt",
    bdf: "0000:21:01.4",
    serial: "bp1g6qn7zcd3f8l2x9ab",
    mode: "vfio",
    at: "2026-03-03T10:14:02Z",
    ...over,
  };
}

/** The bodies every protocol test sends: one of each shape the contract allows, and the mistakes. */
function feedBodies(prefix: string): string[] {
  return [
    // a single event
    JSON.stringify(event(`${prefix}-single`)),
    // an array: the detach that freed the BDF and the attach that landed on it
    JSON.stringify([
      event(`${prefix}-detach`, { type: "detach", diskId: "d-bp1aa0old", at: "2026-03-03T18:13:55+08:00" }),
      event(`${prefix}-attach`, { at: "2026-03-03T05:14:01.500-05:00", outcome: "failed" }),
    ]),
    // the same id again (re-delivery by the control plane)
    JSON.stringify(event(`${prefix}-single`, { at: "2026-03-03T15:44:02+05:30" })),
    // an event that already arrived over HTTP
    JSON.stringify(event(`${prefix}-via-http`)),
    // invalid: BDF without a domain, and an event with no instance
    JSON.stringify([
      event(`${prefix}-bad-bdf`, { bdf: "21:01.4" }),
      {
        id: `${prefix}-no-instance`,
        type: "detach",
        diskId: "vol-0a1b2c3d4e5f67890",
        at: "2026-03-03T10:15:00Z",
      },
    ]),
    // not JSON at all
    `attach ${prefix} d-bp1g6qn7zcd3f8l2x9ab`,
    // UTC with an explicit +00:00 offset, EBS-style ids, host mode
    JSON.stringify(
      event(`${prefix}-ebs`, {
        diskId: "vol-0a1b2c3d4e5f67890",
        instanceId: "i-0f1e2d3c4b5a69788",
        bdf: "0000:00:1f.0",
        mode: "host",
        at: "2026-03-03T10:14:03+00:00",
      }),
    ),
  ];
}

async function postEvents(svc: TestService, events: unknown[]) {
  const res = await svc.call("/v1/control-plane/events", {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(events),
  });
  const body = (await res.json()) as { results: { id: string; status: string }[] };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.results;
}

async function storedEvents(svc: TestService, prefix: string) {
  const db = await svc.mf.getD1Database("DB");
  const { results } = await db
    .prepare(
      "SELECT id, type, outcome, instance_id, bdf, mode, at_ms, via FROM control_plane_events WHERE id LIKE ? ORDER BY id",
    )
    .bind(`${prefix}-%`)
    .all();
  return results;
}

/** Event ingest errors about this test's events (by id prefix) or its messages (by SQS message id). */
async function eventErrors(svc: TestService, prefix: string, messageIds: string[]) {
  const res = await svc.call("/v1/ingest/errors?kind=event&limit=1000");
  const body = (await res.json()) as { errors: { ref: string; code: string; message: string }[] };
  expect(res.status, JSON.stringify(body)).toBe(200);
  const mine = (e: { ref: string; message: string }) =>
    e.ref.startsWith(`${prefix}-`) || messageIds.some((id) => e.message.startsWith(`SQS message ${id}:`));
  return body.errors
    .filter(mine)
    .map((e) => ({
      ref: e.ref,
      code: e.code,
      // SQS message ids are random: keep the message readable and stable.
      message: messageIds.reduce((m, id, i) => m.replace(id, `<message ${i + 1}>`), e.message),
    }))
    .sort((a, b) => a.message.localeCompare(b.message));
}

/** Sends each body as one message; returns the SQS message ids in order. */
async function sendAll(client: SQSClient, queueUrl: string, bodies: string[]): Promise<string[]> {
  const ids: string[] = [];
  for (const body of bodies) {
    const out = await client.send(new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: body }));
    ids.push(out.MessageId ?? "");
  }
  return ids;
}

async function fireCron(svc: TestService) {
  const worker = await svc.mf.getWorker();
  const outcome = await worker.scheduled({ cron: "* * * * *", scheduledTime: new Date() });
  expect(outcome.outcome).toBe("ok");
}

describe("control-plane events from SQS over the query protocol (sqslite)", () => {
  let sqs: Sqslite;
  let svc: TestService;
  let client: SQSClient;
  let queueUrl: string;

  beforeAll(async () => {
    sqs = await startSqslite();
    client = new SQSClient({
      region: REGION,
      endpoint: sqs.endpoint,
      credentials: KEYS,
      protocol: AwsQueryProtocol,
    });
    queueUrl =
      (await client.send(new CreateQueueCommand({ QueueName: "faultline-control-plane" }))).QueueUrl ?? "";
    svc = await startTestService({
      SQS_QUEUE_URL: queueUrl,
      SQS_ENDPOINT: sqs.endpoint,
      SQS_PROTOCOL: "query",
      SQS_REGION: REGION,
      SQS_WAIT_SECONDS: "1",
      AWS_ACCESS_KEY_ID: KEYS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey,
    });
  });
  afterAll(async () => {
    await svc?.dispose();
    await sqs?.close();
  });

  it("stores each valid event once, lists the invalid ones in /v1/ingest/errors and empties the queue", async () => {
    expect(queueUrl).toMatch(/^http:\/\/localhost:\d+\/queues\/faultline-control-plane$/);
    await postEvents(svc, [event("q-via-http")]);
    const messageIds = await sendAll(client, queueUrl, feedBodies("q"));
    const seenBefore = sqs.requests.length;

    await fireCron(svc);

    expect(await storedEvents(svc, "q")).toMatchInlineSnapshot(`
      [
        {
          "at_ms": 1772532841500,
          "bdf": "0000:21:01.4",
          "id": "q-attach",
          "instance_id": "i-bp1c8x3k2m9qzt",
          "mode": "vfio",
          "outcome": "failed",
          "type": "attach",
          "via": "sqs",
        },
        {
          "at_ms": 1772532835000,
          "bdf": "0000:21:01.4",
          "id": "q-detach",
          "instance_id": "i-bp1c8x3k2m9qzt",
          "mode": "vfio",
          "outcome": "succeeded",
          "type": "detach",
          "via": "sqs",
        },
        {
          "at_ms": 1772532843000,
          "bdf": "0000:00:1f.0",
          "id": "q-ebs",
          "instance_id": "i-0f1e2d3c4b5a69788",
          "mode": "host",
          "outcome": "succeeded",
          "type": "attach",
          "via": "sqs",
        },
        {
          "at_ms": 1772532842000,
          "bdf": "0000:21:01.4",
          "id": "q-single",
          "instance_id": "i-bp1c8x3k2m9qzt",
          "mode": "vfio",
          "outcome": "succeeded",
          "type": "attach",
          "via": "sqs",
        },
        {
          "at_ms": 1772532842000,
          "bdf": "0000:21:01.4",
          "id": "q-via-http",
          "instance_id": "i-bp1c8x3k2m9qzt",
          "mode": "vfio",
          "outcome": "succeeded",
          "type": "attach",
          "via": "http",
        },
      ]
    `);
    expect(await eventErrors(svc, "q", messageIds)).toMatchInlineSnapshot(`
      [
        {
          "code": "invalid_event",
          "message": "bdf: expected a PCI address like 0000:21:01.4",
          "ref": "q-bad-bdf",
        },
        {
          "code": "invalid_event",
          "message": "instanceId: Invalid input: expected string, received undefined",
          "ref": "q-no-instance",
        },
        {
          "code": "invalid_event",
          "message": "SQS message <message 6>: body is not JSON: SyntaxError: Unexpected token 'a', "attach q d"... is not valid JSON",
          "ref": "item 0",
        },
      ]
    `);
    expect(sqs.requests.slice(seenBefore), "the Worker spoke the query protocol").toEqual([
      { contentType: "application/x-www-form-urlencoded", action: "ReceiveMessage" },
      { contentType: "application/x-www-form-urlencoded", action: "DeleteMessageBatch" },
      { contentType: "application/x-www-form-urlencoded", action: "ReceiveMessage" },
    ]);
    const attrs = await client.send(
      new GetQueueAttributesCommand({ QueueUrl: queueUrl, AttributeNames: ["ApproximateNumberOfMessages"] }),
    );
    expect(attrs.Attributes?.ApproximateNumberOfMessages, "every message deleted").toBe("0");

    // The HTTP API sees the SQS events as already stored.
    const again = await postEvents(svc, [event("q-single"), event("q-attach")]);
    expect(again.map((r) => r.status)).toEqual(["duplicate", "duplicate"]);
  });

  it("changes nothing when the cron fires again on an empty queue", async () => {
    await client.send(
      new SendMessageCommand({ QueueUrl: queueUrl, MessageBody: JSON.stringify(event("q2-once")) }),
    );
    await fireCron(svc);
    const after = await storedEvents(svc, "q2");
    await fireCron(svc);
    expect(await storedEvents(svc, "q2")).toEqual(after);
    expect(after.map((e) => e.id)).toEqual(["q2-once"]);
  });
});

describe("control-plane events from SQS over the SDK's default JSON protocol (test double)", () => {
  let sqs: SqsJsonDouble;
  let svc: TestService;
  let client: SQSClient;
  let queueUrl: string;

  beforeAll(async () => {
    sqs = await startSqsJsonDouble({ ...KEYS, region: REGION });
    // The Node SDK with its default protocol: the double serves the same client the Worker builds.
    client = new SQSClient({ region: REGION, endpoint: sqs.endpoint, credentials: KEYS });
    queueUrl =
      (
        await client.send(
          new CreateQueueCommand({
            QueueName: "faultline-control-plane",
            Attributes: { VisibilityTimeout: "1" },
          }),
        )
      ).QueueUrl ?? "";
    svc = await startTestService({
      SQS_QUEUE_URL: queueUrl,
      SQS_ENDPOINT: sqs.endpoint,
      SQS_REGION: REGION,
      SQS_WAIT_SECONDS: "1",
      AWS_ACCESS_KEY_ID: KEYS.accessKeyId,
      AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey,
    });
  });
  afterAll(async () => {
    await svc?.dispose();
    await sqs?.close();
  });

  it("drains the queue with signed JSON 1.0 requests by default", async () => {
    await postEvents(svc, [event("j-via-http")]);
    const messageIds = await sendAll(client, queueUrl, feedBodies("j"));
    const seenBefore = sqs.requests.length;

    await fireCron(svc);

    expect((await storedEvents(svc, "j")).map((e) => [e.id, e.at_ms])).toMatchInlineSnapshot(`
      [
        [
          "j-attach",
          1772532841500,
        ],
        [
          "j-detach",
          1772532835000,
        ],
        [
          "j-ebs",
          1772532843000,
        ],
        [
          "j-single",
          1772532842000,
        ],
        [
          "j-via-http",
          1772532842000,
        ],
      ]
    `);
    expect((await eventErrors(svc, "j", messageIds)).map((e) => e.ref)).toMatchInlineSnapshot(`
      [
        "j-bad-bdf",
        "j-no-instance",
        "item 0",
      ]
    `);
    expect(sqs.depth("faultline-control-plane"), "every message deleted").toEqual({
      visible: 0,
      inFlight: 0,
    });
    expect(sqs.requests.slice(seenBefore), "the Worker spoke JSON 1.0, signed with its key").toEqual(
      ["ReceiveMessage", "DeleteMessageBatch", "ReceiveMessage"].map((op) => ({
        target: `AmazonSQS.${op}`,
        contentType: "application/x-amz-json-1.0",
        queryMode: "true",
        accessKeyId: KEYS.accessKeyId,
        status: 200,
      })),
    );
  });

  it("stores a redelivered message's events once when its delete failed the first time", async () => {
    await client.send(
      new SendMessageCommand({
        QueueUrl: queueUrl,
        MessageBody: JSON.stringify([event("r-1"), event("r-2", { type: "detach" })]),
      }),
    );
    sqs.failDeletes(1);
    await fireCron(svc);
    expect(sqs.depth("faultline-control-plane"), "stored, but still on the queue").toEqual({
      visible: 0,
      inFlight: 1,
    });
    expect((await storedEvents(svc, "r")).map((e) => e.id)).toEqual(["r-1", "r-2"]);

    await new Promise((r) => setTimeout(r, 1_100)); // the queue's 1 s visibility timeout
    await fireCron(svc);
    expect(sqs.depth("faultline-control-plane"), "deleted on redelivery").toEqual({
      visible: 0,
      inFlight: 0,
    });
    expect((await storedEvents(svc, "r")).map((e) => e.id)).toEqual(["r-1", "r-2"]);
  });
  it("re-decides a host's latest snapshot when an SQS event older than it arrives", async () => {
    const bundle = makeBundle({ hostId: "i-sqs-late", capturedAtMs: Date.UTC(2026, 2, 3, 10, 30) });
    const { body, sha256 } = gzipBundle(bundle);
    const key = keyOf(bundle, sha256);
    const posted = await svc.call("/v1/snapshots", {
      method: "POST",
      body: new Uint8Array(body),
      headers: { "content-encoding": "gzip" },
    });
    expect(posted.status).toBe(201);
    const d1 = await svc.mf.getD1Database("DB");
    const snapshot = async () =>
      (await d1
        .prepare("SELECT status, attempts FROM snapshots WHERE key = ?")
        .bind(key)
        .first<{ status: string; attempts: number }>()) ?? undefined;
    await svc.eventually(async () => ((await snapshot())?.status === "parsed" ? true : undefined));

    await sendAll(client, queueUrl, [
      JSON.stringify(event("late-before", { instanceId: "i-sqs-late", at: "2026-03-03T18:20:00+08:00" })),
    ]);
    await fireCron(svc);
    const after = await svc.eventually(async () => {
      const s = await snapshot();
      return s && s.attempts >= 2 ? s : undefined;
    });
    expect(after, "judged again with the late event").toEqual({ status: "parsed", attempts: 2 });
  });
});

describe("the SQS drain job without a usable queue", () => {
  let sqs: SqsJsonDouble;
  beforeAll(async () => {
    sqs = await startSqsJsonDouble({ ...KEYS, region: REGION });
  });
  afterAll(async () => {
    await sqs?.close();
  });

  it.each([
    ["no SQS_QUEUE_URL (SQS not configured)", {}],
    [
      "a queue URL but no credentials",
      { SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/faultline", SQS_PROTOCOL: "json" },
    ],
    [
      "an unknown protocol",
      {
        SQS_QUEUE_URL: "https://sqs.eu-west-1.amazonaws.com/123456789012/faultline",
        SQS_PROTOCOL: "cbor",
        AWS_ACCESS_KEY_ID: KEYS.accessKeyId,
        AWS_SECRET_ACCESS_KEY: KEYS.secretAccessKey,
      },
    ],
  ])("fires the cron without touching SQS given %s", async (_name, vars: Record<string, string>) => {
    const svc = await startTestService({ SQS_ENDPOINT: sqs.endpoint, ...vars });
    try {
      const before = sqs.requests.length;
      await fireCron(svc);
      expect(sqs.requests.length, "no SQS request").toBe(before);
      const db = await svc.mf.getD1Database("DB");
      const row = await db.prepare("SELECT count(*) AS n FROM control_plane_events").first<{ n: number }>();
      expect(row?.n).toBe(0);
    } finally {
      await svc.dispose();
    }
  });
});
