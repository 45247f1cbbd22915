/** Host rows: created on the first parsed snapshot, updated only by newer ones. */
import { sql } from "drizzle-orm";
import { hosts } from "./schema.js";
import type { Db } from "./types.js";

export interface HostUpdate {
  hostId: string;
  capturedAtMs: number;
  snapshotKey: string;
  hostname: string | null;
  kernelRelease: string | null;
  bootId: string | null;
  labels: Record<string, string>;
  diskDrivers: string | null;
  viewSummary: unknown;
}

/**
 * Upserts a host from a parsed snapshot. The view columns move only when this snapshot is newer than
 * the stored one, so late or re-shipped snapshots never roll a host back.
 */
export function upsertHostFromSnapshot(db: Db, u: HostUpdate) {
  const labels = JSON.stringify(u.labels);
  const summary = JSON.stringify(u.viewSummary);
  const newer = sql`excluded.view_captured_at_ms >= ${hosts.viewCapturedAtMs}`;
  const pick = (col: string) =>
    sql.raw(
      `CASE WHEN excluded.view_captured_at_ms >= hosts.view_captured_at_ms THEN excluded.${col} ELSE hosts.${col} END`,
    );
  return db
    .insert(hosts)
    .values({
      hostId: u.hostId,
      firstSeenMs: u.capturedAtMs,
      lastSeenMs: u.capturedAtMs,
      viewCapturedAtMs: u.capturedAtMs,
      latestSnapshotKey: u.snapshotKey,
      hostname: u.hostname,
      kernelRelease: u.kernelRelease,
      bootId: u.bootId,
      labels,
      zone: u.labels.zone ?? null,
      instanceType: u.labels.instanceType ?? null,
      diskDrivers: u.diskDrivers,
      viewSummary: summary,
    })
    .onConflictDoUpdate({
      target: hosts.hostId,
      set: {
        firstSeenMs: sql`min(${hosts.firstSeenMs}, excluded.first_seen_ms)`,
        lastSeenMs: sql`max(${hosts.lastSeenMs}, excluded.last_seen_ms)`,
        latestSnapshotKey: pick("latest_snapshot_key"),
        hostname: pick("hostname"),
        kernelRelease: pick("kernel_release"),
        bootId: pick("boot_id"),
        labels: pick("labels"),
        zone: pick("zone"),
        instanceType: pick("instance_type"),
        diskDrivers: pick("disk_drivers"),
        viewSummary: pick("view_summary"),
        viewCapturedAtMs: sql`CASE WHEN ${newer} THEN excluded.view_captured_at_ms ELSE ${hosts.viewCapturedAtMs} END`,
      },
    });
}
