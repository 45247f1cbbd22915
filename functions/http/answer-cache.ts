/**
 * Fleet answers (the pattern endpoints) cached briefly in the isolate.
 *
 * A fleet-wide pattern is an aggregate over every host's episodes; a dashboard and a handful of SREs
 * ask the same question many times a minute while it changes slowly. Each isolate keeps the serialised
 * answer for `ttlMs`, keyed by the request's path and query (an explicit window is its own key; an
 * omitted `until` means "now" as of the cached answer, which `age` reports). Writes in this isolate
 * (snapshots processed, events accepted, reprocessing) drop every entry at once, so the local service
 * never serves an answer older than its own writes; across isolates in production the TTL bounds it.
 * `Cache-Control: no-cache` on the request skips the cache and refreshes the entry.
 */
import type { MiddlewareHandler } from "hono";
import type { AppEnv } from "./context.js";

interface Entry {
  /** The 200 answer as sent. */
  body: string;
  storedAtMs: number;
}

export class AnswerCache {
  private readonly entries = new Map<string, Entry>();
  /** Answers being computed: concurrent askers of one question wait for one query, not one each. */
  readonly inflight = new Map<string, Promise<Entry | undefined>>();
  private generation = 0;

  constructor(
    readonly ttlMs: number,
    readonly maxEntries: number,
  ) {}

  get(key: string, nowMs: number): Entry | undefined {
    const e = this.entries.get(key);
    if (!e) return undefined;
    if (nowMs - e.storedAtMs >= this.ttlMs) {
      this.entries.delete(key);
      return undefined;
    }
    return e;
  }

  /** Stores an answer computed while `generation` was current; dropped if a write happened meanwhile. */
  set(key: string, entry: Entry, generation: number): void {
    if (generation !== this.generation) return;
    this.entries.delete(key);
    this.entries.set(key, entry);
    // Map iteration is insertion order, so the first key is the oldest entry.
    while (this.entries.size > this.maxEntries) {
      const oldest = this.entries.keys().next().value;
      if (oldest === undefined) break;
      this.entries.delete(oldest);
    }
  }

  get currentGeneration(): number {
    return this.generation;
  }

  invalidate(): void {
    this.generation++;
    this.entries.clear();
    this.inflight.clear();
  }
}

/** The isolate's cache of fleet answers: 30 s, 500 distinct questions. */
export const fleetAnswers = new AnswerCache(30_000, 500);

/** Serves a cached 200 answer when there is one, else runs the route and caches its 200 answer. */
export function cachedAnswer(cache: AnswerCache = fleetAnswers): MiddlewareHandler<AppEnv> {
  return async (c, next) => {
    const url = new URL(c.req.url);
    url.searchParams.sort();
    const key = `${url.pathname}?${url.searchParams}`;
    const bypass = /\bno-cache\b/i.test(c.req.header("cache-control") ?? "");
    if (!bypass) {
      const hit = cache.get(key, Date.now()) ?? (await cache.inflight.get(key));
      if (hit) {
        return c.body(hit.body, 200, {
          "content-type": "application/json",
          age: String(Math.floor((Date.now() - hit.storedAtMs) / 1000)),
          "x-faultline-cache": "hit",
        });
      }
    }
    const generation = cache.currentGeneration;
    const storedAtMs = Date.now();
    let settle: (e: Entry | undefined) => void = () => {};
    const pending = new Promise<Entry | undefined>((resolve) => {
      settle = resolve;
    });
    if (!bypass) cache.inflight.set(key, pending);
    let entry: Entry | undefined;
    try {
      await next();
      c.header("x-faultline-cache", bypass ? "bypass" : "miss");
      if (c.res.status === 200) {
        entry = { body: await c.res.clone().text(), storedAtMs };
        cache.set(key, entry, generation);
      }
    } finally {
      // Waiters get the answer (or, after an error, undefined and run the route themselves).
      if (cache.inflight.get(key) === pending) cache.inflight.delete(key);
      settle(entry);
    }
  };
}
