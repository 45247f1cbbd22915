/**
 * Bearer tokens: random, shown once, stored as a sha256 hash. Scopes `read`, `ingest`, `admin`
 * (admin implies the others); an ingest token may be bound to one host id.
 */
import type { Scope } from "../db/schema.js";

export interface Principal {
  readonly tokenId: string;
  readonly scopes: readonly Scope[];
  /** Set for host-bound ingest tokens. */
  readonly hostId: string | null;
}

const encoder = new TextEncoder();

/** Hex sha256 of a string or bytes (Web Crypto: the same in workerd and Node). */
export async function sha256Hex(data: string | Uint8Array): Promise<string> {
  const bytes = typeof data === "string" ? encoder.encode(data) : data;
  const digest = await crypto.subtle.digest("SHA-256", bytes);
  return toHex(new Uint8Array(digest));
}

function toHex(bytes: Uint8Array): string {
  let s = "";
  for (const b of bytes) s += b.toString(16).padStart(2, "0");
  return s;
}

function base64url(bytes: Uint8Array): string {
  let bin = "";
  for (const b of bytes) bin += String.fromCharCode(b);
  return btoa(bin).replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** A new token `fl_<id>_<secret>` and its stored parts; the id lets logs name a token without its secret. */
export async function generateToken(): Promise<{ id: string; token: string; hash: string }> {
  const id = base64url(crypto.getRandomValues(new Uint8Array(6)));
  const secret = base64url(crypto.getRandomValues(new Uint8Array(32)));
  const token = `fl_${id}_${secret}`;
  return { id, token, hash: await sha256Hex(token) };
}

/** True when the principal holds `scope` (admin holds every scope). */
export function hasScope(p: Principal, scope: Scope): boolean {
  return p.scopes.includes("admin") || p.scopes.includes(scope);
}

/** True when the principal may write evidence for `hostId` (host-bound tokens only their own). */
export function mayWriteHost(p: Principal, hostId: string): boolean {
  if (p.scopes.includes("admin")) return true;
  return hasScope(p, "ingest") && (p.hostId === null || p.hostId === hostId);
}

/** Constant-time comparison of two equal-length hex digests. */
export function digestEquals(a: string, b: string): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a.charCodeAt(i) ^ b.charCodeAt(i);
  return diff === 0;
}
