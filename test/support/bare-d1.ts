/**
 * A D1 database on miniflare with no Worker of ours in front: for tests that drive shared/db code or
 * the migrations directly.
 */
import type { D1Database } from "@cloudflare/workers-types";
import { Miniflare } from "miniflare";

export async function startBareD1(): Promise<{ mf: Miniflare; d1: D1Database }> {
  const mf = new Miniflare({
    modules: true,
    script: "export default { fetch() { return new Response(null, { status: 404 }); } }",
    d1Databases: ["DB"],
  });
  return { mf, d1: (await mf.getD1Database("DB")) as unknown as D1Database };
}
