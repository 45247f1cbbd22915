/**
 * Drains the control-plane event feed (SQS in production) into D1. A message is deleted only after
 * what it carried is durably recorded: its events stored, or its rejection written to the ingest
 * errors. A storage failure leaves the message on the queue; it comes back after the visibility
 * timeout, and the queue's redrive policy moves it to the dead-letter queue if it keeps failing.
 * Redelivery is harmless: events are idempotent by id.
 */
import type { Db } from "../db/types.js";
import { acceptEvents, MAX_EVENTS_PER_REQUEST } from "./accept-events.js";

/** One received message: its id, the handle that deletes it, and its raw body. */
export interface SourceMessage {
  id: string;
  receiptHandle: string;
  body: string;
}

/** The queue port (SQS in infra/worker/sqs.ts, in-memory doubles in tests); the domain never sees an SDK. */
export interface EventSource {
  /** Up to `max` messages, waiting at most `waitSeconds` for the first one when none is ready (long poll). */
  receive(max: number, waitSeconds: number): Promise<SourceMessage[]>;
  /** Deletes the messages; rejects if any of them could not be deleted (they will be redelivered). */
  ack(handles: readonly string[]): Promise<void>;
}

/** SQS returns at most 10 messages per ReceiveMessage and deletes at most 10 per DeleteMessageBatch. */
export const RECEIVE_BATCH_SIZE = 10;
/** SQS caps a long poll at 20 s. */
export const MAX_WAIT_SECONDS = 20;

export type DrainStop =
  | "drained"
  | "budget"
  | "max_batches"
  | "storage_failed"
  | "receive_failed"
  | "ack_failed";

export interface DrainResult {
  /** Messages received. */
  received: number;
  /** Events stored for the first time. */
  accepted: number;
  /** Events already stored (redelivery, or the same id twice). */
  duplicates: number;
  /** Events rejected as invalid (recorded in the ingest errors). */
  rejected: number;
  /** Messages deleted from the queue. */
  deleted: number;
  /** Messages left on the queue because storing them failed. */
  kept: number;
  /** Receive calls that returned at least one message. */
  batches: number;
  /** Receive calls made, empty ones included. */
  polls: number;
  /** Hosts that received new events. */
  hosts: string[];
  /** Hosts whose latest snapshot was queued for re-decision (a new event older than it arrived). */
  redecided: number;
  stoppedBy: DrainStop;
  /** The first receive, storage or delete error, when there was one. */
  error?: string;
}

export interface DrainArgs {
  source: EventSource;
  db: Db;
  /** The clock (epoch ms); read before every poll and for every message's received time. */
  nowMs: () => number;
  /** Wall-clock budget for the whole drain, from the first clock reading. */
  budgetMs: number;
  /** At most this many non-empty batches per drain (bounds subrequests per invocation). */
  maxBatches: number;
  /** Longest long poll; capped at 20 s and by what is left of the budget. Default 5. */
  maxWaitSeconds?: number;
  /** Time kept back to store and delete the last batch; no poll starts inside it. Default budget / 4, at most 10 s. */
  reserveMs?: number;
  /**
   * Queues a re-decision of these hosts' latest snapshots (late data re-decides); called once per batch
   * with what acceptEvents reported. A failure is reported in `error` and does not keep messages.
   */
  redecide?: (hosts: readonly LateHost[]) => Promise<void>;
}

/** A host with a new event at or before its latest snapshot, which was decided without it. */
export type LateHost = Awaited<ReturnType<typeof acceptEvents>>["redecide"][number];

type Item = { index: number; value: unknown; error?: string };

/**
 * Receives messages in batches of 10 until the queue is empty, the budget or the batch limit is
 * reached, or a receive/delete fails; stores each message's events and deletes what is recorded.
 */
