/** Evidence entries in the bundle layout, for tests that build a bundle's `evidence` by hand. */
import type { EvidenceEntry } from "../../shared/contracts/snapshot.js";

/** A text file read whole (or cut by the size cap), as the shipper records it (no `encoding`: UTF-8). */
export const file = (data: string, capped?: boolean): EvidenceEntry => ({
  kind: "file",
  data,
  bytes: new TextEncoder().encode(data).length,
  ...(capped ? { capped } : {}),
});

export const link = (target: string): EvidenceEntry => ({ kind: "link", target });

export const dir = (names: string[], capped?: boolean): EvidenceEntry => ({
  kind: "dir",
  names,
  ...(capped ? { capped } : {}),
});
