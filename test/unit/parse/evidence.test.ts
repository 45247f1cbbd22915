import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { type EvidenceEntry, evidenceList, validateBundle } from "../../../shared/contracts/snapshot.js";
import { EvidenceReader } from "../../../shared/parse/evidence.js";
import { makeBundle } from "../../support/bundles.js";
import { dir, file, link } from "../../support/evidence.js";

type Evidence = Record<string, EvidenceEntry>;
const fail = (code: string): EvidenceEntry => ({ kind: "error", op: "read", code, message: code });

// A process directory as the shipper lays it out, with the neighbours that must stay out of it.
const evidence: Evidence = {
  "proc/": dir(["1", "77102"]),
  "proc/uptime": file("5.0 1.0\n"),
  "proc/sys/fs/may_detach_mounts": file("0\n"),
  "proc/1/comm": file("systemd\n"),
  "proc/1/ns/mnt": fail("EACCES"),
  "proc/77102/": dir(["comm", "fd", "mountinfo", "ns"]),
  "proc/77102/comm": file("node-agent\n"),
  "proc/77102/mountinfo": file("x".repeat(10), true),
  "proc/77102/ns/mnt": link("mnt:[4026532871]"),
  "proc/77102/fd": link("/not/a/listing"),
  "proc/77102/fd/": dir(["0", "3"], true),
  "proc/77102/fd/3": link("/dev/vfio/62"),
  "proc//comm": file("no pid\n"),
  "process/9/comm": file("another tree\n"),
  "sys/class/nvme/nvme0/": dir(["device"]),
};

describe("EvidenceReader.children", () => {
  const children = new EvidenceReader(evidence).children("proc");

  it("groups the paths below each child of the directory, not the files directly in it", () => {
    expect([...children.keys()]).toEqual(["sys", "1", "77102"]);
  });

  it("keys each child's evidence by the path below the child", () => {
    const p = children.get("77102");
    expect(p?.text("comm")).toBe("node-agent\n");
    expect(p?.value("comm")).toBe("node-agent");
    expect(p?.link("ns/mnt")).toBe("mnt:[4026532871]");
    expect(p?.link("fd/3")).toBe("/dev/vfio/62");
    expect(p?.text("stat")).toBeUndefined();
  });

  it("keeps a listing (trailing slash) apart from a link at the same path", () => {
    const p = children.get("77102");
    expect(p?.list("fd")).toEqual(["0", "3"]);
    expect(p?.list("fd/")).toEqual(["0", "3"]);
    expect(p?.link("fd")).toBe("/not/a/listing");
    expect(p?.capped("fd/")).toBe(true);
    // The child's own listing (`proc/77102/`) is the empty path below it.
    expect(p?.entry("")).toEqual(evidence["proc/77102/"]);
  });

  it("answers capped, unreadable and missing entries as the bundle's reader does", () => {
    const p = children.get("77102");
    expect(p?.capped("mountinfo")).toBe(true);
    expect(p?.capped("comm")).toBe(false);
    expect(p?.unreadable("comm", "file")).toBeUndefined();
    expect(p?.unreadable("stat", "file")).toEqual({ reason: "absent" });
    expect(p?.unreadable("ns/mnt", "file")).toEqual({ reason: "wrong_kind", kind: "link" });
    expect(children.get("1")?.unreadable("ns/mnt", "link")).toEqual({
      reason: "error",
      code: "EACCES",
      message: "EACCES",
    });
  });

  it("has no child for a missing directory, an empty name or a path that only starts alike", () => {
    expect(children.get("2")).toBeUndefined();
    expect(children.get("")).toBeUndefined();
    const reader = new EvidenceReader(evidence);
    expect(reader.children("nothing/here").size).toBe(0);
    expect([...reader.children("process").keys()]).toEqual(["9"]);
  });

  it("reads a directory given with or without its trailing slash, once", () => {
    const reader = new EvidenceReader(evidence);
    expect(reader.children("proc/")).toBe(reader.children("proc"));
  });

  it("reads a child with many entries, and one whose paths are split by others, in full", () => {
    const many: Evidence = { "proc/7/fd/": dir([]) };
    for (let fd = 0; fd < 40; fd++) many[`proc/7/fd/${fd}`] = link(`/dev/vfio/${fd}`);
    many["proc/8/comm"] = file("a\n");
    many["proc/9/comm"] = file("b\n");
    many["proc/8/stat"] = file("c\n");
    const children = new EvidenceReader(many).children("proc");
    expect([...children.keys()]).toEqual(["7", "8", "9"]);
    expect(children.get("7")?.link("fd/39")).toBe("/dev/vfio/39");
    expect(children.get("7")?.link("fd/40")).toBeUndefined();
    expect([...(children.get("7")?.paths("") ?? [])]).toHaveLength(41);
    expect(children.get("8")?.text("comm")).toBe("a\n");
    expect(children.get("8")?.text("stat")).toBe("c\n");
    expect([...(children.get("9")?.paths("") ?? [])]).toEqual(["comm"]);
  });

  it("decodes base64 files below a child", () => {
    const reader = new EvidenceReader({
      "proc/5/cmdline": { kind: "file", data: btoa("a\0b\0"), encoding: "base64", bytes: 4 },
    });
    expect(reader.children("proc").get("5")?.text("cmdline")).toBe("a\0b\0");
  });

  it("finds every path below a child, and nothing else, for any bundle", () => {
    const segment = fc.constantFrom("proc", "1", "22", "fd", "", "ns", "mnt");
    const path = fc
      .tuple(fc.array(segment, { minLength: 1, maxLength: 4 }), fc.boolean())
      .map(([parts, slash]) => `${parts.join("/")}${slash ? "/" : ""}`);
    fc.assert(
      fc.property(fc.uniqueArray(path, { maxLength: 30 }), (paths) => {
        const all: Evidence = Object.fromEntries(paths.map((p, i) => [p, file(String(i))]));
        const reader = new EvidenceReader(all);
        const seen = new Set<string>();
        for (const [name, child] of reader.children("proc")) {
          for (const below of child.paths("")) {
            const p = `proc/${name}/${below}`;
            expect(child.entry(below), p).toBe(all[p]);
            seen.add(p);
          }
        }
        const want = paths.filter((p) => /^proc\/[^/]+\//.test(p));
        expect([...seen].sort()).toEqual(want.sort());
      }),
    );
  });

  it("groups a validated bundle (from the lists validation kept) as it groups the bare record", () => {
    const bundle = validateBundle(structuredClone(makeBundle({ hostId: "h1", evidence })));
    expect(bundle.success).toBe(true);
    if (!bundle.success) return;
    const listed = evidenceList(bundle.data.evidence);
    // The lists validation made, in record order: the same object on every ask.
    expect(listed).toBe(evidenceList(bundle.data.evidence));
    expect(listed.paths).toEqual(Object.keys(evidence));
    const group = (r: EvidenceReader) =>
      [...r.children("proc")].map(([name, child]) => [
        name,
        [...child.paths("")].map((p) => [p, child.entry(p)]),
      ]);
    expect(group(EvidenceReader.of(bundle.data))).toEqual(group(new EvidenceReader(evidence)));
  });
});
