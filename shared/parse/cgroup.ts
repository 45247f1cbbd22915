/**
 * `/proc/<pid>/cgroup` (cgroups(7)): `hierarchy-ID:controller-list:cgroup-path` per line; cgroup v2 is
 * the single line `0::/path`, hybrid hosts have both. The path names the pod and container a process
 * belongs to, under either kubelet cgroup driver:
 *   systemd   `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope`
 *   cgroupfs  `/kubepods/burstable/pod<uid>/<id>`
 */
import { readDecimal } from "./mountinfo.js";
import { type IssueCode, IssueList, MAX_LINE_CHARS, type ParseResult, result } from "./result.js";

export const QOS_CLASSES = ["guaranteed", "burstable", "besteffort"] as const;
export type QosClass = (typeof QOS_CLASSES)[number];

export const CONTAINER_RUNTIMES = ["containerd", "cri-o", "docker"] as const;
export type ContainerRuntime = (typeof CONTAINER_RUNTIMES)[number];

/** One line of the file. */
export interface CgroupEntry {
  readonly hierarchyId: number;
  /**
   * The controller list as written (`cpu,cpuacct`, `name=systemd`); empty for the v2 line. Kept as one
   * string: the file repeats per process, and a split per line costs more than any reader saves.
   */
  readonly controllers: string;
  readonly path: string;
  readonly line: number;
}

/** What one cgroup path says about Kubernetes; every field null when the path says nothing. */
export interface CgroupOwner {
  /** Pod UID with dashes (the systemd slice name writes them as `_`); static pods have 32 hex digits. */
  readonly podUid: string | null;
  readonly qos: QosClass | null;
  /** 64-hex container id. */
  readonly containerId: string | null;
  /** Null when the path does not tell (cgroupfs driver with a bare id is used by containerd and docker). */
  readonly runtime: ContainerRuntime | null;
}

export interface CgroupInfo extends CgroupOwner {
  readonly entries: readonly CgroupEntry[];
  /** `v2` (only `0::`), `v1` (no `0::`), `hybrid` (both), null for an empty file. */
  readonly version: "v1" | "v2" | "hybrid" | null;
  /** The path the owner was read from: the v2 path when it names a pod, else the first v1 path that does. */
  readonly ownerPath: string | null;
}

const NONE: CgroupOwner = { podUid: null, qos: null, containerId: null, runtime: null };

function isLowerHex(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 102);
}

/** `s[start, end)` is exactly 64 lowercase hex digits. */
function isContainerId(s: string, start: number, end: number): boolean {
  if (end - start !== 64) return false;
  for (let i = start; i < end; i++) if (!isLowerHex(s.charCodeAt(i))) return false;
  return true;
}

/**
 * A pod UID in `s[start, end)`: 36 characters of hex and `-` (or `_` in systemd slice names), or the
 * 32 hex digits kubelet gives static pods; returned with dashes, or null.
 */
function readPodUid(s: string, start: number, end: number): string | null {
  const len = end - start;
  if (len !== 36 && len !== 32) return null;
  let underscores = false;
  for (let i = start; i < end; i++) {
    const c = s.charCodeAt(i);
    if (isLowerHex(c)) continue;
    if (len === 36 && (c === 45 || c === 95)) {
      underscores ||= c === 95;
      continue;
    }
    return null;
  }
  const uid = s.slice(start, end);
  return underscores ? uid.replaceAll("_", "-") : uid;
}

/** QoS from the word that ends at `end` (a slice name's part before `-pod`, or the cgroupfs parent dir). */
function qosEndingAt(s: string, end: number): QosClass {
  if (s.endsWith("burstable", end)) return "burstable";
  if (s.endsWith("besteffort", end)) return "besteffort";
  return "guaranteed";
}

const SCOPES: readonly (readonly [prefix: string, runtime: ContainerRuntime])[] = [
  ["cri-containerd-", "containerd"],
  ["crio-", "cri-o"],
  ["docker-", "docker"],
];

/**
 * Reads pod UID, QoS class and container id out of one cgroup path (either kubelet cgroup driver, v1
 * or v2). The deepest match wins, so a node nested in a container (kind) still names the inner pod.
 * Components are compared in place (no slice per component): this runs for every process.
 */