export async function drainEvents(args: DrainArgs): Promise<DrainResult> {
  const { source, db, nowMs, maxBatches } = args;
  const deadline = nowMs() + args.budgetMs;
  const reserveMs = args.reserveMs ?? Math.min(10_000, Math.floor(args.budgetMs / 4));
  const maxWait = Math.max(0, Math.min(MAX_WAIT_SECONDS, args.maxWaitSeconds ?? 5));
  const hosts = new Set<string>();
  const result: DrainResult = {
    received: 0,
    accepted: 0,
    duplicates: 0,
    rejected: 0,
    deleted: 0,
    kept: 0,
    batches: 0,
    polls: 0,
    hosts: [],
    redecided: 0,
    stoppedBy: "drained",
  };
  const stop = (why: DrainStop, err?: unknown) => {
    result.stoppedBy = why;
    if (err !== undefined && result.error === undefined) result.error = errorText(err);
  };

  for (;;) {
    if (result.batches >= maxBatches) {
      stop("max_batches");
      break;
    }
    const leftMs = deadline - nowMs() - reserveMs;
    if (leftMs <= 0) {
      stop("budget");
      break;
    }
    const waitSeconds = Math.min(maxWait, Math.floor(leftMs / 1000));
    let batch: SourceMessage[];
    try {
      result.polls++;
      batch = await source.receive(RECEIVE_BATCH_SIZE, waitSeconds);
    } catch (err) {
      stop("receive_failed", err);
      break;
    }
    // An empty answer to a long poll means the queue is empty for now; the next cron firing looks again.
    if (batch.length === 0) {
      stop("drained");
      break;
    }
    result.batches++;
    result.received += batch.length;

    const recorded: string[] = [];
    const late = new Map<string, LateHost>();
    for (const message of batch) {
      try {
        const verdict = await acceptEvents({
          items: splitMessageBody(message),
          via: "sqs",
          db,
          nowMs: nowMs(),
        });
        result.accepted += verdict.accepted;
        result.duplicates += verdict.duplicates;
        result.rejected += verdict.rejected;
        for (const h of verdict.hosts) hosts.add(h);
        for (const h of verdict.redecide) late.set(h.hostId, h);
        recorded.push(message.receiptHandle);
      } catch (err) {
        // Left undeleted on purpose: the queue redelivers it after the visibility timeout.
        result.kept++;
        if (result.error === undefined) result.error = `message ${message.id}: ${errorText(err)}`;
      }
    }
    if (late.size > 0 && args.redecide) {
      // Redelivery would not help: the events are stored now, so they would come back as duplicates.
      try {
        await args.redecide([...late.values()]);
        result.redecided += late.size;
      } catch (err) {
        if (result.error === undefined) result.error = `redecide: ${errorText(err)}`;
      }
    }
    if (recorded.length > 0) {
      try {
        await source.ack(recorded);
        result.deleted += recorded.length;
      } catch (err) {
        // Stored but not deleted: they come back and are recognised as duplicates.
        stop("ack_failed", err);
        break;
      }
    } else {
      // Nothing in the batch could be stored: storage is likely down, so stop pulling more.
      stop("storage_failed");
      break;
    }
  }
  result.hosts = [...hosts].sort();
  return result;
}

/**
 * Splits one message body into candidate events: a JSON object is one event, a JSON array is many.
 * A body that is not JSON (or holds too many events) becomes one rejected item naming the message.
 */
export function splitMessageBody(message: Pick<SourceMessage, "id" | "body">): Item[] {
  // A byte-order mark is not JSON whitespace, but some producers write one.
  const text = message.body.charCodeAt(0) === 0xfeff ? message.body.slice(1) : message.body;
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    return [
      { index: 0, value: undefined, error: `SQS message ${message.id}: body is not JSON: ${errorText(err)}` },
    ];
  }
  const values: unknown[] = Array.isArray(parsed) ? parsed : [parsed];
  if (values.length > MAX_EVENTS_PER_REQUEST) {
    return [
      {
        index: 0,
        value: undefined,
        error: `SQS message ${message.id}: ${values.length} events; at most ${MAX_EVENTS_PER_REQUEST} per message`,
      },
    ];
  }
  return values.map((value, index) => ({ index, value }));
}

function errorText(err: unknown): string {
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
