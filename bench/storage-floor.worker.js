/**
 * The storage floor (bench/pipeline.ts): a stand-in Worker, for the bench only, that makes the same
 * binding calls per snapshot as the real ingest route and consumer, and does nothing else: no auth, no
 * gunzip, no JSON, no parsing, no correlation. Its throughput through miniflare is the most any Worker
 * could reach on the local R2, D1 and Queues simulators of this machine.
 *
 * Per snapshot, as faultline does: ingest reads the body, hashes it, puts it in R2, inserts the
 * `received` row and sends the notification-shaped message; the consumer reads each batch's index
 * rows in one D1 call, gets every object from R2, and marks them parsed in one D1 batch.
 */

const hex = (buf) => Array.from(new Uint8Array(buf), (b) => b.toString(16).padStart(2, "0")).join("");

export default {
  async fetch(req, env) {
    const body = new Uint8Array(await req.arrayBuffer());
    const sha256 = hex(await crypto.subtle.digest("SHA-256", body));
    const hostId = decodeURIComponent(req.headers.get("x-faultline-host-id") ?? "unknown");
    const capturedAtMs = Number(req.headers.get("x-faultline-captured-at") ?? 0);
    const key = `snapshots/${hostId}/${capturedAtMs}-${sha256}.json.gz`;
    await env.SNAPSHOTS.put(key, body, {
      httpMetadata: { contentType: "application/json", contentEncoding: "gzip" },
      customMetadata: { hostId, tokenId: "floor" },
    });
    await env.DB.prepare(
      `INSERT INTO snapshots (key, host_id, sha256, captured_at_ms, received_at_ms, bytes, status)
       VALUES (?1, ?2, ?3, ?4, ?5, ?6, 'received') ON CONFLICT DO NOTHING`,
    )
      .bind(key, hostId, sha256, capturedAtMs, Date.now(), body.byteLength)
      .run();
    await env.SNAPSHOT_QUEUE.send(
      {
        account: "local",
        action: "PutObject",
        bucket: "faultline-snapshots",
        object: { key, size: body.byteLength },
      },
      { contentType: "json" },
    );
    return Response.json({ key, sha256, status: "accepted" }, { status: 201 });
  },

  async queue(batch, env) {
    const keys = batch.messages.map((m) => m.body.object.key);
    await env.DB.prepare(`SELECT * FROM snapshots WHERE key IN (${keys.map(() => "?").join(",")})`)
      .bind(...keys)
      .all();
    await Promise.all(keys.map(async (key) => (await env.SNAPSHOTS.get(key))?.arrayBuffer()));
    await env.DB.batch(
      keys.map((key) =>
        env.DB.prepare("UPDATE snapshots SET status = 'parsed', processed_at_ms = ?2 WHERE key = ?1").bind(
          key,
          Date.now(),
        ),
      ),
    );
    batch.ackAll();
  },
};
