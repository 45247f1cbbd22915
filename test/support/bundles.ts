/** Builds valid snapshot bundles (and gzip bodies) for tests that need one without running the shipper. */

import { createHash } from "node:crypto";
import { gzipSync } from "node:zlib";
import {
  type EvidenceEntry,
  SNAPSHOT_SCHEMA_VERSION,
  type SnapshotBundleInput,
  snapshotKey,
} from "../../shared/contracts/snapshot.js";

/** A minimal but schema-valid bundle; override any part. */
export function makeBundle(args: {
  hostId: string;
  capturedAtMs?: number;
  labels?: Record<string, string>;
  evidence?: Record<string, EvidenceEntry>;
  kernelRelease?: string;
}): SnapshotBundleInput {
  const at = args.capturedAtMs ?? Date.UTC(2026, 2, 3, 10, 20);
  return {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    hostId: args.hostId,
    labels: args.labels ?? {},
    shipper: { version: "0.1.0", hostIdSource: "flag" },
    capture: {
      root: "/",
      startedAtMs: at,
      finishedAtMs: at + 150,
      hostname: `${args.hostId}.node`,
      kernelRelease: args.kernelRelease ?? "5.10.134-16.al8.x86_64",
      bootId: "3f1c2b8e-6a41-4d0e-9b7a-2c5d8e9f0a11",
      btime: Math.floor(at / 1000) - 1843300,
      uptimeSec: 1843300.12,
      anchors: [],
      hostNamespace: { mnt: "mnt:[4026531840]", source: "proc/1/ns/mnt", reason: "PID 1 ns/mnt readable" },
      sections: [],
      limits: { maxFileBytes: 1048576, readTimeoutMs: 2000, maxEntries: 200000 },
      gaps: [],
    },
    evidence: args.evidence ?? {
      "proc/sys/kernel/osrelease": {
        kind: "file",
        data: "5.10.134-16.al8.x86_64\n",
        encoding: "utf8",
        bytes: 23,
      },
    },
  };
}

/** gzip body, its sha256 and the key the service will store it under. */
export function gzipBundle(bundle: SnapshotBundleInput | unknown): { body: Buffer; sha256: string } {
  const body = gzipSync(Buffer.from(JSON.stringify(bundle)));
  return { body, sha256: createHash("sha256").update(body).digest("hex") };
}

/** The object key a bundle lands at. */
export function keyOf(bundle: SnapshotBundleInput, sha256: string): string {
  return snapshotKey({ hostId: bundle.hostId, capturedAtMs: bundle.capture.startedAtMs, sha256 });
}
