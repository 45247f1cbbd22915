import { describe, expect, it } from "vitest";
import { parseSnapshotKey, snapshotKey } from "../../../shared/contracts/snapshot.js";

describe("snapshot keys", () => {
  const sha256 = "a".repeat(64);

  it("lays keys out by host and UTC day and reads them back", () => {
    const key = snapshotKey({ hostId: "i-8vb0ch3k2v", capturedAtMs: Date.UTC(2026, 10, 26, 23, 59), sha256 });
    expect(key).toBe(`snapshots/i-8vb0ch3k2v/2026-11-26/${Date.UTC(2026, 10, 26, 23, 59)}-${sha256}.json.gz`);
    expect(parseSnapshotKey(key)).toEqual({
      hostId: "i-8vb0ch3k2v",
      capturedAtMs: Date.UTC(2026, 10, 26, 23, 59),
      sha256,
    });
  });

  it("escapes host ids that contain a slash", () => {
    const key = snapshotKey({ hostId: "zone/a b", capturedAtMs: 0, sha256 });
    expect(key.split("/")).toHaveLength(4);
    expect(parseSnapshotKey(key)?.hostId).toBe("zone/a b");
  });

  it.each(["reports/x.json", "snapshots/h/2026-01-01/1-abc.json.gz", ""])("ignores foreign key %j", (key) => {
    expect(parseSnapshotKey(key)).toBeNull();
  });
});
