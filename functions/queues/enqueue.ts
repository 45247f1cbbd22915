/** Local mode has no R2 bucket notifications, so ingest enqueues the same message shape itself. */
import type { ObjectNotification } from "../../shared/contracts/queue.js";
import { redecideMessage } from "../../shared/pipeline/reprocess.js";
import type { Env } from "../env.js";

/** Sends an R2-notification-shaped message for a new object unless the bucket notifies by itself. */
export async function enqueueSnapshot(env: Env, obj: { key: string; size: number }): Promise<void> {
  if (env.FAULTLINE_R2_NOTIFICATIONS === "on") return;
  const note: ObjectNotification = {
    account: "local",
    action: "PutObject",
    bucket: "faultline-snapshots",
    object: { key: obj.key, size: obj.size },
    eventTime: new Date().toISOString(),
  };
  await env.SNAPSHOT_QUEUE.send(note, { contentType: "json" });
}

/** Queues a re-decision of each host's latest snapshot (late control-plane events arrived). */
export async function enqueueRedecide(env: Env, hosts: readonly { snapshotKey: string }[]): Promise<void> {
  for (let i = 0; i < hosts.length; i += 100) {
    await env.SNAPSHOT_QUEUE.sendBatch(
      hosts
        .slice(i, i + 100)
        .map((h) => ({ body: redecideMessage(h.snapshotKey), contentType: "json" as const })),
    );
  }
}
