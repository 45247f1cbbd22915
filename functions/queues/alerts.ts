/** Consumer of the `alerts` queue: deliver each alert to every webhook that wants it, signed. */

import { makeDb } from "../../infra/worker/db.js";
import { AlertMessage, parseWebhooks, renderAlert, signBody, wants } from "../../shared/alerts/webhook.js";
import { recordIngestError } from "../../shared/db/ingest.js";
import type { Env } from "../env.js";
import { retryDelaySeconds } from "./snapshots.js";

const TIMEOUT_MS = 10_000;

export async function consumeAlerts(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const hooks = parseWebhooks(env.FAULTLINE_WEBHOOKS);
  if (!hooks.ok) {
    // A configuration error is the operator's to fix: keep the alerts (retry) and say why, loudly.
    console.error(JSON.stringify({ msg: "alerts: bad webhook configuration", error: hooks.message }));
    for (const m of batch.messages) m.retry({ delaySeconds: 300 });
    return;
  }
  const counts = { sent: 0, skipped: 0, retried: 0, invalid: 0 };
  for (const msg of batch.messages) {
    const alert = AlertMessage.safeParse(msg.body);
    if (!alert.success) {
      counts.invalid++;
      msg.ack();
      continue;
    }
    const targets = hooks.hooks.filter((h) => wants(h, alert.data));
    if (!targets.length) {
      counts.skipped++;
      msg.ack();
      continue;
    }
    // Deliver to every target; retry the message if any failed (receivers must be idempotent on episodeId+kind).
    const results = await Promise.all(
      targets.map(async (hook) => {
        const body = renderAlert({
          alert: alert.data,
          format: hook.format,
          ...(env.FAULTLINE_PUBLIC_URL ? { apiBase: env.FAULTLINE_PUBLIC_URL } : {}),
        });
        const signature = await signBody({
          secret: hook.secret,
          body,
          timestampSec: Math.floor(Date.now() / 1000),
        });
        try {
          const res = await fetch(hook.url, {
            method: "POST",
            headers: {
              "content-type": "application/json",
              "x-faultline-signature": signature,
              "x-faultline-event": alert.data.kind,
            },
            body,
            signal: AbortSignal.timeout(TIMEOUT_MS),
          });
          return (
            res.ok || (res.status >= 400 && res.status < 500 && res.status !== 408 && res.status !== 429)
          );
        } catch {
          return false;
        }
      }),
    );
    if (results.every(Boolean)) {
      counts.sent++;
      msg.ack();
    } else {
      counts.retried++;
      msg.retry({ delaySeconds: retryDelaySeconds(msg.attempts) });
    }
  }
  console.log(JSON.stringify({ msg: "alerts batch", size: batch.messages.length, ...counts }));
}

/** Alerts that never got through are recorded, so a dead webhook is visible in GET /v1/ingest/errors. */
export async function consumeAlertDeadLetters(batch: MessageBatch<unknown>, env: Env): Promise<void> {
  const db = makeDb(env.DB);
  for (const msg of batch.messages) {
    const alert = AlertMessage.safeParse(msg.body);
    await recordIngestError(db, {
      kind: "queue",
      ref: alert.success ? `alert:${alert.data.episodeId}:${alert.data.kind}` : msg.id,
      hostId: alert.success ? alert.data.hostId : null,
      code: "alert_undelivered",
      message: "webhook delivery kept failing; the alert was dropped after its retries",
      atMs: Date.now(),
    });
    msg.ack();
  }
}
