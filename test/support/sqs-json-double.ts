/**
 * A TEST DOUBLE standing in for AWS SQS's JSON 1.0 wire protocol (the @aws-sdk/client-sqs default),
 * which no installable local server speaks (sqslite and emulate only speak the older query protocol).
 * It is not an SQS implementation: it serves the handful of operations faultline and its tests use,
 * as AWS documents them for `application/x-amz-json-1.0` with `X-Amz-Target: AmazonSQS.<Operation>`:
 * CreateQueue, GetQueueUrl, SendMessage, SendMessageBatch, ReceiveMessage (long polling, visibility
 * timeout, a fresh receipt handle per receive), DeleteMessage, DeleteMessageBatch, GetQueueAttributes.
 * It checks each request's SigV4 signature against the configured key pair, and answers errors the
 * way AWS does for query-compatible services (`__type` plus the `x-amzn-query-error` header).
 */
import { createHash, createHmac, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface SqsJsonDoubleOptions {
  accessKeyId: string;
  secretAccessKey: string;
  region?: string;
}

/** One request as the double saw it. */
export interface SeenJsonRequest {
  target: string;
  contentType: string;
  /** `x-amzn-query-mode`, which the SDK sends for query-compatible services. */
  queryMode: string | null;
  /** The access key id in the SigV4 credential scope. */
  accessKeyId: string | null;
  status: number;
}

interface StoredMessage {
  messageId: string;
  body: string;
  visibleAtMs: number;
  receiptHandle: string | null;
  receiveCount: number;
}

interface Queue {
  name: string;
  url: string;
  visibilityTimeoutSeconds: number;
  messages: StoredMessage[];
}

export interface SqsJsonDouble {
  /** `http://127.0.0.1:PORT`: the endpoint for SDK clients and the Worker. */
  endpoint: string;
  requests: SeenJsonRequest[];
  /** Messages still on the queue: visible ones and ones received but not deleted (in flight). */
  depth(queueName: string): { visible: number; inFlight: number };
  /** The next `count` DeleteMessageBatch calls report every entry as failed (a partial-failure answer). */
  failDeletes(count: number): void;
  close(): Promise<void>;
}

class SqsError extends Error {
  constructor(
    readonly status: number,
    readonly type: string,
    readonly queryCode: string,
    message: string,
  ) {
    super(message);
  }
}

const ACCOUNT = "000000000000";

/** Starts the double on a free port on 127.0.0.1. */
export async function startSqsJsonDouble(opts: SqsJsonDoubleOptions): Promise<SqsJsonDouble> {
  const region = opts.region ?? "us-east-1";
  const queues = new Map<string, Queue>();
  const requests: SeenJsonRequest[] = [];
  let deleteFailures = 0;
  let endpoint = "";

  const noSuchQueue = () =>
    new SqsError(
      400,
      "com.amazonaws.sqs#QueueDoesNotExist",
      "AWS.SimpleQueueService.NonExistentQueue;Sender",
      "The specified queue does not exist.",
    );
  const queueOf = (input: Record<string, unknown>): Queue => {
    const url = typeof input.QueueUrl === "string" ? input.QueueUrl : "";
    const q = queues.get(url.slice(url.lastIndexOf("/") + 1));
    if (!q || q.url !== url) throw noSuchQueue();
    return q;
  };
  const md5 = (text: string) => createHash("md5").update(text, "utf8").digest("hex");
  const visible = (q: Queue, now: number) => q.messages.filter((m) => m.visibleAtMs <= now);

  const operations: Record<string, (input: Record<string, unknown>) => Promise<unknown>> = {
    async CreateQueue(input) {
      const name = String(input.QueueName ?? "");
      if (!/^[A-Za-z0-9_-]{1,80}$/.test(name)) {
        throw new SqsError(
          400,
          "com.amazonaws.sqs#InvalidParameterValue",
          "InvalidParameterValue;Sender",
          "bad name",
        );
      }
      const attrs = (input.Attributes ?? {}) as Record<string, string>;
      if (!queues.has(name)) {
        queues.set(name, {
          name,
          url: `${endpoint}/${ACCOUNT}/${name}`,
          visibilityTimeoutSeconds: Number(attrs.VisibilityTimeout ?? 30),
          messages: [],
        });
      }
      return { QueueUrl: queues.get(name)?.url };
    },
    async GetQueueUrl(input) {
      const q = queues.get(String(input.QueueName ?? ""));
      if (!q) throw noSuchQueue();
      return { QueueUrl: q.url };
    },
    async SendMessage(input) {
      const q = queueOf(input);
      const body = String(input.MessageBody ?? "");
      const messageId = randomUUID();
      q.messages.push({ messageId, body, visibleAtMs: 0, receiptHandle: null, receiveCount: 0 });
      return { MessageId: messageId, MD5OfMessageBody: md5(body) };
    },
    async SendMessageBatch(input) {
      const q = queueOf(input);
      const entries = (input.Entries ?? []) as { Id: string; MessageBody: string }[];
      const Successful = entries.map((e) => {
        const messageId = randomUUID();
        q.messages.push({
          messageId,
          body: e.MessageBody,
          visibleAtMs: 0,
          receiptHandle: null,
          receiveCount: 0,
        });
        return { Id: e.Id, MessageId: messageId, MD5OfMessageBody: md5(e.MessageBody) };
      });
      return { Successful, Failed: [] };
    },
    async ReceiveMessage(input) {
      const q = queueOf(input);
      const max = Math.min(10, Math.max(1, Number(input.MaxNumberOfMessages ?? 1)));
      const waitMs = Math.min(20, Math.max(0, Number(input.WaitTimeSeconds ?? 0))) * 1000;
      const timeoutSeconds = Number(input.VisibilityTimeout ?? q.visibilityTimeoutSeconds);
      const until = Date.now() + waitMs;
      // Long poll: answer as soon as something is visible, or empty when the wait runs out.
      while (visible(q, Date.now()).length === 0 && Date.now() < until) {
        await new Promise((r) => setTimeout(r, 25));
      }
      const now = Date.now();
      const picked = visible(q, now).slice(0, max);
      for (const m of picked) {
        m.visibleAtMs = now + timeoutSeconds * 1000;
        m.receiptHandle = randomUUID();
        m.receiveCount++;
      }
      return {
        Messages: picked.map((m) => ({
          MessageId: m.messageId,
          ReceiptHandle: m.receiptHandle,
          MD5OfBody: md5(m.body),
          Body: m.body,
        })),
      };
    },
    async DeleteMessage(input) {
      const q = queueOf(input);
      const i = q.messages.findIndex((m) => m.receiptHandle === input.ReceiptHandle);
      if (i < 0) {
        throw new SqsError(
          400,
          "com.amazonaws.sqs#ReceiptHandleIsInvalid",
          "ReceiptHandleIsInvalid;Sender",
          "The input receipt handle is invalid.",
        );
      }
      q.messages.splice(i, 1);
      return {};
    },
    async DeleteMessageBatch(input) {
      const q = queueOf(input);
      const entries = (input.Entries ?? []) as { Id: string; ReceiptHandle: string }[];
      if (entries.length === 0 || entries.length > 10) {
        throw new SqsError(
          400,
          entries.length
            ? "com.amazonaws.sqs#TooManyEntriesInBatchRequest"
            : "com.amazonaws.sqs#EmptyBatchRequest",
          entries.length
            ? "AWS.SimpleQueueService.TooManyEntriesInBatchRequest;Sender"
            : "AWS.SimpleQueueService.EmptyBatchRequest;Sender",
          "a batch holds 1 to 10 entries",
        );
      }
      const failAll = deleteFailures > 0;
      if (failAll) deleteFailures--;
      const Successful: { Id: string }[] = [];
      const Failed: { Id: string; SenderFault: boolean; Code: string; Message: string }[] = [];
      for (const e of entries) {
        const i = q.messages.findIndex((m) => m.receiptHandle === e.ReceiptHandle);
        if (failAll) {
          Failed.push({ Id: e.Id, SenderFault: false, Code: "InternalError", Message: "injected failure" });
        } else if (i < 0) {
          Failed.push({
            Id: e.Id,
            SenderFault: true,
            Code: "ReceiptHandleIsInvalid",
            Message: "invalid handle",
          });
        } else {
          q.messages.splice(i, 1);
          Successful.push({ Id: e.Id });
        }
      }
      return { Successful, Failed };
    },
    async GetQueueAttributes(input) {
      const q = queueOf(input);
      const now = Date.now();
      const shown = visible(q, now).length;
      return {
        Attributes: {
          ApproximateNumberOfMessages: String(shown),
          ApproximateNumberOfMessagesNotVisible: String(q.messages.length - shown),
          VisibilityTimeout: String(q.visibilityTimeoutSeconds),
        },
      };
    },
  };

  const server = createServer((req, res) => {
    void handle(req, res);
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const raw = Buffer.concat(chunks);
    const target = String(req.headers["x-amz-target"] ?? "");
    const seen: SeenJsonRequest = {
      target,
      contentType: String(req.headers["content-type"] ?? ""),
      queryMode:
        typeof req.headers["x-amzn-query-mode"] === "string" ? req.headers["x-amzn-query-mode"] : null,
      accessKeyId: null,
      status: 200,
    };
    requests.push(seen);
    const answer = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      seen.status = status;
      res.writeHead(status, { "content-type": "application/x-amz-json-1.0", ...headers });
      res.end(JSON.stringify(body));
    };
    try {
      if (req.method !== "POST" || seen.contentType !== "application/x-amz-json-1.0") {
        throw new SqsError(
          400,
          "com.amazon.coral.service#UnknownOperationException",
          "UnknownOperation;Sender",
          "not an AWS JSON 1.0 request",
        );
      }
      seen.accessKeyId = verifySigV4(req, raw, opts, region);
      const operation = target.startsWith("AmazonSQS.")
        ? operations[target.slice("AmazonSQS.".length)]
        : undefined;
      if (!operation) {
        throw new SqsError(
          400,
          "com.amazon.coral.service#UnknownOperationException",
          "UnknownOperation;Sender",
          `unknown target ${target}`,
        );
      }
      const input = JSON.parse(raw.toString("utf8") || "{}") as Record<string, unknown>;
      answer(200, await operation(input));
    } catch (err) {
      if (err instanceof SqsError) {
        answer(
          err.status,
          { __type: err.type, message: err.message },
          { "x-amzn-query-error": err.queryCode },
        );
      } else {
        answer(500, { __type: "com.amazonaws.sqs#InternalError", message: String(err) });
      }
    }
  }

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    endpoint,
    requests,
    depth(queueName) {
      const q = queues.get(queueName);
      if (!q) return { visible: 0, inFlight: 0 };
      const shown = visible(q, Date.now()).length;
      return { visible: shown, inFlight: q.messages.length - shown };
    },
    failDeletes(count) {
      deleteFailures = count;
    },
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((err) => (err ? reject(err) : resolve()));
      }),
  };
}

