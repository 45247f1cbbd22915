/**
 * What the control plane says is attached, and whether the host reached the expected end state for it
 * (reference §11.1 trigger): a block device in host mode, vfio-pci with its group node (or device cdev)
 * in vfio mode; with the INC-1 sub-state (1a-1g) when it did not.
 */
import type { StoredEvent } from "../../db/events.js";
import type { SysfsNvmeController } from "../../parse/sysfs.js";
import type { HostView, PciJoin } from "../../view/host-view.js";
import { type Attachment, type AttachmentState, attachmentsAt } from "../attachments.js";
import type { EvidenceItem } from "../types.js";
import { factItem, sysfsItem, sysfsRaw } from "./evidence.js";

/** Reference §11.1: the host gets 60 s after an attach before a missing device means anything. */
export const GRACE_MS = 60_000;

export type DiskMode = "vfio" | "host";

/** The driver each mode needs. */
export function expectedDriver(mode: DiskMode): "vfio-pci" | "nvme" {
  return mode === "vfio" ? "vfio-pci" : "nvme";
}

/** vfio-pci and its vendor variants (`mlx5_vfio_pci`, `hisi_acc_vfio_pci`) all make the group node. */
export function isVfioDriver(driver: string): boolean {
  return driver.includes("vfio");
}

/** A disk the control plane has attached at a known BDF. */
export interface DiskOnHost {
  readonly attachment: Attachment;
  readonly bdf: string;
  readonly mode: DiskMode | null;
  /** Time since the attach at capture. */
  readonly ageMs: number;
  /** Past the grace: a missing device now means something. */
  readonly ready: boolean;
  /** `<diskId>|<attachEventId>`: one attach, one episode. */
  readonly attachSubject: string;
  /** `<bdf>|<diskId>`. */
  readonly pairSubject: string;
}

/** The control-plane state at capture, the attached disks with a BDF, and subjects no longer current. */
export interface ControlPlaneAtCapture {
  readonly state: AttachmentState;
  readonly disks: readonly DiskOnHost[];
  /** Attached disks the event did not give a BDF for: nothing on the host can be checked for them. */
  readonly withoutBdf: readonly Attachment[];
  /** `<diskId>|<attachEventId>` of succeeded attaches that a later event superseded (detach or re-attach). */
  readonly endedAttachSubjects: readonly string[];
  /** `<bdf>|<diskId>` pairs some attach created that no attached disk holds now. */
  readonly endedPairSubjects: readonly string[];
}

/** Replays the events up to the capture and lists attached disks with their grace and subjects. */
export function controlPlaneAtCapture(view: HostView, events: readonly StoredEvent[]): ControlPlaneAtCapture {
  const state = attachmentsAt(events, view.capturedAtMs);
  const disks: DiskOnHost[] = [];
  const withoutBdf: Attachment[] = [];
  for (const a of state.attached.values()) {
    if (!a.bdf) {
      withoutBdf.push(a);
      continue;
    }
    const ageMs = view.capturedAtMs - a.attach.atMs;
    disks.push({
      attachment: a,
      bdf: a.bdf,
      mode: a.mode,
      ageMs,
      ready: ageMs > GRACE_MS,
      attachSubject: `${a.diskId}|${a.attach.id}`,
      pairSubject: `${a.bdf}|${a.diskId}`,
    });
  }
  const currentAttach = new Set(disks.map((d) => d.attachSubject));
  for (const a of withoutBdf) currentAttach.add(`${a.diskId}|${a.attach.id}`);
  const currentPairs = new Set(disks.map((d) => d.pairSubject));
  const endedAttach = new Set<string>();
  const endedPairs = new Set<string>();
  for (const e of state.timeline) {
    if (e.type !== "attach") continue;
    const attachSubject = `${e.diskId}|${e.id}`;
    if (!currentAttach.has(attachSubject)) endedAttach.add(attachSubject);
    if (e.bdf && !currentPairs.has(`${e.bdf}|${e.diskId}`)) endedPairs.add(`${e.bdf}|${e.diskId}`);
  }
  disks.sort((a, b) => a.attachment.attach.atMs - b.attachment.attach.atMs || (a.bdf < b.bdf ? -1 : 1));
  return {
    state,
    disks,
    withoutBdf,
    endedAttachSubjects: [...endedAttach].sort(),
    endedPairSubjects: [...endedPairs].sort(),
  };
}

