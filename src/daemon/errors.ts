/**
 * Every failure of the daemon itself (configuration, the HTTP API's requests), named by a stable
 * string code. Errors of the node and the registry keep their own classes (`KadError`,
 * `RegistryError`); the API maps all three onto `{ error: { code, message } }` bodies.
 *
 * - `INVALID_CONFIG`: a flag, variable or config-file entry is wrong (named in the message).
 * - `INVALID_REQUEST`: the request's body, parameters or query string do not fit its schema.
 * - `UNAUTHORIZED`: no bearer token, or not the daemon's.
 * - `NOT_FOUND`: no such route, or nothing stored under the target or key.
 * - `PAYLOAD_TOO_LARGE`: the body is larger than the API accepts.
 * - `UNSUPPORTED_MEDIA_TYPE`: a body that is not `application/json`.
 * - `NOT_READY`: the node has not joined the network yet.
 * - `INTERNAL`: anything unexpected (logged with its stack).
 */
export type DaemonErrorCode =
  | 'INVALID_CONFIG'
  | 'INVALID_REQUEST'
  | 'UNAUTHORIZED'
  | 'NOT_FOUND'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNSUPPORTED_MEDIA_TYPE'
  | 'NOT_READY'
  | 'INTERNAL';

/** The one error class of the daemon. Check `code`, never the message. */
export class DaemonError extends Error {
  override readonly name = 'DaemonError';
  readonly code: DaemonErrorCode;

  constructor(code: DaemonErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** A configuration value is wrong: `name` is the flag (or key) as the user wrote it. */
  static invalidConfig(name: string, problem: string): DaemonError {
    return new DaemonError('INVALID_CONFIG', `${name} ${problem}`);
  }

  /** A request does not fit its schema. */
  static invalidRequest(message: string): DaemonError {
    return new DaemonError('INVALID_REQUEST', message);
  }

  /** Missing or wrong bearer token. */
  static unauthorized(message: string): DaemonError {
    return new DaemonError('UNAUTHORIZED', message);
  }

  /** Nothing at this route, target or key. */
  static notFound(message: string): DaemonError {
    return new DaemonError('NOT_FOUND', message);
  }
}

/** Whether `error` is a {@link DaemonError} (of `code`, when given). */
export function isDaemonError(error: unknown, code?: DaemonErrorCode): error is DaemonError {
  return error instanceof DaemonError && (code === undefined || error.code === code);
}
