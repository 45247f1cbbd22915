/** Every detector, in one list: what fires it, what clears it, what it cites (see each module). */
import type { HostView } from "../view/host-view.js";
import { diskDetectors } from "./disk/index.js";
import { mountDetectors } from "./mount/index.js";
import type { Decided, Detector, DetectorId, DetectorInput, DetectorRun, Verdict } from "./types.js";

export const DETECTORS: readonly Detector<HostView>[] = [...diskDetectors, ...mountDetectors];

/** Runs every detector over one host view; a detector that throws is a bug, reported as undecided. */
export function runDetectors(input: DetectorInput<HostView>): {
  verdicts: Verdict[];
  decided: Map<DetectorId, "all" | Decided>;
  failures: { detector: DetectorId; error: string }[];
} {
  const verdicts: Verdict[] = [];
  const decided = new Map<DetectorId, "all" | Decided>();
  const failures: { detector: DetectorId; error: string }[] = [];
  for (const d of DETECTORS) {
    let run: DetectorRun;
    try {
      run = d.detect(input);
    } catch (err) {
      failures.push({ detector: d.id, error: String((err as Error).stack ?? err) });
      continue;
    }
    verdicts.push(...run.verdicts);
    decided.set(d.id, run.decided);
  }
  return { verdicts, decided, failures };
}