export const SUB_STATE_IDS = ["1a", "1b", "1c", "1d", "1e", "1f", "1g", "other"] as const;
export type SubStateId = (typeof SUB_STATE_IDS)[number];

/** An INC-1 sub-state at snapshot (reference §11.1 table) with the remedy the reference gives. */
export interface SubState {
  readonly id: SubStateId;
  readonly text: string;
  readonly remedy: string;
}

export interface EndState {
  readonly status: "met" | "missing" | "unknown";
  /** What the host shows for the disk, in a phrase (`no block device`, `unbound, no /dev/vfio/63`). */
  readonly what: string;
  /** Every sub-state that applies; the first is the primary one (reference: first match wins). */
  readonly subStates: readonly SubState[];
  readonly evidence: readonly EvidenceItem[];
  readonly blindSpots: readonly string[];
  /** Facts that contradict each other (vfio-pci bound, no group node): maybe a bind raced the capture (§3.3, §14). */
  readonly contradictory: boolean;
}

type Tri = "yes" | "no" | "unknown";

const BRINGUP_STATES = ["new", "connecting", "resetting", "deleting", "deleting (no IO)", "dead"];

/** Whether the host has the expected device for an attached disk, and the sub-state when it has not. */
export function endStateOf(view: HostView, disk: DiskOnHost): EndState {
  const { bdf, mode } = disk;
  const j = view.pci.get(bdf);
  const blindSpots: string[] = [];
  if (mode === null) {
    blindSpots.push("the attach event gave no mode: either a block device or a vfio group counts as arrived");
  }
  if (!j?.fn) {
    const listing = view.sysfs.coverage.pciFunctions;
    if (!listing.complete) {
      return {
        status: "unknown",
        what: `the PCI device listing was not readable, so ${bdf} cannot be checked`,
        subStates: [],
        evidence: [
          factItem(view, { path: listing.source, raw: "(listing unreadable)", note: "PCI devices" }),
        ],
        blindSpots: [...blindSpots, "sys/bus/pci/devices could not be listed"],
        contradictory: false,
      };
    }
    return {
      status: "missing",
      what: `${bdf} is not on the PCI bus`,
      subStates: [subState1g(bdf)],
      evidence: [
        factItem(view, {
          path: listing.source,
          raw: `(no entry ${bdf})`,
          note: `${bdf} is not listed: no PCI function was hot-added for the disk`,
        }),
      ],
      blindSpots,
      contradictory: false,
    };
  }

  const evidence: EvidenceItem[] = [
    sysfsItem(
      view,
      j.fn.driver,
      (v) => v ?? "(no driver link: unbound)",
      "driver bound to the disk's PCI function",
    ),
  ];
  const block = blockState(view, j);
  const vfio = vfioState(view, j);
  // Cite the side the mode asks for (both when the event gave no mode).
  for (const side of mode === "host" ? [block] : mode === "vfio" ? [vfio] : [block, vfio]) {
    evidence.push(...side.evidence);
    blindSpots.push(...side.blindSpots);
  }

  let have: Tri;
  let what: string;
  if (mode === "host") {
    have = block.have;
    what = block.what;
  } else if (mode === "vfio") {
    have = vfio.have;
    what = vfio.what;
  } else {
    have =
      block.have === "yes" || vfio.have === "yes"
        ? "yes"
        : block.have === "no" && vfio.have === "no"
          ? "no"
          : "unknown";
    what = `${block.what}; ${vfio.what}`;
  }
  if (have !== "no") {
    return {
      status: have === "yes" ? "met" : "unknown",
      what,
      subStates: [],
      evidence,
      blindSpots,
      contradictory: false,
    };
  }
  const override = j.driverOverride;
  for (const c of j.controllers) {
    evidence.push(sysfsItem(view, c.state, (v) => v, `state of controller ${c.name} at ${bdf}`));
    evidence.push(
      sysfsItem(view, c.namespaces, (v) => v.join(" ") || "(no namespaces)", `namespaces of ${c.name}`),
    );
  }
  evidence.push(
    sysfsItem(view, j.fn.driverOverride, (v) => v ?? "(null)", "driver_override: who may probe next"),
  );
  if (mode === "vfio") {
    evidence.push(
      sysfsItem(
        view,
        j.fn.iommuGroup,
        (v) => v ?? "(no iommu_group link)",
        "IOMMU group (vfio-pci needs one)",
      ),
    );
  }
  return {
    status: "missing",
    what,
    subStates: subStatesOf({ j, mode, override }),
    evidence,
    blindSpots,
    contradictory: vfio.contradictory && mode !== "host",
  };
}

