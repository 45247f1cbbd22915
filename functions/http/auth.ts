/** Authentication (every /v1 route) and scope checks (each route names the scope it needs). */
import type { MiddlewareHandler } from "hono";
import { digestEquals, hasScope, type Principal, sha256Hex } from "../../shared/auth/tokens.js";
import type { Scope } from "../../shared/db/schema.js";
import { findPrincipal } from "../../shared/db/tokens.js";
import { ApiError } from "../../shared/errors.js";
import type { AppEnv } from "./context.js";

const ADMIN: Principal = { tokenId: "admin-env", scopes: ["admin"], hostId: null };

/**
 * Token hashes already resolved in this isolate, for PRINCIPAL_TTL_MS: a dashboard polling the API
 * costs one D1 read a minute instead of one per request. A revoked token stops working within the TTL.
 * Unknown tokens are not remembered, so a token issued a moment ago works at once.
 */
const PRINCIPAL_TTL_MS = 60_000;
const MAX_PRINCIPALS = 1_000;
const principals = new Map<string, { principal: Principal; atMs: number }>();

/** The env admin token's hash, computed once per isolate (the env is fixed for its life). */
let adminDigest: { token: string; hash: Promise<string> } | undefined;
function adminHash(token: string): Promise<string> {
  if (adminDigest?.token !== token) adminDigest = { token, hash: sha256Hex(token) };
  return adminDigest.hash;
}

/** Resolves the bearer token to a principal; 401 without a valid one. */
export const authenticate: MiddlewareHandler<AppEnv> = async (c, next) => {
  const header = c.req.header("authorization") ?? "";
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) throw new ApiError("unauthorized", "missing bearer token (Authorization: Bearer <token>)");
  const hash = await sha256Hex(m[1]);
  const admin = c.env.FAULTLINE_ADMIN_TOKEN;
  if (admin && digestEquals(hash, await adminHash(admin))) {
    c.set("principal", ADMIN);
    return next();
  }
  const now = Date.now();
  const known = principals.get(hash);
  let principal = known && now - known.atMs < PRINCIPAL_TTL_MS ? known.principal : null;
  if (!principal) {
    principal = await findPrincipal(c.get("db"), hash);
    if (!principal) {
      principals.delete(hash);
      throw new ApiError("unauthorized", "unknown or revoked token");
    }
    if (principals.size >= MAX_PRINCIPALS) principals.clear();
    principals.set(hash, { principal, atMs: now });
  }
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
