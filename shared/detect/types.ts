/** Detector contract: pure functions over a host view and the host's control-plane events. */
import type { StoredEvent } from "../db/events.js";

/** Stable detector ids (CONTRACT.md section 5). */
export const DETECTOR_IDS = [
  "reattach-bdf-race",
  "attached-disk-missing",
  "globalmount-held-foreign-ns",
  "driverless-bdf",
  "wrong-driver-bound",
  "vfio-group-held-by-dead-process",
  "stale-block-device",
  "disk-serial-mismatch",
  "orphan-globalmount",
  "trace-blind-spot",
] as const;
export type DetectorId = (typeof DETECTOR_IDS)[number];

export const CONFIDENCES = ["high", "medium", "low"] as const;
export type Confidence = (typeof CONFIDENCES)[number];

/** One link of an evidence chain: a control-plane event, or a fact read from a snapshot. */
export type EvidenceItem =
  | {
      readonly kind: "event";
      readonly eventId: string;
      readonly type: "attach" | "detach";
      readonly outcome: "succeeded" | "failed";
      readonly diskId: string;
      readonly bdf: string | null;
      readonly mode: "vfio" | "host" | null;
      readonly at: string;
      readonly note: string;
    }
  | {
      readonly kind: "fact";
      /** The snapshot the fact was read from. */
      readonly snapshotKey: string;
      /** The evidence path inside the snapshot (`proc/77102/mountinfo`, `dev/kmsg`). */
      readonly path: string;
      /** 1-based line for text evidence. */
      readonly line?: number;
      /** The raw line or value as the host wrote it. */
      readonly raw: string;
      readonly note: string;
      /** Wall time of the fact when it carries one (kernel timestamps converted, with error bound). */
      readonly at?: string;
      readonly atErrorMs?: number;
    };

/** A detector's finding about one subject on one host. */
export interface Verdict {
  readonly detector: DetectorId;
  /** What the episode is about; with host and detector it is the episode fingerprint. */
  readonly subject: string;
  readonly confidence: Confidence;
  /** Plain-language explanation an SRE can act on. */
  readonly summary: string;
  readonly evidence: readonly EvidenceItem[];
  /** What the detector could not see that might change the verdict. */
  readonly blindSpots: readonly string[];
  /** When the problem demonstrably began (e.g. the attach that hit the race), if known. */
  readonly sinceMs?: number;
}

/**
 * Which subjects a run could decide. A Set of the subjects it met is one; detectors whose subjects cannot
 * all be listed (an episode about a namespace that has since unmounted the path names a subject the run
 * never sees) answer by rule.
 */
export interface Decided {
  has(subject: string): boolean;
}

/** What a detector run on one host produced. */
export interface DetectorRun {
  readonly verdicts: readonly Verdict[];
  /**
   * Subjects the detector could decide (with or without a verdict). An open episode whose subject the
   * detector could not decide this time stays open: missing evidence is "unknown", never "cleared".
   * `"all"` means every subject the detector knows of was decidable.
   */
  readonly decided: "all" | Decided;
}

/** Registry entry: the detector and what a reader needs to trust it. */
export interface Detector<View> {
  readonly id: DetectorId;
  readonly title: string;
  /** What fires it. */
  readonly fires: string;
  /** What clears it. */
  readonly clears: string;
  /** The evidence it cites. */
  readonly cites: string;
  detect(input: DetectorInput<View>): DetectorRun;
}

export interface DetectorInput<View> {
  readonly view: View;
  /** The host's control-plane events in the correlation window, oldest first. */
  readonly events: readonly StoredEvent[];
}
