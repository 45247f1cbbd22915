/** Worker bindings and variables (wrangler.toml; secrets via `wrangler secret put`). */
export interface Env {
  SNAPSHOTS: R2Bucket;
  DB: D1Database;
  SNAPSHOT_QUEUE: Queue;
  ALERT_QUEUE: Queue;
  FAULTLINE_ENV?: string;
  /** Accepted with every scope when set (local mode always sets one). */
  FAULTLINE_ADMIN_TOKEN?: string;
  /** "on" when the R2 bucket notifies the snapshots queue itself; ingest then does not enqueue. */
  FAULTLINE_R2_NOTIFICATIONS?: string;
  /** JSON array of chat webhooks: `[{"url","secret","format":"slack"|"json","detectors"?,"resolutions"?}]`. */
  FAULTLINE_WEBHOOKS?: string;
  /** Public base URL of the API, for links in alerts and reports. */
  FAULTLINE_PUBLIC_URL?: string;
  /** Control-plane SQS feed (drained by cron). */
  SQS_QUEUE_URL?: string;
  SQS_REGION?: string;
  SQS_ENDPOINT?: string;
  SQS_PROTOCOL?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
  /** Longest SQS long poll per receive, 0-20 s (default 5). */
  SQS_WAIT_SECONDS?: string;
  /** Most receive batches of 10 per cron firing (default 20; each batch is two SQS subrequests). */
  SQS_MAX_BATCHES?: string;
}
