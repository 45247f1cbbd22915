/** Cron job (hourly): D1 retention, so the database stays inside its 10 GB cap (docs/storage.md). */
import { makeDb } from "../../infra/worker/db.js";
import { applyRetention } from "../../shared/db/retention.js";
import { fleetAnswers } from "../http/answer-cache.js";
import type { Job } from "../scheduled.js";

export const retention: Job = async ({ env, scheduledTime }) => {
  const removed = await applyRetention(makeDb(env.DB), scheduledTime);
  fleetAnswers.invalidate();
  return removed;
};
