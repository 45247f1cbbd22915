/**
 * Command-line parsing for `faultline ship` and `faultline collect`: node:util parseArgs for the shape,
 * zod for the values, environment fallbacks (FAULTLINE_TOKEN, FAULTLINE_LABELS,
 * FAULTLINE_SHIPPER_STATE_DIR). Every problem is a UsageError, which the CLI turns into exit 2.
 */
import { type ParseArgsConfig, parseArgs } from "node:util";

type ParseArgsOptionsConfig = NonNullable<ParseArgsConfig["options"]>;

import { z } from "zod";

/** A mistake in how the command was called: exit 2 with this message. */
export class UsageError extends Error {
  override readonly name = "UsageError";
}

const UNITS_MS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** `10m`, `24h`, `1h30m`, `500ms`, `0s` -> milliseconds; undefined when it is not a duration. */
export function parseDuration(text: string): number | undefined {
  if (!/^(?:\d+(?:ms|s|m|h|d))+$/.test(text)) return undefined;
  let ms = 0;
  for (const m of text.matchAll(/(\d+)(ms|s|m|h|d)/g)) ms += Number(m[1]) * (UNITS_MS[m[2] ?? ""] ?? 0);
  return ms;
}

const Duration = (what: string, minMs: number, maxMs = Number.MAX_SAFE_INTEGER) =>
  z.string().transform((text, ctx) => {
    const ms = parseDuration(text);
    if (ms === undefined) {
      ctx.addIssue({
        code: "custom",
        message: `${what}: ${JSON.stringify(text)} is not a duration like 10m, 24h, 2s`,
      });
      return z.NEVER;
    }
    if (ms < minMs || ms > maxMs) {
      ctx.addIssue({ code: "custom", message: `${what}: ${text} is out of range` });
      return z.NEVER;
    }
    return ms;
  });

const LABEL_KEY = /^[A-Za-z0-9][A-Za-z0-9_.\-/]{0,62}$/;

/** Where bundles go: the service's HTTP ingest, or an S3-compatible bucket. */
export type Endpoint = { kind: "http"; url: string } | { kind: "s3"; bucket: string; prefix: string };

/** Parses `--endpoint`: `http(s)://host[:port][/base]` or `s3://bucket[/prefix]`. */
export function parseEndpoint(text: string): Endpoint | string {
  if (text.startsWith("s3://")) {
    const rest = text.slice(5).replace(/\/+$/, "");
    const slash = rest.indexOf("/");
    const bucket = slash < 0 ? rest : rest.slice(0, slash);
    const prefix = slash < 0 ? "" : rest.slice(slash + 1).replace(/^\/+/, "");
    if (!/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/.test(bucket)) {
      return `--endpoint: ${JSON.stringify(bucket)} is not an S3 bucket name (s3://bucket[/prefix])`;
    }
    return { kind: "s3", bucket, prefix };
  }
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    return `--endpoint: ${JSON.stringify(text)} is not a URL (http(s)://host[:port] or s3://bucket[/prefix])`;
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    return `--endpoint: scheme ${url.protocol} is not supported (http, https or s3)`;
  }
  if (url.search !== "" || url.hash !== "")
    return "--endpoint: the service base URL takes no query or fragment";
  return { kind: "http", url: `${url.origin}${url.pathname.replace(/\/+$/, "")}` };
}

/** Labels from `FAULTLINE_LABELS="zone=a,cluster=b"` then `--label k=v` (flags win per key). */
export function parseLabels(env: string | undefined, flags: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  const add = (pair: string, from: string): void => {
    const eq = pair.indexOf("=");
    const key = eq < 0 ? pair : pair.slice(0, eq);
    if (eq < 0 || !LABEL_KEY.test(key)) {
      throw new UsageError(
        `${from}: ${JSON.stringify(pair)} is not key=value with a key like zone or instanceType`,
      );
    }
    const value = pair.slice(eq + 1);
    // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
    if (value.length > 256 || /[\x00-\x1f]/.test(value)) {
      throw new UsageError(
        `${from}: the value of ${key} is longer than 256 characters or has control characters`,
      );
    }
    labels[key] = value;
  };
  for (const pair of (env ?? "").split(",")) if (pair.trim() !== "") add(pair.trim(), "FAULTLINE_LABELS");
  for (const pair of flags) add(pair, "--label");
  return labels;
}

