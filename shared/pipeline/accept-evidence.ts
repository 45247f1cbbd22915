/**
 * POST /v1/hosts/{hostId}/evidence: command output captured by hand, naming the command. Stored in
 * object storage like a snapshot (its own key prefix) and parsed by the queue consumer.
 */
import { z } from "zod";
import { mayWriteHost, type Principal, sha256Hex } from "../auth/tokens.js";
import { Rfc3339Ms } from "../contracts/events.js";
import { findSnapshot, recordReceived } from "../db/ingest.js";
import type { Db } from "../db/types.js";
import { ApiError } from "../errors.js";
import {
  EVIDENCE_KINDS,
  type EvidenceKind,
  recognizeCommand,
  supportedCommands,
} from "../evidence/commands.js";
import type { Codec, ObjectStore } from "./ports.js";

export const EVIDENCE_MAX_OUTPUT_BYTES = 8 * 1024 * 1024;

/** The request body (and, with `schemaVersion`, `hostId` and `kind`, the stored object). */
export const EvidenceRequest = z.object({
  command: z.string().min(1).max(4096),
  output: z.string(),
  capturedAt: Rfc3339Ms.optional(),
  exitCode: z.number().int().optional(),
  note: z.string().max(4096).optional(),
});

export const StoredEvidence = z.object({
  schemaVersion: z.literal(1),
  hostId: z.string(),
  kind: z.enum(EVIDENCE_KINDS),
  command: z.string(),
  output: z.string(),
  capturedAtMs: z.number(),
  exitCode: z.number().int().optional(),
  note: z.string().optional(),
});
export type StoredEvidence = z.infer<typeof StoredEvidence>;

/** `evidence/{hostId}/{yyyy-mm-dd}/{capturedAtMs}-{sha256}.json.gz`. */
export function evidenceKey(args: { hostId: string; capturedAtMs: number; sha256: string }): string {
  const day = new Date(args.capturedAtMs).toISOString().slice(0, 10);
  return `evidence/${encodeURIComponent(args.hostId)}/${day}/${args.capturedAtMs}-${args.sha256}.json.gz`;
}

const EVIDENCE_KEY_RE = /^evidence\/([^/]+)\/\d{4}-\d{2}-\d{2}\/(\d+)-([0-9a-f]{64})\.json\.gz$/;

/** Reads an evidence key back; null for any other key. */
export function parseEvidenceKey(
  key: string,
): { hostId: string; capturedAtMs: number; sha256: string } | null {
  const m = EVIDENCE_KEY_RE.exec(key);
  if (!m?.[1] || !m[2] || !m[3]) return null;
  try {
    return { hostId: decodeURIComponent(m[1]), capturedAtMs: Number(m[2]), sha256: m[3] };
  } catch {
    return null;
  }
}

/** Stores hand-captured evidence for a host; the same output twice is one piece of evidence. */
export async function acceptEvidence(args: {
  hostId: string;
  request: z.infer<typeof EvidenceRequest>;
  principal: Principal;
  db: Db;
  store: ObjectStore;
  codec: Codec;
  nowMs: number;
}): Promise<{ key: string; kind: EvidenceKind; status: "accepted" | "duplicate" }> {
  const { hostId, request } = args;
  if (!mayWriteHost(args.principal, hostId)) {
    throw new ApiError("forbidden", `this token may not write evidence for host '${hostId}'`);
  }
  const kind = recognizeCommand(request.command);
  if (!kind) {
    throw new ApiError(
      "invalid_request",
      `faultline cannot read the output of '${request.command}'; supported: ${supportedCommands().join(" | ")}`,
    );
  }
  const capturedAtMs = request.capturedAt ?? args.nowMs;
  const doc: StoredEvidence = {
    schemaVersion: 1,
    hostId,
    kind,
    command: request.command,
    output: request.output,
    capturedAtMs,
    ...(request.exitCode === undefined ? {} : { exitCode: request.exitCode }),
    ...(request.note === undefined ? {} : { note: request.note }),
  };
  const gz = await args.codec.gzip(new TextEncoder().encode(JSON.stringify(doc)));
  const sha256 = await sha256Hex(gz);
  const key = evidenceKey({ hostId, capturedAtMs, sha256 });
  if (await findSnapshot(args.db, key)) return { key, kind, status: "duplicate" };
  await args.store.put(key, gz, {
    contentType: "application/json",
    contentEncoding: "gzip",
    custom: { hostId, tokenId: args.principal.tokenId, command: request.command.slice(0, 512) },
  });
  const inserted = await recordReceived(args.db, {
    key,
    hostId,
    sha256,
    capturedAtMs,
    receivedAtMs: args.nowMs,
    bytes: gz.byteLength,
    source: "evidence",
    command: request.command,
  });
  return { key, kind, status: inserted ? "accepted" : "duplicate" };
}
