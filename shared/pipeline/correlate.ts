/**
 * Correlation for one host view: run every detector with the host's control-plane events in the
 * window, reconcile the verdicts with stored episodes, and return the writes and alerts that follow.
 */
import type { AlertMessage } from "../alerts/webhook.js";
import { episodeStatements, loadHostEpisodes } from "../db/episodes.js";
import { eventsForHost, type StoredEvent } from "../db/events.js";
import type { Db } from "../db/types.js";
import { type EpisodeChange, type EpisodeState, reconcileEpisodes } from "../detect/episodes.js";
import { runDetectors } from "../detect/registry.js";
import type { Verdict } from "../detect/types.js";
import type { HostView } from "../view/host-view.js";

/** How far back a snapshot looks for control-plane events (docs/storage.md keeps 72 h in D1). */
export const CORRELATION_WINDOW_MS = 72 * 3600_000;

/** The control-plane events a snapshot captured at `capturedAtMs` is decided against. */
export function correlationWindow(capturedAtMs: number): { fromMs: number; toMs: number } {
  return { fromMs: capturedAtMs - CORRELATION_WINDOW_MS, toMs: capturedAtMs };
}

export interface Correlation {
  statements: ReturnType<typeof episodeStatements>;
  alerts: AlertMessage[];
  changes: EpisodeChange[];
  verdicts: Verdict[];
  failures: { detector: string; error: string }[];
}

/** Decides one host view against its events and stored episodes (reads D1, writes nothing). */
export async function correlateHost(args: {
  db: Db;
  view: HostView;
  /** Capture time of the newest view already applied to this host (null for its first); may be pending. */
  latestSnapshotMs: number | null | Promise<number | null>;
  redecide: boolean;
  nowMs: number;
  /** The host's events in the window (correlationWindow(view)), when the caller already read them. */
  events?: readonly StoredEvent[];
  /** The host's stored episodes, when the caller already read them (may be pending). */
  stored?: EpisodeState[] | Promise<EpisodeState[]>;
}): Promise<Correlation> {
  const { db, view } = args;
  const [events, stored, latestSnapshotMs] = await Promise.all([
    args.events ?? eventsForHost(db, { instanceId: view.hostId, ...correlationWindow(view.capturedAtMs) }),
    args.stored ?? loadHostEpisodes(db, view.hostId),
    args.latestSnapshotMs,
  ]);
  const run = runDetectors({ view, events });
  const changes = reconcileEpisodes({
    hostId: view.hostId,
    stored,
    verdicts: run.verdicts,
    decided: run.decided,
    snapshotMs: view.capturedAtMs,
    latestSnapshotMs,
    redecide: args.redecide,
  });
  const storedById = new Map(stored.map((e) => [e.id, e]));
  const alerts: AlertMessage[] = [];
  for (const ch of changes) {
    if (ch.kind === "open" || ch.kind === "regressed") {
      const v = ch.verdict;
      alerts.push({
        kind: ch.kind === "open" ? "episode.opened" : "episode.regressed",
        episodeId: ch.id,
        detector: v.detector,
        hostId: view.hostId,
        subject: v.subject,
        confidence: v.confidence,
        summary: v.summary,
        atMs: view.capturedAtMs,
      });
    } else if (ch.kind === "resolved") {
      const ep = storedById.get(ch.id);
      if (ep) {
        alerts.push({
          kind: "episode.resolved",
          episodeId: ch.id,
          detector: ep.detector,
          hostId: view.hostId,
          subject: ep.subject,
          confidence: "high",
          summary: `${ep.detector} on ${view.hostId} no longer holds for ${ep.subject}`,
          atMs: ch.resolvedAtMs,
        });
      }
    }
  }
  return {
    statements: episodeStatements(db, {
      hostId: view.hostId,
      changes,
      snapshotMs: view.capturedAtMs,
      nowMs: args.nowMs,
    }),
    alerts,
    changes,
    verdicts: run.verdicts,
    failures: run.failures,
  };
}
