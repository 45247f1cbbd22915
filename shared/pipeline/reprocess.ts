/**
 * Re-parse stored snapshots after a parser fix. Reads the lake (object storage), not the D1 index,
 * because the index keeps only a few days (docs/storage.md).
 */
import type { ObjectNotification } from "../contracts/queue.js";
import { DAY_MS } from "../time.js";
import type { ObjectStore } from "./ports.js";
import { snapshotKeyOf } from "./process-snapshot.js";

export const REPROCESS_MAX_PER_CALL = 1000;

/** The UTC days from `sinceMs` to `untilMs` inclusive, `yyyy-mm-dd`. */
export function utcDays(sinceMs: number, untilMs: number): string[] {
  const days: string[] = [];
  const start = Date.UTC(
    new Date(sinceMs).getUTCFullYear(),
    new Date(sinceMs).getUTCMonth(),
    new Date(sinceMs).getUTCDate(),
  );
  for (let t = start; t <= untilMs && days.length < 400; t += DAY_MS)
    days.push(new Date(t).toISOString().slice(0, 10));
  return days;
}

/**
 * Lists a host's snapshot objects captured in [sinceMs, untilMs] and returns queue messages that
 * re-process them; `cursor` resumes a listing cut at REPROCESS_MAX_PER_CALL objects.
 */
export async function planReprocess(args: {
  store: ObjectStore;
  hostId: string;
  sinceMs: number;
  untilMs: number;
  cursor?: string;
}): Promise<{ messages: ObjectNotification[]; cursor: string | null }> {
  const days = utcDays(args.sinceMs, args.untilMs);
  // cursor = "<day index>:<store cursor>" so a long range resumes where it stopped.
  const [dayPart, ...rest] = (args.cursor ?? "0:").split(":");
  let dayIndex = Number(dayPart) || 0;
  let storeCursor: string | undefined = rest.join(":") || undefined;
  const messages: ObjectNotification[] = [];
  while (dayIndex < days.length) {
    const prefix = `snapshots/${encodeURIComponent(args.hostId)}/${days[dayIndex]}/`;
    const page = await args.store.list(prefix, {
      limit: REPROCESS_MAX_PER_CALL - messages.length,
      ...(storeCursor ? { cursor: storeCursor } : {}),
    });
    for (const key of page.keys) {
      const id = snapshotKeyOf(key);
      if (!id || id.capturedAtMs < args.sinceMs || id.capturedAtMs > args.untilMs) continue;
      messages.push({
        account: "reprocess",
        action: "PutObject",
        bucket: "faultline-snapshots",
        object: { key },
        faultline: { reprocess: true },
      });
    }
    if (page.cursor) {
      storeCursor = page.cursor;
      if (messages.length >= REPROCESS_MAX_PER_CALL)
        return { messages, cursor: `${dayIndex}:${storeCursor}` };
      continue;
    }
    dayIndex++;
    storeCursor = undefined;
    if (messages.length >= REPROCESS_MAX_PER_CALL && dayIndex < days.length)
      return { messages, cursor: `${dayIndex}:` };
  }
  return { messages, cursor: null };
}

/** True for a queue message asking to re-process an object whatever its recorded status. */
export function isReprocess(note: ObjectNotification): boolean {
  const f = (note as { faultline?: { reprocess?: unknown; redecide?: unknown } }).faultline;
  return f?.reprocess === true || f?.redecide === true;
}

/** True for a re-decision after late control-plane events (re-run correlation over the stored view). */
export function isRedecide(note: ObjectNotification): boolean {
  return (note as { faultline?: { redecide?: unknown } }).faultline?.redecide === true;
}

/** The queue message that re-decides a host's latest snapshot after late events. */
export function redecideMessage(snapshotKey: string): ObjectNotification {
  return {
    account: "redecide",
    action: "PutObject",
    bucket: "faultline-snapshots",
    object: { key: snapshotKey },
    faultline: { redecide: true },
  };
}
