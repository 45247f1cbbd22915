/**
 * A minimal five-field cron matcher (minute hour day-of-month month day-of-week; `*`, `*\/n`, `a-b`,
 * lists), enough to fire wrangler.toml's triggers in local mode where nothing else schedules them.
 */

function fieldMatches(field: string, value: number, min: number): boolean {
  for (const part of field.split(",")) {
    const [range, stepText] = part.split("/");
    const step = stepText ? Number(stepText) : 1;
    let lo: number;
    let hi: number;
    if (range === "*" || range === undefined) {
      lo = min;
      hi = Number.MAX_SAFE_INTEGER;
    } else if (range.includes("-")) {
      const [a, b] = range.split("-").map(Number);
      lo = a ?? min;
      hi = b ?? lo;
    } else {
      lo = Number(range);
      hi = stepText ? Number.MAX_SAFE_INTEGER : lo;
    }
    if (value >= lo && value <= hi && (value - lo) % step === 0) return true;
  }
  return false;
}

/** True when `cron` fires at the UTC minute of `at`. */
export function cronMatches(cron: string, at: Date): boolean {
  const [mi, h, dom, mon, dow] = cron.trim().split(/\s+/);
  if (!mi || !h || !dom || !mon || !dow) return false;
  return (
    fieldMatches(mi, at.getUTCMinutes(), 0) &&
    fieldMatches(h, at.getUTCHours(), 0) &&
    fieldMatches(dom, at.getUTCDate(), 1) &&
    fieldMatches(mon, at.getUTCMonth() + 1, 1) &&
    fieldMatches(dow, at.getUTCDay(), 0)
  );
}
