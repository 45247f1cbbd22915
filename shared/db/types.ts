/** The database handle every query in shared/db takes: drizzle over D1 with the faultline schema. */
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { schema } from "./schema.js";

export type Db = DrizzleD1Database<typeof schema>;
