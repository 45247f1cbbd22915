import { describe, expect, it } from "vitest";
import { NormalizedEvent, parseRfc3339 } from "../../../shared/contracts/events.js";

const base = {
  id: "ev-1",
  type: "attach",
  diskId: "d-bp1g6qn7zcd3f8l2x9ab",
  instanceId: "i-8vb0ch3k2v",
  at: "2026-03-03T10:14:02Z",
};

describe("parseRfc3339", () => {
  it.each([
    ["2026-03-03T10:14:02Z", Date.UTC(2026, 2, 3, 10, 14, 2)],
    ["2026-03-03T18:14:02+08:00", Date.UTC(2026, 2, 3, 10, 14, 2)],
    ["2026-03-03T05:14:02.250-05:00", Date.UTC(2026, 2, 3, 10, 14, 2, 250)],
    ["2026-03-03t10:14:02.123456789z", Date.UTC(2026, 2, 3, 10, 14, 2, 123)],
    ["2026-03-03 10:14:02+00:00", Date.UTC(2026, 2, 3, 10, 14, 2)],
  ])("reads %s as UTC epoch ms", (text, ms) => {
    expect(parseRfc3339(text)).toBe(ms);
  });

  it.each([
    "2026-03-03T10:14:02", // no offset: ambiguous
    "2026-02-30T10:14:02Z", // no such day
    "2026-13-01T00:00:00Z",
    "03/03/2026 10:14",
    "",
  ])("rejects %j", (text) => {
    expect(parseRfc3339(text)).toBeNull();
  });
});

describe("ControlPlaneEvent", () => {
  it("normalises time, defaults the outcome and keeps unknown fields", () => {
    const r = NormalizedEvent.safeParse({ ...base, bdf: "0000:3B:00.5", mode: "vfio", region: "cn-hz" });
    expect(r.success, JSON.stringify(r.error?.issues)).toBe(true);
    expect(r.data).toMatchObject({
      outcome: "succeeded",
      bdf: "0000:3b:00.5",
      atMs: Date.UTC(2026, 2, 3, 10, 14, 2),
      region: "cn-hz",
    });
  });

  it("accepts PCI domains of up to 8 hex digits", () => {
    expect(NormalizedEvent.safeParse({ ...base, bdf: "10000:01:00.0" }).success).toBe(true);
  });

  it.each([
    [{ ...base, type: "reattach" }, "type"],
    [{ ...base, at: "yesterday" }, "at"],
    [{ ...base, bdf: "3b:00.5" }, "bdf"],
    [{ ...base, id: "" }, "id"],
    [{ ...base, mode: "passthrough" }, "mode"],
  ])("rejects a bad %s with the field path", (input, field) => {
    const r = NormalizedEvent.safeParse(input);
    expect(r.success).toBe(false);
    expect(r.error?.issues.map((i) => i.path.join("."))).toContain(field);
  });
});