const COMMON_OPTIONS = {
  root: { type: "string", default: "/" },
  "host-id": { type: "string" },
  label: { type: "string", multiple: true },
  "read-timeout": { type: "string", default: "2s" },
  stats: { type: "boolean", default: false },
  help: { type: "boolean", short: "h", default: false },
} satisfies ParseArgsOptionsConfig;

const SHIP_OPTIONS = {
  ...COMMON_OPTIONS,
  endpoint: { type: "string" },
  token: { type: "string" },
  interval: { type: "string" },
  "spool-dir": { type: "string" },
  "state-dir": { type: "string" },
  "full-every": { type: "string", default: "24h" },
  retries: { type: "string", default: "3" },
  "spool-max-files": { type: "string", default: "100" },
  "spool-max-mb": { type: "string", default: "256" },
} satisfies ParseArgsOptionsConfig;

const COLLECT_OPTIONS = { ...COMMON_OPTIONS, out: { type: "string" } } satisfies ParseArgsOptionsConfig;

const HostId = z
  .string()
  .min(1, "--host-id: must not be empty")
  .max(256, "--host-id: longer than 256 characters")
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what this rejects
  .regex(/^[^\x00-\x1f]+$/, "--host-id: has control characters");
const Root = z.string().min(1, "--root: must not be empty");
const IntFlag = (what: string, min: number, max: number) =>
  z
    .string()
    .regex(/^\d+$/, `${what}: expected a whole number`)
    .transform(Number)
    .pipe(z.number().min(min, `${what}: at least ${min}`).max(max, `${what}: at most ${max}`));

const CommonConfig = z.object({
  root: Root,
  hostId: HostId.optional(),
  readTimeoutMs: Duration("--read-timeout", 50, 60_000),
  stats: z.boolean(),
});

const ShipConfig = CommonConfig.extend({
  command: z.literal("ship"),
  endpoint: z.custom<Endpoint>(),
  token: z.string().optional(),
  labels: z.record(z.string(), z.string()),
  intervalMs: Duration("--interval", 10_000).optional(),
  stateDir: z.string().min(1),
  spoolDir: z.string().min(1),
  fullEveryMs: Duration("--full-every", 0),
  retries: IntFlag("--retries", 0, 10),
  spoolMaxFiles: IntFlag("--spool-max-files", 1, 100_000),
  spoolMaxBytes: IntFlag("--spool-max-mb", 1, 1_000_000).transform((mb) => mb * 1024 * 1024),
});
export type ShipConfig = z.output<typeof ShipConfig>;

const CollectConfig = CommonConfig.extend({
  command: z.literal("collect"),
  out: z.string().min(1, "--out: must not be empty"),
  labels: z.record(z.string(), z.string()),
});
export type CollectConfig = z.output<typeof CollectConfig>;

export type CliCommand = ShipConfig | CollectConfig | { command: "help"; topic: "ship" | "collect" | "main" };

function strictParse<T extends ParseArgsOptionsConfig>(args: string[], options: T) {
  try {
    return parseArgs({ args, options, strict: true, allowPositionals: false }).values;
  } catch (e) {
    // parseArgs explains unknown flags and missing values itself ("Unknown option '--x'").
    throw new UsageError(e instanceof Error ? e.message.split("\n")[0] : String(e));
  }
}

function validated<T>(schema: z.ZodType<T>, input: unknown): T {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  throw new UsageError(r.error.issues.map((i) => i.message).join("; "));
}

