import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { SnapshotBundle, validateBundle } from "../../../shared/contracts/snapshot.js";
import { makeBundle } from "../../support/bundles.js";

const entry = fc.oneof(
  fc.record(
    {
      kind: fc.constantFrom("file", "link", "dir", "error", "timeout", "bogus"),
      data: fc.oneof(fc.string(), fc.integer()),
      encoding: fc.constantFrom(undefined, "utf8", "base64", "latin1"),
      bytes: fc.oneof(fc.nat(), fc.integer({ min: -5, max: -1 }), fc.double()),
      capped: fc.constantFrom(undefined, true, "yes"),
    },
    { requiredKeys: ["kind"] },
  ),
  fc.record({ kind: fc.constant("link"), target: fc.oneof(fc.string(), fc.constant(null)) }),
  fc.record({ kind: fc.constant("dir"), names: fc.array(fc.oneof(fc.string(), fc.integer())) }),
  fc.record({
    kind: fc.constantFrom("error", "timeout"),
    op: fc.constantFrom("read", "readlink", "readdir", "stat", "write"),
    code: fc.string(),
    message: fc.string(),
    afterMs: fc.oneof(fc.nat(), fc.constant(-1), fc.constant(Number.NaN)),
  }),
  fc.anything(),
);

describe("validateBundle", () => {
  it("accepts and rejects exactly what the zod schema accepts and rejects", () => {
    fc.assert(
      fc.property(fc.dictionary(fc.string(), entry, { maxKeys: 6 }), (evidence) => {
        const candidate = { ...makeBundle({ hostId: "i-prop" }), evidence };
        const expected = SnapshotBundle.safeParse(structuredClone(candidate));
        const actual = validateBundle(structuredClone(candidate));
        expect(actual.success).toBe(expected.success);
        // zod strips keys it does not know; the fast path keeps them (harmless: nothing reads them).
        if (actual.success && expected.success) expect(actual.data).toMatchObject(expected.data);
      }),
      { numRuns: 500 },
    );
  });

  it("accepts a base64 file only when its data is standard base64, as zod does", () => {
    const file = (data: string) => ({ kind: "file", encoding: "base64", data, bytes: 3 });
    for (const [data, ok] of [
      ["", true],
      ["YWJj", true],
      ["YWI=", true],
      ["YQ==", true],
      ["+/+/", true],
      ["YWJ", false],
      ["YQ=", false],
      ["Y===", false],
      ["YW=j", false],
      ["YWJj\n", false],
      ["not base64!", false],
      ["YWJj====", false],
    ] as const) {
      const candidate = { ...makeBundle({ hostId: "i-b64" }), evidence: { "dev/kmsg": file(data) } };
      expect(validateBundle(structuredClone(candidate)).success, data).toBe(ok);
      expect(SnapshotBundle.safeParse(structuredClone(candidate)).success, data).toBe(ok);
    }
    const r = validateBundle({ ...makeBundle({ hostId: "i-b64" }), evidence: { "dev/kmsg": file("%%") } });
    expect(r.success).toBe(false);
    if (!r.success) {
      expect(r.error.issues[0]?.path).toEqual(["evidence", "dev/kmsg", "data"]);
      expect(r.error.issues[0]?.message).toBe("encoding is base64 but data is not base64");
    }
  });

  it("explains a failure with zod's issue paths", () => {
    const r = validateBundle({
      ...makeBundle({ hostId: "i-x" }),
      evidence: { "sys/block/": { kind: "dir", names: [1] } },
    });
    expect(r.success).toBe(false);
    if (!r.success) expect(r.error.issues[0]?.path).toEqual(["evidence", "sys/block/", "names", 0]);
  });
});
