/** POST /v1/reprocess (admin): re-parse a host's stored snapshots in a time range. */
import { createRoute, z } from "@hono/zod-openapi";
import { r2Store } from "../../../infra/worker/r2.js";
import { Rfc3339Ms } from "../../../shared/contracts/events.js";
import { ApiError } from "../../../shared/errors.js";
import { planReprocess } from "../../../shared/pipeline/reprocess.js";
import { DAY_MS } from "../../../shared/time.js";
import { requireScope } from "../auth.js";
import { bearerSecurity, subApp } from "../context.js";
import { ErrorResponse } from "../schemas.js";

const ReprocessRequest = z.object({
  hostId: z.string().min(1).max(256),
  since: Rfc3339Ms,
  until: Rfc3339Ms.optional(),
  cursor: z.string().max(1024).optional(),
});

export const reprocessApp = subApp().openapi(
  createRoute({
    method: "post",
    path: "/v1/reprocess",
    summary: "Re-parse a host's stored snapshots captured in [since, until] (admin)",
    security: bearerSecurity,
    middleware: [requireScope("admin")] as const,
    request: { body: { content: { "application/json": { schema: ReprocessRequest } }, required: true } },
    responses: {
      202: {
        description: "Queued; call again with nextCursor to continue a long range",
        content: {
          "application/json": { schema: z.object({ queued: z.number(), nextCursor: z.string().nullable() }) },
        },
      },
      400: { description: "Invalid request", content: { "application/json": { schema: ErrorResponse } } },
    },
  }),
  async (c) => {
    const req = c.req.valid("json");
    const untilMs = req.until ?? Date.now();
    if (untilMs < req.since) throw new ApiError("invalid_request", "until is before since");
    if (untilMs - req.since > 400 * DAY_MS)
      throw new ApiError("invalid_request", "range over 400 days; split it");
    const plan = await planReprocess({
      store: r2Store(c.env.SNAPSHOTS),
      hostId: req.hostId,
      sinceMs: req.since,
      untilMs,
      ...(req.cursor ? { cursor: req.cursor } : {}),
    });
    for (let i = 0; i < plan.messages.length; i += 100) {
      await c.env.SNAPSHOT_QUEUE.sendBatch(
        plan.messages.slice(i, i + 100).map((body) => ({ body, contentType: "json" as const })),
      );
    }
    return c.json({ queued: plan.messages.length, nextCursor: plan.cursor }, 202);
  },
);
