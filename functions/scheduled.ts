/** Cron jobs, looked up by the cron string wrangler.toml declares. */
import type { Env } from "./env.js";
import { drainSqs } from "./jobs/drain-sqs.js";
import { fleetReportJob } from "./jobs/fleet-report.js";
import { retention } from "./jobs/retention.js";

export type Job = (args: { env: Env; scheduledTime: number }) => Promise<Record<string, unknown>>;

/** Every cron in wrangler.toml maps to the jobs it runs. */
export const jobs: Record<string, Job[]> = {
  "* * * * *": [drainSqs],
  "0 * * * *": [retention],
  "0 6 * * *": [fleetReportJob],
};

/** Runs the jobs of one cron firing; one failing job does not stop the others. */
export async function runScheduled(controller: ScheduledController, env: Env): Promise<void> {
  for (const job of jobs[controller.cron] ?? []) {
    const started = Date.now();
    try {
      const out = await job({ env, scheduledTime: controller.scheduledTime });
      console.log(
        JSON.stringify({
          msg: "job",
          cron: controller.cron,
          job: job.name,
          ms: Date.now() - started,
          ...out,
        }),
      );
    } catch (err) {
      console.error(
        JSON.stringify({ msg: "job failed", cron: controller.cron, job: job.name, error: String(err) }),
      );
    }
  }
}
