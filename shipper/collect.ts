/**
 * One capture: reads the real kernel layout under `--root` into a `SnapshotBundle` (raw evidence plus
 * capture metadata). Sections run with bounded concurrency; a failed, slow or capped read is recorded
 * and collection goes on, so a snapshot is never abandoned because one file misbehaved.
 */
import { access, constants as fsConstants } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { delimiter, join } from "node:path";
import type { ClockAnchor, SnapshotBundle } from "../shared/contracts/snapshot.js";
import { collectKmsg, collectTrace } from "./collect-kernel.js";
import { collectNamespaces, collectProcesses } from "./collect-proc.js";
import { type CollectLimits, DEFAULT_LIMITS, EvidenceRecorder, SectionReader } from "./collect-read.js";
import {
  collectBlock,
  collectIommuGroups,
  collectNvmeClass,
  collectPci,
  collectVfio,
} from "./collect-sysfs.js";

export interface CollectOptions {
  /** Directory laid out like a Linux host (`/` on a host). */
  root: string;
  /** `--host-id`; when absent the DMI board asset tag, then the hostname. */
  hostId?: string;
  labels?: Record<string, string>;
  limits?: Partial<CollectLimits>;
  /** Subtrees that hung in an earlier capture (key -> why): skipped without a read. */
  knownStuck?: ReadonlyMap<string, string>;
  /** `nsenter` to use for pinned namespaces; null never runs it; undefined looks it up on PATH. */
  nsenter?: string | null;
  /** The shipper version recorded in the bundle. */
  version: string;
}

export interface CollectResult {
  bundle: SnapshotBundle;
  /** One line for stderr: which host id was used and where it came from. */
  hostIdNote: string;
  /** Subtrees whose reads timed out in this capture, for the next capture to skip. */
  timedOutSubtrees: Map<string, string>;
  /** Reads still stuck in the kernel when the capture ended (each holds a threadpool thread). */
  stuckReads: number;
}

/** DMI asset tags that vendors ship unset: not an instance id. */
const PLACEHOLDER_ASSET_TAGS = new Set([
  "",
  "none",
  "unknown",
  "not specified",
  "default string",
  "to be filled by o.e.m.",
  "no asset tag",
  "no asset information",
  "chassis asset tag",
]);

function firstLine(text: string | undefined): string | null {
  if (text === undefined) return null;
  const nl = text.indexOf("\n");
  const v = (nl < 0 ? text : text.slice(0, nl)).trim();
  return v.length > 0 ? v : null;
}

function btimeOf(stat: string | undefined): number | null {
  const m = stat === undefined ? null : /^btime (\d+)$/m.exec(stat);
  return m?.[1] === undefined ? null : Number(m[1]);
}

/** Chooses the host id: the flag, else a real DMI board asset tag (cloud instance id), else the hostname. */
export function resolveHostId(args: { flag?: string; assetTag: string | null; hostname: string | null }): {
  hostId: string;
  source: "flag" | "dmi" | "hostname";
  note: string;
} {
  if (args.flag !== undefined) return { hostId: args.flag, source: "flag", note: "from --host-id" };
  const tag = args.assetTag?.trim() ?? "";
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
  if (!PLACEHOLDER_ASSET_TAGS.has(tag.toLowerCase()) && tag.length <= 256 && !/[\x00-\x1f]/.test(tag)) {
    return { hostId: tag, source: "dmi", note: "from sys/class/dmi/id/board_asset_tag" };
  }
  const host = args.hostname ?? osHostname();
  const why =
    tag === "" ? "no DMI board asset tag" : `DMI board asset tag ${JSON.stringify(tag)} is a placeholder`;
  return { hostId: host, source: "hostname", note: `from the hostname (${why})` };
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of (process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin").split(delimiter)) {
    if (dir === "") continue;
    const candidate = join(dir, name);
    try {
      await access(candidate, fsConstants.X_OK);
      return candidate;
    } catch {}
  }
  return undefined;
}

