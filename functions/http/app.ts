/** The HTTP API: one hono sub-app per resource, one error envelope, tokens checked on every /v1 route. */
import { OpenAPIHono } from "@hono/zod-openapi";
import { HTTPException } from "hono/http-exception";
import { makeDb } from "../../infra/worker/db.js";
import { ApiError, type ErrorEnvelope } from "../../shared/errors.js";
import { authenticate } from "./auth.js";
import type { AppEnv } from "./context.js";
import { eventsApp } from "./routes/events.js";
import { evidenceApp } from "./routes/evidence.js";
import { hostsApp } from "./routes/hosts.js";
import { incidentsApp } from "./routes/incidents.js";
import { ingestErrorsApp } from "./routes/ingest-errors.js";
import { patternsApp } from "./routes/patterns.js";
import { reprocessApp } from "./routes/reprocess.js";
import { snapshotsApp } from "./routes/snapshots.js";
import { tokensApp } from "./routes/tokens.js";

/** Builds the API app (a fresh instance per Worker isolate). */
export function createApp() {
  const app = new OpenAPIHono<AppEnv>();

  app.use("*", async (c, next) => {
    c.set("requestId", c.req.header("cf-ray") ?? crypto.randomUUID());
    c.set("db", makeDb(c.env.DB));
    const started = Date.now();
    await next();
    c.header("x-request-id", c.get("requestId"));
    console.log(
      JSON.stringify({
        msg: "request",
        method: c.req.method,
        path: c.req.path,
        status: c.res.status,
        ms: Date.now() - started,
        requestId: c.get("requestId"),
      }),
    );
  });

  // Ready means the schema is there: local mode applies migrations after the socket opens. Once seen,
  // the schema stays, so later probes answer without a database round trip.
  let schemaSeen = false;
  app.get("/healthz", async (c) => {
    try {
      if (!schemaSeen) await c.env.DB.prepare("SELECT 1 FROM episodes LIMIT 0").run();
      schemaSeen = true;
      return c.json({ status: "ok" });
    } catch {
      return c.json({ status: "starting", reason: "database schema not applied yet" }, 503);
    }
  });
  app.use("/v1/*", authenticate);

  app.route("/", snapshotsApp);
  app.route("/", eventsApp);
  app.route("/", tokensApp);
  app.route("/", ingestErrorsApp);
  app.route("/", hostsApp);
  app.route("/", evidenceApp);
  app.route("/", reprocessApp);
  app.route("/", patternsApp);
  app.route("/", incidentsApp);

  app.openAPIRegistry.registerComponent("securitySchemes", "bearer", { type: "http", scheme: "bearer" });
  app.doc31("/openapi.json", {
    openapi: "3.1.0",
    info: {
      title: "faultline",
      version: "1",
      description: "Fleet-wide incident correlation for cloud disks",
    },
  });

  app.notFound((c) => {
    const body: ErrorEnvelope = {
      error: {
        code: "not_found",
        message: `no route ${c.req.method} ${c.req.path}`,
        requestId: c.get("requestId"),
      },
    };
    return c.json(body, 404);
  });

  app.onError((err, c) => {
    const requestId = c.get("requestId") ?? "unknown";
    if (err instanceof ApiError) {
      const body: ErrorEnvelope = {
        error: {
          code: err.code,
          message: err.message,
          requestId,
          ...(err.details === undefined ? {} : { details: err.details }),
        },
      };
      return c.json(body, err.status);
    }
    if (err instanceof HTTPException && err.status < 500) {
      const body: ErrorEnvelope = { error: { code: "invalid_request", message: err.message, requestId } };
      return c.json(body, err.status);
    }
    console.error(
      JSON.stringify({ msg: "unhandled error", requestId, error: String(err), stack: (err as Error).stack }),
    );
    const body: ErrorEnvelope = {
      error: { code: "internal", message: "internal error; see the service log", requestId },
    };
    return c.json(body, 500);
  });

  return app;
}
