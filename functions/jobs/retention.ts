/** Cron job (hourly): D1 retention, so the database stays inside its 10 GB cap (docs/storage.md). */
import { makeDb } from "../../infra/worker/db.js";
import { applyRetention } from "../../shared/db/retention.js";
import type { Job } from "../scheduled.js";

export const retention: Job = async ({ env, scheduledTime }) => applyRetention(makeDb(env.DB), scheduledTime);
