/**
 * D1 tables (drizzle, sqlite dialect). camelCase in TypeScript, snake_case in SQL. D1 keeps what
 * changes and what matters; raw evidence stays in object storage (docs/storage.md).
 */
import { sql } from "drizzle-orm";
import { index, integer, primaryKey, sqliteTable, text, uniqueIndex } from "drizzle-orm/sqlite-core";

export const SCOPES = ["read", "ingest", "admin"] as const;
export type Scope = (typeof SCOPES)[number];

export const tokens = sqliteTable(
  "tokens",
  {
    id: text("id").primaryKey(),
    /** sha256 hex of the bearer token; the token itself is never stored. */
    hash: text("hash").notNull(),
    name: text("name").notNull(),
    /** Comma-separated scopes. */
    scopes: text("scopes").notNull(),
    /** When set, an ingest token may write only this host's snapshots and evidence. */
    hostId: text("host_id"),
    createdAtMs: integer("created_at_ms").notNull(),
    revokedAtMs: integer("revoked_at_ms"),
  },
  (t) => [
    // every authenticated request: token hash -> scopes
    uniqueIndex("tokens_hash").on(t.hash),
  ],
);

export const hosts = sqliteTable(
  "hosts",
  {
    hostId: text("host_id").primaryKey(),
    firstSeenMs: integer("first_seen_ms").notNull(),
    lastSeenMs: integer("last_seen_ms").notNull(),
    /** Capture time of the newest parsed snapshot; older snapshots arriving late do not replace the view. */
    viewCapturedAtMs: integer("view_captured_at_ms").notNull(),
    latestSnapshotKey: text("latest_snapshot_key").notNull(),
    hostname: text("hostname"),
    kernelRelease: text("kernel_release"),
    bootId: text("boot_id"),
    /** Shipper labels as JSON; zone and instanceType copied out for fleet breakdowns. */
    labels: text("labels").notNull().default("{}"),
    zone: text("zone"),
    instanceType: text("instance_type"),
    /** Drivers bound to cloud-disk functions, sorted and comma-joined (`nvme,vfio-pci`): breakdown by driver. */
    diskDrivers: text("disk_drivers"),
    /** Compact summary of the latest host view (JSON), served by GET /v1/hosts/{hostId}. */
    viewSummary: text("view_summary").notNull().default("{}"),
  },
  (t) => [
    // GET /v1/patterns/{d}/breakdown: the fleet's count per attribute value, in index order (covering)
    index("hosts_zone").on(t.zone),
    index("hosts_instance_type").on(t.instanceType),
    index("hosts_kernel").on(t.kernelRelease),
    index("hosts_disk_drivers").on(t.diskDrivers),
    // and the affected hosts' attributes by host id, without reading rows and their view summaries
    index("hosts_attributes").on(t.hostId, t.kernelRelease, t.diskDrivers, t.zone, t.instanceType),
  ],
);

export const SNAPSHOT_STATUSES = ["received", "parsed", "rejected", "failed"] as const;
export type SnapshotStatus = (typeof SNAPSHOT_STATUSES)[number];

export const snapshots = sqliteTable(
  "snapshots",
  {
    key: text("key").primaryKey(),
    hostId: text("host_id").notNull(),
    sha256: text("sha256").notNull(),
    capturedAtMs: integer("captured_at_ms").notNull(),
    receivedAtMs: integer("received_at_ms").notNull(),
    /** `snapshot` from the shipper, `evidence` for hand-captured command output. */
    source: text("source").notNull().default("snapshot"),
    /** For hand-captured evidence: the command that produced it. */
    command: text("command"),
    bytes: integer("bytes").notNull(),
    status: text("status", { enum: SNAPSHOT_STATUSES }).notNull(),
    /** Machine-readable reason code for rejected/failed. */
    reasonCode: text("reason_code"),
    reason: text("reason"),
    /** Parser issues found in an accepted snapshot (counted; details are re-derivable from the raw object). */
    issueCount: integer("issue_count").notNull().default(0),
    processedAtMs: integer("processed_at_ms"),
    attempts: integer("attempts").notNull().default(0),
  },
  (t) => [
    // host timeline: a host's snapshots newest first
    index("snapshots_host_captured").on(t.hostId, t.capturedAtMs),
    // GET /v1/ingest/errors: rejected/failed snapshots newest first
    index("snapshots_status_received").on(t.status, t.receivedAtMs),
    // reprocess: a host's snapshots in a time range, by content hash for dedup
    index("snapshots_sha").on(t.sha256),
  ],
);

