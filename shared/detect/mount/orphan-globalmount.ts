/**
 * RC-6 "orphan globalmount" (reference/evidence-formats.md §9.1, §11.3): a kubelet staging mount that
 * no pod publishes and no attached disk explains, a v1 staging path left mounted next to its v2 twin
 * after an in-place upgrade, or a staging mount whose disk is gone. Staging mounts are the kubelet's:
 * those of the host namespace, or of a namespace running its own kubelet. A copy left only in a foreign
 * namespace is `globalmount-held-foreign-ns`'s episode (one root cause, one episode).
 */
import type { StoredEvent } from "../../db/events.js";
import type { MountNamespace } from "../../parse/proc.js";
import type { HostView } from "../../view/host-view.js";
import { type AttachmentState, attachmentsAt } from "../attachments.js";
import type { Confidence, Detector, DetectorRun, EvidenceItem, Verdict } from "../types.js";
import { decidedByNamespace } from "./decided.js";
import { attachmentOf, describeDisk, detachOf, deviceFact, resolveDisk } from "./disk.js";
import {
  eventItem,
  isScanned,
  kubeletMounts,
  kubeletNamespaces,
  mountFact,
  nsName,
  type StagingMount,
  stagingMounts,
} from "./namespaces.js";

const ID = "orphan-globalmount";

/** One reason a staging mount is an orphan, with its confidence and evidence. */
interface Reason {
  readonly text: string;
  readonly confidence: Confidence;
  readonly evidence: readonly EvidenceItem[];
  readonly blindSpots: readonly string[];
  readonly sinceMs?: number;
}

const RANK: Record<Confidence, number> = { high: 3, medium: 2, low: 1 };

/** What one staging mount is: orphaned (with reasons), in use or explained, or undecidable. */
type Finding =
  | { readonly kind: "orphan"; readonly reasons: readonly Reason[] }
  | { readonly kind: "fine" }
  | { readonly kind: "undecided" };

interface Context {
  readonly view: HostView;
  readonly attachments: AttachmentState;
  /** Pod publish mounts (`pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount`) by `major:minor`, per namespace. */
  readonly publishes: ReadonlyMap<MountNamespace, ReadonlyMap<string, number>>;
  readonly staging: readonly StagingMount[];
}

function publishCounts(view: HostView, ns: MountNamespace): Map<string, number> {
  const out = new Map<string, number>();
  for (const { mount, path } of kubeletMounts(view, ns)) {
    if (path.kind === "publish") out.set(mount.devt, (out.get(mount.devt) ?? 0) + 1);
  }
  return out;
}

/** A v1 path whose filesystem the same namespace also stages at a v2 path: the upgrade leftover (§9.1). */
function upgradeLeftover(ctx: Context, s: StagingMount): Reason | null {
  if (s.path.version !== 1) return null;
  const twin = ctx.staging.find(
    (t) =>
      t.ns === s.ns && t.path.version === 2 && t.mount.devt === s.mount.devt && t.mount.root === s.mount.root,
  );
  if (!twin) return null;
  return {
    text: `The same filesystem is also staged at the v2 path ${twin.mount.mountPoint}: this v1 path is left over from an in-place kubelet upgrade to 1.24+ (kubernetes#107065). kubelet unstages only the v2 path, so this mount keeps the disk pinned after unstage; unmount it once the v2 path is in use`,
    confidence: "high",
    evidence: [mountFact(ctx.view, twin.mount, "the v2 staging path of the same filesystem")],
    blindSpots: [],
  };
}

function judge(ctx: Context, s: StagingMount): Finding {
  const { view } = ctx;
  const reasons: Reason[] = [];
  const leftover = upgradeLeftover(ctx, s);
  if (leftover) reasons.push(leftover);
  const published = ctx.publishes.get(s.ns)?.get(s.mount.devt) ?? 0;
  const disk = resolveDisk(view, s.mount.devt, s.mount.source);
  let undecided = false;

  if (disk.kind === "gone") {
    reasons.push({
      text: `Its disk is gone (${disk.why})${published ? `, yet ${published} pod publish mount(s) still use it: those pods see I/O errors` : ""}. Unmount the staging path and let NodeUnstage finish`,
      confidence: "high",
      evidence: disk.device
        ? [deviceFact(view, disk.device, `the staging mount's device, gone: ${disk.why}`)]
        : [],
      blindSpots: [],
    });
  } else if (published === 0) {
    if (disk.kind === "unknown") {
      // tmpfs, NFS and RunD's tmpfs placeholder have no disk to explain them: not decidable here.
      undecided = true;
    } else {
      const att = attachmentOf(ctx.attachments, disk);
      const det = att ? null : detachOf(ctx.attachments, disk);
      const disk_ = describeDisk(disk);
      if (det) {
        reasons.push({
          text: `No pod publishes it and the control plane detached disk ${det.diskId} at ${new Date(det.atMs).toISOString()}, yet ${disk_} is still here and staged: NodeUnstage never ran or failed. Check kubelet and CSI logs for the volume, check \`fuser -vm /dev/${disk.partition ?? disk.device.name}\`, then unmount the staging path`,
          confidence: "high",
          evidence: [
            deviceFact(view, disk.device, `the staging mount's device: ${disk_}`),
            eventItem(det, "the control plane detached the disk this staging mount holds"),
          ],
          blindSpots: [],
          sinceMs: det.atMs,
        });
      } else if (!att) {
        reasons.push({
          text: `No pod publishes it and the control plane has no attach for ${disk_} in the correlation window: an unstage that never ran, unless a pod is about to publish it. Check kubelet and CSI logs for the volume, check \`fuser -vm /dev/${disk.partition ?? disk.device.name}\`, then unmount the staging path`,
          confidence: "low",
          evidence: [deviceFact(view, disk.device, `the staging mount's device: ${disk_}`)],
          blindSpots: [
            "no control-plane attach or detach for this disk in the correlation window: if it is attached, the volume may be between NodeStage and NodePublish",
          ],
        });
      }
    }
  }
  if (reasons.length > 0) return { kind: "orphan", reasons };
  return undecided ? { kind: "undecided" } : { kind: "fine" };
}

