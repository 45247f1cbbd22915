import { describe, expect, it } from "vitest";
import { type EpisodeState, episodeId, reconcileEpisodes } from "../../../shared/detect/episodes.js";
import type { DetectorId, Verdict } from "../../../shared/detect/types.js";

const HOST = "i-host";
const T0 = Date.UTC(2026, 2, 3, 10, 0);
const MIN = 60_000;

const verdict = (subject: string, detector: DetectorId = "reattach-bdf-race", sinceMs?: number): Verdict => ({
  detector,
  subject,
  confidence: "high",
  summary: `about ${subject}`,
  evidence: [],
  blindSpots: [],
  ...(sinceMs === undefined ? {} : { sinceMs }),
});

const stored = (subject: string, over: Partial<EpisodeState> = {}): EpisodeState => ({
  id: episodeId({ hostId: HOST, detector: "reattach-bdf-race", subject }),
  detector: "reattach-bdf-race",
  subject,
  status: "open",
  firstSeenMs: T0,
  lastSeenMs: T0,
  firstSnapshotMs: T0,
  resolvedAtMs: null,
  regressions: 0,
  ...over,
});

const all = new Map<DetectorId, "all">([["reattach-bdf-race", "all"]]);

describe("reconcileEpisodes", () => {
  it("opens a new episode starting at the verdict's own start time when earlier than the snapshot", () => {
    const changes = reconcileEpisodes({
      hostId: HOST,
      stored: [],
      verdicts: [verdict("d-1|ev-9", "reattach-bdf-race", T0 - 5 * MIN)],
      decided: all,
      snapshotMs: T0,
      latestSnapshotMs: null,
    });
    expect(changes).toMatchObject([{ kind: "open", firstSeenMs: T0 - 5 * MIN, lastSeenMs: T0 }]);
  });

  it("moves only lastSeen when a later snapshot sees the same episode", () => {
    const changes = reconcileEpisodes({
      hostId: HOST,
      stored: [stored("d-1|ev-9")],
      verdicts: [verdict("d-1|ev-9")],
      decided: all,
      snapshotMs: T0 + 10 * MIN,
      latestSnapshotMs: T0,
    });
    expect(changes).toMatchObject([{ kind: "seen", firstSeenMs: T0, lastSeenMs: T0 + 10 * MIN }]);
  });

  it("is idempotent for the same snapshot applied twice", () => {
    const changes = reconcileEpisodes({
      hostId: HOST,
      stored: [stored("d-1|ev-9")],
      verdicts: [verdict("d-1|ev-9")],
      decided: all,
      snapshotMs: T0,
      latestSnapshotMs: T0,
    });
    expect(changes).toMatchObject([{ kind: "seen", firstSeenMs: T0, lastSeenMs: T0 }]);
  });

  it("resolves an open episode that a newer snapshot no longer shows", () => {
    const changes = reconcileEpisodes({
      hostId: HOST,
      stored: [stored("d-1|ev-9")],
      verdicts: [],
      decided: all,
      snapshotMs: T0 + 10 * MIN,
      latestSnapshotMs: T0,
    });
    expect(changes).toEqual([{ kind: "resolved", id: stored("d-1|ev-9").id, resolvedAtMs: T0 + 10 * MIN }]);
  });

  it("never resolves from a late (older) snapshot", () => {
    const changes = reconcileEpisodes({
      hostId: HOST,
      stored: [stored("d-1|ev-9", { lastSeenMs: T0 + 20 * MIN })],
      verdicts: [],
      decided: all,
      snapshotMs: T0 + 10 * MIN,
      latestSnapshotMs: T0 + 20 * MIN,
    });
    expect(changes).toEqual([]);
  });

  it("keeps an episode open when the detector could not decide its subject this time", () => {
    const changes = reconcileEpisodes({
      hostId: HOST,
      stored: [stored("d-1|ev-9")],
      verdicts: [],
      decided: new Map([["reattach-bdf-race", new Set<string>(["d-2|ev-3"])]]),
      snapshotMs: T0 + 10 * MIN,
      latestSnapshotMs: T0,
    });
    expect(changes).toEqual([]);
  });

  it("counts a comeback after resolution as a regression of the same episode", () => {
    const changes = reconcileEpisodes({
      hostId: HOST,
      stored: [stored("d-1|ev-9", { status: "resolved", resolvedAtMs: T0 + 10 * MIN, lastSeenMs: T0 })],
      verdicts: [verdict("d-1|ev-9")],
      decided: all,
      snapshotMs: T0 + 30 * MIN,
      latestSnapshotMs: T0 + 10 * MIN,
    });
    expect(changes).toMatchObject([{ kind: "regressed", lastSeenMs: T0 + 30 * MIN }]);
  });

  it("withdraws an episode only its own snapshot supported when a late event explains it away", () => {
    const changes = reconcileEpisodes({
      hostId: HOST,
      stored: [stored("d-1|ev-9", { firstSeenMs: T0 - 5 * MIN })],
      verdicts: [],
      decided: all,
      snapshotMs: T0,
      latestSnapshotMs: T0,
      redecide: true,
    });
    expect(changes).toEqual([{ kind: "withdrawn", id: stored("d-1|ev-9").id }]);
  });

  it("gives every (host, detector, subject) its own stable id", () => {
    const a = episodeId({ hostId: "h1", detector: "reattach-bdf-race", subject: "s" });
    expect(episodeId({ hostId: "h1", detector: "reattach-bdf-race", subject: "s" })).toBe(a);
    expect(episodeId({ hostId: "h2", detector: "reattach-bdf-race", subject: "s" })).not.toBe(a);
    expect(episodeId({ hostId: "h1", detector: "attached-disk-missing", subject: "s" })).not.toBe(a);
    expect(a).toMatch(/^ep_[0-9a-z]+$/);
  });
});
