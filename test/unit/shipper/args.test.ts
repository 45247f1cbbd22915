import { describe, expect, it } from "vitest";
import {
  parseCommandLine,
  parseDuration,
  parseEndpoint,
  parseLabels,
  UsageError,
} from "../../../shipper/args.js";
import { backoffMs, RETRY_MAX_MS } from "../../../shipper/upload.js";
import { retryAfterMs } from "../../../shipper/upload-http.js";

const SHIP = ["ship", "--endpoint", "http://127.0.0.1:8787", "--token", "t0k"];

describe("parseCommandLine", () => {
  it("fills ship defaults: root /, state dir, spool under it, full upload every 24h", () => {
    expect(parseCommandLine(SHIP, {})).toMatchInlineSnapshot(`
      {
        "command": "ship",
        "endpoint": {
          "kind": "http",
          "url": "http://127.0.0.1:8787",
        },
        "fullEveryMs": 86400000,
        "hostId": undefined,
        "intervalMs": undefined,
        "labels": {},
        "readTimeoutMs": 2000,
        "retries": 3,
        "root": "/",
        "spoolDir": "/var/lib/faultline/spool",
        "spoolMaxBytes": 268435456,
        "spoolMaxFiles": 100,
        "stateDir": "/var/lib/faultline",
        "stats": false,
        "token": "t0k",
      }
    `);
  });

  it("takes the token, labels and state dir from the environment; flags win per label", () => {
    const cfg = parseCommandLine(
      [
        "ship",
        "--endpoint",
        "https://faultline.example.com/",
        "--label",
        "zone=b",
        "--label",
        "instanceType=ecs.g7",
      ],
      {
        FAULTLINE_TOKEN: "env-token",
        FAULTLINE_LABELS: "zone=a, cluster=prod-1",
        FAULTLINE_SHIPPER_STATE_DIR: "/data/fl/",
      },
    );
    expect(cfg).toMatchObject({
      token: "env-token",
      labels: { zone: "b", cluster: "prod-1", instanceType: "ecs.g7" },
      endpoint: { kind: "http", url: "https://faultline.example.com" },
      stateDir: "/data/fl/",
      spoolDir: "/data/fl/spool",
    });
  });

  it("parses s3 endpoints and needs no token for them", () => {
    expect(
      parseCommandLine(["ship", "--endpoint", "s3://fleet-snapshots/prod/cn", "--interval", "10m"], {}),
    ).toMatchObject({
      endpoint: { kind: "s3", bucket: "fleet-snapshots", prefix: "prod/cn" },
      intervalMs: 600_000,
    });
  });

  it("parses collect, and help for each command", () => {
    expect(
      parseCommandLine(["collect", "--root", "/host", "--host-id", "i-1", "--out", "x.json"], {}),
    ).toMatchObject({
      command: "collect",
      root: "/host",
      hostId: "i-1",
      out: "x.json",
    });
    expect(parseCommandLine(["ship", "--help"], {})).toEqual({ command: "help", topic: "ship" });
    expect(parseCommandLine(["collect", "-h"], {})).toEqual({ command: "help", topic: "collect" });
    expect(parseCommandLine([], {})).toEqual({ command: "help", topic: "main" });
  });

  it.each([
    [["shop"], /unknown command "shop"/],
    [["ship", "--token", "t"], /--endpoint is required/],
    [["ship", "--endpoint", "http://x"], /--token \(or env FAULTLINE_TOKEN\) is required/],
    [[...SHIP, "--bogus"], /Unknown option '--bogus'/],
    [[...SHIP, "--interval", "soon"], /--interval: "soon" is not a duration/],
    [[...SHIP, "--interval", "1s"], /--interval: 1s is out of range/],
    [[...SHIP, "--label", "zone"], /--label: "zone" is not key=value/],
    [[...SHIP, "--label", "=a"], /is not key=value/],
    [[...SHIP, "--host-id", ""], /--host-id: must not be empty/],
    [[...SHIP, "--retries", "-1"], /Option '--retries' argument is ambiguous/],
    [[...SHIP, "--retries", "many"], /--retries: expected a whole number/],
    [["ship", "--endpoint", "ftp://x", "--token", "t"], /scheme ftp: is not supported/],
    [["ship", "--endpoint", "s3://A_bucket", "--token", "t"], /is not an S3 bucket name/],
    [["collect", "--root", "/"], /--out FILE is required/],
    [["collect", "--out", "x", "extra"], /Unexpected argument 'extra'/],
  ])("rejects %j", (argv, message) => {
    expect(() => parseCommandLine(argv, {})).toThrow(UsageError);
    expect(() => parseCommandLine(argv, {})).toThrow(message);
  });
});

describe("value parsers", () => {
  it.each([
    ["10m", 600_000],
    ["24h", 86_400_000],
    ["1h30m", 5_400_000],
    ["500ms", 500],
    ["0s", 0],
    ["2d", 172_800_000],
    ["10", undefined],
    ["m", undefined],
    ["-5s", undefined],
    ["1.5h", undefined],
  ] as const)("parseDuration(%j) = %j", (text, ms) => {
    expect(parseDuration(text)).toBe(ms);
  });

  it.each([
    ["http://127.0.0.1:8787", { kind: "http", url: "http://127.0.0.1:8787" }],
    ["https://fl.example.com/base/", { kind: "http", url: "https://fl.example.com/base" }],
    ["s3://bucket", { kind: "s3", bucket: "bucket", prefix: "" }],
    ["s3://bucket/a/b/", { kind: "s3", bucket: "bucket", prefix: "a/b" }],
    ["http://x/?q=1", "--endpoint: the service base URL takes no query or fragment"],
  ] as const)("parseEndpoint(%j)", (text, want) => {
    expect(parseEndpoint(text)).toEqual(want);
  });

  it("parseLabels keeps '=' inside values and rejects control characters", () => {
    expect(parseLabels(undefined, ["note=a=b"])).toEqual({ note: "a=b" });
    expect(() => parseLabels("zone=a\u0007", [])).toThrow(/control characters/);
  });

  it.each([
    ["0", 0],
    ["120", 120_000],
    ["Wed, 21 Oct 2015 07:28:00 GMT", 1000],
    ["soon", undefined],
  ] as const)("retryAfterMs(%j)", (header, ms) => {
    expect(retryAfterMs(header, Date.parse("Wed, 21 Oct 2015 07:27:59 GMT"))).toBe(ms);
  });

  it("backs off exponentially with jitter in the upper half, capped, and never under Retry-After", () => {
    expect([0, 1, 2, 3].map((a) => backoffMs(a, 0, () => 0))).toEqual([500, 1000, 2000, 4000]);
    expect([0, 1, 2, 3].map((a) => backoffMs(a, 0, () => 1))).toEqual([1000, 2000, 4000, 8000]);
    expect(backoffMs(20, 0, () => 1)).toBe(RETRY_MAX_MS);
    expect(backoffMs(0, 7000, () => 0)).toBe(7000);
    expect(
      backoffMs(0, 10 * RETRY_MAX_MS, () => 0),
      "Retry-After is capped",
    ).toBe(2 * RETRY_MAX_MS);
  });
});