function verdictOf(ctx: Context, s: StagingMount, reasons: readonly Reason[]): Verdict {
  const ns = nsName(s.ns.inode);
  const where = s.ns.isHost ? "the host mount namespace" : `${ns}, which runs its own kubelet`;
  const best = reasons.reduce(
    (a, r) => (RANK[r.confidence] > RANK[a] ? r.confidence : a),
    "low" as Confidence,
  );
  const since = reasons.flatMap((r) => (r.sinceMs === undefined ? [] : [r.sinceMs]));
  return {
    detector: ID,
    subject: `${s.mount.mountPoint}|${ns}`,
    confidence: best,
    summary: [
      `${s.mount.mountPoint} is staged in ${where} (${s.mount.fsType} ${s.mount.source || "(no source)"}, ${s.mount.devt}).`,
      ...reasons.map((r) => `${r.text}.`),
    ].join(" "),
    evidence: [
      mountFact(ctx.view, s.mount, `the staging mount in ${ns}`),
      ...reasons.flatMap((r) => r.evidence),
    ],
    blindSpots: [
      ...reasons.flatMap((r) => r.blindSpots),
      "vol_data.json is not shipped: the staging directory's volume handle and a staging dir without it cannot be checked",
    ],
    ...(since.length ? { sinceMs: Math.min(...since) } : {}),
  };
}

/** Finds orphaned kubelet staging mounts; decides every staging mount whose disk could be resolved. */
export function detectOrphanGlobalmount(args: {
  view: HostView;
  events: readonly StoredEvent[];
}): DetectorRun {
  const { view } = args;
  const host = view.hostNamespace;
  // Publish mounts live in the host namespace: without its full table "no pod uses it" is unknowable.
  if (!host || !isScanned(host)) return { verdicts: [], decided: new Set() };
  const ownKubelet = kubeletNamespaces(view);
  // A namespace cut by the size cap may have lost the publish mounts that would explain its staging.
  const staging = stagingMounts(view).filter(
    (s) => isScanned(s.ns) && (s.ns.isHost || (s.ns.inode !== null && ownKubelet.has(s.ns.inode))),
  );
  const publishes = new Map<MountNamespace, Map<string, number>>();
  for (const s of staging) if (!publishes.has(s.ns)) publishes.set(s.ns, publishCounts(view, s.ns));
  const ctx: Context = {
    view,
    attachments: attachmentsAt(args.events, view.capturedAtMs),
    publishes,
    staging,
  };

  const verdicts: Verdict[] = [];
  const seen = new Set<string>();
  const undecided = new Set<string>();
  for (const s of staging) {
    const subject = `${s.mount.mountPoint}|${nsName(s.ns.inode)}`;
    // Stacked mounts on one path are one subject: the first finding stands.
    if (seen.has(subject)) continue;
    seen.add(subject);
    const f = judge(ctx, s);
    if (f.kind === "orphan") verdicts.push(verdictOf(ctx, s, f.reasons));
    else if (f.kind === "undecided") undecided.add(subject);
  }

  return {
    verdicts,
    decided: decidedByNamespace({ view, met: verdicts.map((v) => v.subject), isScanned, undecided }),
  };
}

export const orphanGlobalmount: Detector<HostView> = {
  id: ID,
  title: "Orphan CSI staging mount",
  fires:
    "A kubelet staging mount (`…/globalmount`, v1 or v2, in the host namespace or a namespace running its own kubelet) that (a) no pod publish mount of the same major:minor in that namespace uses, while the control plane detached its disk (high) or has no attach for it in the window (low); or (b) is a v1 path whose filesystem the same namespace also stages at a v2 path (upgrade leftover); or (c) whose disk is gone (no /sys/block entry, size 0, controller dead, or BDF gone).",
  clears:
    "The staging mount is gone from its namespace, a pod publishes it again, or the control plane's attach of its disk explains it (the v1 twin clears when either path is unmounted).",
  cites:
    "The staging mountinfo line (and its v2 twin), the block device's dev file, and the control-plane detach of the disk; the age of the mount and vol_data.json are not shipped (blind spots).",
  detect: detectOrphanGlobalmount,
};
