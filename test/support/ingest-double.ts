/**
 * TEST DOUBLE of the service's snapshot ingest (`POST /v1/snapshots`): a tiny node:http server with the
 * same route, headers and answers (201 accepted, 200 duplicate, `{error:{code,message,requestId}}`).
 * It stands in for the real Worker in shipper tests and is replaced by the real service in later
 * end-to-end tests. It can be told to fail the next requests, and restarted on the same port.
 */
import { createHash, randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { gunzipSync } from "node:zlib";
import { SnapshotBundle, snapshotKey } from "../../shared/contracts/snapshot.js";

export interface StoredSnapshot {
  key: string;
  sha256: string;
  body: Buffer;
  bundle: SnapshotBundle;
  receivedAt: number;
}

export interface IngestDouble {
  /** Base URL (`http://127.0.0.1:PORT`): what `--endpoint` takes. */
  readonly url: string;
  readonly port: number;
  /** Objects stored, in arrival order, one per distinct key. */
  readonly stored: StoredSnapshot[];
  /** Every request: method, path, status answered. */
  readonly requests: { method: string; path: string; status: number }[];
  /** Answer the next `count` snapshot POSTs with `status` (and a Retry-After of `retryAfterS` when set). */
  failNext(count: number, status: number, retryAfterS?: number): void;
  /** Hold the answer to the next snapshot POST for `ms` (a stalled upload). */
  delayNext(ms: number): void;
  /** Stop listening (connections refused) until `start()`. */
  stop(): Promise<void>;
  /** Listen again on the same port. */
  start(): Promise<void>;
}

function sendJson(
  res: ServerResponse,
  status: number,
  body: unknown,
  headers: Record<string, string> = {},
): void {
  res.writeHead(status, { "content-type": "application/json", ...headers });
  res.end(JSON.stringify(body));
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => resolve(Buffer.concat(chunks)));
    req.on("error", reject);
  });
}

/** Starts the double on 127.0.0.1 (port 0 picks a free one). */
export async function startIngestDouble(opts: { token: string; port?: number }): Promise<IngestDouble> {
  const stored: StoredSnapshot[] = [];
  const requests: { method: string; path: string; status: number }[] = [];
  const byKey = new Map<string, StoredSnapshot>();
  let failures: { count: number; status: number; retryAfterS?: number } = { count: 0, status: 503 };
  let delayMs = 0;

  const error = (res: ServerResponse, status: number, code: string, message: string, headers = {}): void => {
    sendJson(res, status, { error: { code, message, requestId: randomUUID() } }, headers);
  };
  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const path = (req.url ?? "/").split("?")[0] ?? "/";
    res.on("finish", () => requests.push({ method: req.method ?? "", path, status: res.statusCode }));
    if (req.method !== "POST" || path !== "/v1/snapshots")
      return error(res, 404, "not_found", `no route ${req.method} ${path}`);
    const body = await readBody(req);
    if (delayMs > 0) {
      const ms = delayMs;
      delayMs = 0;
      await new Promise((resolve) => setTimeout(resolve, ms));
    }
    if (req.headers.authorization !== `Bearer ${opts.token}`)
      return error(res, 401, "unauthorized", "missing or wrong bearer token");
    if (failures.count > 0) {
      failures.count--;
      const headers =
        failures.retryAfterS === undefined ? {} : { "retry-after": String(failures.retryAfterS) };
      return error(res, failures.status, "injected", `injected failure ${failures.status}`, headers);
    }
    if (
      req.headers["content-encoding"] !== "gzip" ||
      !String(req.headers["content-type"]).startsWith("application/json")
    ) {
      return error(
        res,
        415,
        "unsupported_media_type",
        "expected Content-Type application/json with Content-Encoding gzip",
      );
    }
    const sha256 = createHash("sha256").update(body).digest("hex");
    if (req.headers["x-faultline-sha256"] !== sha256) {
      return error(res, 400, "checksum_mismatch", `X-Faultline-Sha256 does not match the body (${sha256})`);
    }
    let bundle: SnapshotBundle;
    try {
      const parsed = SnapshotBundle.safeParse(JSON.parse(gunzipSync(body).toString("utf8")));
      if (!parsed.success)
        return error(res, 400, "invalid_bundle", parsed.error.issues[0]?.message ?? "invalid bundle");
      bundle = parsed.data;
    } catch (e) {
      return error(
        res,
        400,
        "invalid_bundle",
        `not a gzip JSON bundle: ${e instanceof Error ? e.message : e}`,
      );
    }
    const key = snapshotKey({ hostId: bundle.hostId, capturedAtMs: bundle.capture.startedAtMs, sha256 });
    if (byKey.has(key)) return sendJson(res, 200, { key, sha256, status: "duplicate" });
    const s: StoredSnapshot = { key, sha256, body, bundle, receivedAt: Date.now() };
    byKey.set(key, s);
    stored.push(s);
    sendJson(res, 201, { key, sha256, status: "accepted" });
  };

  let server: Server | undefined;
  const listen = (port: number): Promise<number> =>
    new Promise((resolve, reject) => {
      const s = createServer((req, res) => {
        handle(req, res).catch((e: unknown) => error(res, 500, "internal", String(e)));
      });
      s.on("error", reject);
      s.listen(port, "127.0.0.1", () => {
        server = s;
        const addr = s.address();
        resolve(typeof addr === "object" && addr !== null ? addr.port : port);
      });
    });
  const port = await listen(opts.port ?? 0);
  return {
    url: `http://127.0.0.1:${port}`,
    port,
    stored,
    requests,
    failNext(count, status, retryAfterS) {
      failures = retryAfterS === undefined ? { count, status } : { count, status, retryAfterS };
    },
    delayNext(ms) {
      delayMs = ms;
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (!server) return resolve();
        server.close(() => resolve());
        server.closeAllConnections();
        server = undefined;
      }),
    start: async () => {
      if (!server) await listen(port);
    },
  };
}
