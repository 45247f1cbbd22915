/**
 * Turns a validated bundle into what the pipeline stores about a host. For now: capture facts and
 * evidence counts; the host view (buildHostView) and detectors plug in here.
 */
import type { SnapshotBundle } from "../contracts/snapshot.js";

export interface SnapshotAnalysis {
  summary: Record<string, unknown>;
  diskDrivers: string | null;
  issueCount: number;
}

/** Analyses one bundle (pure). */
export function analyzeSnapshot(args: { bundle: SnapshotBundle; key: string }): SnapshotAnalysis {
  const { bundle } = args;
  const kinds: Record<string, number> = {};
  for (const e of Object.values(bundle.evidence)) kinds[e.kind] = (kinds[e.kind] ?? 0) + 1;
  return {
    summary: {
      snapshotKey: args.key,
      capturedAtMs: bundle.capture.startedAtMs,
      kernelRelease: bundle.capture.kernelRelease,
      evidence: kinds,
      gaps: bundle.capture.gaps,
    },
    diskDrivers: null,
    issueCount: 0,
  };
}
