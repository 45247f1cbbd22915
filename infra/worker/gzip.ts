/** gzip in workerd with Web Streams, with a hard limit on decompressed size (gzip bombs stop early). */

import type { GunzipResult } from "../../shared/pipeline/ports.js";

/** Gunzips `data`, giving up as soon as the output passes `maxBytes`. */
export async function gunzipLimited(data: Uint8Array, maxBytes: number): Promise<GunzipResult> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("gzip"));
  const reader = stream.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        return { ok: false, reason: "too_large", message: `decompressed size exceeds ${maxBytes} bytes` };
      }
      chunks.push(value);
    }
  } catch (err) {
    return { ok: false, reason: "corrupt", message: `not a valid gzip stream: ${(err as Error).message}` };
  }
  return { ok: true, bytes: concat(chunks, total) };
}

/** Gzips bytes (used when a client posts an uncompressed bundle: objects are always stored gzipped). */
export async function gzip(data: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([data]).stream().pipeThrough(new CompressionStream("gzip"));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

/**
 * Reads a request body, failing once it passes `maxBytes`. With a Content-Length the runtime frames the
 * body to exactly that many bytes, so a declared length within the limit is read natively in one go;
 * without one (or when it lies past the limit) the stream is counted chunk by chunk.
 */
export async function readBodyLimited(
  req: Request,
  maxBytes: number,
): Promise<{ ok: true; bytes: Uint8Array } | { ok: false }> {
  const declared = req.headers.get("content-length");
  if (declared !== null && /^\d{1,15}$/.test(declared) && Number(declared) <= maxBytes) {
    return { ok: true, bytes: new Uint8Array(await req.arrayBuffer()) };
  }
  if (!req.body) return { ok: true, bytes: new Uint8Array() };
  const reader = req.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.byteLength;
    if (total > maxBytes) {
      await reader.cancel().catch(() => {});
      return { ok: false };
    }
    chunks.push(value);
  }
  return { ok: true, bytes: concat(chunks, total) };
}

function concat(chunks: Uint8Array[], total: number): Uint8Array {
  if (chunks.length === 1 && chunks[0]) return chunks[0];
  const out = new Uint8Array(total);
  let off = 0;
  for (const c of chunks) {
    out.set(c, off);
    off += c.byteLength;
  }
  return out;
}
