/**
 * What the control plane says is attached to a host at a moment, from its attach/detach events
 * (which arrive late, duplicated and out of order: they are sorted here, and only succeeded events
 * change state).
 */
import type { StoredEvent } from "../db/events.js";

export interface Attachment {
  readonly diskId: string;
  readonly bdf: string | null;
  readonly serial: string | null;
  readonly mode: "vfio" | "host" | null;
  readonly attach: StoredEvent;
  /** The detach that freed this BDF before this attach landed on it (the race window opens there). */
  readonly previousDetachOnBdf: StoredEvent | null;
}

export interface AttachmentState {
  /** Disks attached at `atMs`, by disk id. */
  readonly attached: ReadonlyMap<string, Attachment>;
  /** Disks whose last succeeded event before `atMs` is a detach, with that detach. */
  readonly detached: ReadonlyMap<string, StoredEvent>;
  /** Events considered (succeeded, at or before `atMs`), oldest first. */
  readonly timeline: readonly StoredEvent[];
}

/** Orders events by time, then id, so replays and out-of-order delivery give one answer. */
export function sortEvents(events: readonly StoredEvent[]): StoredEvent[] {
  return [...events].sort((a, b) => a.atMs - b.atMs || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
}

/** Replays succeeded attach/detach events up to `atMs`. */
export function attachmentsAt(events: readonly StoredEvent[], atMs: number): AttachmentState {
  const attached = new Map<string, Attachment>();
  const detached = new Map<string, StoredEvent>();
  const lastDetachOnBdf = new Map<string, StoredEvent>();
  const timeline: StoredEvent[] = [];
  for (const e of sortEvents(events)) {
    if (e.atMs > atMs || e.outcome !== "succeeded") continue;
    timeline.push(e);
    if (e.type === "attach") {
      attached.set(e.diskId, {
        diskId: e.diskId,
        bdf: e.bdf,
        serial: e.serial,
        mode: e.mode,
        attach: e,
        previousDetachOnBdf: e.bdf ? (lastDetachOnBdf.get(e.bdf) ?? null) : null,
      });
      detached.delete(e.diskId);
    } else {
      const was = attached.get(e.diskId);
      attached.delete(e.diskId);
      detached.set(e.diskId, e);
      const bdf = e.bdf ?? was?.bdf ?? null;
      if (bdf) lastDetachOnBdf.set(bdf, e.bdf ? e : { ...e, bdf });
    }
  }
  return { attached, detached, timeline };
}
