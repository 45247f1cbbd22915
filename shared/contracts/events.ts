/** Control-plane attach/detach events, exactly as CONTRACT.md section 3. */
import { z } from "zod";

export const EVENT_TYPES = ["attach", "detach"] as const;
export const EVENT_OUTCOMES = ["succeeded", "failed"] as const;
export const DISK_MODES = ["vfio", "host"] as const;

/** RFC 3339 with a mandatory offset (`Z` or `±hh:mm`); fractional seconds of any length. */
const RFC3339 = /^(\d{4})-(\d{2})-(\d{2})[Tt ](\d{2}):(\d{2}):(\d{2})(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$/;

/** Parses an RFC 3339 timestamp with any offset to UTC epoch milliseconds; null when invalid. */
export function parseRfc3339(text: string): number | null {
  const m = RFC3339.exec(text);
  if (!m) return null;
  const [, y, mo, d, h, mi, s] = m.map(Number) as [number, number, number, number, number, number, number];
  if (mo < 1 || mo > 12 || d < 1 || d > 31 || h > 23 || mi > 59 || s > 60) return null;
  const ms = Date.parse(text.replace(" ", "T").replace(/t/, "T").replace(/z$/, "Z"));
  if (!Number.isFinite(ms)) return null;
  // Date.parse rolls Feb 30 over to Mar 2; a real calendar date must round-trip.
  const local = new Date(Date.UTC(y, mo - 1, d));
  if (local.getUTCMonth() !== mo - 1 || local.getUTCDate() !== d) return null;
  return ms;
}

/** An RFC 3339 string, validated and normalised to UTC epoch ms. */
export const Rfc3339Ms = z.string().transform((text, ctx) => {
  const ms = parseRfc3339(text);
  if (ms === null) {
    ctx.addIssue({
      code: "custom",
      message: "expected an RFC 3339 time with an offset, e.g. 2026-03-03T10:14:02Z",
    });
    return z.NEVER;
  }
  return ms;
});

/** PCI address `domain:bus:device.function`; domains run from 4 to 8 hex digits (Intel VMD uses 10000:). */
export const BDF_RE = /^[0-9a-f]{4,8}:[0-9a-f]{2}:[01][0-9a-f]\.[0-7]$/;

export const ControlPlaneEvent = z.looseObject({
  id: z.string().min(1).max(256),
  type: z.enum(EVENT_TYPES),
  outcome: z.enum(EVENT_OUTCOMES).default("succeeded"),
  diskId: z.string().min(1).max(256),
  instanceId: z.string().min(1).max(256),
  bdf: z
    .string()
    .transform((s) => s.toLowerCase())
    .pipe(z.string().regex(BDF_RE, "expected a PCI address like 0000:21:01.4"))
    .optional(),
  serial: z.string().max(256).optional(),
  mode: z.enum(DISK_MODES).optional(),
  at: z.string(),
});
export type ControlPlaneEventInput = z.input<typeof ControlPlaneEvent>;

/** A validated event with `at` normalised to UTC epoch ms (`atMs`); unknown fields are kept. */
export const NormalizedEvent = ControlPlaneEvent.transform((e, ctx) => {
  const atMs = parseRfc3339(e.at);
  if (atMs === null) {
    ctx.addIssue({
      code: "custom",
      path: ["at"],
      message: "expected an RFC 3339 time with an offset, e.g. 2026-03-03T10:14:02Z",
    });
    return z.NEVER;
  }
  return { ...e, atMs };
});
export type ControlPlaneEvent = z.output<typeof NormalizedEvent>;
