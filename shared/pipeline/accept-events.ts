/**
 * Control-plane events from HTTP (JSON array or NDJSON) and SQS (one event or an array per message).
 * Every event is validated on its own: one bad line never blocks the others, and each gets a verdict.
 */

import { inArray } from "drizzle-orm";
import { type ControlPlaneEvent, NormalizedEvent } from "../contracts/events.js";
import { insertEvents } from "../db/events.js";
import { recordIngestError } from "../db/ingest.js";
import { hosts as hostsTable } from "../db/schema.js";
import { runBatch } from "../db/statement.js";
import type { Db } from "../db/types.js";

export const MAX_EVENTS_PER_REQUEST = 5000;

export type EventVerdict =
  | { index: number; id: string; status: "accepted" | "duplicate" }
  | { index: number; id: string | null; status: "rejected"; reason: string };

export interface EventBatchResult {
  accepted: number;
  duplicates: number;
  rejected: number;
  results: EventVerdict[];
  /** Hosts that received new events. */
  hosts: string[];
  /**
   * Hosts with a new event at or before their latest parsed snapshot: that snapshot was decided without
   * the event, so its correlation is re-run over the stored view (late data re-decides).
   */
  redecide: { hostId: string; snapshotKey: string }[];
}

/** Splits a request body into candidate events: a JSON array, one object, or NDJSON lines. */
export function splitEventBody(
  text: string,
  ndjson: boolean,
): { items: { index: number; value: unknown; error?: string }[] } {
  const trimmed = text.trim();
  if (!ndjson && (trimmed.startsWith("[") || trimmed.startsWith("{"))) {
    try {
      const v: unknown = JSON.parse(trimmed);
      return { items: (Array.isArray(v) ? v : [v]).map((value, index) => ({ index, value })) };
    } catch (err) {
      if (trimmed.startsWith("["))
        return {
          items: [{ index: 0, value: undefined, error: `body is not JSON: ${(err as Error).message}` }],
        };
      // A body of several objects on separate lines without the NDJSON content type: read it as NDJSON.
    }
  }
  const items: { index: number; value: unknown; error?: string }[] = [];
  let index = 0;
  for (const line of text.split("\n")) {
    const l = line.trim();
    if (!l) continue;
    try {
      items.push({ index, value: JSON.parse(l) });
    } catch (err) {
      items.push({
        index,
        value: undefined,
        error: `line ${index + 1} is not JSON: ${(err as Error).message}`,
      });
    }
    index++;
  }
  return { items };
}

/** Validates and stores events; duplicates (same id) change nothing. */
export async function acceptEvents(args: {
  items: readonly { index: number; value: unknown; error?: string }[];
  via: "http" | "sqs";
  db: Db;
  nowMs: number;
}): Promise<EventBatchResult> {
  const valid: { index: number; event: ControlPlaneEvent }[] = [];
  const results: EventVerdict[] = [];
  const errors: Parameters<typeof recordIngestError>[1][] = [];
  const seen = new Set<string>();
  for (const item of args.items) {
    const id = idOf(item.value);
    if (item.error) {
      results.push({ index: item.index, id, status: "rejected", reason: item.error });
      continue;
    }
    const r = NormalizedEvent.safeParse(item.value);
    if (!r.success) {
      const reason = r.error.issues.map((i) => `${i.path.join(".") || "event"}: ${i.message}`).join("; ");
      results.push({ index: item.index, id, status: "rejected", reason });
      continue;
    }
    if (seen.has(r.data.id)) {
      results.push({ index: item.index, id: r.data.id, status: "duplicate" });
      continue;
    }
    seen.add(r.data.id);
    valid.push({ index: item.index, event: r.data });
  }
  for (const v of results) {
    if (v.status === "rejected") {
      errors.push({
        kind: "event",
        ref: v.id ?? `item ${v.index}`,
        code: "invalid_event",
        message: v.reason,
        atMs: args.nowMs,
      });
    }
  }

  const inserted = await insertEvents(args.db, {
    events: valid.map((v) => v.event),
    via: args.via,
    nowMs: args.nowMs,
  });
  const hosts = new Set<string>();
  const earliestNew = new Map<string, number>();
  for (const v of valid) {
    const fresh = inserted.has(v.event.id);
    if (fresh) {
      hosts.add(v.event.instanceId);
      earliestNew.set(
        v.event.instanceId,
        Math.min(earliestNew.get(v.event.instanceId) ?? Number.POSITIVE_INFINITY, v.event.atMs),
      );
    }
    results.push({ index: v.index, id: v.event.id, status: fresh ? "accepted" : "duplicate" });
  }
  if (errors.length) {
    await runBatch(
      args.db,
      errors.map((e) => recordIngestError(args.db, e)),
    );
  }
  results.sort((a, b) => a.index - b.index);
  return {
    accepted: results.filter((r) => r.status === "accepted").length,
    duplicates: results.filter((r) => r.status === "duplicate").length,
    rejected: results.filter((r) => r.status === "rejected").length,
    results,
    hosts: [...hosts],
    redecide: await lateHosts(args.db, earliestNew),
  };
}

/** Hosts whose latest view was captured at or after one of their new events. */
async function lateHosts(
  db: Db,
  earliestNew: ReadonlyMap<string, number>,
): Promise<{ hostId: string; snapshotKey: string }[]> {
  const ids = [...earliestNew.keys()];
  const out: { hostId: string; snapshotKey: string }[] = [];
  // 90 ids per statement stays under D1's 100 bound parameters.
  for (let i = 0; i < ids.length; i += 90) {
    const rows = await db
      .select({
        hostId: hostsTable.hostId,
        key: hostsTable.latestSnapshotKey,
        at: hostsTable.viewCapturedAtMs,
      })
      .from(hostsTable)
      .where(inArray(hostsTable.hostId, ids.slice(i, i + 90)))
      .all();
    for (const r of rows) {
      const first = earliestNew.get(r.hostId);
      if (first !== undefined && first <= r.at) out.push({ hostId: r.hostId, snapshotKey: r.key });
    }
  }
  return out;
}

function idOf(v: unknown): string | null {
  if (v && typeof v === "object" && "id" in v && typeof v.id === "string") return v.id;
  return null;
}
