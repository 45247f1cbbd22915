/** The database handle every query in shared/db takes: drizzle over D1 with the faultline schema. */
import type { DrizzleD1Database } from "drizzle-orm/d1";
import type { schema } from "./schema.js";

/** What shared/db uses of the D1 binding itself (statements compiled once, see statement.ts). */
export interface D1Client {
  prepare(query: string): D1Statement;
  batch(statements: D1Statement[]): Promise<D1Outcome[]>;
}

export interface D1Statement {
  bind(...values: unknown[]): D1Statement;
  run(): Promise<D1Outcome>;
}

/** A statement's result as D1 reports it (rows for reads, `meta.changes` for writes). */
export interface D1Outcome {
  readonly success: boolean;
  readonly results?: unknown[];
  readonly meta: { readonly changes?: number } & Record<string, unknown>;
}

export type Db = DrizzleD1Database<typeof schema> & { readonly $client: D1Client };
