/** The D1 database through drizzle. */
import { drizzle } from "drizzle-orm/d1";
import { schema } from "../../shared/db/schema.js";

/** Wraps the D1 binding; cheap, so each request or batch builds its own. */
export function makeDb(d1: D1Database) {
  return drizzle(d1, { schema });
}
export type { Db } from "../../shared/db/types.js";
