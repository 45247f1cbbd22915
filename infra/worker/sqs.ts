/**
 * The control-plane SQS queue as the pipeline's EventSource, with @aws-sdk/client-sqs inside workerd.
 * AWS speaks the SDK's default JSON 1.0 protocol; local servers such as sqslite only speak the older
 * query protocol (form-encoded requests, XML answers), selected with SQS_PROTOCOL=query. The XML side
 * needs wrangler.toml's `@aws-sdk/xml-builder` alias, or workerd fails with "DOMParser is not defined".
 */
import { DeleteMessageBatchCommand, ReceiveMessageCommand, SQSClient } from "@aws-sdk/client-sqs";
import { AwsQueryProtocol } from "@aws-sdk/core/protocols";
import { z } from "zod";
import type { EventSource, SourceMessage } from "../../shared/pipeline/drain-events.js";

/** The Worker variables this adapter reads (a subset of functions/env.ts). */
export interface SqsEnv {
  SQS_QUEUE_URL?: string;
  SQS_REGION?: string;
  SQS_ENDPOINT?: string;
  SQS_PROTOCOL?: string;
  AWS_ACCESS_KEY_ID?: string;
  AWS_SECRET_ACCESS_KEY?: string;
}

export const SQS_PROTOCOLS = ["json", "query"] as const;

export const SqsSettings = z.object({
  queueUrl: z.url({ protocol: /^https?$/ }),
  region: z.string().regex(/^[a-z0-9-]+$/, "expected an AWS region such as us-east-1"),
  endpoint: z.url({ protocol: /^https?$/ }).optional(),
  protocol: z.enum(SQS_PROTOCOLS),
  accessKeyId: z.string().min(1, "AWS_ACCESS_KEY_ID is required (Workers have no default credential chain)"),
  secretAccessKey: z.string().min(1, "AWS_SECRET_ACCESS_KEY is required"),
});
export type SqsSettings = z.infer<typeof SqsSettings>;

export type SqsSettingsResult =
  | { status: "unset" }
  | { status: "invalid"; message: string }
  | { status: "ok"; settings: SqsSettings };

/** Reads and validates the SQS_* and AWS_* variables; `unset` when no queue URL is configured. */
export function readSqsSettings(env: SqsEnv): SqsSettingsResult {
  const queueUrl = env.SQS_QUEUE_URL?.trim();
  if (!queueUrl) return { status: "unset" };
  const parsed = SqsSettings.safeParse({
    queueUrl,
    region: env.SQS_REGION?.trim() || regionOfQueueUrl(queueUrl) || "",
    endpoint: env.SQS_ENDPOINT?.trim() || undefined,
    protocol: env.SQS_PROTOCOL?.trim().toLowerCase() || "json",
    accessKeyId: env.AWS_ACCESS_KEY_ID ?? "",
    secretAccessKey: env.AWS_SECRET_ACCESS_KEY ?? "",
  });
  if (parsed.success) return { status: "ok", settings: parsed.data };
  const names: Record<string, string> = {
    queueUrl: "SQS_QUEUE_URL",
    region: "SQS_REGION",
    endpoint: "SQS_ENDPOINT",
    protocol: "SQS_PROTOCOL",
    accessKeyId: "AWS_ACCESS_KEY_ID",
    secretAccessKey: "AWS_SECRET_ACCESS_KEY",
  };
  const message = parsed.error.issues
    .map((i) => `${names[String(i.path[0])] ?? i.path.join(".")}: ${i.message}`)
    .join("; ");
  return { status: "invalid", message };
}

/** `https://sqs.eu-west-1.amazonaws.com/123456789012/name` (or the legacy `eu-west-1.queue.amazonaws.com`) names its region. */
export function regionOfQueueUrl(queueUrl: string): string | null {
  let host: string;
  try {
    host = new URL(queueUrl).hostname;
  } catch {
    return null;
  }
  const m =
    /^sqs\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$/.exec(host) ??
    /^([a-z0-9-]+)\.queue\.amazonaws\.com$/.exec(host);
  return m?.[1] ?? null;
}

/** Builds the SDK client; the query protocol is the SDK's documented override (a protocol class). */
export function makeSqsClient(settings: SqsSettings, opts: { requestTimeoutMs?: number } = {}): SQSClient {
  return new SQSClient({
    region: settings.region,
    credentials: { accessKeyId: settings.accessKeyId, secretAccessKey: settings.secretAccessKey },
    ...(settings.endpoint ? { endpoint: settings.endpoint } : {}),
    ...(settings.protocol === "query" ? { protocol: AwsQueryProtocol } : {}),
    maxAttempts: 3,
    // Without a timeout a stalled connection would hold the cron invocation until the runtime kills it.
    requestHandler: { requestTimeout: opts.requestTimeoutMs ?? 30_000 },
  });
}

/** Adapts an SQS queue to the pipeline's EventSource port (receive with long polling, batch delete). */
export function sqsEventSource(client: SQSClient, queueUrl: string): EventSource {
  return {
    async receive(max, waitSeconds) {
      const out = await client.send(
        new ReceiveMessageCommand({
          QueueUrl: queueUrl,
          MaxNumberOfMessages: Math.min(10, Math.max(1, max)),
          WaitTimeSeconds: Math.min(20, Math.max(0, Math.floor(waitSeconds))),
        }),
      );
      const messages: SourceMessage[] = [];
      for (const m of out.Messages ?? []) {
        if (!m.ReceiptHandle) continue;
        messages.push({
          id: m.MessageId ?? m.ReceiptHandle,
          receiptHandle: m.ReceiptHandle,
          body: m.Body ?? "",
        });
      }
      return messages;
    },
    async ack(handles) {
      const failures: string[] = [];
      for (let start = 0; start < handles.length; start += 10) {
        const chunk = handles.slice(start, start + 10);
        const out = await client.send(
          new DeleteMessageBatchCommand({
            QueueUrl: queueUrl,
            Entries: chunk.map((receiptHandle, i) => ({
              Id: String(start + i),
              ReceiptHandle: receiptHandle,
            })),
          }),
        );
        for (const f of out.Failed ?? [])
          failures.push(`${f.Id}: ${f.Code ?? "error"} ${f.Message ?? ""}`.trim());
      }
      if (failures.length > 0) {
        throw new Error(
          `DeleteMessageBatch failed for ${failures.length} message(s): ${failures.join("; ")}`,
        );
      }
    },
  };
}
