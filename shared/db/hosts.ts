/** Host rows: created on the first parsed snapshot, updated only by newer ones. */
import { sql } from "drizzle-orm";
import { hosts } from "./schema.js";
import { compiled, type Statement, value } from "./statement.js";
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

/** The upsert, built once: the view columns move only when the incoming capture is at least as new. */
const upsertHost = compiled<
  Omit<HostUpdate, "labels" | "viewSummary"> & {
    /** As JSON, like the view summary. */
    labels: string;
    zone: string | null;
    instanceType: string | null;
    viewSummary: string;
  }
>((db) => {
  const newer = sql`excluded.view_captured_at_ms >= ${hosts.viewCapturedAtMs}`;
  const pick = (col: string) =>
    sql.raw(
      `CASE WHEN excluded.view_captured_at_ms >= hosts.view_captured_at_ms THEN excluded.${col} ELSE hosts.${col} END`,
    );
  return db
    .insert(hosts)
    .values({
      hostId: value("hostId"),
      firstSeenMs: value("capturedAtMs"),
      lastSeenMs: value("capturedAtMs"),
      viewCapturedAtMs: value("capturedAtMs"),
      latestSnapshotKey: value("snapshotKey"),
      hostname: value("hostname"),
      kernelRelease: value("kernelRelease"),
      bootId: value("bootId"),
      labels: value("labels"),
      zone: value("zone"),
      instanceType: value("instanceType"),
      diskDrivers: value("diskDrivers"),
      viewSummary: value("viewSummary"),
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
});

/**
 * Upserts a host from a parsed snapshot. The view columns move only when this snapshot is newer than
 * the stored one, so late or re-shipped snapshots never roll a host back.
 */
export function upsertHostFromSnapshot(db: Db, u: HostUpdate): Statement {
  return upsertHost(db, {
    hostId: u.hostId,
    capturedAtMs: u.capturedAtMs,
    snapshotKey: u.snapshotKey,
    hostname: u.hostname,
    kernelRelease: u.kernelRelease,
    bootId: u.bootId,
    labels: JSON.stringify(u.labels),
    zone: u.labels.zone ?? null,
    instanceType: u.labels.instanceType ?? null,
    diskDrivers: u.diskDrivers,
    viewSummary: JSON.stringify(u.viewSummary),
  });
}
