/**
 * Messages on the `snapshots` queue. The shape is the one an R2 object-create notification produces,
 * so production (bucket notification) and local mode (the ingest route enqueues) run one consumer.
 */
import { z } from "zod";

export const ObjectNotification = z.looseObject({
  account: z.string().optional(),
  action: z.string(),
  bucket: z.string(),
  object: z.looseObject({
    key: z.string().min(1),
    size: z.number().int().nonnegative().optional(),
    eTag: z.string().optional(),
  }),
  eventTime: z.string().optional(),
});
export type ObjectNotification = z.infer<typeof ObjectNotification>;

/** Notification actions that mean "a new object is there to process". */
export const CREATE_ACTIONS: ReadonlySet<string> = new Set([
  "PutObject",
  "CopyObject",
  "CompleteMultipartUpload",
]);