export const controlPlaneEvents = sqliteTable(
  "control_plane_events",
  {
    id: text("id").primaryKey(),
    instanceId: text("instance_id").notNull(),
    type: text("type", { enum: ["attach", "detach"] }).notNull(),
    outcome: text("outcome", { enum: ["succeeded", "failed"] }).notNull(),
    diskId: text("disk_id").notNull(),
    bdf: text("bdf"),
    serial: text("serial"),
    mode: text("mode", { enum: ["vfio", "host"] }),
    atMs: integer("at_ms").notNull(),
    receivedAtMs: integer("received_at_ms").notNull(),
    /** `http` or `sqs`. */
    via: text("via").notNull(),
    /** The event as received, unknown fields included. */
    raw: text("raw").notNull(),
  },
  (t) => [
    // correlation: a host's events in a time window
    index("cpe_instance_at").on(t.instanceId, t.atMs),
    // retention: drop events older than the correlation window
    index("cpe_at").on(t.atMs),
  ],
);

export const ingestErrors = sqliteTable(
  "ingest_errors",
  {
    id: integer("id").primaryKey({ autoIncrement: true }),
    /** `snapshot`, `event`, `evidence` or `queue`. */
    kind: text("kind").notNull(),
    /** The snapshot key, event id, or `line N` of a rejected batch. */
    ref: text("ref").notNull(),
    hostId: text("host_id"),
    code: text("code").notNull(),
    message: text("message").notNull(),
    atMs: integer("at_ms").notNull(),
  },
  (t) => [
    // GET /v1/ingest/errors newest first, optionally by kind
    index("ingest_errors_at").on(t.atMs),
    index("ingest_errors_kind_at").on(t.kind, t.atMs),
  ],
);

export const EPISODE_STATUSES = ["open", "resolved"] as const;

export const episodes = sqliteTable(
  "episodes",
  {
    /** Stable id derived from the fingerprint. */
    id: text("id").primaryKey(),
    detector: text("detector").notNull(),
    hostId: text("host_id").notNull(),
    /** What the episode is about: a disk id, a BDF, a mount path + namespace. */
    subject: text("subject").notNull(),
    status: text("status", { enum: EPISODE_STATUSES }).notNull(),
    confidence: text("confidence", { enum: ["high", "medium", "low"] }).notNull(),
    firstSeenMs: integer("first_seen_ms").notNull(),
    lastSeenMs: integer("last_seen_ms").notNull(),
    /** Capture time of the first snapshot that showed it (first_seen_ms may be earlier: the attach time). */
    firstSnapshotMs: integer("first_snapshot_ms").notNull(),
    resolvedAtMs: integer("resolved_at_ms"),
    /** Times it came back after being resolved. */
    regressions: integer("regressions").notNull().default(0),
    summary: text("summary").notNull(),
    /** The evidence chain (JSON): control-plane events and parsed facts with snapshot key and raw line. */
    evidence: text("evidence").notNull(),
    /** What the detector could not see (JSON array of strings). */
    blindSpots: text("blind_spots").notNull().default("[]"),
    updatedAtMs: integer("updated_at_ms").notNull(),
  },
  (t) => [
    // GET /v1/patterns/{d}/hosts, breakdown, timeline: one detector's episodes overlapping a window
    // (covering: the range scan on last_seen never touches the table)
    index("episodes_detector_last").on(t.detector, t.lastSeenMs, t.firstSeenMs, t.hostId, t.regressions),
    // GET /v1/patterns: every detector's episodes overlapping a window (covering)
    index("episodes_last").on(t.lastSeenMs, t.firstSeenMs, t.detector, t.hostId, t.regressions),
    // GET /v1/hosts/{id} and re-deciding a host: its episodes by status
    index("episodes_host_status").on(t.hostId, t.status),
    // GET /v1/patterns/{d}/hosts: one page of hosts' episodes in the window (covering); the
    // host_detectors triggers' max(last_seen_ms) for one host and detector
    index("episodes_host_detector_last").on(t.hostId, t.detector, t.lastSeenMs, t.firstSeenMs, t.regressions),
    // GET /v1/incidents?detector=&status= newest first
    index("episodes_detector_status_first").on(t.detector, t.status, t.firstSeenMs, t.id),
    // GET /v1/incidents (no filter, or by host) newest first
    index("episodes_first_seen").on(t.firstSeenMs, t.id),
  ],
);

/**
 * Per host, detector and UTC day: the episodes active that day and how many began. Kept by triggers on
 * `episodes` (infra/migrations/0001_rollups.sql), so every writer (the consumer, reprocessing, a
 * hand-run SQL fix) keeps it right; retention's deletes are held out, so days outlive their episodes.
 */
