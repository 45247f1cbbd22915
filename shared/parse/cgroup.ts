/**
 * `/proc/<pid>/cgroup` (cgroups(7)): `hierarchy-ID:controller-list:cgroup-path` per line; cgroup v2 is
 * the single line `0::/path`, hybrid hosts have both. The path names the pod and container a process
 * belongs to, under either kubelet cgroup driver:
 *   systemd   `/kubepods.slice/kubepods-burstable.slice/kubepods-burstable-pod<uid with _>.slice/cri-containerd-<id>.scope`
 *   cgroupfs  `/kubepods/burstable/pod<uid>/<id>`
 */
import { asciiBytes, asciiView, keepShapes, NextChar } from "./ascii.js";
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

// A path is read from its bytes (asciiBytes): charCodeAt, startsWith and a sticky regex per id on the
// string cost twice as much, and the one encode is cheap next to them.

/** 1 for the characters a pod UID may hold: lowercase hex digits, `-` and `_`. */
const UID_CHARS = new Uint8Array(256);
for (const c of "0123456789abcdef-_") UID_CHARS[c.charCodeAt(0)] = 1;
const UNDERSCORE = 95;

/** `bytes[at, at + word.length)` spell `word`. */
function spells(bytes: Uint8Array, at: number, word: string): boolean {
  for (let i = 0; i < word.length; i++) if (bytes[at + i] !== word.charCodeAt(i)) return false;
  return true;
}

/**
 * `path[start, end)` (read by `view`; a multiple of four long) is all lowercase hex digits, tested four
 * bytes at a time (a third of the time of a byte loop): adding 0x80 - c to a byte sets its top bit
 * when the byte is at least c. No byte is above 0x80 (NON_ASCII), so no sum carries into the next.
 */
function allHex(view: DataView, start: number, end: number): boolean {
  let notHex = 0;
  for (let i = start; i < end; i += 4) {
    const w = view.getInt32(i, true);
    const digit = (w + 0x50505050) & ~(w + 0x46464646); // 0x30 <= c < 0x3a
    const letter = (w + 0x1f1f1f1f) & ~(w + 0x19191919); // 0x61 <= c < 0x67
    notHex |= ~(digit | letter);
  }
  return (notHex & 0x80808080) === 0;
}

/** `path[start, end)` is exactly 64 lowercase hex digits. */
function isContainerId(view: DataView, start: number, end: number): boolean {
  return end - start === 64 && allHex(view, start, end);
}

/**
 * A pod UID in `path[start, end)`: 36 characters of hex and `-` (or `_` in systemd slice names), or
 * the 32 hex digits kubelet gives static pods; returned with dashes, or null.
 */
function readPodUid(
  path: string,
  bytes: Uint8Array,
  view: DataView,
  start: number,
  end: number,
): string | null {
  const len = end - start;
  if (len === 32) return allHex(view, start, end) ? path.slice(start, end) : null;
  if (len !== 36) return null;
  let underscores = 0;
  for (let i = start; i < end; i++) {
    const c = bytes[i] ?? 0;
    if (UID_CHARS[c] === 0) return null;
    if (c === UNDERSCORE) underscores++;
  }
  if (underscores === 0) return path.slice(start, end);
  const i = start;
  if (
    underscores === 4 &&
    bytes[i + 8] === UNDERSCORE &&
    bytes[i + 13] === UNDERSCORE &&
    bytes[i + 18] === UNDERSCORE &&
    bytes[i + 23] === UNDERSCORE
  ) {
    // The systemd driver's form: its five groups joined with dashes cost half of a replaceAll (an
    // array join or a slicing closure cost more).
    return `${path.slice(i, i + 8)}-${path.slice(i + 9, i + 13)}-${path.slice(i + 14, i + 18)}-${path.slice(i + 19, i + 23)}-${path.slice(i + 24, end)}`;
  }
  return path.slice(start, end).replaceAll("_", "-");
}

/** QoS from the word that ends at `end` (a slice name's part before `-pod`, or the cgroupfs parent dir). */
function qosEndingAt(bytes: Uint8Array, end: number): QosClass {
  if (end >= 9 && spells(bytes, end - 9, "burstable")) return "burstable";
  if (end >= 10 && spells(bytes, end - 10, "besteffort")) return "besteffort";
  return "guaranteed";
}

const SCOPES: readonly (readonly [prefix: string, runtime: ContainerRuntime])[] = [
  ["cri-containerd-", "containerd"],
  ["crio-", "cri-o"],
  ["docker-", "docker"],
];

const DIGIT_0 = 48;
const COLON = 58;
const DOT = 46;
const SLASH = 47;
/** `kubepods/pod<32 hex>`: nothing shorter names a pod, and a container id alone is 64 characters. */
const SHORTEST_OWNER_PATH = 44;
/** `.slice` and `.scope`. */
const UNIT_SUFFIX = 6;