interface Side {
  have: Tri;
  what: string;
  evidence: EvidenceItem[];
  blindSpots: string[];
  contradictory: boolean;
}

/** Host mode: a visible (not hidden-path) block device with a non-zero size on the function. */
function blockState(view: HostView, j: PciJoin): Side {
  const devices = j.blockDevices.filter((b) => !b.hidden);
  const evidence = devices.map((b) =>
    sysfsItem(
      view,
      b.sizeSectors,
      (v) => String(v),
      `block device ${b.name} on ${j.bdf}: size in 512-byte sectors`,
    ),
  );
  const good = devices.find((b) => b.sizeSectors.known && b.sizeSectors.value > 0);
  if (good)
    return { have: "yes", what: `block device ${good.name}`, evidence, blindSpots: [], contradictory: false };
  if (devices.some((b) => !b.sizeSectors.known)) {
    return {
      have: "unknown",
      what: `block device ${devices.map((b) => b.name).join(", ")} of unreadable size`,
      evidence,
      blindSpots: ["a block device's size could not be read (a sysfs read that hangs is itself RC-8)"],
      contradictory: false,
    };
  }
  if (devices.length > 0) {
    return {
      have: "no",
      what: `block device ${devices.map((b) => b.name).join(", ")} with size 0`,
      evidence,
      blindSpots: [],
      contradictory: false,
    };
  }
  const listing = view.sysfs.coverage.blockDevices;
  // A /sys/block entry whose link could not be read might be this function's; a multipath head is
  // reached only through a controller's namespace listing.
  const unplaced = view.sysfs.blockDevices.filter((b) => !b.target.known).map((b) => b.name);
  const headsUnjoined =
    j.controllers.some((c) => !c.namespaces.known) &&
    view.sysfs.blockDevices.some((b) => b.kind === "nvme-head");
  if (!listing.complete || unplaced.length > 0 || headsUnjoined) {
    return {
      have: "unknown",
      what: "no block device found, but the block listing is incomplete",
      evidence,
      blindSpots: [
        !listing.complete
          ? "sys/block could not be listed"
          : unplaced.length > 0
            ? `sys/block entries with unreadable links: ${unplaced.join(", ")}`
            : "a controller's namespace listing was unreadable and multipath heads exist",
      ],
      contradictory: false,
    };
  }
  evidence.push(
    factItem(view, {
      path: listing.source,
      raw: `(no entry on ${j.bdf})`,
      note: `no /sys/block entry leads to ${j.bdf}`,
    }),
  );
  return { have: "no", what: "no block device", evidence, blindSpots: [], contradictory: false };
}

