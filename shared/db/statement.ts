/**
 * Statements compiled once, for the writes every snapshot makes.
 *
 * drizzle builds a query from the schema each time one is made: 60-85 µs for each of a snapshot's
 * writes (an upsert with a dozen columns, a guarded status update, episode upserts), about 0.3 ms of
 * Worker CPU a snapshot. `compiled` has drizzle build the statement once, with named placeholders where
 * the values go, and each call only binds values: the SQL is drizzle's own, byte for byte.
 *
 * A `Statement` runs when awaited (as drizzle's queries do), or with others in one D1 batch through
 * `runBatch`, which also takes drizzle's own write queries.
 */
import { is, Param, Placeholder, type SQL, sql } from "drizzle-orm";
import type { D1Outcome, D1Statement, Db } from "./types.js";

/** How one bound value is found: a literal drizzle put in the SQL's parameters, or a named value. */
type Slot = { readonly literal: unknown } | { readonly name: string };

/** A statement with its values bound, ready to run alone or in a batch. */
export class Statement implements PromiseLike<D1Outcome> {
  constructor(
    private readonly db: Db,
    readonly sql: string,
    readonly params: readonly unknown[],
  ) {}

  /** The D1 statement with the values bound. */
  toD1(): D1Statement {
    return this.db.$client.prepare(this.sql).bind(...this.params);
  }

  // biome-ignore lint/suspicious/noThenProperty: awaiting a statement runs it, as with drizzle's queries
  then<T = D1Outcome, E = never>(
    onfulfilled?: ((value: D1Outcome) => T | PromiseLike<T>) | null,
    onrejected?: ((reason: unknown) => E | PromiseLike<E>) | null,
  ): Promise<T | E> {
    return this.toD1().run().then(onfulfilled, onrejected);
  }
}

/** What drizzle's insert, update and delete builders have in common for a batch. */
interface DrizzleWrite {
  toSQL(): { sql: string; params: unknown[] };
}

/**
 * Where a compiled statement's named value goes: in `set`, `values` and conditions alike. The value is
 * bound as given, so it must already be what D1 stores (string, number or null).
 */
export const value = (name: string): SQL => sql`${sql.placeholder(name)}`;

/**
 * Compiles the statement `build` makes (with `value(name)` where values go) on first use; the result
 * binds values by name. Every name must be given a value: a missing one is a bug and throws.
 */
export function compiled<V extends Record<string, unknown>>(
  build: (db: Db) => DrizzleWrite,
): (db: Db, values: V) => Statement {
  let text: string | undefined;
  let slots: readonly Slot[] = [];
  return (db, values) => {
    if (text === undefined) {
      const q = build(db).toSQL();
      slots = q.params.map(slotOf);
      text = q.sql;
    }
    const params = new Array<unknown>(slots.length);
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i] as Slot;
      if ("literal" in s) {
        params[i] = s.literal;
        continue;
      }
      if (!(s.name in values)) throw new Error(`compiled statement: no value for "${s.name}"`);
      params[i] = values[s.name];
    }
    return new Statement(db, text, params);
  };
}

function slotOf(p: unknown): Slot {
  if (is(p, Placeholder)) return { name: p.name };
  // drizzle's own placeholder in `values()` comes wrapped with the column's encoder, which value() skips.
  if (is(p, Param)) throw new Error("compiled statement: mark values with value(name), not sql.placeholder");
  return { literal: p };
}

/**
 * Runs statements (compiled, or drizzle's write queries) in one D1 batch: one round trip, all or
 * nothing. Results are D1's, in order.
 */
export async function runBatch(
  db: Db,
  statements: readonly (Statement | DrizzleWrite)[],
): Promise<D1Outcome[]> {
  if (statements.length === 0) return [];
  const d1 = statements.map((s) => {
    if (s instanceof Statement) return s.toD1();
    const q = s.toSQL();
    return db.$client.prepare(q.sql).bind(...q.params);
  });
  return db.$client.batch(d1);
}
