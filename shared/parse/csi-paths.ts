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

/**
 * Classifies a mount point (unescaped) as a kubelet CSI staging, publish or raw-block path, or null.
 * One trailing slash is accepted; the kubelet root must be a non-empty absolute path.
 */
export function classifyKubeletPath(mountPoint: string): KubeletPath | null {
  let path = mountPoint;
  if (path.length > 1 && path.charCodeAt(path.length - 1) === 47) path = path.slice(0, -1);
  if (path.charCodeAt(0) !== 47 || path.indexOf("kubernetes.io") === -1) return null;

  // tail[0] is the last component, starts[i] where tail[i] begins (after its slash).
  const tail: string[] = [];
  const starts: number[] = [];
  let end = path.length;
  while (tail.length < MAX_TAIL) {
    const slash = path.lastIndexOf("/", end - 1);
    if (slash <= 0) break; // the root must keep at least `/x`
    tail.push(path.slice(slash + 1, end));
    starts.push(slash + 1);
    end = slash;
  }
  const at = (i: number): string => tail[i] ?? "";
  // The kubelet root: everything before the slash that opens tail[i].
  const rootBefore = (i: number): string | null => {
    const s = starts[i];
    if (s === undefined || s < 3) return null;
    return path.slice(0, s - 1);
  };
  const pluginsCsi = (i: number): boolean =>
    at(i) === "csi" && at(i + 1) === "kubernetes.io" && at(i + 2) === "plugins";
  const nonEmpty = (...names: string[]): boolean => names.every((n) => n.length > 0);

  const last = at(0);
  if (last === "globalmount" && pluginsCsi(3)) {
    const root = rootBefore(5);
    if (root === null || !nonEmpty(at(1), at(2))) return null;
    if (at(2) === "pv")
      return { kind: "staging", version: 1, root, driver: null, volumeHash: null, pv: at(1) };
    if (!isSha256Hex(at(1))) return null;
    return { kind: "staging", version: 2, root, driver: at(2), volumeHash: at(1), pv: null };
  }
  if (last === "mount" && at(2) === "kubernetes.io~csi" && at(3) === "volumes" && at(5) === "pods") {
    const root = rootBefore(5);
    if (root === null || !nonEmpty(at(1)) || !isPodUid(at(4))) return null;
    return { kind: "publish", root, podUid: at(4), pv: at(1) };
  }
  if (at(1) === "kubernetes.io~csi" && at(2) === "volumeDevices" && at(4) === "pods") {
    const root = rootBefore(4);
    if (root === null || !nonEmpty(last) || !isPodUid(at(3))) return null;
    return { kind: "pod-device", root, podUid: at(3), pv: last };
  }
  // Raw block under plugins/kubernetes.io/csi/volumeDevices/
  for (const [i, entry] of [
    [1, null],
    [2, last],
  ] as const) {
    if (at(i) === "staging" && at(i + 1) === "volumeDevices" && pluginsCsi(i + 2)) {
      const root = rootBefore(i + 4);
      const pv = at(i - 1);
      if (root === null || !nonEmpty(pv) || entry === "") return null;
      return { kind: "block-staging", root, pv, entry };
    }
  }
  if (at(2) === "publish" && at(3) === "volumeDevices" && pluginsCsi(4)) {
    const root = rootBefore(6);
    if (root === null || !nonEmpty(at(1)) || !isPodUid(last)) return null;
    return { kind: "block-publish", root, pv: at(1), podUid: last };
  }
  if (at(1) === "dev" && at(3) === "volumeDevices" && pluginsCsi(4)) {
    const root = rootBefore(6);
    if (root === null || !nonEmpty(at(2)) || !isPodUid(last)) return null;
    return { kind: "block-map", root, pv: at(2), podUid: last };
  }
  return null;
}