/** vfio mode: a vfio driver bound, and the group node `/dev/vfio/<G>` or the device cdev present. */
function vfioState(view: HostView, j: PciJoin): Side {
  const fn = j.fn;
  const driver = j.driver;
  if (!fn || driver === undefined) {
    return {
      have: "unknown",
      what: "driver binding unreadable",
      evidence: [],
      blindSpots: [`the driver link of ${j.bdf} could not be read`],
      contradictory: false,
    };
  }
  const nodes = view.sysfs.vfio.groupNodes;
  const listing = (note: string) =>
    factItem(view, {
      path: nodes.source,
      raw: sysfsRaw(nodes, (v) => v.map((n) => n.name).join(" ") || "(no group nodes)"),
      note,
    });
  if (driver === null || !isVfioDriver(driver)) {
    const group = j.iommuGroup ? `, no /dev/vfio/${j.iommuGroup}` : "";
    return {
      have: "no",
      what: driver === null ? `unbound${group}` : `bound to ${driver}${group}`,
      evidence: j.iommuGroup
        ? [listing(`no node for group ${j.iommuGroup}: no vfio driver holds ${j.bdf}`)]
        : [],
      blindSpots: [],
      contradictory: false,
    };
  }
  const cdev = fn.vfioDev;
  if (cdev.known && cdev.value !== null) {
    return {
      have: "yes",
      what: `bound to ${driver} with device cdev ${cdev.value}`,
      evidence: [],
      blindSpots: [],
      contradictory: false,
    };
  }
  if (j.vfioNode === true) {
    return {
      have: "yes",
      what: `bound to ${driver} with /dev/vfio/${j.iommuGroup}`,
      evidence: [],
      blindSpots: [],
      contradictory: false,
    };
  }
  if (j.vfioNode === null || !cdev.known) {
    return {
      have: "unknown",
      what: `bound to ${driver}, /dev/vfio not readable`,
      evidence: [],
      blindSpots: ["/dev/vfio (or the function's vfio-dev/) could not be read"],
      contradictory: false,
    };
  }
  return {
    have: "no",
    what: j.iommuGroup
      ? `bound to ${driver} but /dev/vfio/${j.iommuGroup} is absent`
      : `bound to ${driver} with no IOMMU group`,
    evidence: [
      listing(j.iommuGroup ? `no node for group ${j.iommuGroup}` : "no IOMMU group, so no node can exist"),
    ],
    blindSpots: j.iommuGroup
      ? [
          "vfio-pci bound without its group node is inconsistent: a bind may have raced the capture (reference §3.3)",
        ]
      : [],
    contradictory: j.iommuGroup !== null,
  };
}

function subState1g(bdf: string): SubState {
  return {
    id: "1g",
    text: `${bdf} is not under /sys/bus/pci/devices: the attach never reached the host (no hot-add)`,
    remedy: "the host never saw the disk: check the attach on the cloud side and re-attach",
  };
}

function ctrlState(c: SysfsNvmeController): string | null {
  return c.state.known ? c.state.value : null;
}

