/** Cron job (daily): the fleet report to R2 `reports/{day}/fleet.{json,md,html}` and to chat webhooks. */
import { sql } from "drizzle-orm";
import { makeDb } from "../../infra/worker/db.js";
import { parseWebhooks, signBody } from "../../shared/alerts/webhook.js";
import { patternHosts, patternSummary, patternTimeline } from "../../shared/db/episodes.js";
import { hosts } from "../../shared/db/schema.js";
import { fleetReport, reportHtml, reportMarkdown } from "../../shared/reports/fleet-report.js";
import { DAY_MS } from "../../shared/time.js";
import type { Job } from "../scheduled.js";

const WINDOW_MS = 7 * DAY_MS;

export const fleetReportJob: Job = async ({ env, scheduledTime }) => {
  const db = makeDb(env.DB);
  const w = { sinceMs: scheduledTime - WINDOW_MS, untilMs: scheduledTime };
  const summary = await patternSummary(db, w);
  const patterns = await Promise.all(
    summary.map(async (p) => ({
      detector: p.detector,
      hosts: p.hosts,
      occurrences: p.occurrences,
      firstSeenMs: p.firstSeenMs,
      lastSeenMs: p.lastSeenMs,
      topHosts: (await patternHosts(db, { ...w, detector: p.detector, limit: 5 })).map((h) => ({
        hostId: h.hostId,
        occurrences: h.occurrences,
        lastSeenMs: h.lastSeenMs,
      })),
      timeline: (await patternTimeline(db, { ...w, detector: p.detector })).map((d) => ({
        day: d.day,
        hosts: d.hosts,
        started: d.started,
      })),
    })),
  );
  const fleet = await db.select({ n: sql<number>`count(*)` }).from(hosts).get();
  const report = fleetReport({ generatedAtMs: Date.now(), ...w, fleetHosts: fleet?.n ?? 0, patterns });
  const day = new Date(scheduledTime).toISOString().slice(0, 10);
  const md = reportMarkdown(report);
  await Promise.all([
    env.SNAPSHOTS.put(`reports/${day}/fleet.json`, JSON.stringify(report, null, 2), {
      httpMetadata: { contentType: "application/json" },
    }),
    env.SNAPSHOTS.put(`reports/${day}/fleet.md`, md, {
      httpMetadata: { contentType: "text/markdown; charset=utf-8" },
    }),
    env.SNAPSHOTS.put(`reports/${day}/fleet.html`, reportHtml(report), {
      httpMetadata: { contentType: "text/html; charset=utf-8" },
    }),
  ]);
  const hooks = parseWebhooks(env.FAULTLINE_WEBHOOKS);
  let posted = 0;
  if (hooks.ok) {
    for (const hook of hooks.hooks) {
      const body =
        hook.format === "json"
          ? JSON.stringify({ kind: "fleet.report", ...report })
          : JSON.stringify({ text: md });
      const signature = await signBody({
        secret: hook.secret,
        body,
        timestampSec: Math.floor(Date.now() / 1000),
      });
      const res = await fetch(hook.url, {
        method: "POST",
        headers: {
          "content-type": "application/json",
          "x-faultline-signature": signature,
          "x-faultline-event": "fleet.report",
        },
        body,
        signal: AbortSignal.timeout(10_000),
      }).catch(() => null);
      if (res?.ok) posted++;
    }
  }
  return { day, detectors: patterns.length, webhooks: posted };
};
