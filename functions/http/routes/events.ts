/** POST /v1/control-plane/events: attach/detach events as a JSON array or NDJSON. */
import { createRoute, z } from "@hono/zod-openapi";
import { readBodyLimited } from "../../../infra/worker/gzip.js";
import { ApiError } from "../../../shared/errors.js";
import {
  acceptEvents,
  MAX_EVENTS_PER_REQUEST,
  splitEventBody,
} from "../../../shared/pipeline/accept-events.js";
import { enqueueRedecide } from "../../queues/enqueue.js";
import { requireScope } from "../auth.js";
import { bearerSecurity, subApp } from "../context.js";
import { ErrorResponse } from "../schemas.js";

const MAX_BODY = 5 * 1024 * 1024;

const Verdict = z.object({
  index: z.number(),
  id: z.string().nullable(),
  status: z.enum(["accepted", "duplicate", "rejected"]),
  reason: z.string().optional(),
});
const BatchResult = z.object({
  accepted: z.number(),
  duplicates: z.number(),
  rejected: z.number(),
  results: z.array(Verdict),
});

export const eventsApp = subApp().openapi(
  createRoute({
    method: "post",
    path: "/v1/control-plane/events",
    summary: "Post control-plane events (JSON array, or NDJSON with Content-Type application/x-ndjson)",
    security: bearerSecurity,
    middleware: [requireScope("ingest")] as const,
    responses: {
      200: { description: "Per-event verdicts", content: { "application/json": { schema: BatchResult } } },
      400: { description: "Unreadable body", content: { "application/json": { schema: ErrorResponse } } },
      413: {
        description: "Too many events or too large",
        content: { "application/json": { schema: ErrorResponse } },
      },
    },
  }),
  async (c) => {
    const body = await readBodyLimited(c.req.raw, MAX_BODY);
    if (!body.ok) throw new ApiError("payload_too_large", `body exceeds ${MAX_BODY} bytes`);
    const ndjson = (c.req.header("content-type") ?? "").includes("ndjson");
    const { items } = splitEventBody(new TextDecoder().decode(body.bytes), ndjson);
    if (items.length === 0) throw new ApiError("invalid_request", "no events in the body");
    if (items.length > MAX_EVENTS_PER_REQUEST) {
      throw new ApiError(
        "payload_too_large",
        `${items.length} events; at most ${MAX_EVENTS_PER_REQUEST} per request`,
      );
    }
    const res = await acceptEvents({ items, via: "http", db: c.get("db"), nowMs: Date.now() });
    const { hosts: _hosts, redecide, ...answer } = res;
    await enqueueRedecide(c.env, redecide);
    return c.json(answer, 200);
  },
);
