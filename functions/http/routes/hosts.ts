/** GET /v1/hosts/{hostId}: the latest view summary, open episodes and timeline. */
import { createRoute, z } from "@hono/zod-openapi";
import { and, desc, eq } from "drizzle-orm";
import { findHost, listHostSnapshots } from "../../../shared/db/ingest.js";
import { episodes } from "../../../shared/db/schema.js";
import { ApiError } from "../../../shared/errors.js";
import { requireScope } from "../auth.js";
import { bearerSecurity, subApp } from "../context.js";
import { iso } from "../query.js";
import { ErrorResponse } from "../schemas.js";

export const hostsApp = subApp().openapi(
  createRoute({
    method: "get",
    path: "/v1/hosts/{hostId}",
    summary: "A host's latest view summary, open episodes and snapshot timeline",
    security: bearerSecurity,
    middleware: [requireScope("read")] as const,
    request: { params: z.object({ hostId: z.string().min(1).max(256) }) },
    responses: {
      200: {
        description: "The host",
        content: { "application/json": { schema: z.record(z.string(), z.unknown()) } },
      },
      404: {
        description: "The host has not shipped yet",
        content: { "application/json": { schema: ErrorResponse } },
      },
    },
  }),
  async (c) => {
    const { hostId } = c.req.valid("param");
    const db = c.get("db");
    const host = await findHost(db, hostId);
    if (!host) throw new ApiError("not_found", `host '${hostId}' has not shipped a snapshot yet`);
    const [open, timeline] = await Promise.all([
      db
        .select()
        .from(episodes)
        .where(and(eq(episodes.hostId, hostId), eq(episodes.status, "open")))
        .orderBy(desc(episodes.lastSeenMs))
        .limit(200)
        .all(),
      listHostSnapshots(db, { hostId, limit: 50 }),
    ]);
    return c.json(
      {
        hostId,
        hostname: host.hostname,
        kernelRelease: host.kernelRelease,
        bootId: host.bootId,
        labels: JSON.parse(host.labels) as Record<string, string>,
        firstSeen: iso(host.firstSeenMs),
        lastSeen: iso(host.lastSeenMs),
        latestSnapshotKey: host.latestSnapshotKey,
        view: JSON.parse(host.viewSummary) as unknown,
        openEpisodes: open.map((e) => ({
          id: e.id,
          detector: e.detector,
          subject: e.subject,
          confidence: e.confidence,
          firstSeen: iso(e.firstSeenMs),
          lastSeen: iso(e.lastSeenMs),
          summary: e.summary,
        })),
        timeline: timeline.map((s) => ({ ...s, capturedAt: iso(s.capturedAtMs) })),
      },
      200,
    );
  },
);
