/** The one error envelope every API response uses: `{ "error": { "code", "message", "requestId" } }`. */

export const ERROR_CODES = {
  unauthorized: 401,
  forbidden: 403,
  not_found: 404,
  invalid_request: 400,
  payload_too_large: 413,
  unsupported_media_type: 415,
  conflict: 409,
  internal: 500,
  unavailable: 503,
} as const;
export type ErrorCode = keyof typeof ERROR_CODES;

/** An error meant for the caller: its code and message are shown as they are. */
export class ApiError extends Error {
  readonly status: (typeof ERROR_CODES)[ErrorCode];
  constructor(
    readonly code: ErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.status = ERROR_CODES[code];
  }
}

export interface ErrorEnvelope {
  error: { code: ErrorCode; message: string; requestId: string; details?: unknown };
}
