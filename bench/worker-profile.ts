/**
 * The Worker's own CPU inside workerd, apart from the local R2, D1 and Queues simulators that share its
 * thread: a V8 CPU profile of the user isolate through miniflare's inspector proxy (DevTools protocol).
 *
 * V8 takes a sample only while the profiled isolate is entered; while the thread runs a simulator's
 * isolate or waits, no sample is taken and the gap is folded into the next sample's `timeDelta`. So the
 * deltas add up to wall time, and the isolate's busy time is the number of non-idle samples times the
 * sampling period (the median delta). A thread that is descheduled gets one coalesced signal, so the
 * count follows CPU time rather than wall time; at 250 us and 1 ms intervals the estimate agreed within
 * 1% on this machine.
 */
import { readFileSync, writeFileSync } from "node:fs";
import { SourceMap, type SourceMapping } from "node:module";
import { basename } from "node:path";

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number; columnNumber?: number };
  children?: number[];
}

interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface WorkerCpu {
  /** Non-idle samples (JS, garbage collection, runtime code) times the sampling period. */
  busyMs: number;
  /** The part spent in garbage collection. */
  gcMs: number;
  samples: number;
  periodUs: number;
  /** Self time by function, largest first: `name file:line` -> ms. */
  selfMs: [string, number][];
  /** Inclusive time by function (each counted once per sample), largest first. */
  inclusiveMs: [string, number][];
  /** Self time by source file (through the bundle's source map), largest first. */
  byFileMs: [string, number][];
}

interface Pending {
  resolve(v: unknown): void;
  reject(e: Error): void;
}

/** A minimal DevTools-protocol client over the runtime's WebSocket (Node 20: `--experimental-websocket`). */
async function connect(
  url: string,
): Promise<{ call(method: string, params?: object): Promise<unknown>; close(): void }> {
  const Ws = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (Ws === undefined)
    throw new Error("no global WebSocket: run Node 20 with --experimental-websocket (npm run bench does)");
  // miniflare's inspector proxy refuses upgrades without an allowed Origin (undici takes `headers` here).
  const ws = new Ws(url, { headers: { origin: "http://localhost" } } as unknown as string[]);
  await new Promise<void>((resolve, reject) => {
    ws.onopen = () => resolve();
    ws.onerror = () => reject(new Error(`inspector connection to ${url} failed`));
  });
  let next = 0;
  const pending = new Map<number, Pending>();
  ws.onmessage = (e) => {
    const msg = JSON.parse(String(e.data)) as { id?: number; result?: unknown; error?: { message: string } };
    const p = msg.id === undefined ? undefined : pending.get(msg.id);
    if (!p || msg.id === undefined) return;
    pending.delete(msg.id);
    if (msg.error) p.reject(new Error(msg.error.message));
    else p.resolve(msg.result);
  };
  return {
    call: (method, params = {}) =>
      new Promise((resolve, reject) => {
        const id = ++next;
        pending.set(id, { resolve, reject });
        ws.send(JSON.stringify({ id, method, params }));
      }),
    close: () => ws.close(),
  };
}

const NOT_JS = new Set(["(idle)", "(program)", "(garbage collector)", "(root)"]);

/**
 * `name file:line` of a frame, in the original sources when the bundle's source map is at hand. Only
 * the bundle's own frames go through its map: the runtime's modules (`node:zlib`,
 * `cloudflare-internal:d1-api`) have line numbers of their own, which the map would misname.
 */