export function describeCgroupPath(path: string): CgroupOwner {
  if (path.indexOf("kubepods") === -1 && path.indexOf(".scope") === -1 && path.indexOf("docker") === -1) {
    return NONE;
  }
  let podUid: string | null = null;
  let qos: QosClass | null = null;
  let containerId: string | null = null;
  let runtime: ContainerRuntime | null = null;
  let sawKubepods = false;
  let prevStart = 0;
  let prevEnd = 0;
  let start = path.charCodeAt(0) === 47 ? 1 : 0;
  while (start < path.length) {
    let end = path.indexOf("/", start);
    if (end === -1) end = path.length;
    const len = end - start;
    if (path.endsWith(".slice", end)) {
      // systemd driver: `kubepods-burstable-pod<uid>.slice`, `kubelet-kubepods-pod<uid>.slice` (kind)
      const kube = path.indexOf("kubepods", start);
      if (kube !== -1 && kube < end) {
        sawKubepods = true;
        let pod = -1;
        for (let at = path.indexOf("-pod", kube); at !== -1 && at < end; at = path.indexOf("-pod", at + 1))
          pod = at;
        const uid = pod === -1 ? null : readPodUid(path, pod + 4, end - 6);
        if (uid) {
          podUid = uid;
          qos = qosEndingAt(path, pod);
        }
      }
    } else if (path.endsWith(".scope", end)) {
      for (const [prefix, rt] of SCOPES) {
        if (path.startsWith(prefix, start) && isContainerId(path, start + prefix.length, end - 6)) {
          containerId = path.slice(start + prefix.length, end - 6);
          runtime = rt;
          break;
        }
      }
    } else if (len === 8 && path.startsWith("kubepods", start)) {
      sawKubepods = true;
    } else if (sawKubepods && path.startsWith("pod", start)) {
      // cgroupfs driver: `/kubepods/<qos>/pod<uid>`, or `/kubepods/pod<uid>` for guaranteed pods
      const uid = readPodUid(path, start + 3, end);
      if (uid) {
        podUid = uid;
        qos = qosEndingAt(path, prevEnd);
      }
    } else if (isContainerId(path, start, end)) {
      containerId = path.slice(start, end);
      runtime = prevEnd - prevStart === 6 && path.startsWith("docker", prevStart) ? "docker" : null;
    } else if (path.startsWith("crio-", start) && isContainerId(path, start + 5, end)) {
      containerId = path.slice(start + 5, end);
      runtime = "cri-o";
    }
    prevStart = start;
    prevEnd = end;
    start = end + 1;
  }
  if (podUid === null && containerId === null) return NONE;
  return { podUid, qos, containerId, runtime };
}

/** Adds an issue, creating the list on the first one: most files have none. */
function withIssue(list: IssueList | null, code: IssueCode, message: string, line: number): IssueList {
  const issues = list ?? new IssueList();
  issues.add(code, message, line);
  return issues;
}

/**
 * Parses `/proc/<pid>/cgroup` and says which pod and container the process belongs to. Bad lines are
 * skipped with an issue; a final line without its newline is dropped as `truncated`.
 */
export function parseCgroup(text: string): ParseResult<CgroupInfo> {
  let issues: IssueList | null = null;
  const entries: CgroupEntry[] = [];
  let hasV2 = false;
  let hasV1 = false;
  const n = text.length;
  let start = 0;
  let lineNo = 0;
  while (start < n) {
    let end = text.indexOf("\n", start);
    const complete = end !== -1;
    if (end === -1) end = n;
    lineNo++;
    if (!complete) {
      issues = withIssue(issues, "truncated", "last line has no newline; dropped", lineNo);
    } else if (end - start > MAX_LINE_CHARS) {
      issues = withIssue(
        issues,
        "too_large",
        `line longer than ${MAX_LINE_CHARS} characters; skipped`,
        lineNo,
      );
    } else if (end > start) {
      const c1 = text.indexOf(":", start);
      const c2 = c1 === -1 || c1 >= end ? -1 : text.indexOf(":", c1 + 1);
      const id = c2 === -1 || c2 >= end ? -2 : readDecimal(text, start, c1);
      if (id === -2) {
        issues = withIssue(issues, "malformed_line", "expected hierarchy-ID:controllers:path", lineNo);
      } else if (id < 0) {
        issues = withIssue(issues, "invalid_field", "bad hierarchy id", lineNo);
      } else {
        // The path is everything after the second colon: cgroup paths may themselves contain `:`.
        const controllers = text.slice(c1 + 1, c2);
        entries.push({ hierarchyId: id, controllers, path: text.slice(c2 + 1, end), line: lineNo });
        if (id === 0 && controllers === "") hasV2 = true;
        else hasV1 = true;
      }
    }
    start = end + 1;
  }

  let owner = NONE;
  let ownerPath: string | null = null;
  // v2 first (it is the one kubelet manages on v2 and hybrid hosts), then v1 in file order.
  for (let pass = 0; pass < 2 && owner.podUid === null; pass++) {
    for (const e of entries) {
      if ((e.hierarchyId === 0 && e.controllers === "") !== (pass === 0)) continue;
      const o = describeCgroupPath(e.path);
      if (o.podUid !== null || (o.containerId !== null && owner.containerId === null)) {
        owner = o;
        ownerPath = e.path;
        if (o.podUid !== null) break;
      }
    }
  }
  const version = hasV2 ? (hasV1 ? "hybrid" : "v2") : hasV1 ? "v1" : null;
  const value: CgroupInfo = { entries, version, ownerPath, ...owner };
  return issues === null ? { ok: true, value } : result(value, issues.done());
}
