/** POST /v1/hosts/{hostId}/evidence: hand-captured command output, naming the command. */
import { createRoute, z } from "@hono/zod-openapi";
import { workerCodec } from "../../../infra/worker/codec.js";
import { readBodyLimited } from "../../../infra/worker/gzip.js";
import { r2Store } from "../../../infra/worker/r2.js";
import { ApiError } from "../../../shared/errors.js";
import {
  acceptEvidence,
  EVIDENCE_MAX_OUTPUT_BYTES,
  EvidenceRequest,
} from "../../../shared/pipeline/accept-evidence.js";
import { enqueueSnapshot } from "../../queues/enqueue.js";
import { requireScope } from "../auth.js";
import { bearerSecurity, subApp } from "../context.js";
import { ErrorResponse } from "../schemas.js";

const Accepted = z.object({ key: z.string(), kind: z.string(), status: z.enum(["accepted", "duplicate"]) });

export const evidenceApp = subApp().openapi(
  createRoute({
    method: "post",
    path: "/v1/hosts/{hostId}/evidence",
    summary:
      "Attach hand-captured command output (ls -l /sys/block, ls /dev/vfio, lsof, fuser -mv, trace, dmesg, mountinfo)",
    description:
      'JSON `{"command": "...", "output": "...", "capturedAt": "RFC 3339"}`, or the raw output as text/plain with `?command=`.',
    security: bearerSecurity,
    middleware: [requireScope("ingest")] as const,
    request: {
      params: z.object({ hostId: z.string().min(1).max(256) }),
      query: z.object({ command: z.string().max(4096).optional(), capturedAt: z.string().optional() }),
    },
    responses: {
      201: {
        description: "Stored and queued for parsing",
        content: { "application/json": { schema: Accepted } },
      },
      200: { description: "Already received", content: { "application/json": { schema: Accepted } } },
      400: {
        description: "Unreadable request or unsupported command",
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
    const { hostId } = c.req.valid("param");
    const query = c.req.valid("query");
    const body = await readBodyLimited(c.req.raw, EVIDENCE_MAX_OUTPUT_BYTES + 64 * 1024);
    if (!body.ok) throw new ApiError("payload_too_large", `evidence over ${EVIDENCE_MAX_OUTPUT_BYTES} bytes`);
    const text = new TextDecoder().decode(body.bytes);
    let candidate: unknown;
    if ((c.req.header("content-type") ?? "").includes("application/json")) {
      try {
        candidate = JSON.parse(text);
      } catch (err) {
        throw new ApiError("invalid_request", `body is not JSON: ${(err as Error).message}`);
      }
    } else {
      candidate = {
        command: query.command,
        output: text,
        ...(query.capturedAt ? { capturedAt: query.capturedAt } : {}),
      };
    }
    const parsed = EvidenceRequest.safeParse(candidate);
    if (!parsed.success) {
      throw new ApiError(
        "invalid_request",
        parsed.error.issues.map((i) => `${i.path.join(".") || "body"}: ${i.message}`).join("; "),
      );
    }
    const res = await acceptEvidence({
      hostId,
      request: parsed.data,
      principal: c.get("principal"),
      db: c.get("db"),
      store: r2Store(c.env.SNAPSHOTS),
      codec: workerCodec,
      nowMs: Date.now(),
    });
    if (res.status === "accepted")
      await enqueueSnapshot(c.env, { key: res.key, size: body.bytes.byteLength });
    return c.json(res, res.status === "accepted" ? 201 : 200);
  },
);
