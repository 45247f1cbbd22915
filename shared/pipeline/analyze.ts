/** Turns a validated bundle into the host view and what the pipeline stores about the host. */
import type { SnapshotBundle } from "../contracts/snapshot.js";
import { buildHostView, diskDrivers, type HostView, summarizeHostView } from "../view/host-view.js";

export interface SnapshotAnalysis {
  view: HostView;
  summary: ReturnType<typeof summarizeHostView>;
  diskDrivers: string | null;
  issueCount: number;
}

/** Parses and joins one bundle (pure). */
export function analyzeSnapshot(args: { bundle: SnapshotBundle; key: string }): SnapshotAnalysis {
  const view = buildHostView({ bundle: args.bundle, snapshotKey: args.key });
  return {
    view,
    summary: summarizeHostView(view),
    diskDrivers: diskDrivers(view),
    issueCount: view.issues.length,
  };
}
