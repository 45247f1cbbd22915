/** gzip in workerd, with a hard limit on decompressed size (gzip bombs stop early). */

import { gunzipSync } from "node:zlib";
import type { GunzipResult } from "../../shared/pipeline/ports.js";

/** The output buffer's least first size. */
const MIN_BUFFER = 64 * 1024;
/** Deflate's best ratio: no gzip stream inflates to more than 1032 times its size. */
const MAX_RATIO = 1032;

/**
 * Gunzips `data`, giving up as soon as the output passes `maxBytes`.
 *
 * workerd's own zlib (`node:zlib`, one native call) does it in about two thirds of the stream's CPU
 * (0.27 against 0.37 ms for a 459 KB bundle, and less GC). Its `maxOutputLength` stops inflating at
 * the limit, but it counts whole output chunks, not bytes: output a little under the limit is sometimes
 * refused too (100,000 bytes needed a limit of 122,880). So a refusal is only a hint, and the stream
 * below, which counts bytes, has the last word; only output near or past the limit (a bomb) pays for
 * both.
 */
export async function gunzipLimited(data: Uint8Array, maxBytes: number): Promise<GunzipResult> {
  let out: Uint8Array;
  try {
    out = gunzipSync(data, { maxOutputLength: maxBytes + 1 });
  } catch (err) {
    if (err instanceof RangeError) return gunzipStreamLimited(data, maxBytes);
    return { ok: false, reason: "corrupt", message: `not a valid gzip stream: ${(err as Error).message}` };
  }
  if (out.byteLength > maxBytes) return gunzipStreamLimited(data, maxBytes);
  return { ok: true, bytes: new Uint8Array(out.buffer, out.byteOffset, out.byteLength) };
}

/**
 * gunzipLimited on workerd's DecompressionStream, exact to the byte.
 *
 * workerd's DecompressionStream hands out 4 KB chunks, and a read per chunk (120 for a 490 KB bundle)
 * cost more than the inflating itself. So the output is read into one buffer with `readAtLeast`, a
 * read per buffer, sized from the gzip trailer (ISIZE, the output size mod 2^32). The trailer is only
 * a claim: the buffer is never sized past the limit or deflate's ratio from it, and it doubles, up to
 * the limit, if output runs past the claim before the stream's own length check fails.
 */
export async function gunzipStreamLimited(data: Uint8Array, maxBytes: number): Promise<GunzipResult> {
  const stream = new Blob([data]).stream().pipeThrough(new DecompressionStream("gzip"));
  const reader = stream.getReader({ mode: "byob" });
  // One byte over the hint: a stream that ends where the trailer said fits without growing the buffer.
  let buf = new Uint8Array(
    Math.min(Math.max(trailerSize(data), MIN_BUFFER), data.byteLength * MAX_RATIO, maxBytes) + 1,
  );
  let total = 0;
  try {
    for (;;) {
      if (total === buf.length) {
        const bigger = new Uint8Array(Math.min(buf.length * 2, maxBytes + 1));
        bigger.set(buf);
        buf = bigger;
      }
      // The read transfers the buffer: keep the one it comes back in.
      const { done, value } = await reader.readAtLeast(buf.length - total, buf.subarray(total));
      if (value) {
        buf = new Uint8Array(value.buffer);
        total += value.byteLength;
      }
      if (total > maxBytes) {
        await reader.cancel().catch(() => {});
        return { ok: false, reason: "too_large", message: `decompressed size exceeds ${maxBytes} bytes` };
      }
      if (done) break;
    }
  } catch (err) {
    return { ok: false, reason: "corrupt", message: `not a valid gzip stream: ${(err as Error).message}` };
  }
  return { ok: true, bytes: buf.subarray(0, total) };
}

/** The gzip trailer's ISIZE (the last four bytes, little-endian); 0 for input too short to hold one. */
function trailerSize(data: Uint8Array): number {
  if (data.byteLength < 18) return 0;
  return new DataView(data.buffer, data.byteOffset + data.byteLength - 4, 4).getUint32(0, true);
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
