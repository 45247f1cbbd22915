/** Authentication (every /v1 route) and scope checks (each route names the scope it needs). */
import type { MiddlewareHandler } from "hono";
import { digestEquals, hasScope, type Principal, sha256Hex } from "../../shared/auth/tokens.js";
import type { Scope } from "../../shared/db/schema.js";
import { findPrincipal } from "../../shared/db/tokens.js";
import { ApiError } from "../../shared/errors.js";
import type { AppEnv } from "./context.js";

const ADMIN: Principal = { tokenId: "admin-env", scopes: ["admin"], hostId: null };

/** Resolves the bearer token to a principal; 401 without a valid one. */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) throw new ApiError("unauthorized", "missing bearer token (Authorization: Bearer <token>)");
  const hash = await sha256Hex(m[1]);
  const admin = c.env.FAULTLINE_ADMIN_TOKEN;
  if (admin && digestEquals(hash, await sha256Hex(admin))) {
    c.set("principal", ADMIN);
    return next();
  }
  const principal = await findPrincipal(c.get("db"), hash);
  if (!principal) throw new ApiError("unauthorized", "unknown or revoked token");
  c.set("principal", principal);
  return next();
};

/** 403 unless the caller's token holds `scope`. */
export function requireScope(scope: Scope): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    if (!hasScope(c.get("principal"), scope)) {
      throw new ApiError("forbidden", `this token lacks the '${scope}' scope`);
    }
    return next();
  };
}
