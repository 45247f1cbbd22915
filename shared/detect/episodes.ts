/**
 * Episode bookkeeping, pure: given a host's stored episodes and a fresh detector run on one snapshot,
 * decide which episodes open, move, resolve, regress, or vanish. Occurrences are episodes, not
 * snapshots: seeing an episode again only moves lastSeen.
 */
import type { Decided, DetectorId, Verdict } from "./types.js";

export interface EpisodeState {
  readonly id: string;
  readonly detector: DetectorId;
  readonly subject: string;
  readonly status: "open" | "resolved";
  readonly firstSeenMs: number;
  readonly lastSeenMs: number;
  /** Capture time of the first snapshot that showed it (firstSeenMs may be earlier: the attach time). */
  readonly firstSnapshotMs: number;
  readonly resolvedAtMs: number | null;
  readonly regressions: number;
}

export type EpisodeChange =
  | {
      readonly kind: "open";
      readonly id: string;
      readonly verdict: Verdict;
      readonly firstSeenMs: number;
      readonly lastSeenMs: number;
    }
  | {
      readonly kind: "seen";
      readonly id: string;
      readonly verdict: Verdict;
      readonly firstSeenMs: number;
      readonly lastSeenMs: number;
    }
  | {
      readonly kind: "regressed";
      readonly id: string;
      readonly verdict: Verdict;
      readonly lastSeenMs: number;
    }
  | { readonly kind: "resolved"; readonly id: string; readonly resolvedAtMs: number }
  /** An episode that only this snapshot ever supported, which a late event now explains away. */
  | { readonly kind: "withdrawn"; readonly id: string };

/** The stable episode id: a short hash of host, detector and subject (the fingerprint). */
export function episodeId(args: { hostId: string; detector: DetectorId; subject: string }): string {
  // FNV-1a 64-bit over the fingerprint; stable across runtimes, short enough for URLs.
  let h = 0xcbf29ce484222325n;
  const text = `${args.hostId}\u0000${args.detector}\u0000${args.subject}`;
  for (let i = 0; i < text.length; i++) {
    h ^= BigInt(text.charCodeAt(i));
    h = (h * 0x100000001b3n) & 0xffffffffffffffffn;
  }
  return `ep_${h.toString(36)}`;
}

/**
 * Reconciles one detector run with stored episodes.
 * - `snapshotMs` is the capture time of the view the run used.
 * - `latestSnapshotMs` is the newest capture time already applied to this host; an older (late)
 *   snapshot may open or extend episodes but never resolves one.
 * - `redecide` marks a re-run over the same view after late events: an open episode first and last
 *   seen at exactly this snapshot that no longer holds is withdrawn (it was never real).
 */
export function reconcileEpisodes(args: {
  hostId: string;
  stored: readonly EpisodeState[];
  verdicts: readonly Verdict[];
  decided: ReadonlyMap<DetectorId, "all" | Decided>;
  snapshotMs: number;
  latestSnapshotMs: number | null;
  redecide?: boolean;
}): EpisodeChange[] {
  const byId = new Map(args.stored.map((e) => [e.id, e]));
  const changes: EpisodeChange[] = [];
  const confirmed = new Set<string>();
  const isLate = args.latestSnapshotMs !== null && args.snapshotMs < args.latestSnapshotMs;

  for (const v of args.verdicts) {
    const id = episodeId({ hostId: args.hostId, detector: v.detector, subject: v.subject });
    if (confirmed.has(id)) continue;
    confirmed.add(id);
    const ep = byId.get(id);
    const start = Math.min(args.snapshotMs, v.sinceMs ?? args.snapshotMs);
    if (!ep) {
      changes.push({ kind: "open", id, verdict: v, firstSeenMs: start, lastSeenMs: args.snapshotMs });
    } else if (ep.status === "resolved" && ep.resolvedAtMs !== null && args.snapshotMs > ep.resolvedAtMs) {
      changes.push({ kind: "regressed", id, verdict: v, lastSeenMs: args.snapshotMs });
    } else {
      changes.push({
        kind: "seen",
        id,
        verdict: v,
        firstSeenMs: Math.min(ep.firstSeenMs, start),
        lastSeenMs: Math.max(ep.lastSeenMs, args.snapshotMs),
      });
    }
  }

  for (const ep of args.stored) {
    if (ep.status !== "open" || confirmed.has(ep.id)) continue;
    const decided = args.decided.get(ep.detector);
    if (!decided || (decided !== "all" && !decided.has(ep.subject))) continue;
    if (
      args.redecide &&
      ep.firstSnapshotMs === args.snapshotMs &&
      ep.lastSeenMs === args.snapshotMs &&
      ep.regressions === 0
    ) {
      changes.push({ kind: "withdrawn", id: ep.id });
      continue;
    }
    if (isLate || args.snapshotMs < ep.lastSeenMs) continue;
    changes.push({ kind: "resolved", id: ep.id, resolvedAtMs: args.snapshotMs });
  }
  return changes;
}
