/**
 * Hand-captured `ls` outputs (reference/evidence-formats.md §1, §3): `ls -l /sys/block` (or its `find
 * -printf '%f %l\n'` equivalent), `ls [-l] /dev/vfio` and `ls [-l] /sys/kernel/iommu_groups/N/devices`.
 * The date columns of `ls -l` vary with locale and age, so entries are read from the ` -> ` separator
 * or from the last column, never by column position.
 */
import { BDF_RE } from "../../contracts/events.js";
import { basename } from "../evidence.js";
import { IssueList, type ParseResult, result } from "../result.js";
import {
  eachCompleteLine,
  isLsError,
  isLsLongLine,
  isLsTotalLine,
  parseDecimal,
  reportReplacementChars,
  splitShellWords,
  splitWords,
} from "./lines.js";

/** One symlink of `/sys/block`: the gendisk name (or the full path in the single-entry form) and its target. */
export interface BlockDeviceLink {
  /** `nvme2n1`, or `/sys/block/nvme2n1` when ls was given the path itself. */
  readonly name: string;
  /** Relative to /sys/block as readlink returns it: `../devices/pci0000:3a/.../nvme2n1`. */
  readonly target: string;
  readonly line: number;
}

const LINK_SEPARATOR = " -> ";
const SHELL_QUOTING = /['"\\$]/;

/**
 * Reads `name -> target` from an `ls -l` line, undoing the shell quoting ls applies on a TTY. Names in
 * sysfs have no blanks, so without quoting the name is the last word before the separator.
 */
function readLsLink(line: string): { name: string; target: string } | null {
  if (SHELL_QUOTING.test(line)) {
    const words = splitShellWords(line);
    // The name is the word before the first bare `->`; a non-TTY line with a raw quote in a name
    // does not split as shell words and falls through to the plain reading.
    const arrow = words ? words.indexOf("->", 1) : -1;
    const name = words?.[arrow - 1];
    if (words && arrow > 0 && name !== undefined && arrow + 1 < words.length) {
      const rest = words.slice(arrow + 1);
      return { name, target: rest.join(" ") };
    }
  }
  const sep = line.indexOf(LINK_SEPARATOR);
  if (sep <= 0) return null;
  const name = line.slice(line.lastIndexOf(" ", sep - 1) + 1, sep);
  const target = line.slice(sep + LINK_SEPARATOR.length);
  if (name === "" || target === "") return null;
  return { name, target };
}

/**
 * Parses `ls -l /sys/block`, `ls -l /sys/block/<dev>` or `find /sys/block -maxdepth 1 -mindepth 1
 * -printf '%f %l\n'` into name/target pairs; `ls: cannot access ...` lines become `missing` issues.
 */
export function parseLsLSysBlock(text: string): ParseResult<BlockDeviceLink[]> {
  const issues = new IssueList();
  const links: BlockDeviceLink[] = [];
  reportReplacementChars(text, issues);
  eachCompleteLine(text, issues, (line, lineNo) => {
    if (line.trim() === "" || isLsTotalLine(line)) return;
    if (isLsError(line)) {
      issues.add("missing", line, lineNo);
      return;
    }
    if (isLsLongLine(line) || line.includes(LINK_SEPARATOR)) {
      if (isLsLongLine(line) && !line.startsWith("l")) {
        issues.add("malformed_line", "not a symlink: /sys/block holds only links", lineNo);
        return;
      }
      const link = readLsLink(line);
      if (link) links.push({ ...link, line: lineNo });
      else issues.add("malformed_line", "symlink line without `name -> target`", lineNo);
      return;
    }
    // find -printf '%f %l\n': the kernel's disk names have no blanks, targets may (never in practice).
    const space = line.indexOf(" ");
    const target = space === -1 ? "" : line.slice(space + 1);
    if (space <= 0 || !(target.startsWith("../") || target.startsWith("/"))) {
      issues.add("malformed_line", "expected `ls -l` or `find -printf '%f %l'` output", lineNo);
      return;
    }
    links.push({ name: line.slice(0, space), target, line: lineNo });
  });
  return result(links, issues.done());
}

export const VFIO_NODE_KINDS = ["group", "container", "devices-dir", "noiommu", "other"] as const;
/** What an entry of /dev/vfio is, by name (§3.1). */
export type VfioNodeKind = (typeof VFIO_NODE_KINDS)[number];

/** One entry of `ls [-l] /dev/vfio`; major/minor only from the `-l` form of a device node. */
export interface VfioNode {
  readonly name: string;
  readonly kind: VfioNodeKind;
  /** IOMMU group number for `<G>` and `noiommu-<G>`. */
  readonly group: number | null;
  readonly major: number | null;
  readonly minor: number | null;
  readonly line: number;
}

// The legacy container is the misc device 10:196 (VFIO_MINOR in include/linux/miscdevice.h).
const VFIO_CONTAINER_MAJOR = 10;
const VFIO_CONTAINER_MINOR = 196;

function vfioNodeKind(name: string): { kind: VfioNodeKind; group: number | null } {
  const digits = parseDecimal(name);
  if (digits !== -1) return { kind: "group", group: digits };
  if (name === "vfio") return { kind: "container", group: null };
  if (name === "devices") return { kind: "devices-dir", group: null };
  if (name.startsWith("noiommu-")) {
    const group = parseDecimal(name.slice("noiommu-".length));
    if (group !== -1) return { kind: "noiommu", group };
  }
  return { kind: "other", group: null };
}

/** `243,   0` is two words and `243,0` one; returns [major, minor] or null. */
function readDeviceNumbers(words: readonly string[]): [number, number] | null {
  for (let i = 2; i < words.length - 1; i++) {
    const w = words[i] ?? "";
    const comma = w.indexOf(",");
    if (comma <= 0) continue;
    const major = parseDecimal(w.slice(0, comma));
    const minor = parseDecimal(comma === w.length - 1 ? (words[i + 1] ?? "") : w.slice(comma + 1));
    if (major === -1 || minor === -1) return null;
    return [major, minor];
  }
  return null;
}

/**
 * Parses `ls /dev/vfio` (names in columns or one per line) or `ls -l /dev/vfio` into typed entries;
 * `ls: cannot access '/dev/vfio'` (vfio not loaded) becomes a `missing` issue and an empty list.
 */
export function parseLsDevVfio(text: string): ParseResult<VfioNode[]> {
  const issues = new IssueList();
  const nodes: VfioNode[] = [];
  reportReplacementChars(text, issues);
  eachCompleteLine(text, issues, (line, lineNo) => {
    if (line.trim() === "" || isLsTotalLine(line)) return;
    if (isLsError(line)) {
      issues.add("missing", line, lineNo);
      return;
    }
    if (line.endsWith(":")) {
      issues.add(
        "unsupported",
        "listing of several directories; entries read without their directory",
        lineNo,
      );
      return;
    }
    if (!isLsLongLine(line)) {
      for (const name of splitWords(line))
        nodes.push({ name, ...vfioNodeKind(name), major: null, minor: null, line: lineNo });
      return;
    }
    const words = splitWords(line);
    const arrow = words.indexOf("->");
    const name = arrow > 0 ? words[arrow - 1] : words[words.length - 1];
    if (name === undefined || words.length < 6) {
      issues.add("malformed_line", "`ls -l` line without a name", lineNo);
      return;
    }
    const fileType = line[0];
    let devno: [number, number] | null = null;
    if (fileType === "c" || fileType === "b") {
      devno = readDeviceNumbers(words);
      if (!devno) issues.add("invalid_field", "device node without `major, minor`", lineNo);
    }
    const node: VfioNode = {
      name,
      ...vfioNodeKind(name),
      major: devno?.[0] ?? null,
      minor: devno?.[1] ?? null,
      line: lineNo,
    };
    if (
      node.kind === "container" &&
      devno &&
      (devno[0] !== VFIO_CONTAINER_MAJOR || devno[1] !== VFIO_CONTAINER_MINOR)
    ) {
      issues.add("inconsistent", `/dev/vfio/vfio is ${devno[0]},${devno[1]}, expected 10,196`, lineNo);
    }
    nodes.push(node);
  });
  return result(nodes, issues.done());
}

/**
 * Parses `ls /sys/kernel/iommu_groups/N/devices` (plain names) or its `ls -l` form (links) into the
 * group's member PCI addresses, lowercased; a link whose target ends in another BDF is `inconsistent`.
 */
export function parseLsIommuGroupDevices(text: string): ParseResult<string[]> {
  const issues = new IssueList();
  const bdfs: string[] = [];
  reportReplacementChars(text, issues);
  const addBdf = (word: string, lineNo: number) => {
    const bdf = word.toLowerCase();
    if (BDF_RE.test(bdf)) bdfs.push(bdf);
    else issues.add("invalid_field", `not a PCI address: ${JSON.stringify(word.slice(0, 80))}`, lineNo);
  };
  eachCompleteLine(text, issues, (line, lineNo) => {
    if (line.trim() === "" || isLsTotalLine(line)) return;
    if (isLsError(line)) {
      issues.add("missing", line, lineNo);
      return;
    }
    if (line.endsWith(":")) {
      issues.add("unsupported", "listing of several groups; list one group per capture", lineNo);
      return;
    }
    if (!isLsLongLine(line)) {
      for (const word of splitWords(line)) addBdf(word, lineNo);
      return;
    }
    const link = readLsLink(line);
    if (!link) {
      issues.add("malformed_line", "expected a `BDF -> ../../../../devices/...` link", lineNo);
      return;
    }
    addBdf(link.name, lineNo);
    if (basename(link.target).toLowerCase() !== link.name.toLowerCase()) {
      issues.add("inconsistent", `link ${link.name} points at ${basename(link.target)}`, lineNo);
    }
  });
  return result(bdfs, issues.done());
}
