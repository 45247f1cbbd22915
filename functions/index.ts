/** The Worker: one default export wiring HTTP, queue consumers and cron jobs to the domain in shared/. */
import { Hono } from "hono";

export interface Env {
  SNAPSHOTS: R2Bucket;
  DB: D1Database;
  SNAPSHOT_QUEUE: Queue;
  ALERT_QUEUE: Queue;
  FAULTLINE_ENV?: string;
}

const app = new Hono<{ Bindings: Env }>();

app.get("/healthz", (c) => c.json({ status: "ok" }));

export default {
  fetch: app.fetch,
} satisfies ExportedHandler<Env>;
