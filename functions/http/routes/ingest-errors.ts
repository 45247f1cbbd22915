/** GET /v1/ingest/errors: rejected snapshots and events with their reasons, newest first. */
import { createRoute, z } from "@hono/zod-openapi";
import { parseRfc3339 } from "../../../shared/contracts/events.js";
import { listIngestErrors } from "../../../shared/db/ingest.js";
import { ApiError } from "../../../shared/errors.js";
import { requireScope } from "../auth.js";
import { bearerSecurity, subApp } from "../context.js";
import { ErrorResponse } from "../schemas.js";

const IngestError = z.object({
  id: z.number(),
  kind: z.string(),
  ref: z.string(),
  hostId: z.string().nullable(),
  code: z.string(),
  message: z.string(),
  at: z.string(),
});

export const ingestErrorsApp = subApp().openapi(
  createRoute({
    method: "get",
    path: "/v1/ingest/errors",
    summary: "Rejected snapshots, evidence and events, with reasons",
    security: bearerSecurity,
    middleware: [requireScope("read")] as const,
    request: {
      query: z.object({
        kind: z.enum(["snapshot", "event", "evidence", "queue"]).optional(),
        since: z.string().optional(),
        limit: z.coerce.number().int().min(1).max(1000).default(100),
        cursor: z.string().regex(/^\d+$/).optional(),
      }),
    },
    responses: {
      200: {
        description: "Errors, newest first",
        content: {
          "application/json": {
            schema: z.object({ errors: z.array(IngestError), nextCursor: z.string().nullable() }),
          },
        },
      },
      400: { description: "Invalid query", content: { "application/json": { schema: ErrorResponse } } },
    },
  }),
  async (c) => {
    const q = c.req.valid("query");
    const sinceMs = q.since === undefined ? undefined : parseRfc3339(q.since);
    if (sinceMs === null) throw new ApiError("invalid_request", "since: expected an RFC 3339 time");
    const rows = await listIngestErrors(c.get("db"), {
      ...(q.kind ? { kind: q.kind } : {}),
      ...(sinceMs !== undefined ? { sinceMs } : {}),
      ...(q.cursor ? { beforeId: Number(q.cursor) } : {}),
      limit: q.limit + 1,
    });
    const page = rows.slice(0, q.limit);
    return c.json(
      {
        errors: page.map((r) => ({ ...r, at: new Date(r.atMs).toISOString(), atMs: undefined })),
        nextCursor: rows.length > q.limit && page.length ? String(page[page.length - 1]?.id) : null,
      },
      200,
    );
  },
);
