/**
 * Cost model: dollars per million snapshots and per 1,000 hosts a month, from Cloudflare's published
 * prices (Workers Paid, Queues, R2 Standard, D1), kept in one table. Free allowances are ignored:
 * this is the marginal price at fleet scale.
 */

/** Cloudflare list prices (USD), as published for the Workers Paid plan. */
export const PRICES = {
  workerRequestsPerMillion: 0.3,
  workerCpuMsPerMillion: 0.02,
  /** Each message costs a write, a read and a delete (per 64 KB). */
  queueOperationsPerMillion: 0.4,
  r2ClassAPerMillion: 4.5,
  r2ClassBPerMillion: 0.36,
  r2StorageGbMonth: 0.015,
  d1RowsWrittenPerMillion: 1.0,
  d1RowsReadPerMillion: 0.001,
  d1StorageGbMonth: 0.75,
} as const;

export interface CostInputs {
  /** Measured CPU milliseconds per snapshot inside the Worker (ingest + consume). */
  cpuMsPerSnapshot: number;
  /** Measured compressed bundle size. */
  bundleBytes: number;
  /** Snapshots a host uploads a day with change-only uploads (plus the daily full one). */
  uploadsPerHostDay: number;
  /** Raw retention in object storage. */
  retentionDays: number;
  /** D1 rows written / read per snapshot (snapshot index, host view, episodes). */
  d1RowsWritten: number;
  d1RowsRead: number;
}

/** Per-snapshot and fleet costs. */
export function costModel(i: CostInputs) {
  const perSnapshot = {
    requests: PRICES.workerRequestsPerMillion / 1e6,
    cpu: (i.cpuMsPerSnapshot * PRICES.workerCpuMsPerMillion) / 1e6,
    queue: (3 * PRICES.queueOperationsPerMillion) / 1e6,
    // one PutObject (class A), a HeadObject and a GetObject (class B)
    r2Ops: PRICES.r2ClassAPerMillion / 1e6 + (2 * PRICES.r2ClassBPerMillion) / 1e6,
    d1: (i.d1RowsWritten * PRICES.d1RowsWrittenPerMillion + i.d1RowsRead * PRICES.d1RowsReadPerMillion) / 1e6,
  };
  const opsPerSnapshot = Object.values(perSnapshot).reduce((a, b) => a + b, 0);
  const snapshotsPer1000HostsMonth = 1000 * i.uploadsPerHostDay * 30;
  const storedGb = (1000 * i.uploadsPerHostDay * i.retentionDays * i.bundleBytes) / 1e9;
  const per1000HostsMonth = snapshotsPer1000HostsMonth * opsPerSnapshot + storedGb * PRICES.r2StorageGbMonth;
  const everySnapshotPer1000 = 1000 * 144 * 30 * opsPerSnapshot;
  return {
    prices: PRICES,
    inputs: i,
    dollarsPerMillionSnapshots: round(opsPerSnapshot * 1e6),
    breakdownPerMillion: Object.fromEntries(Object.entries(perSnapshot).map(([k, v]) => [k, round(v * 1e6)])),
    snapshotsPer1000HostsMonth,
    r2StoredGbPer1000Hosts: round(storedGb),
    dollarsPer1000HostsMonth: round(per1000HostsMonth),
    /** The same fleet uploading every 10-minute snapshot, for comparison. */
    dollarsPer1000HostsMonthWithoutChangeOnly: round(
      everySnapshotPer1000 + (storedGb * 144 * PRICES.r2StorageGbMonth) / i.uploadsPerHostDay,
    ),
  };
}

function round(n: number): number {
  return Math.round(n * 100) / 100;
}