/** The §11.1 sub-state table, every row that applies, in table order. */
function subStatesOf(args: {
  j: PciJoin;
  mode: DiskMode | null;
  override: string | null | undefined;
}): SubState[] {
  const { j, mode, override } = args;
  const driver = j.driver;
  const bdf = j.bdf;
  const out: SubState[] = [];
  if (mode === "vfio" && driver === "nvme") {
    out.push({
      id: "1a",
      text: `nvme holds ${bdf} where vfio-pci is expected (autoprobe or a stale override claimed it; a vfio bind gets EBUSY on ≥5.14, ENODEV before)`,
      remedy: `unbind nvme (echo ${bdf} > /sys/bus/pci/drivers/nvme/unbind), echo vfio-pci > /sys/bus/pci/devices/${bdf}/driver_override, echo ${bdf} > /sys/bus/pci/drivers_probe, then re-read the driver link`,
    });
  }
  if (mode === "host" && driver && isVfioDriver(driver)) {
    out.push({
      id: "1b",
      text: `${driver} holds ${bdf} where nvme is expected (driver_override=vfio-pci left by the VF's previous tenant, or a vfio-pci dynid)`,
      remedy: `unbind ${driver}, set driver_override to nvme (or clear it with an empty write), echo ${bdf} > /sys/bus/pci/drivers_probe, re-read the driver link`,
    });
  }
  const ctrls: readonly SysfsNvmeController[] = j.controllers;
  const live = ctrls.find((c) => ctrlState(c) === "live");
  if (driver === "nvme" && live && live.namespaces.known && live.namespaces.value.length === 0) {
    out.push({
      id: "1c",
      text: `controller ${live.name} is live with zero namespaces: it came up before the disk was attached and the namespace was never rescanned`,
      remedy: `nvme ns-rescan /dev/${live.name} (or echo 1 > /sys/class/nvme/${live.name}/rescan_controller)`,
    });
  } else if (
    driver === "nvme" &&
    (ctrls.length === 0 || ctrls.some((c) => BRINGUP_STATES.includes(ctrlState(c) ?? "")))
  ) {
    const states = ctrls.map((c) => `${c.name}=${ctrlState(c) ?? "unknown"}`).join(", ");
    out.push({
      id: "1d",
      text:
        ctrls.length === 0
          ? "nvme is bound but no controller exists: bring-up failed"
          : `controller bring-up failed or is still running (${states})`,
      remedy: `check the kernel log for the controller; once the disk is really attached, unbind and reprobe ${bdf}`,
    });
  }
  if (driver === null) {
    const expected = mode ? expectedDriver(mode) : null;
    const detail: string[] = [];
    if (override === "none") detail.push("driver_override=none opts the function out of every driver");
    else if (override && expected && override !== expected) {
      detail.push(
        `driver_override=${override} lets only ${override} probe it, but the disk needs ${expected}`,
      );
    } else if (override) detail.push(`driver_override=${override}`);
    if (mode === "vfio" && j.iommuGroup === null)
      detail.push("it has no IOMMU group, so vfio-pci cannot bind");
    const failures = j.kernelFacts.filter((f) => FAILURE_KINDS.has(f.fact.kind));
    if (failures.length > 0)
      detail.push(`the kernel log has ${failures.length} probe-failure line(s) for it`);
    const target = expected ?? "the expected driver";
    out.push({
      id: "1e",
      text: `no driver is bound to ${bdf}: a probe failed or was rejected${detail.length ? ` (${detail.join("; ")})` : ""}`,
      remedy: `echo ${target} > /sys/bus/pci/devices/${bdf}/driver_override, echo ${bdf} > /sys/bus/pci/drivers_probe, then re-read the driver link (drivers_probe reports success even when nothing binds)`,
    });
  }
  if (driver?.includes("stub")) {
    out.push({
      id: "1f",
      text: `${driver} holds ${bdf}: the platform considers the slot empty while the control plane says the disk is attached`,
      remedy:
        "the control plane and the host disagree: check the disk's state on the cloud side before rebinding",
    });
  }
  if (out.length === 0) {
    out.push({
      id: "other",
      text: `none of the INC-1 sub-states fits (driver ${driver ?? "none"})`,
      remedy: "compare the driver, controller and block device state with the attach by hand",
    });
  }
  return out;
}

/** Kernel log facts that say a probe or bring-up failed (reference §2.5, §11.1 step 4). */
export const FAILURE_KINDS: ReadonlySet<string> = new Set([
  "nvme_removed_after_probe_failure",
  "probe_failed",
  "nvme_not_ready",
]);

/** `disk d-x (vfio mode)` for summaries; `Disk …` to start a sentence. */
export function diskLabel(
  d: { diskId: string; mode: DiskMode | null },
  opts: { sentence?: boolean } = {},
): string {
  return `${opts.sentence ? "Disk" : "disk"} ${d.diskId}${d.mode ? ` (${d.mode} mode)` : ""}`;
}
