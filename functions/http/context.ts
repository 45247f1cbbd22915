/** The hono environment shared by every route: bindings plus the authenticated principal. */
import { OpenAPIHono } from "@hono/zod-openapi";
import type { Db } from "../../infra/worker/db.js";
import type { Principal } from "../../shared/auth/tokens.js";
import { ApiError } from "../../shared/errors.js";
import type { Env } from "../env.js";

export interface AppEnv {
  Bindings: Env;
  Variables: { principal: Principal; db: Db; requestId: string };
}

/** A sub-app whose request validation failures render as the one error envelope. */
export function subApp(): OpenAPIHono<AppEnv> {
  return new OpenAPIHono<AppEnv>({
    defaultHook: (result) => {
      if (!result.success) {
        const issues = result.error.issues.map((i) => ({ path: i.path.join("."), message: i.message }));
        throw new ApiError(
          "invalid_request",
          issues.map((i) => (i.path ? `${i.path}: ${i.message}` : i.message)).join("; "),
          issues,
        );
      }
    },
  });
}

export const bearerSecurity = [{ bearer: [] }];
