/**
 * kubelet's CSI paths (reference/evidence-formats.md §9.1). The kubelet root is whatever precedes the
 * fixed tail (`/var/lib/kubelet`, `/data/kubelet`, or `/host/var/lib/kubelet` as a container sees it),
 * so paths are matched from the end, component by component: linear in the path, no backtracking.
 */

/** What a kubelet-managed CSI path is; `root` is the kubelet root dir it sits under. */
export type KubeletPath =
  | {
      /** NodeStage target: v2 `csi/<driver>/<sha256(handle)>/globalmount` (k8s >= 1.24), v1 `csi/pv/<pv>/globalmount`. */
      readonly kind: "staging";
      readonly version: 1 | 2;
      readonly root: string;
      readonly driver: string | null;
      readonly volumeHash: string | null;
      readonly pv: string | null;
    }
  | {
      /** NodePublish target: `pods/<uid>/volumes/kubernetes.io~csi/<pv>/mount`. */
      readonly kind: "publish";
      readonly root: string;
      readonly podUid: string;
      readonly pv: string;
    }
  | {
      /** Raw block staging: `csi/volumeDevices/staging/<pv>`, possibly with the device node bound below it. */
      readonly kind: "block-staging";
      readonly root: string;
      readonly pv: string;
      readonly entry: string | null;
    }
  | {
      /** Raw block publish `csi/volumeDevices/publish/<pv>/<uid>`, or the global map `csi/volumeDevices/<pv>/dev/<uid>`. */
      readonly kind: "block-publish" | "block-map";
      readonly root: string;
      readonly pv: string;
      readonly podUid: string;
    }
  | {
      /** The pod's device link: `pods/<uid>/volumeDevices/kubernetes.io~csi/<pv>`. */
      readonly kind: "pod-device";
      readonly root: string;
      readonly podUid: string;
      readonly pv: string;
    };

/** The longest tail any pattern needs: `plugins/kubernetes.io/csi/volumeDevices/<pv>/dev/<uid>`. */
const MAX_TAIL = 7;

function isLowerHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

function isSha256Hex(s: string): boolean {
  if (s.length !== 64) return false;
  for (let i = 0; i < 64; i++) if (!isLowerHex(s.charCodeAt(i))) return false;
  return true;
}

/** kubelet pod UIDs: 36 characters of hex and `-`, or 32 hex digits for static pods. */
function isPodUid(s: string): boolean {
  if (s.length !== 36 && s.length !== 32) return false;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (!isLowerHex(c) && !(c === 45 && s.length === 36)) return false;
  }
  return true;
}

/** A path's last components, read from the end: `parts[0]` is the last, `starts[i]` where `parts[i]` begins. */
interface Tail {
  readonly path: string;
  readonly parts: readonly string[];
  readonly starts: readonly number[];
}

function tailOf(path: string): Tail {
  const parts: string[] = [];
  const starts: number[] = [];
  let end = path.length;
  while (parts.length < MAX_TAIL) {
    const slash = path.lastIndexOf("/", end - 1);
    if (slash <= 0) break; // the root must keep at least `/x`
    parts.push(path.slice(slash + 1, end));
    starts.push(slash + 1);
    end = slash;
  }
  return { path, parts, starts };
}

function at(t: Tail, i: number): string {
  return t.parts[i] ?? "";
}

/** The kubelet root: everything before the slash that opens `parts[i]`. */
function rootBefore(t: Tail, i: number): string | null {
  const s = t.starts[i];
  if (s === undefined || s < 3) return null;
  return t.path.slice(0, s - 1);
}

/** `plugins/kubernetes.io/csi` ends at `parts[i]`. */
function pluginsCsi(t: Tail, i: number): boolean {
  return at(t, i) === "csi" && at(t, i + 1) === "kubernetes.io" && at(t, i + 2) === "plugins";
}

/**
 * `path` holds `kubernetes.io/csi` or `kubernetes.io~csi`. Nearly every mount point has neither: one
 * search for what they share costs half of one search for each.
 */
function mentionsCsi(path: string): boolean {
  for (let i = path.indexOf("kubernetes.io"); i !== -1; i = path.indexOf("kubernetes.io", i + 13)) {
    const c = path.charCodeAt(i + 13);
    if ((c === 47 || c === 126) && path.startsWith("csi", i + 14)) return true;
  }
  return false;
}

/**
 * Classifies a mount point (unescaped) as a kubelet CSI staging, publish or raw-block path, or null.
 * One trailing slash is accepted; the kubelet root must be a non-empty absolute path.
 */
export function classifyKubeletPath(mountPoint: string): KubeletPath | null {
  let path = mountPoint;
  if (path.length > 1 && path.charCodeAt(path.length - 1) === 47) path = path.slice(0, -1);
  // Every pattern below has `plugins/kubernetes.io/csi` or `kubernetes.io~csi`; most kubelet mounts
  // (projected tokens, secrets, config maps) have neither and need no splitting.
  if (path.charCodeAt(0) !== 47) return null;
  if (!mentionsCsi(path)) return null;
  const t = tailOf(path);

  const last = at(t, 0);
  if (last === "globalmount" && pluginsCsi(t, 3)) {
    const root = rootBefore(t, 5);
    if (root === null || at(t, 1) === "" || at(t, 2) === "") return null;
    if (at(t, 2) === "pv")
      return { kind: "staging", version: 1, root, driver: null, volumeHash: null, pv: at(t, 1) };
    if (!isSha256Hex(at(t, 1))) return null;
    return { kind: "staging", version: 2, root, driver: at(t, 2), volumeHash: at(t, 1), pv: null };
  }
  if (last === "mount" && at(t, 2) === "kubernetes.io~csi" && at(t, 3) === "volumes" && at(t, 5) === "pods") {
    const root = rootBefore(t, 5);
    if (root === null || at(t, 1) === "" || !isPodUid(at(t, 4))) return null;
    return { kind: "publish", root, podUid: at(t, 4), pv: at(t, 1) };
  }
  if (at(t, 1) === "kubernetes.io~csi" && at(t, 2) === "volumeDevices" && at(t, 4) === "pods") {
    const root = rootBefore(t, 4);
    if (root === null || last === "" || !isPodUid(at(t, 3))) return null;
    return { kind: "pod-device", root, podUid: at(t, 3), pv: last };
  }
  // Raw block under plugins/kubernetes.io/csi/volumeDevices/: `staging/<pv>`, or `staging/<pv>/<entry>`.
  for (let i = 1; i <= 2; i++) {
    if (at(t, i) === "staging" && at(t, i + 1) === "volumeDevices" && pluginsCsi(t, i + 2)) {
      const root = rootBefore(t, i + 4);
      const pv = at(t, i - 1);
      const entry = i === 1 ? null : last;
      if (root === null || pv === "" || entry === "") return null;
      return { kind: "block-staging", root, pv, entry };
    }
  }
  if (at(t, 2) === "publish" && at(t, 3) === "volumeDevices" && pluginsCsi(t, 4)) {
    const root = rootBefore(t, 6);
    if (root === null || at(t, 1) === "" || !isPodUid(last)) return null;
    return { kind: "block-publish", root, pv: at(t, 1), podUid: last };
  }
  if (at(t, 1) === "dev" && at(t, 3) === "volumeDevices" && pluginsCsi(t, 4)) {
    const root = rootBefore(t, 6);
    if (root === null || at(t, 2) === "" || !isPodUid(last)) return null;
    return { kind: "block-map", root, pv: at(t, 2), podUid: last };
  }
  return null;
}
