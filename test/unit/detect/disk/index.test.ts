import { describe, expect, it } from "vitest";
import { diskDetectors } from "../../../../shared/detect/disk/index.js";
import { DETECTOR_IDS } from "../../../../shared/detect/types.js";
import { INC1, type Inc1Name, inc1 } from "../../../support/disk-scenarios.js";

describe("disk detectors", () => {
  it("registers the seven disk detectors in the assignment's order, with contract ids and honest texts", () => {
    expect(diskDetectors.map((d) => d.id)).toEqual([
      "reattach-bdf-race",
      "attached-disk-missing",
      "trace-blind-spot",
      "driverless-bdf",
      "wrong-driver-bound",
      "stale-block-device",
      "disk-serial-mismatch",
    ]);
    for (const d of diskDetectors) {
      expect(DETECTOR_IDS, d.id).toContain(d.id);
      for (const text of [d.title, d.fires, d.clears, d.cites])
        expect(text.length, `${d.id} text`).toBeGreaterThan(10);
    }
  });

  it("runs over every INC-1 scenario without throwing, each verdict tagged with its own detector and a stable subject", async () => {
    for (const name of Object.keys(INC1) as Inc1Name[]) {
      const { view, events } = await inc1(name);
      for (const d of diskDetectors) {
        const first = d.detect({ view, events });
        const again = d.detect({ view, events: [...events].reverse() });
        expect(
          first.verdicts.map((v) => v.subject),
          `${name}/${d.id}: replaying in another order`,
        ).toEqual(again.verdicts.map((v) => v.subject));
        for (const v of first.verdicts) {
          expect(v.detector, name).toBe(d.id);
          expect(v.summary.length, `${name}/${d.id}`).toBeGreaterThan(40);
          expect(v.evidence.length, `${name}/${d.id} cites evidence`).toBeGreaterThan(0);
        }
      }
    }
  });

  it.each(["healthyVfio", "healthyHost"] as const)(
    "finds nothing wrong on the %s re-attach",
    async (name) => {
      const { view, events } = await inc1(name);
      const verdicts = diskDetectors.flatMap((d) => d.detect({ view, events }).verdicts);
      expect(verdicts.map((v) => `${v.detector} ${v.subject}: ${v.summary}`)).toEqual([]);
    },
  );
});
