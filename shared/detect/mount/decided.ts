/** `decided` rules shared by the mount detectors (see `Decided` in ../types.ts). */
import type { MountNamespace } from "../../parse/proc.js";
import type { HostView } from "../../view/host-view.js";
import type { Decided } from "../types.js";

/** Decided when the run met the subject, or when `rule` says the evidence about it was complete. */
export function decidedBy(met: Iterable<string>, rule: (subject: string) => boolean): Decided {
  const seen = new Set(met);
  return { has: (subject) => seen.has(subject) || rule(subject) };
}

/** The namespace inode of a `…|mnt:[N]` subject, or null. */
export function subjectNamespace(subject: string): number | null {
  const m = /\|mnt:\[(\d+)\]$/.exec(subject);
  return m?.[1] ? Number(m[1]) : null;
}

/**
 * `decided` for subjects keyed `…|mnt:[N]`: decided when namespace N was scanned, or when N is absent
 * from a complete scan (it no longer exists, so it holds nothing). With processes whose namespace is
 * unknown, or an unnamed namespace, an absent one may be theirs: undecided.
 */
export function decidedByNamespace(args: {
  view: HostView;
  met: readonly string[];
  isScanned: (ns: MountNamespace) => boolean;
  /** Subjects the detector met but could not decide. */
  undecided?: ReadonlySet<string>;
}): "all" | Decided {
  const { view, isScanned } = args;
  const undecided = args.undecided ?? new Set<string>();
  const everyNamespaceNamed =
    view.processes.listing === "complete" &&
    view.mounts.unknownNsPids.length === 0 &&
    view.mounts.namespaces.every((ns) => ns.inode !== null);
  if (undecided.size === 0 && everyNamespaceNamed && view.mounts.namespaces.every(isScanned)) return "all";
  const byInode = new Map(
    view.mounts.namespaces.flatMap((ns) => (ns.inode === null ? [] : [[ns.inode, ns] as const])),
  );
  return decidedBy(args.met, (subject) => {
    if (undecided.has(subject)) return false;
    const inode = subjectNamespace(subject);
    if (inode === null) return false;
    const ns = byInode.get(inode);
    return ns ? isScanned(ns) : everyNamespaceNamed;
  });
}