/** Parses argv (after `node faultline`) and the environment into one command, or throws UsageError. */
export function parseCommandLine(argv: readonly string[], env: NodeJS.ProcessEnv): CliCommand {
  const [command, ...rest] = argv;
  if (command === undefined || command === "--help" || command === "-h" || command === "help") {
    return { command: "help", topic: rest[0] === "ship" || rest[0] === "collect" ? rest[0] : "main" };
  }
  if (command === "ship") {
    const v = strictParse(rest, SHIP_OPTIONS);
    if (v.help) return { command: "help", topic: "ship" };
    if (v.endpoint === undefined)
      throw new UsageError("--endpoint is required (http(s)://host[:port] or s3://bucket)");
    const endpoint = parseEndpoint(v.endpoint);
    if (typeof endpoint === "string") throw new UsageError(endpoint);
    const token = v.token ?? env.FAULTLINE_TOKEN;
    if (endpoint.kind === "http" && (token === undefined || token === "")) {
      throw new UsageError("--token (or env FAULTLINE_TOKEN) is required for an http(s) endpoint");
    }
    const stateDir = v["state-dir"] ?? env.FAULTLINE_SHIPPER_STATE_DIR ?? "/var/lib/faultline";
    return validated(ShipConfig, {
      command: "ship",
      root: v.root,
      hostId: v["host-id"],
      readTimeoutMs: v["read-timeout"],
      stats: v.stats,
      endpoint,
      token,
      labels: parseLabels(env.FAULTLINE_LABELS, v.label ?? []),
      intervalMs: v.interval,
      stateDir,
      spoolDir: v["spool-dir"] ?? `${stateDir.replace(/\/+$/, "")}/spool`,
      fullEveryMs: v["full-every"],
      retries: v.retries,
      spoolMaxFiles: v["spool-max-files"],
      spoolMaxBytes: v["spool-max-mb"],
    });
  }
  if (command === "collect") {
    const v = strictParse(rest, COLLECT_OPTIONS);
    if (v.help) return { command: "help", topic: "collect" };
    if (v.out === undefined)
      throw new UsageError("--out FILE is required (gzip, or plain JSON when FILE ends in .json)");
    return validated(CollectConfig, {
      command: "collect",
      root: v.root,
      hostId: v["host-id"],
      readTimeoutMs: v["read-timeout"],
      stats: v.stats,
      out: v.out,
      labels: parseLabels(env.FAULTLINE_LABELS, v.label ?? []),
    });
  }
  throw new UsageError(`unknown command ${JSON.stringify(command)} (commands: ship, collect)`);
}

export const HELP = {
  main: `faultline: ships a Kubernetes host's raw kernel evidence (sysfs, /proc, ftrace, kmsg) for cloud-disk diagnosis.

Usage:
  faultline ship    --endpoint URL --token TOKEN [--root DIR] [--host-id ID] [options]
  faultline collect --out FILE [--root DIR] [--host-id ID] [options]

Run "faultline ship --help" or "faultline collect --help" for the options. Docs: docs/shipper.md.
`,
  ship: `faultline ship: collect one snapshot and upload it (or, with --interval, keep doing so).

Usage: faultline ship --endpoint URL --token TOKEN [options]

  --endpoint URL        http(s)://HOST[:PORT] (POST {URL}/v1/snapshots) or s3://bucket[/prefix]
                        (S3 API: env AWS_ENDPOINT_URL_S3, standard AWS credentials)
  --token TOKEN         bearer token for http(s) endpoints (env FAULTLINE_TOKEN)
  --root DIR            host root to read (default /; e.g. /host in a container)
  --host-id ID          cloud instance id (default: sys/class/dmi/id/board_asset_tag, then the hostname)
  --label KEY=VALUE     host attribute, repeatable (env FAULTLINE_LABELS="zone=a,cluster=b"; flags win)
  --interval DURATION   keep running: collect and ship every DURATION (e.g. 10m), with jitter
  --state-dir DIR       state and spool (default /var/lib/faultline; env FAULTLINE_SHIPPER_STATE_DIR)
  --spool-dir DIR       bundles waiting for the endpoint (default STATE-DIR/spool)
  --full-every DURATION upload even an unchanged snapshot when the last upload is older (default 24h)
  --retries N           retries per upload within a run, exponential backoff with jitter (default 3)
  --spool-max-files N   spool bound in bundles (default 100); the oldest are dropped first
  --spool-max-mb N      spool bound in MiB (default 256)
  --read-timeout DUR    per-file read timeout (default 2s)
  --stats               print timing and peak RSS as JSON on stderr

Exit status: 0 accepted (or unchanged), 1 not delivered (kept in the spool), 2 usage error,
3 rejected by the endpoint (bundle kept under SPOOL/rejected/) or refused credentials.
`,
  collect: `faultline collect: collect one snapshot into a file (no upload).

Usage: faultline collect --out FILE [options]

  --out FILE            gzip bundle, or plain JSON when FILE ends in .json
  --root DIR            host root to read (default /)
  --host-id ID          cloud instance id (default: sys/class/dmi/id/board_asset_tag, then the hostname)
  --label KEY=VALUE     host attribute, repeatable (env FAULTLINE_LABELS)
  --read-timeout DUR    per-file read timeout (default 2s)
  --stats               print timing and peak RSS as JSON on stderr

Exit status: 0 written, 1 failed, 2 usage error.
`,
} as const;
