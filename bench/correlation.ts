/**
 * Correlation cost per host: build the host view from a collected bundle and run every detector with a
 * window of control-plane events, in-process (the same code the consumer runs in workerd; V8 both).
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { SnapshotBundle } from "../shared/contracts/snapshot.js";
import type { StoredEvent } from "../shared/db/events.js";
import { runDetectors } from "../shared/detect/registry.js";
import { buildHostView } from "../shared/view/host-view.js";
import { collectBundle } from "../shipper/collect.js";
import {
  globalmountLeakHost,
  INCIDENT_BDF,
  reattachRaceHost,
  writeHostTree,
} from "../test/support/host-tree.js";

function events(hostId: string, atMs: number): StoredEvent[] {
  const out: StoredEvent[] = [];
  for (let i = 0; i < 40; i++) {
    const type = i % 2 ? "attach" : "detach";
    const row = {
      id: `ev-${i}`,
      instanceId: hostId,
      type,
      outcome: "succeeded",
      diskId: `d-${i >> 1}`,
      bdf: INCIDENT_BDF,
      serial: null,
      mode: "vfio",
      atMs: atMs - (40 - i) * 60_000,
      receivedAtMs: atMs,
      via: "http",
    } as const;
    out.push({ ...row, raw: JSON.stringify(row) });
  }
  return out;
}

async function bundleOf(root: string, hostId: string): Promise<SnapshotBundle> {
  return (await collectBundle({ root, hostId, nsenter: null, version: "bench" })).bundle;
}

/** Median ms to build the view and run all detectors, per kind of host. */
export async function runCorrelationBench(
  runs = 200,
): Promise<{ msPerHost: number; byHost: Record<string, { viewMs: number; detectMs: number }> }> {
  const dir = mkdtempSync(join(tmpdir(), "fl-bench-corr-"));
  try {
    await writeHostTree(join(dir, "race"), reattachRaceHost());
    await writeHostTree(join(dir, "leak"), globalmountLeakHost());
    const hosts: Record<string, SnapshotBundle> = {
      "this machine": await bundleOf("/", "i-bench"),
      "race host": await bundleOf(join(dir, "race"), "i-race"),
      "leak host": await bundleOf(join(dir, "leak"), "i-leak"),
    };
    const byHost: Record<string, { viewMs: number; detectMs: number }> = {};
    const totals: number[] = [];
    for (const [name, bundle] of Object.entries(hosts)) {
      const ev = events(bundle.hostId, bundle.capture.startedAtMs);
      const view: number[] = [];
      const detect: number[] = [];
      for (let i = 0; i < runs; i++) {
        const t0 = performance.now();
        const v = buildHostView({ bundle, snapshotKey: "k" });
        const t1 = performance.now();
        runDetectors({ view: v, events: ev });
        const t2 = performance.now();
        view.push(t1 - t0);
        detect.push(t2 - t1);
        totals.push(t2 - t0);
      }
      byHost[name] = { viewMs: median(view), detectMs: median(detect) };
    }
    return { msPerHost: median(totals), byHost };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round((s[Math.floor(s.length / 2)] ?? 0) * 100) / 100;
}
