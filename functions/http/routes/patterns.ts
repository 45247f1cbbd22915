/** Fleet-wide patterns: which hosts hit each detector, how often, since when, and what they share. */
import { createRoute, z } from "@hono/zod-openapi";
import {
  patternBreakdown,
  patternHosts,
  patternSummary,
  patternTimeline,
} from "../../../shared/db/episodes.js";
import { DETECTOR_IDS } from "../../../shared/detect/types.js";
import { ApiError } from "../../../shared/errors.js";
import { DAY_MS } from "../../../shared/time.js";
import { cachedAnswer } from "../answer-cache.js";
import { requireScope } from "../auth.js";
import { bearerSecurity, subApp } from "../context.js";
import { decodeCursor, encodeCursor, iso, readWindow, WindowQuery } from "../query.js";
import { ErrorResponse } from "../schemas.js";

const Detector = z.enum(DETECTOR_IDS);
const errors = {
  400: { description: "Invalid query", content: { "application/json": { schema: ErrorResponse } } },
} as const;

const Pattern = z.object({
  detector: z.string(),
  hosts: z.number(),
  occurrences: z.number(),
  firstSeen: z.string().nullable(),
  lastSeen: z.string().nullable(),
});

const HostsCursor = z.object({ l: z.number(), h: z.string() });

export const patternsApp = subApp()
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/patterns",
      summary: "Per detector: affected hosts, occurrences (episodes), first and last seen in the window",
      security: bearerSecurity,
      middleware: [requireScope("read"), cachedAnswer()] as const,
      request: { query: WindowQuery },
      responses: {
        200: {
          description: "Patterns",
          content: { "application/json": { schema: z.object({ patterns: z.array(Pattern) }) } },
        },
        ...errors,
      },
    }),
    async (c) => {
      const w = readWindow(c.req.valid("query"), Date.now());
      const rows = await patternSummary(c.get("db"), w);
      const patterns = rows
        .map((r) => ({
          detector: r.detector,
          hosts: r.hosts,
          occurrences: r.occurrences,
          firstSeen: iso(r.firstSeenMs),
          lastSeen: iso(r.lastSeenMs),
        }))
        .sort((a, b) => b.hosts - a.hosts || a.detector.localeCompare(b.detector));
      return c.json({ patterns }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/patterns/{detector}/hosts",
      summary: "Hosts hit by a detector in the window, most recently seen first",
      security: bearerSecurity,
      middleware: [requireScope("read"), cachedAnswer()] as const,
      request: {
        params: z.object({ detector: Detector }),
        query: WindowQuery.extend({
          limit: z.coerce.number().int().min(1).max(1000).default(100),
          cursor: z.string().max(500).optional(),
        }),
      },
      responses: {
        200: {
          description: "Hosts",
          content: {
            "application/json": {
              schema: z.object({
                hosts: z.array(
                  z.object({
                    hostId: z.string(),
                    occurrences: z.number(),
                    firstSeen: z.string().nullable(),
                    lastSeen: z.string().nullable(),
                  }),
                ),
                nextCursor: z.string().nullable(),
              }),
            },
          },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { detector } = c.req.valid("param");
      const q = c.req.valid("query");
      const w = readWindow(q, Date.now());
      const after = decodeCursor(q.cursor, HostsCursor);
      const rows = await patternHosts(c.get("db"), {
        ...w,
        detector,
        limit: q.limit + 1,
        ...(after ? { after: { lastSeenMs: after.l, hostId: after.h } } : {}),
      });
      const page = rows.slice(0, q.limit);
      const last = page[page.length - 1];
      return c.json(
        {
          hosts: page.map((r) => ({
            hostId: r.hostId,
            occurrences: r.occurrences,
            firstSeen: iso(r.firstSeenMs),
            lastSeen: iso(r.lastSeenMs),
          })),
          nextCursor:
            rows.length > q.limit && last ? encodeCursor({ l: last.lastSeenMs, h: last.hostId }) : null,
        },
        200,
      );
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/patterns/{detector}/breakdown",
      summary:
        "Affected hosts by kernel, driver, zone or instance type, with share and lift against the fleet",
      security: bearerSecurity,
      middleware: [requireScope("read"), cachedAnswer()] as const,
      request: {
        params: z.object({ detector: Detector }),
        query: WindowQuery.extend({ by: z.enum(["kernel", "driver", "zone", "instanceType"]) }),
      },
      responses: {
        200: {
          description: "Breakdown",
          content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { detector } = c.req.valid("param");
      const q = c.req.valid("query");
      const w = readWindow(q, Date.now());
      const b = await patternBreakdown(c.get("db"), { ...w, detector, by: q.by });
      return c.json({ detector, by: q.by, since: iso(w.sinceMs), until: iso(w.untilMs), ...b }, 200);
    },
  )
  .openapi(
    createRoute({
      method: "get",
      path: "/v1/patterns/{detector}/timeline",
      summary:
        "Per UTC day (whole days covering the window): hosts with an active episode, active episodes, and episodes that began",
      security: bearerSecurity,
      middleware: [requireScope("read"), cachedAnswer()] as const,
      request: {
        params: z.object({ detector: Detector }),
        query: WindowQuery.extend({ bucket: z.enum(["day"]).default("day") }),
      },
      responses: {
        200: {
          description: "Timeline",
          content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
        },
        ...errors,
      },
    }),
    async (c) => {
      const { detector } = c.req.valid("param");
      const q = c.req.valid("query");
      const w = readWindow(q, Date.now());
      if (w.untilMs - w.sinceMs > 400 * DAY_MS)
        throw new ApiError("invalid_request", "timeline window over 400 days");
      const buckets = await patternTimeline(c.get("db"), { ...w, detector });
      return c.json({ detector, bucket: q.bucket, buckets }, 200);
    },
  );
