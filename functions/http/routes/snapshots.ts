/** POST /v1/snapshots: the shipper's HTTP upload. */
import { createRoute, z } from "@hono/zod-openapi";
import { workerCodec } from "../../../infra/worker/codec.js";
import { readBodyLimited } from "../../../infra/worker/gzip.js";
import { r2Store } from "../../../infra/worker/r2.js";
import { SNAPSHOT_LIMITS } from "../../../shared/contracts/snapshot.js";
import { ApiError } from "../../../shared/errors.js";
import { acceptSnapshot } from "../../../shared/pipeline/accept-snapshot.js";
import { enqueueSnapshot } from "../../queues/enqueue.js";
import { requireScope } from "../auth.js";
import { bearerSecurity, subApp } from "../context.js";
import { ErrorResponse } from "../schemas.js";

const Accepted = z.object({
  key: z.string(),
  sha256: z.string(),
  status: z.enum(["accepted", "duplicate"]),
});

export const snapshotsApp = subApp().openapi(
  createRoute({
    method: "post",
    path: "/v1/snapshots",
    summary: "Upload a snapshot bundle (gzip JSON, see docs/snapshot-format.md)",
    security: bearerSecurity,
    middleware: [requireScope("ingest")] as const,
    request: {
      headers: z.object({
        "x-faultline-sha256": z
          .string()
          .regex(/^[0-9a-fA-F]{64}$/)
          .optional(),
        "x-faultline-host-id": z.string().min(1).max(800).optional(),
        "x-faultline-captured-at": z
          .string()
          .regex(/^\d{1,15}$/)
          .optional(),
      }),
    },
    responses: {
      201: {
        description: "Stored and queued for parsing",
        content: { "application/json": { schema: Accepted } },
      },
      200: {
        description: "Already received (idempotent re-upload)",
        content: { "application/json": { schema: Accepted } },
      },
      400: {
        description: "Not a snapshot bundle (kept under rejected/)",
        content: { "application/json": { schema: ErrorResponse } },
      },
      403: {
        description: "Token may not write this host",
        content: { "application/json": { schema: ErrorResponse } },
      },
      413: { description: "Over the size limit", content: { "application/json": { schema: ErrorResponse } } },
    },
  }),
  async (c) => {
    const declared = Number(c.req.header("content-length") ?? "0");
    if (declared > SNAPSHOT_LIMITS.maxCompressedBytes) {
      throw new ApiError(
        "payload_too_large",
        `body of ${declared} bytes exceeds ${SNAPSHOT_LIMITS.maxCompressedBytes}`,
      );
    }
    const body = await readBodyLimited(c.req.raw, SNAPSHOT_LIMITS.maxCompressedBytes);
    if (!body.ok)
      throw new ApiError("payload_too_large", `body exceeds ${SNAPSHOT_LIMITS.maxCompressedBytes} bytes`);
    const store = r2Store(c.env.SNAPSHOTS);
    const headers = c.req.valid("header");
    const res = await acceptSnapshot({
      body: body.bytes,
      claimedSha256: headers["x-faultline-sha256"],
      declared: declaredHead(headers["x-faultline-host-id"], headers["x-faultline-captured-at"]),
      principal: c.get("principal"),
      db: c.get("db"),
      store,
      codec: workerCodec,
      nowMs: Date.now(),
    });
    if (res.status === "accepted")
      await enqueueSnapshot(c.env, { key: res.key, size: body.bytes.byteLength });
    return c.json(res, res.status === "accepted" ? 201 : 200);
  },
);

/** Host id (URI-encoded) and capture time (epoch ms) declared in headers; both or nothing. */
function declaredHead(hostId: string | undefined, capturedAt: string | undefined) {
  if (hostId === undefined || capturedAt === undefined) return undefined;
  try {
    return { hostId: decodeURIComponent(hostId), capturedAtMs: Number(capturedAt) };
  } catch {
    throw new ApiError("invalid_request", "x-faultline-host-id: not URI-encoded");
  }
}
