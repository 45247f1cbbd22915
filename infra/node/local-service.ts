/**
 * Runs the bundled Worker on miniflare with the bindings wrangler.toml declares (R2, D1, Queues, cron),
 * so `npm start`, the worker tests and the end-to-end tests all start the same thing.
 */
import { mkdirSync } from "node:fs";
import { join, resolve } from "node:path";
import { Miniflare, type MiniflareOptions } from "miniflare";
import { unstable_getMiniflareWorkerOptions } from "wrangler";
import { applyMigrations } from "./migrations.js";

export interface LocalServiceOptions {
  /** Where R2, D1 and queue state persist; omit for in-memory (tests). */
  stateDir?: string;
  /** 0 picks a free port. */
  port?: number;
  host?: string;
  /** Extra plain-text bindings (tokens, SQS settings). */
  vars?: Record<string, string>;
  /** Queue batch timeout in seconds; tests use 0 so messages are delivered at once. */
  queueBatchTimeout?: number;
  /** Repository root (where wrangler.toml and dist/ live). */
  repoRoot?: string;
  /** Drop the Worker's stdout (its one JSON log line per request/batch); stderr is always kept. */
  quiet?: boolean;
  /** Serve the Worker's V8 inspector (DevTools protocol) on this port; 0 picks a free one (benchmarks profile through it). */
  inspectorPort?: number;
}

export interface LocalService {
  url: URL;
  mf: Miniflare;
  /** Migrations applied at start (empty when the state was already current). */
  migrations: string[];
  dispose(): Promise<void>;
}

/** Miniflare options derived from wrangler.toml, pointing at the prebuilt dist/worker.mjs. */
export function localServiceOptions(opts: LocalServiceOptions = {}): MiniflareOptions {
  const repoRoot = resolve(opts.repoRoot ?? ".");
  const { workerOptions } = unstable_getMiniflareWorkerOptions(join(repoRoot, "wrangler.toml"));
  const consumers = (workerOptions.queueConsumers ?? {}) as Record<string, { maxBatchTimeout?: number }>;
  const queueConsumers = Object.fromEntries(
    Object.entries(consumers).map(([name, c]) => [
      name,
      { ...c, maxBatchTimeout: opts.queueBatchTimeout ?? c.maxBatchTimeout },
    ]),
  );
  const persist = opts.stateDir ? resolve(opts.stateDir) : undefined;
  if (persist) mkdirSync(persist, { recursive: true });
  return {
    name: "faultline",
    modules: true,
    scriptPath: join(repoRoot, "dist/worker.mjs"),
    compatibilityDate: workerOptions.compatibilityDate,
    compatibilityFlags: workerOptions.compatibilityFlags,
    bindings: { ...workerOptions.bindings, FAULTLINE_ENV: "local", ...opts.vars },
    r2Buckets: workerOptions.r2Buckets,
    d1Databases: workerOptions.d1Databases,
    queueProducers: workerOptions.queueProducers,
    queueConsumers,
    ...(opts.quiet
      ? {
          handleRuntimeStdio(stdout: NodeJS.ReadableStream, stderr: NodeJS.ReadableStream) {
            stdout.resume();
            stderr.pipe(process.stderr);
          },
        }
      : {}),
    host: opts.host ?? "127.0.0.1",
    port: opts.port ?? 0,
    ...(opts.inspectorPort === undefined
      ? {}
      : { inspectorPort: opts.inspectorPort, unsafeInspectorProxy: true }),
    ...(persist
      ? {
          d1Persist: join(persist, "d1"),
          r2Persist: join(persist, "r2"),
          cachePersist: join(persist, "cache"),
          durableObjectsPersist: join(persist, "do"),
        }
      : {}),
  } as MiniflareOptions;
}

/** Starts the Worker on miniflare, applies pending D1 migrations, and waits until it answers. */
export async function startLocalService(opts: LocalServiceOptions = {}): Promise<LocalService> {
  const repoRoot = resolve(opts.repoRoot ?? ".");
  const mf = new Miniflare(localServiceOptions(opts));
  try {
    const url = await mf.ready;
    const migrations = await applyMigrations(
      await mf.getD1Database("DB"),
      join(repoRoot, "infra/migrations"),
    );
    return { url, mf, migrations, dispose: () => mf.dispose() };
  } catch (err) {
    await mf.dispose();
    throw err;
  }
}
