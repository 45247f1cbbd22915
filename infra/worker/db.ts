/** The D1 database through drizzle. */
import { drizzle } from "drizzle-orm/d1";
import { schema } from "../../shared/db/schema.js";
import type { Db } from "../../shared/db/types.js";

/** One drizzle instance per binding: it holds no per-request state, and building one costs a snapshot ~0.05 ms. */
const dbs = new WeakMap<D1Database, Db>();

/** Wraps the D1 binding, once per binding object the runtime hands the isolate. */
export function makeDb(d1: D1Database): Db {
  let db = dbs.get(d1);
  if (db === undefined) {
    db = drizzle(d1, { schema });
    dbs.set(d1, db);
  }
  return db;
}
export type { Db } from "../../shared/db/types.js";
