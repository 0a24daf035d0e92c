/**
 * The control socket's protocol (`<run dir>/control.sock`): newline-delimited JSON. A request is
 * `{"id": n, "method": "list", "params": {...}}`; the reply carries the same id and either `result` or
 * `error: {code, message}` (code: an errno name such as ESRCH, or `config`, `usage`, `internal`).
 */

export interface ControlRequest {
  id: number;
  method: string;
  params?: Record<string, unknown>;
}

export interface ControlError {
  code: string;
  message: string;
}

export type ControlReply = { id: number; result: unknown } | { id: number; error: ControlError };

/** A request line longer than this closes the connection (nothing legitimate comes near it). */
export const MAX_REQUEST_BYTES = 1 << 20;

/** An error the server answers with. */
export class ControlFailure extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}
