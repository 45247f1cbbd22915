/** Consumer of the `snapshots` queue: each message acked or retried with backoff on its own. */

import { workerCodec } from "../../infra/worker/codec.js";
import { makeDb } from "../../infra/worker/db.js";
import { r2Store } from "../../infra/worker/r2.js";
import { CREATE_ACTIONS, ObjectNotification } from "../../shared/contracts/queue.js";
import { markSnapshot, recordIngestError } from "../../shared/db/ingest.js";
import { runBatch } from "../../shared/db/statement.js";
import type { ProcessOutcome } from "../../shared/pipeline/intake.js";
import { processEvidenceNotification } from "../../shared/pipeline/process-evidence.js";
import {
  type BatchResult,
  processSnapshotBatch,
  processSnapshotNotification,
  snapshotKeyOf,
} from "../../shared/pipeline/process-snapshot.js";
import { isRedecide, isReprocess } from "../../shared/pipeline/reprocess.js";
import type { Env } from "../env.js";
import { fleetAnswers } from "../http/answer-cache.js";

/** Backoff for a retryable failure: 5 s, 10 s, 20 s ... capped at 5 minutes. */
export const retryDelaySeconds = (attempts: number) => Math.min(300, 5 * 2 ** Math.max(0, attempts - 1));

/** The host a message is about (messages of one host are processed in order; hosts in parallel). */
function hostOf(key: string): string {
  const parts = key.split("/");
  const at = parts.indexOf("snapshots") >= 0 ? parts.indexOf("snapshots") : parts.indexOf("evidence");
  return at >= 0 ? (parts[at + 1] ?? key) : key;
}

export async function consumeSnapshots(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = makeDb(env.DB);
  const store = r2Store(env.SNAPSHOTS);
  const counts: Record<string, number> = {};
  const count = (k: string, n = 1) => {
    counts[k] = (counts[k] ?? 0) + n;
  };
  const byHost = new Map<string, { msg: Message<unknown>; note: ObjectNotification }[]>();
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
      count("invalid");
      continue;
    }
    const host = hostOf(note.data.object.key);
    const list = byHost.get(host) ?? [];
    list.push({ msg, note: note.data });
    byHost.set(host, list);
  }
  // A host with one new snapshot in the batch (the usual case) goes into one batch-wide pass: one D1 read
  // and one D1 write for all of them. The rest one message at a time: one host's snapshots in order
  // (episodes reconcile against the previous one), different hosts at once so round trips overlap.
  const together: { msg: Message<unknown>; note: ObjectNotification }[] = [];
  const alone: { msg: Message<unknown>; note: ObjectNotification }[][] = [];
  const togetherHosts = new Set<string>();
  for (const items of byHost.values()) {
    const only = items.length === 1 ? items[0] : undefined;
    const hostId = only ? snapshotKeyOf(only.note.object.key)?.hostId : undefined;
    if (
      only &&
      hostId !== undefined &&
      !togetherHosts.has(hostId) &&
      !isReprocess(only.note) &&
      CREATE_ACTIONS.has(only.note.action)
    ) {
      together.push(only);
      togetherHosts.add(hostId);
    } else alone.push(items);
  }
  const settle = async (
    msg: Message<unknown>,
    note: ObjectNotification,
    out: ProcessOutcome | { error: unknown },
  ): Promise<void> => {
    try {
      if ("error" in out) throw out.error;
      count(out.kind);
      if (out.kind === "parsed" && out.alerts.length) {
        await env.ALERT_QUEUE.sendBatch(out.alerts.map((body) => ({ body, contentType: "json" as const })));
        count("alerts", out.alerts.length);
      }
      msg.ack();
    } catch (err) {
      count("retry");
      console.error(
        JSON.stringify({
          msg: "snapshot retry",
          key: note.object.key,
          attempts: msg.attempts,
          error: String(err),
        }),
      );
      msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
    }
  };
  const batchWide = async (): Promise<void> => {
    if (together.length === 0) return;
    let results: BatchResult[];
    try {
      results = await processSnapshotBatch({
        notes: together.map((t) => t.note),
        db,
        store,
        codec: workerCodec,
        nowMs: Date.now(),
      });
    } catch (error) {
      results = together.map(() => ({ ok: false, error }));
    }
    await Promise.all(
      together.map(({ msg, note }, i) => {
        const r = results[i];
        return settle(msg, note, r?.ok ? r.outcome : { error: r?.error ?? new Error("no result") });
      }),
    );
  };
  await Promise.all([
    batchWide(),
    ...alone.map(async (items) => {
      for (const { msg, note } of items) {
        try {
          const process = note.object.key.startsWith("evidence/")
            ? processEvidenceNotification
            : processSnapshotNotification;
          const out = await process({
            note,
            db,
            store,
            codec: workerCodec,
            nowMs: Date.now(),
            reprocess: isReprocess(note),
            redecide: isRedecide(note),
          });
          await settle(msg, note, out);
        } catch (error) {
          await settle(msg, note, { error });
        }
      }
    }),
  ]);
  // Episodes may have changed: this isolate's cached fleet answers are stale now.
  fleetAnswers.invalidate();
  console.log(
    JSON.stringify({
      msg: "snapshots batch",
      queue: batch.queue,
      size: batch.messages.length,
      hosts: byHost.size,
      ...counts,
    }),
  );
}

/** Dead-letter consumer: what still failed after every retry is recorded as `failed`, never dropped silently. */
export async function consumeSnapshotDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = makeDb(env.DB);
  for (const msg of batch.messages) {
    const note = ObjectNotification.safeParse(msg.body);
    const key = note.success ? note.data.object.key : msg.id;
    await runBatch(db, [
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
