/**
 * `<state-dir>/state.json`: what the shipper remembers between runs: the last change digest handed to
 * delivery, when an upload last succeeded, counters, and device subtrees whose reads hung.
 */
import { mkdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { z } from "zod";
import { writeFileAtomic } from "./spool.js";

export const ShipperState = z.object({
  version: z.literal(1).default(1),
  /** Change digest of the last bundle accepted or spooled: an equal capture is "unchanged". */
  lastDigest: z.string().optional(),
  /** When a bundle was last accepted by the endpoint (any bundle is a full snapshot). */
  lastUploadAtMs: z.number().optional(),
  lastUploadKey: z.string().optional(),
  /** Spooled bundles dropped to keep the spool bounded, ever. */
  spoolDropped: z.number().int().nonnegative().default(0),
  /** Bundles the endpoint rejected for good, ever. */
  rejected: z.number().int().nonnegative().default(0),
  /** Subtrees whose reads timed out: skipped until `sinceMs + STUCK_RETRY_MS`, then tried again. */
  stuck: z.record(z.string(), z.object({ sinceMs: z.number(), why: z.string() })).default({}),
});
export type ShipperState = z.output<typeof ShipperState>;

/** How long a subtree that hung is left alone before the shipper reads it again. */
export const STUCK_RETRY_MS = 3_600_000;

/** Loads the state; a missing file is a first run, a damaged one is logged and replaced. */
export async function loadState(stateDir: string, log: (line: string) => void): Promise<ShipperState> {
  const path = join(stateDir, "state.json");
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (e) {
    if (e instanceof Error && "code" in e && e.code === "ENOENT") return ShipperState.parse({});
    throw e;
  }
  try {
    return ShipperState.parse(JSON.parse(text));
  } catch (e) {
    log(
      `state file ${path} is damaged (${e instanceof Error ? e.message.split("\n")[0] : e}); starting from empty state`,
    );
    return ShipperState.parse({});
  }
}

/** Saves the state atomically. */
export async function saveState(stateDir: string, state: ShipperState): Promise<void> {
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  await writeFileAtomic(join(stateDir, "state.json"), `${JSON.stringify(state, null, 2)}\n`);
}

/** Subtrees still to skip at `now` (key -> why), for the next capture. */
export function stuckToSkip(state: ShipperState, now: number): [string, string][] {
  return Object.entries(state.stuck)
    .filter(([, v]) => now - v.sinceMs < STUCK_RETRY_MS)
    .map(([k, v]) => [
      k,
      `not read: ${v.why.replace(/^not read: /, "")} (${new Date(v.sinceMs).toISOString()}); retried after ${STUCK_RETRY_MS / 60_000} min`,
    ]);
}

/** Folds a capture's timed-out subtrees into the state: new ones start now, expired ones are forgotten. */
export function recordStuck(state: ShipperState, timedOut: readonly [string, string][], now: number): void {
  const next: ShipperState["stuck"] = {};
  for (const [key, why] of timedOut) {
    const prev = state.stuck[key];
    next[key] = prev && now - prev.sinceMs < STUCK_RETRY_MS ? prev : { sinceMs: now, why };
  }
  state.stuck = next;
}
