/** Cron job (every minute): drains the control-plane SQS queue into D1. */
import { makeDb } from "../../infra/worker/db.js";
import { makeSqsClient, readSqsSettings, sqsEventSource } from "../../infra/worker/sqs.js";
import { drainEvents } from "../../shared/pipeline/drain-events.js";
import { enqueueRedecide } from "../queues/enqueue.js";
import type { Job } from "../scheduled.js";

/** Crons fire every minute: finish well before the next firing so two drains rarely overlap. */
const BUDGET_MS = 40_000;
/** 20 batches are at most 40 SQS requests (a receive and a delete each), under the Free plan's 50 subrequests. */
const DEFAULT_MAX_BATCHES = 20;
const DEFAULT_WAIT_SECONDS = 5;

/** Receives, stores and deletes control-plane events from SQS; a no-op while SQS_QUEUE_URL is unset. */
export const drainSqs: Job = async ({ env }) => {
  const read = readSqsSettings(env);
  if (read.status === "unset") return { skipped: "SQS_QUEUE_URL is not set" };
  if (read.status === "invalid") throw new Error(`SQS settings: ${read.message}`);
  const { settings } = read;
  const waitSeconds = intVar(env.SQS_WAIT_SECONDS, DEFAULT_WAIT_SECONDS, 0, 20);
  const result = await drainEvents({
    source: sqsEventSource(makeSqsClient(settings), settings.queueUrl),
    db: makeDb(env.DB),
    nowMs: Date.now,
    budgetMs: BUDGET_MS,
    maxBatches: intVar(env.SQS_MAX_BATCHES, DEFAULT_MAX_BATCHES, 1, 1000),
    maxWaitSeconds: waitSeconds,
    redecide: (hosts) => enqueueRedecide(env, hosts),
  });
  const { hosts, ...counts } = result;
  if (result.error !== undefined) {
    console.error(JSON.stringify({ msg: "sqs drain error", queueUrl: settings.queueUrl, ...counts }));
  }
  return { protocol: settings.protocol, ...counts, hosts: hosts.length };
};

function intVar(text: string | undefined, fallback: number, min: number, max: number): number {
  const n = text === undefined || text.trim() === "" ? Number.NaN : Number(text);
  return Number.isInteger(n) ? Math.min(max, Math.max(min, n)) : fallback;
}
