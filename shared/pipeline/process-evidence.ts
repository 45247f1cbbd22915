/**
 * The consumer's work for hand-captured evidence: parse it with the snapshot parsers and, where it
 * maps onto the kernel layout, overlay it on the host's latest bundle and correlate it like a snapshot
 * taken at the evidence's capture time. The host's stored view is not replaced by partial evidence.
 */
import type { ObjectNotification } from "../contracts/queue.js";
import { SNAPSHOT_SCHEMA_VERSION, type SnapshotBundle, validateBundle } from "../contracts/snapshot.js";
import { findHost, markSnapshot } from "../db/ingest.js";
import { runBatch } from "../db/statement.js";
import type { Db } from "../db/types.js";
import { applyOverlay, overlayOf } from "../evidence/overlay.js";
import { buildHostView } from "../view/host-view.js";
import { parseEvidenceKey, StoredEvidence } from "./accept-evidence.js";
import { correlateHost } from "./correlate.js";
import { openObject, type ProcessOutcome, readJsonObject } from "./intake.js";
import type { Codec, ObjectStore } from "./ports.js";

/** A bundle with no evidence, for a host that has never shipped (hand evidence is all there is). */
function emptyBundle(hostId: string, atMs: number): SnapshotBundle {
  return {
    schemaVersion: SNAPSHOT_SCHEMA_VERSION,
    hostId,
    labels: {},
    shipper: { version: "hand-captured", hostIdSource: "flag" },
    capture: {
      root: "/",
      startedAtMs: atMs,
      finishedAtMs: atMs,
      hostname: null,
      kernelRelease: null,
      bootId: null,
      btime: null,
      uptimeSec: null,
      anchors: [],
      hostNamespace: {
        mnt: null,
        source: "none",
        reason: "hand-captured evidence only: no snapshot from this host yet",
      },
      sections: [],
      limits: { maxFileBytes: 0, readTimeoutMs: 0, maxEntries: 0 },
      gaps: ["no snapshot from this host yet: only hand-captured evidence"],
    },
    evidence: {},
  };
}

/** Processes one evidence object notification; idempotent by key. */
export async function processEvidenceNotification(args: {
  note: ObjectNotification;
  db: Db;
  store: ObjectStore;
  codec: Codec;
  nowMs: number;
  reprocess?: boolean;
}): Promise<ProcessOutcome> {
  const { note, db, store, codec, nowMs } = args;
  const key = note.object.key;
  const id = parseEvidenceKey(key);
  if (!id) return { kind: "ignored", key, reason: "not an evidence key" };
  const intake = await openObject({
    key,
    id,
    source: "evidence",
    db,
    store,
    codec,
    nowMs,
    reprocess: args.reprocess === true,
  });
  if (!intake.open) return intake.outcome;
  const { reject } = intake;
  const parsed = StoredEvidence.safeParse(intake.json);
  if (!parsed.success)
    return reject(
      "invalid_evidence",
      parsed.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; "),
    );
  const ev = parsed.data;
  if (ev.hostId !== id.hostId)
    return reject("host_mismatch", `evidence hostId '${ev.hostId}' differs from the key's '${id.hostId}'`);

  const overlay = overlayOf(ev);
  let correlation: Awaited<ReturnType<typeof correlateHost>> | null = null;
  if (Object.keys(overlay.entries).length > 0) {
    const host = await findHost(db, ev.hostId);
    let base = emptyBundle(ev.hostId, ev.capturedAtMs);
    if (host) {
      const latest = await store.get(host.latestSnapshotKey);
      const json = latest ? await readJsonObject({ bytes: latest.bytes, codec }) : null;
      const bundle = json?.ok ? validateBundle(json.json) : null;
      if (bundle?.success) base = bundle.data;
    }
    const view = buildHostView({
      bundle: applyOverlay({ base, overlay, capturedAtMs: ev.capturedAtMs }),
      snapshotKey: key,
    });
    correlation = await correlateHost({
      db,
      view,
      latestSnapshotMs: host?.viewCapturedAtMs ?? null,
      redecide: false,
      nowMs,
    });
  }
  await runBatch(db, [
    markSnapshot(db, {
      key,
      status: "parsed",
      nowMs,
      issueCount: overlay.issues.length,
      reason: `${ev.kind}: ${overlay.records} records read${correlation ? `, ${correlation.verdicts.length} verdicts` : ""}`,
      force: args.reprocess === true,
    }),
    ...(correlation?.statements ?? []),
  ]);
  return {
    kind: "parsed",
    key,
    hostId: ev.hostId,
    issueCount: overlay.issues.length,
    alerts: correlation?.alerts ?? [],
    episodeChanges: correlation?.changes.length ?? 0,
  };
}