function namer(
  sourceMap: SourceMap | undefined,
  bundleFile: string | undefined,
): (n: ProfileNode) => { name: string; file: string } {
  return (n) => {
    const cf = n.callFrame;
    const fn = cf.functionName || "(anonymous)";
    if (cf.url === "" || cf.lineNumber < 0) return { name: fn, file: fn.startsWith("(") ? fn : "(runtime)" };
    const inBundle = bundleFile !== undefined && cf.url.split("/").pop() === bundleFile;
    const entry = inBundle ? sourceMap?.findEntry(cf.lineNumber, cf.columnNumber ?? 0) : undefined;
    const at = entry !== undefined && "originalSource" in entry ? (entry as SourceMapping) : undefined;
    if (at === undefined)
      return { name: `${fn} ${cf.url.split("/").pop() ?? ""}:${cf.lineNumber + 1}`, file: cf.url };
    const source = at.originalSource.replace(/^(\.\.\/)+/, "");
    const file = source.includes("node_modules/") ? source.replace(/^.*node_modules\//, "") : source;
    return { name: `${fn} ${file}:${at.originalLine + 1}`, file };
  };
}

function summarize(
  profile: CpuProfile,
  top: number,
  sourceMap?: { map: SourceMap; bundleFile: string },
): WorkerCpu {
  const sorted = [...profile.timeDeltas].sort((a, b) => a - b);
  const periodUs = sorted[Math.floor(sorted.length / 2)] ?? 0;
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const parent = new Map<number, number>();
  for (const n of profile.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
  const label = namer(sourceMap?.map, sourceMap?.bundleFile);
  const nameOf = (n: ProfileNode) => label(n).name;
  const self = new Map<string, number>();
  const byFile = new Map<string, number>();
  const inclusive = new Map<string, number>();
  let busy = 0;
  let gc = 0;
  for (const id of profile.samples) {
    const node = byId.get(id);
    if (!node || node.callFrame.functionName === "(idle)") continue;
    busy++;
    if (node.callFrame.functionName === "(garbage collector)") gc++;
    const { name, file } = label(node);
    self.set(name, (self.get(name) ?? 0) + 1);
    byFile.set(file, (byFile.get(file) ?? 0) + 1);
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const n = byId.get(at);
      if (!n || NOT_JS.has(n.callFrame.functionName)) continue;
      const k = nameOf(n);
      if (seen.has(k)) continue;
      seen.add(k);
      inclusive.set(k, (inclusive.get(k) ?? 0) + 1);
    }
  }
  const ms = (samples: number) => Math.round((samples * periodUs) / 10) / 100;
  const ranked = (m: Map<string, number>): [string, number][] =>
    [...m]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([k, v]) => [k, ms(v)]);
  return {
    busyMs: ms(busy),
    gcMs: ms(gc),
    samples: busy,
    periodUs,
    selfMs: ranked(self),
    inclusiveMs: ranked(inclusive),
    byFileMs: ranked(byFile),
  };
}

/**
 * Profiles the user Worker while `work` runs. `inspector` is miniflare's inspector proxy URL
 * (`mf.getInspectorURL()`); `saveTo` keeps the raw `.cpuprofile` for DevTools.
 */
export async function profileWorker(args: {
  inspector: URL;
  workerName: string;
  intervalUs?: number;
  top?: number;
  saveTo?: string;
  /** The Worker bundle's source map (`dist/worker.mjs.map`): names frames by their source file. */
  sourceMapPath?: string;
  work: () => Promise<void>;
}): Promise<WorkerCpu> {
  const client = await connect(new URL(`/${args.workerName}`, args.inspector).href.replace(/^http/, "ws"));
  try {
    await client.call("Profiler.enable");
    await client.call("Profiler.setSamplingInterval", { interval: args.intervalUs ?? 1000 });
    await client.call("Profiler.start");
    await args.work();
    const { profile } = (await client.call("Profiler.stop")) as { profile: CpuProfile };
    if (args.saveTo) writeFileSync(args.saveTo, JSON.stringify(profile));
    const map = args.sourceMapPath
      ? {
          map: new SourceMap(JSON.parse(readFileSync(args.sourceMapPath, "utf8"))),
          // `dist/worker.mjs.map` maps the frames of `worker.mjs`.
          bundleFile: basename(args.sourceMapPath).replace(/\.map$/, ""),
        }
      : undefined;
    return summarize(profile, args.top ?? 15, map);
  } finally {
    client.close();
  }
}
