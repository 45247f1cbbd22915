/** POST /v1/tokens (admin): issue a token; the secret is shown once. */
import { createRoute, z } from "@hono/zod-openapi";
import { SCOPES } from "../../../shared/db/schema.js";
import { issueToken } from "../../../shared/db/tokens.js";
import { requireScope } from "../auth.js";
import { bearerSecurity, subApp } from "../context.js";
import { ErrorResponse } from "../schemas.js";

const TokenRequest = z.object({
  name: z.string().min(1).max(200),
  scopes: z.array(z.enum(SCOPES)).min(1),
  hostId: z.string().min(1).max(256).nullable().default(null),
});

export const tokensApp = subApp().openapi(
  createRoute({
    method: "post",
    path: "/v1/tokens",
    summary: "Issue a token (admin). An ingest token with hostId writes only that host.",
    security: bearerSecurity,
    middleware: [requireScope("admin")] as const,
    request: { body: { content: { "application/json": { schema: TokenRequest } }, required: true } },
    responses: {
      201: {
        description: "The token; store it now, it is not shown again",
        content: {
          "application/json": {
            schema: z.object({
              id: z.string(),
              token: z.string(),
              scopes: z.array(z.enum(SCOPES)),
              hostId: z.string().nullable(),
            }),
          },
        },
      },
      400: { description: "Invalid request", content: { "application/json": { schema: ErrorResponse } } },
    },
  }),
  async (c) => {
    const req = c.req.valid("json");
    const t = await issueToken(c.get("db"), { ...req, nowMs: Date.now() });
    return c.json({ id: t.id, token: t.token, scopes: req.scopes, hostId: req.hostId }, 201);
  },
);
