import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { EvidenceEntry } from "../../../shared/contracts/snapshot.js";
import { parseCommandLine, parseDuration, parseEndpoint, UsageError } from "../../../shipper/args.js";
import { changeDigest } from "../../../shipper/bundle.js";
import { traceNowTs } from "../../../shipper/collect-kernel.js";
import { nsfsMountPins } from "../../../shipper/collect-proc.js";
import { encodeFile } from "../../../shipper/collect-read.js";
import { spooledHostId } from "../../../shipper/ship.js";

describe("shipper properties", () => {
  it("encodeFile keeps every byte: UTF-8 text as is, anything else base64", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 512 }), (bytes) => {
        const { entry } = encodeFile(bytes, false);
        if (entry.kind !== "file") throw new Error("not a file entry");
        const back =
          entry.encoding === "base64" ? Buffer.from(entry.data, "base64") : Buffer.from(entry.data, "utf8");
        expect(back.equals(Buffer.from(bytes))).toBe(true);
        expect(entry.bytes).toBe(bytes.length);
      }),
    );
  });

  it("a capped UTF-8 text is cut on a character boundary, at most 3 bytes short", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary", maxLength: 200 }), fc.nat(), (text, at) => {
        const all = Buffer.from(text, "utf8");
        const cut = all.subarray(0, all.length === 0 ? 0 : at % all.length);
        const { entry } = encodeFile(cut, true);
        if (entry.kind !== "file") throw new Error("not a file entry");
        expect(entry.encoding).toBeUndefined();
        expect(entry.capped).toBe(true);
        expect(cut.length - entry.bytes).toBeLessThanOrEqual(3);
        expect(all.subarray(0, entry.bytes).toString("utf8")).toBe(entry.data);
      }),
    );
  });

  it("parseCommandLine only ever fails with a UsageError", () => {
    const word = fc.oneof(
      fc.constantFrom(
        "ship",
        "collect",
        "--endpoint",
        "--token",
        "--label",
        "--interval",
        "--root",
        "--out",
        "-h",
        "--",
      ),
      fc.string({ maxLength: 12 }),
    );
    fc.assert(
      fc.property(fc.array(word, { maxLength: 8 }), (argv) => {
        try {
          parseCommandLine(argv, {});
        } catch (e) {
          expect(e, String(e)).toBeInstanceOf(UsageError);
        }
      }),
    );
  });

  it("the text readers never throw on arbitrary input, including invalid UTF-8 decoded text", () => {
    const text = fc.oneof(
      fc.string({ maxLength: 300 }),
      fc.uint8Array({ maxLength: 300 }).map((b) => new TextDecoder().decode(b)),
      fc.constantFrom("now ts: 12.5\n", "610 34 0:4 mnt:[1] /x rw - nsfs nsfs rw", "now ts:"),
    );
    fc.assert(
      fc.property(text, (t) => {
        parseDuration(t);
        parseEndpoint(t);
        traceNowTs(t);
        nsfsMountPins(t, 1);
        spooledHostId(Buffer.from(t), "0".repeat(64));
      }),
    );
    expect(nsfsMountPins(`${"x".repeat(10_000_000)} - nsfs `, 1)).toEqual([]);
  });

  it("the change digest does not depend on the order evidence was recorded in", () => {
    const entry = fc.oneof(
      fc.record({ kind: fc.constant("link" as const), target: fc.string({ maxLength: 20 }) }),
      fc.record({
        kind: fc.constant("file" as const),
        data: fc.string({ maxLength: 20 }),
        encoding: fc.constant("utf8" as const),
        bytes: fc.nat(100),
      }),
    );
    const path = fc.oneof(
      fc.constantFrom("proc/1/mountinfo", "proc/7/ns/mnt", "proc/7/fd/3", "sys/block/vda"),
      fc.string({ maxLength: 15 }),
    );
    fc.assert(
      fc.property(fc.uniqueArray(fc.tuple(path, entry), { selector: ([p]) => p, maxLength: 12 }), (pairs) => {
        const forward: Record<string, EvidenceEntry> = Object.fromEntries(pairs);
        const backward: Record<string, EvidenceEntry> = Object.fromEntries([...pairs].reverse());
        const a = changeDigest({ hostId: "h", labels: {}, evidence: forward });
        expect(changeDigest({ hostId: "h", labels: {}, evidence: backward })).toBe(a);
      }),
    );
  });
});
