/** Consumer of the `snapshots` queue: one message at a time, ack or retry with backoff. */

import { workerCodec } from "../../infra/worker/codec.js";
import { makeDb } from "../../infra/worker/db.js";
import { r2Store } from "../../infra/worker/r2.js";
import { ObjectNotification } from "../../shared/contracts/queue.js";
import { recordIngestError } from "../../shared/db/ingest.js";
import { processSnapshotNotification } from "../../shared/pipeline/process-snapshot.js";
import { isReprocess } from "../../shared/pipeline/reprocess.js";
import type { Env } from "../env.js";

/** Backoff for a retryable failure: 5 s, 10 s, 20 s ... capped at 5 minutes. */
export const retryDelaySeconds = (attempts: number) => Math.min(300, 5 * 2 ** Math.max(0, attempts - 1));

export async function consumeSnapshots(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = makeDb(env.DB);
  const store = r2Store(env.SNAPSHOTS);
  const counts: Record<string, number> = {};
  for (const msg of batch.messages) {
    const note = ObjectNotification.safeParse(msg.body);
    if (!note.success) {
      await recordIngestError(db, {
        kind: "queue",
        ref: msg.id,
        code: "invalid_message",
        message: `not an object notification: ${note.error.issues[0]?.message ?? "bad shape"}`,
        atMs: Date.now(),
      });
      msg.ack();
      counts.invalid = (counts.invalid ?? 0) + 1;
      continue;
    }
    try {
      const out = await processSnapshotNotification({
        note: note.data,
        db,
        store,
        codec: workerCodec,
        nowMs: Date.now(),
        reprocess: isReprocess(note.data),
      });
      counts[out.kind] = (counts[out.kind] ?? 0) + 1;
      msg.ack();
    } catch (err) {
      counts.retry = (counts.retry ?? 0) + 1;
      console.error(
        JSON.stringify({
          msg: "snapshot retry",
          key: note.data.object.key,
          attempts: msg.attempts,
          error: String(err),
        }),
      );
      msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
    }
  }
  console.log(
    JSON.stringify({ msg: "snapshots batch", queue: batch.queue, size: batch.messages.length, ...counts }),
  );
}

/** Dead-letter consumer: what still failed after every retry is recorded as `failed`, never dropped silently. */
export async function consumeSnapshotDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = makeDb(env.DB);
  const { markSnapshot } = await import("../../shared/db/ingest.js");
  for (const msg of batch.messages) {
    const note = ObjectNotification.safeParse(msg.body);
    const key = note.success ? note.data.object.key : msg.id;
    await db.batch([
      markSnapshot(db, {
        key,
        status: "failed",
        nowMs: Date.now(),
        reasonCode: "retries_exhausted",
        reason: "processing kept failing; moved to the dead-letter queue",
      }),
      recordIngestError(db, {
        kind: "queue",
        ref: key,
        code: "retries_exhausted",
        message: "processing kept failing; the raw object is kept and can be reprocessed",
        atMs: Date.now(),
      }),
    ]);
    msg.ack();
  }
}