export const dailyRollups = sqliteTable(
  "daily_rollups",
  {
    hostId: text("host_id").notNull(),
    detector: text("detector").notNull(),
    /** UTC day number (epoch ms / 86,400,000). */
    day: integer("day").notNull(),
    /** Episodes of this host and detector active that day. */
    episodes: integer("episodes").notNull(),
    /** Of those, episodes first seen that day. */
    started: integer("started").notNull(),
  },
  // (host, detector, day): the triggers' span updates for one episode; a host's history.
  (t) => [primaryKey({ columns: [t.hostId, t.detector, t.day] })],
);

/**
 * Per detector and UTC day, summed over hosts from `daily_rollups` by triggers: the timeline reads one
 * row per day instead of every affected host-day.
 */
export const detectorDays = sqliteTable(
  "detector_days",
  {
    detector: text("detector").notNull(),
    day: integer("day").notNull(),
    /** Hosts with an active episode that day. */
    hosts: integer("hosts").notNull(),
    /** Episodes active that day. */
    active: integer("active").notNull(),
    /** Episodes first seen that day. */
    started: integer("started").notNull(),
  },
  // GET /v1/patterns/{detector}/timeline: one detector, a range of days.
  (t) => [primaryKey({ columns: [t.detector, t.day] })],
);

/**
 * Per detector and host: the last sighting of any of the host's episodes, kept by triggers on
 * `episodes` (infra/migrations/0002_window_rollups.sql) as exactly max(last_seen_ms) of the episodes
 * stored, retention's deletes included. "Hosts hit since T" is then a range of one index.
 */
export const hostDetectors = sqliteTable(
  "host_detectors",
  {
    detector: text("detector").notNull(),
    hostId: text("host_id").notNull(),
    lastSeenMs: integer("last_seen_ms").notNull(),
    /**
     * The host's row in `hosts` exists (1), and its breakdown attributes, copied by triggers on both
     * tables (0004): a breakdown counts the affected hosts from this table's index alone instead of
     * looking up each one in `hosts`.
     */
    hasHost: integer("has_host").notNull().default(0),
    kernelRelease: text("kernel_release"),
    diskDrivers: text("disk_drivers"),
    zone: text("zone"),
    instanceType: text("instance_type"),
  },
  (t) => [
    // the triggers' upsert for one host and detector
    primaryKey({ columns: [t.detector, t.hostId] }),
    // GET /v1/patterns/{d}/hosts newest first (keyset), the boundary day's count, and breakdowns'
    // affected hosts by attribute (covering)
    index("host_detectors_last").on(
      t.detector,
      t.lastSeenMs,
      t.hostId,
      t.hasHost,
      t.kernelRelease,
      t.diskDrivers,
      t.zone,
      t.instanceType,
    ),
    // the hosts triggers: one host's rows when its attributes change
    index("host_detectors_host").on(t.hostId),
  ],
);

/**
 * Per detector and UTC day of the *last* sighting, kept by triggers (0002) as exactly what `episodes`
 * and `host_detectors` hold: a window that ends now counts every episode and host whose last sighting is
 * after its start, so whole days come from here and only the start's own day is read from the indexes.
 */
export const detectorLastDays = sqliteTable(
  "detector_last_days",
  {
    detector: text("detector").notNull(),
    /** UTC day number of last_seen_ms. */
    day: integer("day").notNull(),
    /** Episodes last seen that day, and their regressions. */
    episodes: integer("episodes").notNull(),
    regressions: integer("regressions").notNull(),
    /** The earliest first sighting among them (null when none). */
    minFirstSeenMs: integer("min_first_seen_ms"),
    /** Hosts whose last sighting of this detector (host_detectors) is that day. */
    hosts: integer("hosts").notNull(),
  },
  // GET /v1/patterns: every detector's days after the window's first day.
  (t) => [primaryKey({ columns: [t.detector, t.day] })],
);

/** 0..1023: the day offsets the rollup triggers expand an episode's span over (no CTEs in triggers). */
export const dayOffsets = sqliteTable("day_offsets", { n: integer("n").primaryKey() });

/** A row here while retention deletes old episodes: their days stay counted in the rollups. */
export const rollupHold = sqliteTable("rollup_hold", { id: integer("id").primaryKey() });

export const schema = {
  tokens,
  hosts,
  snapshots,
  controlPlaneEvents,
  ingestErrors,
  episodes,
  dailyRollups,
  detectorDays,
  hostDetectors,
  detectorLastDays,
  dayOffsets,
  rollupHold,
};

/** Current epoch ms as a SQL expression, for defaults computed in the database. */
export const nowMsSql = sql`(cast(unixepoch('subsec') * 1000 as integer))`;