/**
 * Recomputes the request's AWS Signature Version 4 with the configured secret and compares; returns
 * the access key id, or throws the error AWS would answer.
 */
function verifySigV4(req: IncomingMessage, body: Buffer, keys: SqsJsonDoubleOptions, region: string): string {
  const deny = (message: string) =>
    new SqsError(
      403,
      "com.amazon.coral.service#InvalidSignatureException",
      "InvalidSignature;Sender",
      message,
    );
  const auth = String(req.headers.authorization ?? "");
  const m =
    /^AWS4-HMAC-SHA256 Credential=([^/]+)\/(\d{8})\/([^/]+)\/([^/]+)\/aws4_request, ?SignedHeaders=([^,]+), ?Signature=([0-9a-f]{64})$/.exec(
      auth,
    );
  if (!m) throw deny("missing or malformed SigV4 Authorization header");
  const [, keyId = "", date = "", scopeRegion = "", service = "", signedHeaders = "", signature = ""] = m;
  if (keyId !== keys.accessKeyId) {
    throw new SqsError(
      403,
      "com.amazon.coral.service#UnrecognizedClientException",
      "InvalidClientTokenId;Sender",
      "unknown access key",
    );
  }
  if (scopeRegion !== region || service !== "sqs") throw deny(`credential scope ${scopeRegion}/${service}`);
  const amzDate = String(req.headers["x-amz-date"] ?? "");
  const url = new URL(req.url ?? "/", "http://x");
  const canonicalHeaders = signedHeaders
    .split(";")
    .map(
      (h) =>
        `${h}:${String(req.headers[h] ?? "")
          .trim()
          .replace(/\s+/g, " ")}\n`,
    )
    .join("");
  const canonicalQuery = [...url.searchParams]
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(v)}`)
    .sort()
    .join("&");
  const canonicalRequest = [
    req.method,
    url.pathname,
    canonicalQuery,
    canonicalHeaders,
    signedHeaders,
    createHash("sha256").update(body).digest("hex"),
  ].join("\n");
  const scope = `${date}/${scopeRegion}/${service}/aws4_request`;
  const toSign = [
    "AWS4-HMAC-SHA256",
    amzDate,
    scope,
    createHash("sha256").update(canonicalRequest).digest("hex"),
  ].join("\n");
  const hmac = (key: string | Buffer, data: string) => createHmac("sha256", key).update(data).digest();
  const signingKey = hmac(
    hmac(hmac(hmac(`AWS4${keys.secretAccessKey}`, date), scopeRegion), service),
    "aws4_request",
  );
  const expected = createHmac("sha256", signingKey).update(toSign).digest("hex");
  if (expected !== signature) throw deny("the request signature does not match");
  return keyId;
}
