/**
 * Chat alerts: an episode that opens, regresses or resolves becomes one message on the `alerts` queue,
 * rendered per webhook (Slack-compatible `text`, or the plain JSON event) and signed with HMAC-SHA256
 * so receivers can verify it came from faultline and was not replayed.
 */
import { z } from "zod";

export const AlertMessage = z.object({
  kind: z.enum(["episode.opened", "episode.regressed", "episode.resolved"]),
  episodeId: z.string(),
  detector: z.string(),
  hostId: z.string(),
  subject: z.string(),
  confidence: z.enum(["high", "medium", "low"]),
  summary: z.string(),
  /** Epoch ms of the snapshot that changed the episode. */
  atMs: z.number(),
});
export type AlertMessage = z.infer<typeof AlertMessage>;

export const WebhookConfig = z.object({
  url: z.url(),
  /** HMAC key; receivers verify `X-Faultline-Signature`. */
  secret: z.string().min(16),
  format: z.enum(["slack", "json"]).default("slack"),
  /** Only these detectors (all when absent). */
  detectors: z.array(z.string()).optional(),
  /** Also send resolutions (default: openings and regressions only). */
  resolutions: z.boolean().default(false),
});
export type WebhookConfig = z.infer<typeof WebhookConfig>;

/** Parses FAULTLINE_WEBHOOKS (a JSON array of WebhookConfig); a clear error for a bad value. */
export function parseWebhooks(
  text: string | undefined,
): { ok: true; hooks: WebhookConfig[] } | { ok: false; message: string } {
  if (!text?.trim()) return { ok: true, hooks: [] };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    return { ok: false, message: `FAULTLINE_WEBHOOKS is not JSON: ${(err as Error).message}` };
  }
  const r = z.array(WebhookConfig).safeParse(json);
  if (!r.success) {
    return {
      ok: false,
      message: `FAULTLINE_WEBHOOKS: ${r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`,
    };
  }
  return { ok: true, hooks: r.data };
}

/** Whether a webhook wants this alert. */
export function wants(hook: WebhookConfig, alert: AlertMessage): boolean {
  if (alert.kind === "episode.resolved" && !hook.resolutions) return false;
  return !hook.detectors || hook.detectors.includes(alert.detector);
}

const VERB: Record<AlertMessage["kind"], string> = {
  "episode.opened": "new",
  "episode.regressed": "back again",
  "episode.resolved": "resolved",
};

/** The request body for a webhook, as a string (what gets signed). */
export function renderAlert(args: {
  alert: AlertMessage;
  format: WebhookConfig["format"];
  apiBase?: string;
}): string {
  const { alert } = args;
  if (args.format === "json") return JSON.stringify({ ...alert, at: new Date(alert.atMs).toISOString() });
  const link = args.apiBase
    ? ` <${args.apiBase}/v1/incidents/${alert.episodeId}|${alert.episodeId}>`
    : ` ${alert.episodeId}`;
  const text = `*${alert.detector}* (${VERB[alert.kind]}, ${alert.confidence} confidence) on \`${alert.hostId}\`:${link}\n${alert.summary}`;
  return JSON.stringify({ text });
}

const encoder = new TextEncoder();

/**
 * `X-Faultline-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`. Receivers recompute it
 * with the shared secret and reject old timestamps to stop replays.
 */
export async function signBody(args: {
  secret: string;
  body: string;
  timestampSec: number;
}): Promise<string> {
  const key = await crypto.subtle.importKey(
    "raw",
    encoder.encode(args.secret),
    { name: "HMAC", hash: "SHA-256" },
    false,
    ["sign"],
  );
  const mac = new Uint8Array(
    await crypto.subtle.sign("HMAC", key, encoder.encode(`${args.timestampSec}.${args.body}`)),
  );
  let hex = "";
  for (const b of mac) hex += b.toString(16).padStart(2, "0");
  return `t=${args.timestampSec},v1=${hex}`;
}

/** Verifies a signature header (for receivers and tests); rejects timestamps older than `toleranceSec`. */
export async function verifySignature(args: {
  secret: string;
  body: string;
  header: string;
  nowSec: number;
  toleranceSec?: number;
}): Promise<boolean> {
  const parts = Object.fromEntries(args.header.split(",").map((p) => p.split("=", 2) as [string, string]));
  const t = Number(parts.t);
  if (!Number.isFinite(t) || Math.abs(args.nowSec - t) > (args.toleranceSec ?? 300) || !parts.v1)
    return false;
  const expected = await signBody({ secret: args.secret, body: args.body, timestampSec: t });
  return expected === `t=${t},v1=${parts.v1}`;
}
