/**
 * The real shipper CLI (`node bin/faultline.mjs`, the bundle `npm run build` makes) against synthetic
 * host trees, the HTTP ingest test double, and s3rver.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import {
  appendFileSync,
  closeSync,
  constants,
  existsSync,
  mkdtempSync,
  openSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  unlinkSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { gunzipSync } from "node:zlib";
import { GetObjectCommand, ListObjectsV2Command } from "@aws-sdk/client-s3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { createS3Client } from "../../infra/node/s3.js";
import { parseSnapshotKey, SnapshotBundle } from "../../shared/contracts/snapshot.js";
import { sha256Hex } from "../../shipper/bundle.js";
import { s3Uploader } from "../../shipper/upload-s3.js";
import { healthyHost, reattachRaceHost, writeHostTree } from "../support/host-tree.js";
import { type IngestDouble, startIngestDouble } from "../support/ingest-double.js";
import { type LocalS3, startLocalS3 } from "../support/s3rver.js";

const REPO = resolve(import.meta.dirname, "../..");
const BIN = join(REPO, "bin/faultline.mjs");
const TOKEN = "e2e-token";

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs the CLI with a clean environment (no FAULTLINE_* or AWS_* from the caller) plus `env`. */
function runCli(
  args: string[],
  opts: { env?: Record<string, string>; onSpawn?: (c: ChildProcess) => void } = {},
): Promise<CliRun> {
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!/^(FAULTLINE_|AWS_)/.test(k)) env[k] = v;
  const started = Date.now();
  return new Promise((done, fail) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      env: { ...env, ...opts.env },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
    const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
    child.on("error", fail);
    child.on("close", (code) => {
      clearTimeout(timer);
      done({ code, stdout, stderr, ms: Date.now() - started });
    });
    opts.onSpawn?.(child);
  });
}

