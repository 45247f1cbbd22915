/** Incidents: episodes with their evidence chain and a plain-language explanation. */
import { createRoute, z } from "@hono/zod-openapi";
import { parseRfc3339 } from "../../../shared/contracts/events.js";
import { getEpisode, listEpisodes } from "../../../shared/db/episodes.js";
import { DETECTOR_IDS } from "../../../shared/detect/types.js";
import { ApiError } from "../../../shared/errors.js";
import { requireScope } from "../auth.js";
import { bearerSecurity, subApp } from "../context.js";
import { decodeCursor, encodeCursor, iso } from "../query.js";
import { ErrorResponse } from "../schemas.js";

const IncidentsCursor = z.object({ f: z.number(), i: z.string() });

const Incident = z.object({
  id: z.string(),
  detector: z.string(),
  hostId: z.string(),
  subject: z.string(),
  status: z.string(),
  confidence: z.string(),
  firstSeen: z.string().nullable(),
  lastSeen: z.string().nullable(),
  resolvedAt: z.string().nullable(),
  regressions: z.number(),
  summary: z.string(),
});

export const incidentsApp = subApp()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/incidents",
      summary: "Incidents (episodes), newest first",
      security: bearerSecurity,
      middleware: [requireScope("read")] as const,
      request: {
        query: z.object({
          detector: z.enum(DETECTOR_IDS).optional(),
          hostId: z.string().max(256).optional(),
          status: z.enum(["open", "resolved"]).optional(),
          since: z.string().optional(),
          until: z.string().optional(),
          limit: z.coerce.number().int().min(1).max(500).default(100),
          cursor: z.string().max(500).optional(),
        }),
      },
      responses: {
        200: {
          description: "Incidents",
          content: {
            "application/json": {
              schema: z.object({ incidents: z.array(Incident), nextCursor: z.string().nullable() }),
            },
          },
        },
        400: { description: "Invalid query", content: { "application/json": { schema: ErrorResponse } } },
      },
    }),
    async (c) => {
      const q = c.req.valid("query");
      const sinceMs = q.since === undefined ? undefined : parseRfc3339(q.since);
      const untilMs = q.until === undefined ? undefined : parseRfc3339(q.until);
      if (sinceMs === null || untilMs === null)
        throw new ApiError("invalid_request", "since/until: expected RFC 3339 times");
      const after = decodeCursor(q.cursor, IncidentsCursor);
      const rows = await listEpisodes(c.get("db"), {
        ...(q.detector ? { detector: q.detector } : {}),
        ...(q.hostId ? { hostId: q.hostId } : {}),
        ...(q.status ? { status: q.status } : {}),
        ...(sinceMs !== undefined ? { sinceMs } : {}),
        ...(untilMs !== undefined ? { untilMs } : {}),
        limit: q.limit + 1,
        ...(after ? { after: { firstSeenMs: after.f, id: after.i } } : {}),
      });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return c.json(
        {
          incidents: page.map(({ firstSeenMs, lastSeenMs, resolvedAtMs, ...r }) => ({
            ...r,
            firstSeen: iso(firstSeenMs),
            lastSeen: iso(lastSeenMs),
            resolvedAt: iso(resolvedAtMs),
          })),
          nextCursor:
            rows.length > q.limit && last ? encodeCursor({ f: last.firstSeenMs, i: last.id }) : null,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/incidents/{id}",
      summary:
        "One incident with its evidence chain (control-plane events and snapshot facts) and explanation",
      security: bearerSecurity,
      middleware: [requireScope("read")] as const,
      request: { params: z.object({ id: z.string().min(1).max(100) }) },
      responses: {
        200: {
          description: "The incident",
          content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
        },
        404: { description: "No such incident", content: { "application/json": { schema: ErrorResponse } } },
      },
    }),
    async (c) => {
      const { id } = c.req.valid("param");
      const e = await getEpisode(c.get("db"), id);
      if (!e) throw new ApiError("not_found", `no incident '${id}'`);
      return c.json(
        {
          id: e.id,
          detector: e.detector,
          hostId: e.hostId,
          subject: e.subject,
          status: e.status,
          confidence: e.confidence,
          firstSeen: iso(e.firstSeenMs),
          lastSeen: iso(e.lastSeenMs),
          resolvedAt: iso(e.resolvedAtMs),
          regressions: e.regressions,
          explanation: e.summary,
          evidence: JSON.parse(e.evidence) as unknown,
          couldNotSee: JSON.parse(e.blindSpots) as unknown,
        },
        200,
      );
    },
  );
