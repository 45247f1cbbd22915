/** Token storage queries. */
import { and, eq, isNull } from "drizzle-orm";
import { generateToken, type Principal } from "../auth/tokens.js";
import { SCOPES, type Scope, tokens } from "./schema.js";
import type { Db } from "./types.js";

/** The principal for a token hash, or null when unknown or revoked. */
export async function findPrincipal(db: Db, hash: string): Promise<Principal | null> {
  const row = await db
    .select({ id: tokens.id, scopes: tokens.scopes, hostId: tokens.hostId })
    .from(tokens)
    .where(and(eq(tokens.hash, hash), isNull(tokens.revokedAtMs)))
    .get();
  if (!row) return null;
  const scopes = row.scopes.split(",").filter((s): s is Scope => (SCOPES as readonly string[]).includes(s));
  return { tokenId: row.id, scopes, hostId: row.hostId };
}

/** Issues a token; the secret is returned once and only its hash is stored. */
export async function issueToken(
  db: Db,
  args: { name: string; scopes: readonly Scope[]; hostId: string | null; nowMs: number },
): Promise<{ id: string; token: string }> {
  const t = await generateToken();
  await db.insert(tokens).values({
    id: t.id,
    hash: t.hash,
    name: args.name,
    scopes: [...new Set(args.scopes)].sort().join(","),
    hostId: args.hostId,
    createdAtMs: args.nowMs,
  });
  return { id: t.id, token: t.token };
}
