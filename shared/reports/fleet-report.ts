/**
 * The periodic fleet report: per detector, affected hosts and occurrences over the window, the hosts
 * hit most, and a daily timeline; rendered as JSON, Markdown (chat) and HTML with an inline SVG chart.
 * Pure: the cron job gathers the numbers and stores what this returns.
 */

export interface ReportPattern {
  detector: string;
  hosts: number;
  occurrences: number;
  firstSeenMs: number;
  lastSeenMs: number;
  topHosts: { hostId: string; occurrences: number; lastSeenMs: number }[];
  timeline: { day: string; hosts: number; started: number }[];
}

export interface FleetReport {
  generatedAt: string;
  since: string;
  until: string;
  fleetHosts: number;
  patterns: ReportPattern[];
}

const esc = (s: string) => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const iso = (ms: number) => new Date(ms).toISOString();

/** The report as data (also stored as JSON). */
export function fleetReport(args: {
  generatedAtMs: number;
  sinceMs: number;
  untilMs: number;
  fleetHosts: number;
  patterns: ReportPattern[];
}): FleetReport {
  return {
    generatedAt: iso(args.generatedAtMs),
    since: iso(args.sinceMs),
    until: iso(args.untilMs),
    fleetHosts: args.fleetHosts,
    patterns: [...args.patterns].sort((a, b) => b.hosts - a.hosts || a.detector.localeCompare(b.detector)),
  };
}

/** Markdown for chat and for reading in object storage. */
export function reportMarkdown(r: FleetReport): string {
  const lines = [
    `# faultline fleet report`,
    ``,
    `${r.since.slice(0, 10)} to ${r.until.slice(0, 10)}, ${r.fleetHosts} hosts reporting.`,
    ``,
  ];
  if (r.patterns.length === 0) return [...lines, "No detector fired in this window."].join("\n");
  lines.push("| detector | hosts | occurrences | first seen | last seen |", "|---|---|---|---|---|");
  for (const p of r.patterns)
    lines.push(
      `| ${p.detector} | ${p.hosts} | ${p.occurrences} | ${iso(p.firstSeenMs)} | ${iso(p.lastSeenMs)} |`,
    );
  for (const p of r.patterns) {
    lines.push(
      "",
      `## ${p.detector}`,
      "",
      ...p.topHosts.map(
        (h) => `- \`${h.hostId}\`: ${h.occurrences} occurrence(s), last ${iso(h.lastSeenMs)}`,
      ),
    );
  }
  return lines.join("\n");
}

/** One bar chart per detector: hosts with an active episode per day. */
function chart(p: ReportPattern): string {
  const w = 560;
  const h = 120;
  const max = Math.max(1, ...p.timeline.map((d) => d.hosts));
  const bw = w / Math.max(1, p.timeline.length);
  const bars = p.timeline
    .map((d, i) => {
      const bh = Math.round((d.hosts / max) * (h - 20));
      return `<rect x="${(i * bw + 1).toFixed(1)}" y="${h - 15 - bh}" width="${(bw - 2).toFixed(1)}" height="${bh}" fill="#c0392b"><title>${esc(d.day)}: ${d.hosts} hosts, ${d.started} new</title></rect>`;
    })
    .join("");
  const first = p.timeline[0]?.day ?? "";
  const last = p.timeline[p.timeline.length - 1]?.day ?? "";
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${w}" height="${h}" role="img" aria-label="${esc(p.detector)} hosts per day">${bars}<text x="0" y="${h - 2}" font-size="10">${esc(first)}</text><text x="${w}" y="${h - 2}" font-size="10" text-anchor="end">${esc(last)}</text><text x="0" y="10" font-size="10">max ${max} hosts/day</text></svg>`;
}

/** A standalone HTML page with inline SVG charts. */
export function reportHtml(r: FleetReport): string {
  const rows = r.patterns
    .map(
      (p) =>
        `<tr><td>${esc(p.detector)}</td><td>${p.hosts}</td><td>${p.occurrences}</td><td>${iso(p.firstSeenMs)}</td><td>${iso(p.lastSeenMs)}</td></tr>`,
    )
    .join("");
  const sections = r.patterns
    .map(
      (p) =>
        `<section><h2>${esc(p.detector)}</h2>${chart(p)}<ul>${p.topHosts.map((h) => `<li><code>${esc(h.hostId)}</code>: ${h.occurrences}, last ${iso(h.lastSeenMs)}</li>`).join("")}</ul></section>`,
    )
    .join("");
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><title>faultline fleet report ${esc(r.until.slice(0, 10))}</title><style>body{font:14px system-ui,sans-serif;margin:2em;max-width:900px}table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}</style></head><body><h1>faultline fleet report</h1><p>${esc(r.since)} to ${esc(r.until)}, ${r.fleetHosts} hosts reporting.</p>${
    r.patterns.length
      ? `<table><tr><th>detector</th><th>hosts</th><th>occurrences</th><th>first seen</th><th>last seen</th></tr>${rows}</table>${sections}`
      : "<p>No detector fired in this window.</p>"
  }</body></html>`;
}
