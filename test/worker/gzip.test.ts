/**
 * gunzipLimited inside workerd (its node:zlib, DecompressionStream and BYOB `readAtLeast` exist only
 * there): the module alone, bundled and served by a bare miniflare. Both the zlib path and the exact
 * stream path it falls back to are checked on every case.
 */
import { randomBytes } from "node:crypto";
import { fileURLToPath } from "node:url";
import { gzipSync } from "node:zlib";
import { build } from "esbuild";
import { Miniflare } from "miniflare";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { unstable_getMiniflareWorkerOptions } from "wrangler";

let mf: Miniflare;
beforeAll(async () => {
  const entry = fileURLToPath(new URL("../../infra/worker/gzip.ts", import.meta.url));
  const out = await build({
    stdin: {
      contents: `import { gunzipLimited, gunzipStreamLimited } from ${JSON.stringify(entry)};
export default {
  async fetch(req) {
    const url = new URL(req.url);
    const max = Number(url.searchParams.get("max"));
    const gunzip = url.pathname === "/stream" ? gunzipStreamLimited : gunzipLimited;
    const r = await gunzip(new Uint8Array(await req.arrayBuffer()), max);
    return r.ok ? new Response(r.bytes) : Response.json(r, { status: 422 });
  },
};`,
      resolveDir: fileURLToPath(new URL(".", import.meta.url)),
      loader: "ts",
    },
    bundle: true,
    format: "esm",
    external: ["node:*"],
    write: false,
  });
  // The Worker's own compatibility date and flags: stream behaviour follows them.
  const { workerOptions } = unstable_getMiniflareWorkerOptions(
    fileURLToPath(new URL("../../wrangler.toml", import.meta.url)),
  );
  mf = new Miniflare({
    modules: true,
    script: out.outputFiles[0]?.text ?? "",
    compatibilityDate: workerOptions.compatibilityDate,
    compatibilityFlags: workerOptions.compatibilityFlags,
  });
});
afterAll(async () => {
  await mf?.dispose();
});

let path = "/";
async function gunzip(body: Uint8Array, max = 64 << 20) {
  const res = await mf.dispatchFetch(`http://gzip.test${path}?max=${max}`, { method: "POST", body });
  return res.status === 200
    ? { ok: true as const, bytes: new Uint8Array(await res.arrayBuffer()) }
    : { ok: false as const, ...((await res.json()) as { reason: string; message: string }) };
}

/** Compressible bytes (text-like runs), so sizes past the 64 KB first buffer need little input. */
function text(size: number): Uint8Array {
  const out = new Uint8Array(size);
  const words = randomBytes(4096);
  for (let i = 0; i < size; i++) out[i] = 97 + ((words[i % 4096] ?? 0) % 8);
  return out;
}

describe.each(["/", "/stream"])("gunzipLimited (%s)", (p) => {
  beforeAll(() => {
    path = p;
  });

  it.each([0, 1, 65_535, 65_536, 65_537, 487_321, 3 << 20])("returns %i bytes as they were", async (size) => {
    const bytes = text(size);
    const r = await gunzip(gzipSync(bytes));
    expect(r.ok).toBe(true);
    if (r.ok) expect(Buffer.from(r.bytes).equals(Buffer.from(bytes))).toBe(true);
  });

  it("takes output up to the limit and refuses one byte more", async () => {
    const gz = gzipSync(text(100_000));
    // workerd's zlib alone refuses this output under any limit below 122,880: the stream decides.
    expect((await gunzip(gz, 100_000)).ok).toBe(true);
    expect((await gunzip(gz, 110_000)).ok).toBe(true);
    expect(await gunzip(gz, 99_999)).toMatchObject({ ok: false, reason: "too_large" });
  });

  it("stops a bomb at the limit, and refuses one whose trailer lies", async () => {
    const bomb = gzipSync(Buffer.alloc(20 << 20, 0x20));
    expect(await gunzip(bomb, 1 << 20)).toMatchObject({ ok: false, reason: "too_large" });
    // workerd inflates a whole input chunk before the reader sees it, so the trailer's length check may
    // fail first: refused either way.
    for (const claim of [0, 100, 0xffffffff]) {
      const lying = Buffer.from(bomb);
      lying.writeUInt32LE(claim, lying.length - 4);
      expect((await gunzip(lying, 1 << 20)).ok, `trailer says ${claim}`).toBe(false);
    }
  });

  it("reports a trailer that disagrees with the output, a cut stream and non-gzip bytes as corrupt", async () => {
    const gz = gzipSync(text(200_000));
    const lying = Buffer.from(gz);
    lying.writeUInt32LE(1000, lying.length - 4);
    for (const body of [lying, gz.subarray(0, gz.length - 100), new TextEncoder().encode("{}")]) {
      expect(await gunzip(body)).toMatchObject({ ok: false, reason: "corrupt" });
    }
  });
});
