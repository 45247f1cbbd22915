/** The Worker: one default export wiring HTTP, queue consumers and cron jobs to the domain in shared/. */
import type { Env } from "./env.js";
import { createApp } from "./http/app.js";
import { consumeAlertDeadLetters, consumeAlerts } from "./queues/alerts.js";
import { consumeSnapshotDeadLetters, consumeSnapshots } from "./queues/snapshots.js";
import { runScheduled } from "./scheduled.js";

export type { Env } from "./env.js";

const app = createApp();

const consumers: Record<string, (batch: MessageBatch<unknown>, env: Env) => Promise<void>> = {
  snapshots: consumeSnapshots,
  "snapshots-dlq": consumeSnapshotDeadLetters,
  alerts: consumeAlerts,
  "alerts-dlq": consumeAlertDeadLetters,
};

export default {
  fetch: app.fetch,
  async queue(batch, env) {
    const consume = consumers[batch.queue];
    if (!consume) {
      console.error(JSON.stringify({ msg: "no consumer for queue", queue: batch.queue }));
      batch.retryAll();
      return;
    }
    await consume(batch, env);
  },
  async scheduled(controller, env) {
    await runScheduled(controller, env);
  },
} satisfies ExportedHandler<Env>;
