/**
 * Scenario plumbing for detector tests: a synthetic host tree (laid out like a real host) is collected
 * by the real shipper code and parsed into a host view, exactly as a shipped snapshot would be.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SnapshotBundle } from "../../shared/contracts/snapshot.js";
import type { StoredEvent } from "../../shared/db/events.js";
import { buildHostView, type HostView } from "../../shared/view/host-view.js";
import { collectBundle } from "../../shipper/collect.js";
import { type HostTreeSpec, writeHostTree } from "./host-tree.js";

/** Writes `spec` to a temp dir, collects it with the shipper, and builds the host view. */
export async function viewOfTree(
  spec: HostTreeSpec,
  opts: { hostId?: string; labels?: Record<string, string>; snapshotKey?: string } = {},
): Promise<{ bundle: SnapshotBundle; view: HostView }> {
  const dir = mkdtempSync(join(tmpdir(), "fl-view-"));
  try {
    await writeHostTree(dir, spec);
    const { bundle } = await collectBundle({
      root: dir,
      hostId: opts.hostId ?? "i-test",
      labels: opts.labels ?? {},
      nsenter: null,
      version: "test",
    });
    const snapshotKey =
      opts.snapshotKey ??
      `snapshots/${bundle.hostId}/test/${bundle.capture.startedAtMs}-${"0".repeat(64)}.json.gz`;
    return { bundle, view: buildHostView({ bundle, snapshotKey }) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

let seq = 0;

/** A stored control-plane event for tests (the shape the correlation reads from D1). */
export function storedEvent(e: {
  id?: string;
  type: "attach" | "detach";
  diskId: string;
  instanceId?: string;
  bdf?: string | null;
  serial?: string | null;
  mode?: "vfio" | "host" | null;
  outcome?: "succeeded" | "failed";
  atMs: number;
}): StoredEvent {
  const id = e.id ?? `ev-${++seq}`;
  const row = {
    id,
    instanceId: e.instanceId ?? "i-test",
    type: e.type,
    outcome: e.outcome ?? "succeeded",
    diskId: e.diskId,
    bdf: e.bdf ?? null,
    serial: e.serial ?? null,
    mode: e.mode ?? null,
    atMs: e.atMs,
    receivedAtMs: e.atMs,
    via: "http",
  };
  return { ...row, raw: JSON.stringify({ ...row, at: new Date(e.atMs).toISOString() }) };
}