/**
 * Where `-pod<uid>` starts in a slice name ending at `end` (before `.slice`), or -1. The UID is the
 * last 32 or 36 characters, so `-pod` sits at one of two offsets: no search along the name. The
 * 32-digit place is tried first: it is the later `-pod` when both are there.
 */
function podInSlice(bytes: Uint8Array, from: number, end: number): number {
  const uidEnd = end - UNIT_SUFFIX;
  if (uidEnd - 36 >= from && spells(bytes, uidEnd - 36, "-pod")) return uidEnd - 36;
  if (uidEnd - 40 >= from && spells(bytes, uidEnd - 40, "-pod")) return uidEnd - 40;
  return -1;
}

/**
 * Reads pod UID, QoS class and container id out of one cgroup path (either kubelet cgroup driver, v1
 * or v2). The deepest match wins, so a node nested in a container (kind) still names the inner pod.
 * Components are compared in place (no slice per component): this runs for every process.
 */
export function describeCgroupPath(path: string): CgroupOwner {
  // The root and other short paths (`/`, `/init.scope`) name no pod: skip the encode and searches.
  if (path.length < SHORTEST_OWNER_PATH) return NONE;
  if (path.indexOf("kubepods") === -1 && path.indexOf(".scope") === -1 && path.indexOf("docker") === -1) {
    return NONE;
  }
  const bytes = asciiBytes(path, 0, path.length);
  const view = asciiView(bytes);
  let podUid: string | null = null;
  let qos: QosClass | null = null;
  let containerId: string | null = null;
  let runtime: ContainerRuntime | null = null;
  let sawKubepods = false;
  let prevStart = 0;
  let prevEnd = 0;
  let start = bytes[0] === SLASH ? 1 : 0;
  while (start < path.length) {
    let end = path.indexOf("/", start);
    if (end === -1) end = path.length;
    const len = end - start;
    // One byte tells most components from a systemd unit, so the suffix compares are rare.
    const unit = len > UNIT_SUFFIX && bytes[end - UNIT_SUFFIX] === DOT;
    if (unit && spells(bytes, end - UNIT_SUFFIX, ".slice")) {
      // systemd driver: `kubepods-burstable-pod<uid>.slice`, `kubelet-kubepods-pod<uid>.slice` (kind)
      // Most slice names start with it; a search finds it further in (`kubelet-kubepods-...`).
      const kube = spells(bytes, start, "kubepods") ? start : path.indexOf("kubepods", start);
      if (kube !== -1 && kube < end) {
        sawKubepods = true;
        const pod = podInSlice(bytes, kube, end);
        const uid = pod === -1 ? null : readPodUid(path, bytes, view, pod + 4, end - UNIT_SUFFIX);
        if (uid) {
          podUid = uid;
          qos = qosEndingAt(bytes, pod);
        }
      }
    } else if (unit && spells(bytes, end - UNIT_SUFFIX, ".scope")) {
      for (const [prefix, rt] of SCOPES) {
        // The id is the last 64 characters: only one prefix has the right length.
        if (len === prefix.length + 64 + UNIT_SUFFIX && spells(bytes, start, prefix)) {
          if (isContainerId(view, start + prefix.length, end - UNIT_SUFFIX)) {
            containerId = path.slice(start + prefix.length, end - UNIT_SUFFIX);
            runtime = rt;
          }
          break;
        }
      }
    } else if (len === 8 && spells(bytes, start, "kubepods")) {
      sawKubepods = true;
    } else if (sawKubepods && len >= 3 && spells(bytes, start, "pod")) {
      // cgroupfs driver: `/kubepods/<qos>/pod<uid>`, or `/kubepods/pod<uid>` for guaranteed pods
      const uid = readPodUid(path, bytes, view, start + 3, end);
      if (uid) {
        podUid = uid;
        qos = qosEndingAt(bytes, prevEnd);
      }
    } else if (isContainerId(view, start, end)) {
      containerId = path.slice(start, end);
      runtime = prevEnd - prevStart === 6 && spells(bytes, prevStart, "docker") ? "docker" : null;
    } else if (len === 5 + 64 && spells(bytes, start, "crio-") && isContainerId(view, start + 5, end)) {
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

/**
 * One line of the file, read in place: its controller list and path are sliced from the file text
 * when read. The process table reads only the owner, and slicing both on every line cost a tenth of
 * the parse (bench/parsers/proc.ts).
 */
class CgroupLine implements CgroupEntry {
  readonly hierarchyId: number;
  readonly line: number;
  readonly #text: string;
  /** The colons around the controller list; the path runs from the second to `#end`. */
  readonly #c1: number;
  readonly #c2: number;
  readonly #end: number;

  constructor(text: string, hierarchyId: number, c1: number, c2: number, end: number, line: number) {
    this.hierarchyId = hierarchyId;
    this.line = line;
    this.#text = text;
    this.#c1 = c1;
    this.#c2 = c2;
    this.#end = end;
  }

  get controllers(): string {
    return this.#text.slice(this.#c1 + 1, this.#c2);
  }
  get path(): string {
    return this.#text.slice(this.#c2 + 1, this.#end);
  }

  /** Every field as a plain object: what JSON and test snapshots show. */
  toJSON(): CgroupEntry {
    return { hierarchyId: this.hierarchyId, controllers: this.controllers, path: this.path, line: this.line };
  }
}

// A parse's lines are garbage once its caller is done with them: see keepShapes.
keepShapes(new CgroupLine("", 0, 0, 0, 0, 0));

/** Adds an issue, creating the list on the first one: most files have none. */
function withIssue(list: IssueList | null, code: IssueCode, message: string, line: number): IssueList {
  const issues = list ?? new IssueList();
  issues.add(code, message, line);
  return issues;
}

// Ranks of what a path says about its process, best first: the v2 line's path (kubelet manages v2 on
// v2 and hybrid hosts) when it names a pod, else a v1 line's that does; without a pod, a path that
// names a container, v2 first. Within a rank the first line counts.
const V2_POD = 4;
const V1_POD = 3;
const V2_CONTAINER = 2;
const V1_CONTAINER = 1;

/**
 * Parses `/proc/<pid>/cgroup` and says which pod and container the process belongs to. Bad lines are
 * skipped with an issue; a final line without its newline is dropped as `truncated`.
 */
export function parseCgroup(text: string): ParseResult<CgroupInfo> {
  let issues: IssueList | null = null;
  const entries: CgroupEntry[] = [];
  let hasV2 = false;
  let hasV1 = false;
  // The owner is the first path of the best rank (V2_POD, ...), found in the one walk over the lines:
  // a line's path is described unless the owner already has the best rank that line could give.
  let owner = NONE;
  let ownerPath: string | null = null;
  let rank = 0;
  /** The last path described and what it said: hybrid hosts repeat one path on most v1 lines. */
  let described = "";
  let said = NONE;
  const n = text.length;
  // A search for a colon runs on past a line without one; remembering where it ended keeps a run of
  // such lines from being searched again for each of them (quadratic).
  const colons = new NextChar(":");
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
      // The id's digits are read first: the colon that stops them is the first one, found without a
      // search (an indexOf and then readDecimal cost more on these short lines).
      let digitsEnd = start;
      let n = 0;
      for (; digitsEnd < end; digitsEnd++) {
        const d = text.charCodeAt(digitsEnd) - DIGIT_0;
        if (d < 0 || d > 9) break;
        n = n * 10 + d;
      }
      const c1 = text.charCodeAt(digitsEnd) === COLON ? digitsEnd : colons.find(text, digitsEnd);
      const c2 = c1 >= end ? -1 : colons.find(text, c1 + 1);
      // As readDecimal: 1 to 15 digits and nothing else.
      const id = c2 === -1 || c2 >= end ? -2 : c1 === digitsEnd && c1 > start && c1 - start <= 15 ? n : -1;
      if (id === -2) {
        issues = withIssue(issues, "malformed_line", "expected hierarchy-ID:controllers:path", lineNo);
      } else if (id < 0) {
        issues = withIssue(issues, "invalid_field", "bad hierarchy id", lineNo);
      } else {
        // The path is everything after the second colon: cgroup paths may themselves contain `:`.
        entries.push(new CgroupLine(text, id, c1, c2, end, lineNo));
        const v2 = id === 0 && c2 === c1 + 1;
        if (v2) hasV2 = true;
        else hasV1 = true;
        const pathLength = end - c2 - 1;
        // Short paths name nothing (see describeCgroupPath).
        if (pathLength >= SHORTEST_OWNER_PATH && rank < (v2 ? V2_POD : V1_POD)) {
          if (pathLength !== described.length || !text.startsWith(described, c2 + 1)) {
            described = text.slice(c2 + 1, end);
            said = describeCgroupPath(described);
          }
          let r = 0;
          if (said.podUid !== null) r = v2 ? V2_POD : V1_POD;
          else if (said.containerId !== null) r = v2 ? V2_CONTAINER : V1_CONTAINER;
          if (r > rank) {
            owner = said;
            ownerPath = described;
            rank = r;
          }
        }
      }
    }
    start = end + 1;
  }
  const version = hasV2 ? (hasV1 ? "hybrid" : "v2") : hasV1 ? "v1" : null;
  // Fields written out: a spread copies through a generic path, a cost on every file.
  const value: CgroupInfo = {
    entries,
    version,
    ownerPath,
    podUid: owner.podUid,
    qos: owner.qos,
    containerId: owner.containerId,
    runtime: owner.runtime,
  };
  return issues === null ? { ok: true, value } : result(value, issues.done());
}
