/**
 * `npm start`: the whole service locally on the embedded default. Builds the Worker, starts it on
 * miniflare with R2, D1, Queues and cron (state in FAULTLINE_STATE_DIR, default .data/), applies
 * pending D1 migrations, and serves on 127.0.0.1:PORT (default 8787).
 */
import { execFileSync } from "node:child_process";
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { unstable_readConfig } from "wrangler";
import { cronMatches } from "../infra/node/cron.js";
import { startLocalService } from "../infra/node/local-service.js";

const repoRoot = fileURLToPath(new URL("..", import.meta.url));
const stateDir = resolve(process.env.FAULTLINE_STATE_DIR ?? join(repoRoot, ".data"));
const port = Number(process.env.PORT ?? 8787);
const host = process.env.HOST ?? "127.0.0.1";

execFileSync(process.execPath, [join(repoRoot, "scripts/build.mjs")], { stdio: "inherit" });
mkdirSync(stateDir, { recursive: true });

// Local mode always has an admin token: the one given, or one kept under the state dir.
let adminToken = process.env.FAULTLINE_ADMIN_TOKEN;
let tokenNote = "from FAULTLINE_ADMIN_TOKEN";
if (!adminToken) {
  const file = join(stateDir, "admin-token");
  if (existsSync(file)) {
    adminToken = readFileSync(file, "utf8").trim();
    tokenNote = `kept in ${file}`;
  } else {
    adminToken = `fl_local_${crypto.getRandomValues(new Uint8Array(24)).reduce((s, b) => s + b.toString(16).padStart(2, "0"), "")}`;
    writeFileSync(file, `${adminToken}\n`, { mode: 0o600 });
    tokenNote = `created and kept in ${file}`;
  }
}

const svc = await startLocalService({
  repoRoot,
  stateDir,
  port,
  host,
  vars: {
    FAULTLINE_ADMIN_TOKEN: adminToken,
    ...passThrough([
      "SQS_QUEUE_URL",
      "SQS_REGION",
      "SQS_ENDPOINT",
      "SQS_PROTOCOL",
      "AWS_ACCESS_KEY_ID",
      "AWS_SECRET_ACCESS_KEY",
    ]),
  },
});

console.log(`faultline: listening on ${svc.url.origin} (state in ${stateDir})`);
console.log(
  `faultline: D1 migrations applied: ${svc.migrations.length ? svc.migrations.join(", ") : "none pending"}`,
);
console.log(`faultline: admin token (${tokenNote}): ${adminToken}`);

// Miniflare does not fire cron triggers by itself: fire wrangler.toml's crons at each UTC minute.
const crons = readCrons();
const worker = await svc.mf.getWorker();
let lastMinute = -1;
const tick = setInterval(async () => {
  const now = new Date();
  const minute = Math.floor(now.getTime() / 60_000);
  if (minute === lastMinute) return;
  lastMinute = minute;
  for (const cron of crons.filter((c) => cronMatches(c, now))) {
    try {
      await worker.scheduled({ cron, scheduledTime: now });
    } catch (err) {
      console.error(`faultline: cron ${cron} failed: ${String(err)}`);
    }
  }
}, 5_000);

let stopping = false;
for (const sig of ["SIGINT", "SIGTERM"] as const) {
  process.on(sig, async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(tick);
    console.log(`faultline: ${sig}, stopping`);
    await svc.dispose();
    process.exit(0);
  });
}

function passThrough(names: string[]): Record<string, string> {
  return Object.fromEntries(names.flatMap((n) => (process.env[n] ? [[n, process.env[n] as string]] : [])));
}

function readCrons(): string[] {
  return unstable_readConfig({ config: join(repoRoot, "wrangler.toml") }).triggers.crons ?? [];
}