/** Collects one snapshot bundle from `root`. Never throws for what it reads; throws only on a bug. */
export async function collectBundle(opts: CollectOptions): Promise<CollectResult> {
  const limits: CollectLimits = { ...DEFAULT_LIMITS, ...opts.limits };
  const rec = new EvidenceRecorder(opts.root, limits, opts.knownStuck);
  const startedAtMs = Date.now();
  const anchors: ClockAnchor[] = [];
  const sections: SectionReader[] = [];
  const section = (name: string): SectionReader => {
    const s = new SectionReader(rec, name);
    sections.push(s);
    return s;
  };

  // Identity and clocks first, each anchor read on its own so its wall-clock bracket stays tight.
  const identity = section("identity");
  const uptimeBefore = Date.now();
  const uptime = await identity.attr("proc/uptime");
  const uptimeAfter = Date.now();
  const uptimeSec = Number(firstLine(uptime?.text)?.split(" ")[0] ?? Number.NaN);
  if (Number.isFinite(uptimeSec)) {
    anchors.push({
      clock: "boottime",
      source: "proc/uptime",
      value: uptimeSec,
      wallBeforeMs: uptimeBefore,
      wallAfterMs: uptimeAfter,
    });
  }
  const live = (await rec.readLink("proc/self", { record: false })) === String(process.pid);
  if (live) {
    // process.hrtime is CLOCK_MONOTONIC on Linux: the clock of udev's KERNEL[...] timestamps.
    const wallBeforeMs = Date.now();
    const value = Number(process.hrtime.bigint()) / 1e9;
    anchors.push({
      clock: "monotonic",
      source: "process.hrtime",
      value,
      wallBeforeMs,
      wallAfterMs: Date.now(),
    });
  }
  const [hostnameFile, osrelease, bootId, stat, , assetTag] = await Promise.all([
    identity.attr("proc/sys/kernel/hostname"),
    identity.attr("proc/sys/kernel/osrelease"),
    identity.attr("proc/sys/kernel/random/boot_id"),
    identity.file("proc/stat"),
    identity.attr("proc/sys/fs/may_detach_mounts"),
    identity.attr("sys/class/dmi/id/board_asset_tag"),
  ]);
  identity.end();
  const hostname = firstLine(hostnameFile?.text);
  const host = resolveHostId({
    ...(opts.hostId === undefined ? {} : { flag: opts.hostId }),
    assetTag: firstLine(assetTag?.text),
    hostname,
  });

  // sysfs, vfio nodes, ftrace and kmsg are independent: read them together under the shared limit.
  const run = async (name: string, fn: (s: SectionReader) => Promise<void>): Promise<void> => {
    const s = section(name);
    await fn(s);
    s.end();
  };
  await Promise.all([
    run("block", collectBlock),
    run("pci", collectPci),
    run("nvme", collectNvmeClass),
    run("iommu", collectIommuGroups),
    run("vfio", collectVfio),
    run("trace", (s) => collectTrace(s, anchors)),
    run("kmsg", collectKmsg),
  ]);

  // Processes last: the largest section, so the entry cap never crowds out device evidence.
  const procSection = section("processes");
  const processes = await collectProcesses(procSection, limits.maxDirNames);
  procSection.end();
  const nsSection = section("namespaces");
  const nsenter =
    opts.nsenter === null ? undefined : (opts.nsenter ?? (live ? await findOnPath("nsenter") : undefined));
  const hostNamespace = await collectNamespaces(nsSection, processes, {
    live,
    ...(nsenter === undefined ? {} : { nsenter }),
    timeoutMs: limits.readTimeoutMs * 2,
    maxFileBytes: limits.maxFileBytes,
  });
  nsSection.end();

  if (rec.stuckReads > 0)
    rec.addGap(`${rec.stuckReads} reads were still blocked in the kernel when the capture ended`);
  const bundle: SnapshotBundle = {
    schemaVersion: 1,
    hostId: host.hostId,
    labels: opts.labels ?? {},
    shipper: { version: opts.version, hostIdSource: host.source },
    capture: {
      root: opts.root,
      startedAtMs,
      finishedAtMs: Date.now(),
      hostname,
      kernelRelease: firstLine(osrelease?.text),
      bootId: firstLine(bootId?.text),
      btime: btimeOf(stat?.text),
      uptimeSec: Number.isFinite(uptimeSec) ? uptimeSec : null,
      anchors,
      hostNamespace,
      sections: sections.map((s) => s.stats),
      limits: {
        maxFileBytes: limits.maxFileBytes,
        readTimeoutMs: limits.readTimeoutMs,
        maxEntries: limits.maxEntries,
      },
      gaps: rec.gaps,
    },
    evidence: rec.toRecord(),
  };
  return {
    bundle,
    hostIdNote: `host id ${JSON.stringify(host.hostId)} ${host.note}`,
    timedOutSubtrees: new Map(rec.timedOutSubtrees),
    stuckReads: rec.stuckReads,
  };
}
