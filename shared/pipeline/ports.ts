/** Narrow ports through which the pipeline touches storage and queues (implementations in infra/). */

export interface StoredObject {
  readonly bytes: Uint8Array;
  readonly custom: Readonly<Record<string, string>>;
}

export interface ObjectStore {
  get(key: string): Promise<StoredObject | null>;
  exists(key: string): Promise<boolean>;
  put(
    key: string,
    body: Uint8Array,
    meta: { contentType: string; contentEncoding?: string; custom?: Record<string, string> },
  ): Promise<void>;
  /** Keys under a prefix, oldest first by key order. */
  list(
    prefix: string,
    opts?: { cursor?: string; limit?: number },
  ): Promise<{ keys: string[]; cursor?: string }>;
}

export type GunzipResult =
  | { ok: true; bytes: Uint8Array }
  | { ok: false; reason: "too_large" | "corrupt"; message: string };

export interface Codec {
  gunzip(data: Uint8Array, maxBytes: number): Promise<GunzipResult>;
  gzip(data: Uint8Array): Promise<Uint8Array>;
}