const dirs: string[] = [];
function tempDir(prefix: string): string {
  const d = mkdtempSync(join(tmpdir(), `faultline-${prefix}-`));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

beforeAll(() => {
  // The tests run the built bundle: a stale one would test old code.
  const built = existsSync(join(REPO, "dist/faultline.mjs"))
    ? statSync(join(REPO, "dist/faultline.mjs")).mtimeMs
    : 0;
  const sources = [
    ...readdirSync(join(REPO, "shipper")).map((f) => join(REPO, "shipper", f)),
    join(REPO, "infra/node/s3.ts"),
  ].filter((f) => f.endsWith(".ts"));
  const newer = sources.filter((f) => statSync(f).mtimeMs > built);
  if (newer.length > 0)
    throw new Error(`dist/faultline.mjs is older than ${newer[0]}: run \`npm run build\` first`);
});

function readBundle(path: string): SnapshotBundle {
  const raw = readFileSync(path);
  const text = path.endsWith(".json") ? raw.toString("utf8") : gunzipSync(raw).toString("utf8");
  return SnapshotBundle.parse(JSON.parse(text));
}

describe("faultline CLI", () => {
  it.each([
    [
      ["ship", "--root", "/", "--endpoint", "http://127.0.0.1:9"],
      "faultline ship: --token (or env FAULTLINE_TOKEN) is required for an http(s) endpoint",
    ],
    [
      ["ship", "--endpoint", "http://127.0.0.1:9", "--token", "t", "--interval", "5x"],
      'faultline ship: --interval: "5x" is not a duration like 10m, 24h, 2s',
    ],
    [
      ["ship", "--endpoint", "http://x", "--token", "t", "--root", "/nonexistent-root"],
      "faultline ship: --root /nonexistent-root: not a directory",
    ],
    [
      ["collect", "--out", "x.json", "--label", "zone"],
      'faultline collect: --label: "zone" is not key=value with a key like zone or instanceType',
    ],
    [["collect", "--nope"], "faultline collect: Unknown option '--nope'"],
    [["deploy"], 'faultline: unknown command "deploy" (commands: ship, collect)'],
  ])("exits 2 with a clear message for %j", async (args, message) => {
    const r = await runCli(args);
    expect(r.code, r.stderr).toBe(2);
    expect(r.stderr.split("\n")[0]).toBe(message);
    expect(r.stderr).toMatch(/Try: faultline( ship| collect)? --help/);
  });

  it.each([["--help"], ["ship", "--help"], ["collect", "--help"]])(
    "prints help for %j and exits 0",
    async (...args) => {
      const r = await runCli(args);
      expect(r.code, r.stderr).toBe(0);
      expect(r.stdout).toMatch(/^faultline/);
    },
  );

  it("collects a synthetic host into a gzip bundle that validates, with the host id from DMI and labels from env and flags", async () => {
    const root = tempDir("tree");
    await writeHostTree(root, reattachRaceHost());
    const out = join(tempDir("out"), "bundle.json.gz");
    const r = await runCli(["collect", "--root", root, "--out", out, "--label", "zone=cn-hangzhou-k"], {
      env: { FAULTLINE_LABELS: "zone=ignored,cluster=prod-1" },
    });
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain(
      'faultline: host id "i-bp1hc4ud2m7xz0e9k5w3" from sys/class/dmi/id/board_asset_tag',
    );
    const bundle = readBundle(out);
    expect({
      hostId: bundle.hostId,
      source: bundle.shipper.hostIdSource,
      labels: bundle.labels,
      root: bundle.capture.root,
    }).toEqual({
      hostId: "i-bp1hc4ud2m7xz0e9k5w3",
      source: "dmi",
      labels: { zone: "cn-hangzhou-k", cluster: "prod-1" },
      root,
    });
    expect(bundle.evidence["sys/bus/pci/devices/0000:3b:00.5/driver_override"]).toMatchObject({
      data: "nvme\n",
    });
  });

  it("writes plain JSON for a .json file and prints its own timing and peak RSS with --stats", async () => {
    const root = tempDir("tree");
    await writeHostTree(root, healthyHost());
    const out = join(tempDir("out"), "bundle.json");
    const r = await runCli(["collect", "--root", root, "--host-id", "i-json", "--out", out, "--stats"]);
    expect(r.code, r.stderr).toBe(0);
    expect(readBundle(out).hostId).toBe("i-json");
    const stats: unknown = JSON.parse(r.stderr.trim().split("\n").at(-1) ?? "");
    expect(stats).toMatchObject({
      command: "collect",
      collectMs: expect.any(Number),
      peakRssMb: expect.any(Number),
      bundleBytes: expect.any(Number),
    });
  });

  it("finishes and exits 0 while a read stays blocked in the kernel (FIFO with no writer)", async () => {
    const root = tempDir("tree");
    await writeHostTree(root, healthyHost());
    const serial = join(root, "sys/devices/pci0000:3a/0000:3a:00.0/0000:3b:00.3/nvme/nvme2/serial");
    unlinkSync(serial);
    execFileSync("mkfifo", [serial]);
    const out = join(tempDir("out"), "bundle.json.gz");
    try {
      const r = await runCli([
        "collect",
        "--root",
        root,
        "--host-id",
        "i-fifo",
        "--out",
        out,
        "--read-timeout",
        "300ms",
      ]);
      expect(r.code, r.stderr).toBe(0);
      expect(r.ms, "bounded by the read timeout, not the blocked read").toBeLessThan(30_000);
      expect(r.stderr).toMatch(/collector did not exit \(\d+ reads blocked in the kernel\); killed it/);
      // The same FIFO is reached as sys/class/nvme/nvme2/serial too: whichever read came first timed out.
      const ev = readBundle(out).evidence;
      const paths = ["sys/bus/pci/devices/0000:3b:00.3/nvme/nvme2/serial", "sys/class/nvme/nvme2/serial"];
      const kinds = paths.map((p) => ev[p]);
      expect(kinds).toContainEqual({ kind: "timeout", op: "read", afterMs: 300 });
      for (const e of kinds)
        expect(
          e?.kind === "timeout" || (e?.kind === "error" && e.code === "SKIPPED"),
          JSON.stringify(e),
        ).toBe(true);
    } finally {
      closeSync(openSync(serial, constants.O_RDWR | constants.O_NONBLOCK));
    }
  });
});

describe("faultline ship over HTTP (ingest test double)", () => {
  let ingest: IngestDouble;
  beforeAll(async () => {
    ingest = await startIngestDouble({ token: TOKEN });
  });
  afterAll(async () => {
    await ingest.stop();
  });
  afterEach(async () => {
    await ingest.start();
    ingest.failNext(0, 503);
  });

  async function setup() {
    const root = tempDir("tree");
    await writeHostTree(root, healthyHost());
    const state = tempDir("state");
    const shipWith = (extra: string[], onSpawn?: (c: ChildProcess) => void) =>
      runCli(
        ["ship", "--root", root, "--endpoint", ingest.url, "--state-dir", state, "--retries", "0", ...extra],
        {
          env: { FAULTLINE_TOKEN: TOKEN },
          ...(onSpawn ? { onSpawn } : {}),
        },
      );
    return { root, state, shipWith, ship: (...extra: string[]) => shipWith(extra) };
  }

  it("uploads once, then says unchanged and uploads nothing while the evidence stays the same", async () => {
    const { ship } = await setup();
    const before = ingest.stored.length;
    const first = await ship();
    expect(first.code, first.stderr).toBe(0);
    expect(first.stderr).toMatch(
      /faultline: accepted snapshots\/i-bp1hc4ud2m7xz0e9k5w3\/\d{4}-\d\d-\d\d\/\d+-[0-9a-f]{64}\.json\.gz \(HTTP 201; /,
    );
    const second = await ship();
    expect(second.code, second.stderr).toBe(0);
    expect(second.stderr).toMatch(/faultline: unchanged since the last upload \d+ s ago/);
    expect(ingest.stored.length - before).toBe(1);
  });

  it("spools while the endpoint is down and drains oldest first when it is back: one object per bundle", async () => {
    const { root, state, ship } = await setup();
    const before = ingest.stored.length;
    expect((await ship()).code).toBe(0);
    await ingest.stop();
    const changes = [
      "nvme nvme5: pci function 0000:3b:00.5",
      "nvme nvme5: Removing after probe failure status: -19",
    ];
    for (const [i, text] of changes.entries()) {
      appendFileSync(
        join(root, "dev/kmsg"),
        `4,${98_231 + i},${1_843_300_000_000 + i * 1_000_000},-;${text}\n`,
      );
      const down = await ship();
      expect(down.code, down.stderr).toBe(1);
      expect(down.stderr).toMatch(
        /not delivered to http:\/\/127\.0\.0\.1:\d+\/v1\/snapshots: spooled \d+-[0-9a-f]{64}\.json\.gz \((endpoint unavailable: )?fetch failed: ECONNREFUSED/,
      );
    }
    expect(readdirSync(join(state, "spool")).filter((n) => n.endsWith(".json.gz"))).toHaveLength(2);
    await ingest.start();
    const back = await ship();
    expect(back.code, back.stderr).toBe(0);
    expect(back.stderr).toMatch(/spool: sent .* \(accepted as snapshots\//);
    const mine = ingest.stored.slice(before);
    expect(mine).toHaveLength(3);
    expect(new Set(mine.map((s) => s.sha256)).size, "no bundle stored twice").toBe(3);
    const captured = mine.map((s) => s.bundle.capture.startedAtMs);
    expect(captured, "oldest first").toEqual([...captured].sort((a, b) => a - b));
    expect(readdirSync(join(state, "spool")).filter((n) => n.endsWith(".json.gz"))).toEqual([]);
  });

  it("keeps a rejected bundle under spool/rejected/ with the server's message and exits 3", async () => {
    const { state, ship } = await setup();
    ingest.failNext(1, 400);
    const r = await ship();
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toMatch(
      /rejected by .*: HTTP 400 injected: injected failure 400 \(request [0-9a-f-]{36}\); bundle kept at .*\/spool\/rejected\//,
    );
    expect(readdirSync(join(state, "spool", "rejected")).filter((n) => n.endsWith(".json.gz"))).toHaveLength(
      1,
    );
  });

  it("exits 3 for a wrong token and keeps the bundle in the spool for when it is fixed", async () => {
    const { state, ship } = await setup();
    const r = await ship("--token", "wrong");
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("HTTP 401 unauthorized: missing or wrong bearer token");
    expect(readdirSync(join(state, "spool")).filter((n) => n.endsWith(".json.gz"))).toHaveLength(1);
  });

  it("retries a 503 within the run and succeeds", async () => {
    const { ship } = await setup();
    ingest.failNext(1, 503, 0);
    const r = await ship("--retries", "1");
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/upload failed \(HTTP 503 injected: injected failure 503 .*\); retry 1\/1 in/);
  });

  /** Sends SIGTERM `afterMs` after the line matching `when` appears on stderr. */
  function termAfter(when: RegExp, afterMs: number): (c: ChildProcess) => void {
    return (child) => {
      let seen = "";
      child.stderr?.on("data", (d: Buffer) => {
        const had = when.test(seen);
        seen += d.toString();
        if (!had && when.test(seen)) setTimeout(() => child.kill("SIGTERM"), afterMs);
      });
    };
  }

  it("on SIGTERM during a stalled upload, spools the bundle and exits 0", async () => {
    const { state, shipWith } = await setup();
    ingest.delayNext(30_000);
    const r = await shipWith(["--interval", "10m"], termAfter(/host id/, 700));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/faultline: SIGTERM: stopping after the current step\n/);
    expect(r.stderr).toMatch(
      /faultline: interrupted: spooled \d+-[0-9a-f]{64}\.json\.gz \(interrupted by a signal\)/,
    );
    expect(readdirSync(join(state, "spool")).filter((n) => n.endsWith(".json.gz"))).toHaveLength(1);
  });

  it("with --interval, ships, sleeps, and exits 0 at once on SIGTERM", async () => {
    const { shipWith } = await setup();
    const r = await shipWith(["--interval", "10m"], termAfter(/faultline: accepted/, 200));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/faultline: shipping every 600 s to http:\/\/127\.0\.0\.1:\d+\n/);
    expect(r.ms).toBeLessThan(30_000);
  });
});

describe("faultline ship to S3 (s3rver)", () => {
  let s3: LocalS3;
  beforeAll(async () => {
    s3 = await startLocalS3();
  });
  afterAll(async () => {
    await s3.stop();
  });

  it("puts the gzip bundle at [prefix/]snapshots/{host}/{day}/{ts}-{sha256}.json.gz, byte for byte", async () => {
    const root = tempDir("tree");
    await writeHostTree(root, healthyHost());
    const state = tempDir("state");
    const args = [
      "ship",
      "--root",
      root,
      "--host-id",
      "i-s3/e2e",
      "--endpoint",
      `s3://${s3.bucket}/fleet/prod`,
      "--state-dir",
      state,
      "--retries",
      "0",
    ];
    const r = await runCli(args, { env: s3.env });
    expect(r.code, r.stderr).toBe(0);
    const client = await createS3Client({ env: s3.env, credentials: s3.credentials });
    const listed = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "fleet/prod/" }));
    const keys = (listed.Contents ?? []).map((o) => o.Key ?? "");
    expect(keys).toHaveLength(1);
    const key = keys[0] ?? "";
    expect(r.stderr).toContain(`faultline: accepted ${key} (PutObject`);
    const parsed = parseSnapshotKey(key.slice("fleet/prod/".length));
    expect(parsed?.hostId).toBe("i-s3/e2e");
    const obj = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    const bytes = Buffer.from((await obj.Body?.transformToByteArray()) ?? []);
    expect(sha256Hex(bytes), "the stored bytes are the bundle the key names").toBe(parsed?.sha256);
    expect({ type: obj.ContentType, encoding: obj.ContentEncoding }).toEqual({
      type: "application/json",
      encoding: "gzip",
    });
    const bundle = SnapshotBundle.parse(JSON.parse(gunzipSync(bytes).toString("utf8")));
    expect(parsed?.capturedAtMs).toBe(bundle.capture.startedAtMs);

    const again = await runCli(args, { env: s3.env });
    expect(again.stderr).toMatch(/unchanged since the last upload/);
    const full = await runCli([...args, "--full-every", "0s"], { env: s3.env });
    expect(full.code, full.stderr).toBe(0);
    const after = await client.send(new ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "fleet/prod/" }));
    expect(after.KeyCount, "one more object for the forced full upload").toBe(2);
  });

  it("stores a bundle byte for byte once: the second upload finds it with HeadObject", async () => {
    const client = await createS3Client({ env: s3.env, credentials: s3.credentials });
    const up = s3Uploader({ bucket: s3.bucket, prefix: "idem", client });
    const gzip = Buffer.from("not really gzip, but bytes with a name");
    const item = { gzip, sha256: sha256Hex(gzip), hostId: "i-idem", capturedAtMs: Date.UTC(2026, 2, 3) };
    const signal = new AbortController().signal;
    const first = await up.upload(item, signal);
    const second = await up.upload(item, signal);
    expect([first.status, second.status]).toEqual(["accepted", "duplicate"]);
    const key = first.status === "accepted" ? first.key : "";
    expect(key).toBe(`idem/snapshots/i-idem/2026-03-03/${item.capturedAtMs}-${item.sha256}.json.gz`);
    const obj = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: key }));
    expect(
      Buffer.from((await obj.Body?.transformToByteArray()) ?? []).equals(gzip),
      "stored bytes are the bytes sent",
    ).toBe(true);
    expect(obj.Metadata).toEqual({ sha256: item.sha256 });
  });

  it("exits 3 when the bucket does not exist (credentials or config, not the bundle)", async () => {
    const root = tempDir("tree");
    await writeHostTree(root, healthyHost());
    const r = await runCli(
      [
        "ship",
        "--root",
        root,
        "--endpoint",
        "s3://no-such-bucket",
        "--state-dir",
        tempDir("state"),
        "--retries",
        "0",
      ],
      { env: s3.env },
    );
    expect(r.code, r.stderr).toBe(3);
    expect(r.stderr).toContain("NoSuchBucket");
  });
});
