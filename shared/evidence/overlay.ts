/**
 * Hand-captured evidence joins the correlation by becoming what the shipper would have read: `ls -l
 * /sys/block` becomes `sys/block/` and its links, a `trace` file becomes tracefs's `trace`, and so on.
 * Overlaid on the host's latest bundle, it is parsed by the same parsers and judged by the same
 * detectors. Outputs with no bundle equivalent (lsof, fuser, dmesg) are parsed and kept as evidence.
 */
import type { EvidenceEntry, SnapshotBundle } from "../contracts/snapshot.js";
import { parseFuserMv } from "../parse/commands/fuser.js";
import { parseLsDevVfio, parseLsIommuGroupDevices, parseLsLSysBlock } from "../parse/commands/ls.js";
import { parseLsof } from "../parse/commands/lsof.js";
import { parseTrace } from "../parse/ftrace.js";
import { parseDmesg, parseKmsg } from "../parse/kmsg.js";
import { parseMountinfo } from "../parse/mountinfo.js";
import type { ParseIssue } from "../parse/result.js";
import type { StoredEvidence } from "../pipeline/accept-evidence.js";
import { splitCommand } from "./commands.js";

export interface EvidenceOverlay {
  /** Evidence entries at the paths the shipper uses. */
  readonly entries: Record<string, EvidenceEntry>;
  /** Path prefixes this evidence replaces wholesale (a fresh listing supersedes the old one). */
  readonly replaces: readonly string[];
  /** What the parser made of the output: records read and issues. */
  readonly records: number;
  readonly issues: readonly ParseIssue[];
}

const file = (data: string): EvidenceEntry => ({ kind: "file", data, encoding: "utf8", bytes: data.length });

/** Parses hand-captured output and maps it onto bundle evidence paths where it has an equivalent. */
export function overlayOf(ev: StoredEvidence): EvidenceOverlay {
  const argv = splitCommand(ev.command);
  switch (ev.kind) {
    case "ls-sys-block": {
      const r = parseLsLSysBlock(ev.output);
      const entries: Record<string, EvidenceEntry> = {};
      const names: string[] = [];
      for (const l of r.value) {
        const name = l.name.startsWith("/sys/block/") ? l.name.slice("/sys/block/".length) : l.name;
        names.push(name);
        entries[`sys/block/${name}`] = { kind: "link", target: l.target };
      }
      // `ls -l /sys/block/<dev>` lists one device: it does not replace the whole listing.
      const whole = argv.some((a) => /^\/sys\/block\/?$/.test(a));
      if (whole) entries["sys/block/"] = { kind: "dir", names: names.sort() };
      return {
        entries,
        replaces: whole ? ["sys/block/"] : [],
        records: r.value.length,
        issues: r.ok ? [] : r.issues,
      };
    }
    case "ls-dev-vfio": {
      const r = parseLsDevVfio(ev.output);
      return {
        entries: { "dev/vfio/": { kind: "dir", names: r.value.map((n) => n.name).sort() } },
        replaces: ["dev/vfio/"],
        records: r.value.length,
        issues: r.ok ? [] : r.issues,
      };
    }
    case "ls-iommu-group": {
      const group = /\/iommu_groups\/(\d+)\/devices/.exec(ev.command)?.[1];
      const r = parseLsIommuGroupDevices(ev.output);
      if (!group) return { entries: {}, replaces: [], records: 0, issues: r.ok ? [] : r.issues };
      const base = `sys/kernel/iommu_groups/${group}/devices/`;
      return {
        entries: { [base]: { kind: "dir", names: [...r.value].sort() } },
        replaces: [base],
        records: r.value.length,
        issues: r.ok ? [] : r.issues,
      };
    }
    case "trace": {
      const r = parseTrace(ev.output);
      return {
        entries: { "sys/kernel/tracing/trace": file(ev.output) },
        replaces: ["sys/kernel/tracing/trace", "sys/kernel/debug/tracing/trace"],
        records: r.value.eventCount,
        issues: r.ok ? [] : r.issues,
      };
    }
    case "kmsg": {
      const r = parseKmsg(ev.output);
      return {
        entries: { "dev/kmsg": file(ev.output) },
        replaces: ["dev/kmsg"],
        records: r.value.recordCount,
        issues: r.ok ? [] : r.issues,
      };
    }
    case "mountinfo": {
      const pid = /^\/proc\/(\d+)\/mountinfo$/.exec(argv.find((a) => a.startsWith("/proc/")) ?? "")?.[1];
      const r = parseMountinfo(ev.output);
      return {
        entries: pid ? { [`proc/${pid}/mountinfo`]: file(ev.output) } : {},
        replaces: pid ? [`proc/${pid}/mountinfo`] : [],
        records: r.value.length,
        issues: r.ok ? [] : r.issues,
      };
    }
    case "dmesg": {
      const r = parseDmesg(ev.output);
      return { entries: {}, replaces: [], records: r.value.recordCount, issues: r.ok ? [] : r.issues };
    }
    case "lsof": {
      const r = parseLsof(ev.output);
      return { entries: {}, replaces: [], records: r.value.files.length, issues: r.ok ? [] : r.issues };
    }
    case "fuser": {
      const r = parseFuserMv(ev.output);
      return { entries: {}, replaces: [], records: r.value.names.length, issues: r.ok ? [] : r.issues };
    }
  }
}

/** The latest bundle with the overlay applied, re-stamped at the evidence's capture time. */
export function applyOverlay(args: {
  base: SnapshotBundle;
  overlay: EvidenceOverlay;
  capturedAtMs: number;
}): SnapshotBundle {
  const evidence: Record<string, EvidenceEntry> = {};
  for (const [path, entry] of Object.entries(args.base.evidence)) {
    if (!args.overlay.replaces.some((p) => path === p || (p.endsWith("/") && path.startsWith(p))))
      evidence[path] = entry;
  }
  Object.assign(evidence, args.overlay.entries);
  return {
    ...args.base,
    capture: { ...args.base.capture, startedAtMs: args.capturedAtMs, finishedAtMs: args.capturedAtMs },
    evidence,
  };
}
