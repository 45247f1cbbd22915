/**
 * sqslite@2.1.1 (a local SQS server speaking only the query protocol) started in-process on a free
 * loopback port, for worker tests. Its quirks, read from node_modules/sqslite/lib/sqs.js:
 * - queue URLs only resolve through `http://localhost:PORT/queues/NAME` (a regex in sqs.js), so the
 *   endpoint must name `localhost`, never 127.0.0.1;
 * - every message of one ReceiveMessage shares one receipt handle, and there is no visibility
 *   timeout (a received message never comes back), so redelivery cannot be observed here;
 * - its DeleteMessageBatch keeps the listed messages and drops every other one (an inverted filter).
 *   The wrapper below routes DeleteMessageBatch to sqslite's own per-message delete instead, so the
 *   Worker's real DeleteMessageBatch request is served as AWS would serve it. Everything else is
 *   sqslite unchanged.
 * Queues live in one module-level map per process: tests use distinct queue names.
 */

import { createRequire } from "node:module";
import type { AddressInfo } from "node:net";

const require = createRequire(import.meta.url);

interface SqsliteServer {
  addHook(
    name: "preHandler",
    hook: (req: { body: unknown; headers: Record<string, unknown> }, reply: FastifyReply) => Promise<unknown>,
  ): void;
  listen(opts: { port: number; host: string }): Promise<string>;
  close(): Promise<void>;
  server: { address(): AddressInfo | string | null };
}
interface FastifyReply {
  header(name: string, value: string): FastifyReply;
  send(body: string): FastifyReply;
}
interface SqsliteState {
  deleteMessage(args: { QueueUrl: string; ReceiptHandle: string }): void;
}

/** One request as the server saw it: which wire protocol it used and which action it asked for. */
export interface SeenRequest {
  contentType: string;
  action: string;
}

export interface Sqslite {
  /** `http://localhost:PORT`: the endpoint for SDK clients and the Worker. */
  endpoint: string;
  /** Every request received, in order (content type and the query protocol's Action). */
  requests: SeenRequest[];
  close(): Promise<void>;
}

/** Starts sqslite on a free port on localhost, with the DeleteMessageBatch fix described above. */
export async function startSqslite(): Promise<Sqslite> {
  const createServer = require("sqslite") as (opts: object) => SqsliteServer;
  const state = require("sqslite/lib/sqs") as SqsliteState;
  const app = createServer({ logger: false });
  const requests: SeenRequest[] = [];
  app.addHook("preHandler", async (req, reply) => {
    const body = (req.body ?? {}) as Record<string, string | undefined>;
    requests.push({ contentType: String(req.headers["content-type"] ?? ""), action: body.Action ?? "" });
    if (body.Action !== "DeleteMessageBatch" || !body.QueueUrl) return;
    const ids: string[] = [];
    for (let i = 1; body[`DeleteMessageBatchRequestEntry.${i}.Id`] !== undefined; i++) {
      const receiptHandle = body[`DeleteMessageBatchRequestEntry.${i}.ReceiptHandle`] ?? "";
      state.deleteMessage({ QueueUrl: body.QueueUrl, ReceiptHandle: receiptHandle });
      ids.push(body[`DeleteMessageBatchRequestEntry.${i}.Id`] ?? "");
    }
    const entries = ids.map(
      (id) => `<DeleteMessageBatchResultEntry><Id>${xmlText(id)}</Id></DeleteMessageBatchResultEntry>`,
    );
    return reply
      .header("content-type", "application/xml")
      .send(
        `<?xml version="1.0"?><DeleteMessageBatchResponse><DeleteMessageBatchResult>${entries.join("")}` +
          "</DeleteMessageBatchResult><ResponseMetadata><RequestId>00000000-0000-0000-0000-000000000000" +
          "</RequestId></ResponseMetadata></DeleteMessageBatchResponse>",
      );
  });
  await app.listen({ port: 0, host: "localhost" });
  const address = app.server.address();
  if (!address || typeof address === "string") throw new Error("sqslite did not bind a TCP port");
  return { endpoint: `http://localhost:${address.port}`, requests, close: () => app.close() };
}

function xmlText(text: string): string {
  return text.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
}
