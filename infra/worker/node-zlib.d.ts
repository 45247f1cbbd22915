/**
 * The one piece of node:zlib the Worker uses (workerd implements it natively under `nodejs_compat`),
 * typed here so the Worker's program keeps workerd's globals without all of @types/node.
 */
declare module "node:zlib" {
  /** Throws a RangeError when the output would pass `maxOutputLength`. */
  export function gunzipSync(data: Uint8Array, options?: { maxOutputLength?: number }): Uint8Array;
}
