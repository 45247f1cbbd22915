/** Query-string helpers shared by the read routes: time windows and opaque cursors. */
import { z } from "@hono/zod-openapi";
import { parseRfc3339 } from "../../shared/contracts/events.js";
import { ApiError } from "../../shared/errors.js";
import { DAY_MS } from "../../shared/time.js";

export const DEFAULT_WINDOW_MS = 30 * DAY_MS;

export const WindowQuery = z.object({
  since: z.string().optional().openapi({ description: "RFC 3339; default 30 days before `until`" }),
  until: z.string().optional().openapi({ description: "RFC 3339; default now" }),
});

/** Reads since/until (RFC 3339, any offset) into epoch ms; 400 on a bad or inverted window. */
export function readWindow(q: { since?: string | undefined; until?: string | undefined }, nowMs: number) {
  const untilMs = q.until === undefined ? nowMs : parseRfc3339(q.until);
  if (untilMs === null)
    throw new ApiError("invalid_request", "until: expected an RFC 3339 time, e.g. 2026-03-03T10:14:02Z");
  const sinceMs = q.since === undefined ? untilMs - DEFAULT_WINDOW_MS : parseRfc3339(q.since);
  if (sinceMs === null)
    throw new ApiError("invalid_request", "since: expected an RFC 3339 time, e.g. 2026-03-01T00:00:00Z");
  if (sinceMs > untilMs) throw new ApiError("invalid_request", "since is after until");
  return { sinceMs, untilMs };
}

/** An opaque cursor: base64url of a JSON value. */
export function encodeCursor(value: unknown): string {
  return btoa(JSON.stringify(value)).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** Decodes a cursor made by encodeCursor and checks its shape; 400 when it is not one of ours. */
export function decodeCursor<T>(cursor: string | undefined, schema: z.ZodType<T>): T | undefined {
  if (cursor === undefined) return undefined;
  try {
    const json = atob(cursor.replaceAll("-", "+").replaceAll("_", "/"));
    const r = schema.safeParse(JSON.parse(json));
    if (r.success) return r.data;
  } catch {
    // fall through to the error below
  }
  throw new ApiError("invalid_request", "cursor: not a cursor this API issued");
}

export const iso = (ms: number | null | undefined) =>
  ms === null || ms === undefined ? null : new Date(ms).toISOString();
