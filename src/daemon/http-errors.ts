import { isKadError } from '../kad/errors.js';
import { isRegistryError } from '../registry/errors.js';
import { isDaemonError } from './errors.js';

/** The body of every API error: `{ error: { code, message } }`. */
export interface ErrorBody {
  readonly error: { readonly code: string; readonly message: string };
}

/** An error as the API answers it: HTTP status and body. */
export interface HttpError {
  readonly status: number;
  readonly body: ErrorBody;
}

const DAEMON_STATUS: Record<string, number> = {
  INVALID_CONFIG: 400,
  INVALID_REQUEST: 400,
  UNAUTHORIZED: 401,
  NOT_FOUND: 404,
  PAYLOAD_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  NOT_READY: 503,
  INTERNAL: 500,
};

const KAD_STATUS: Record<string, number> = {
  INVALID_MESSAGE: 400,
  MESSAGE_TOO_BIG: 400,
  INVALID_SIGNATURE: 400,
  SALT_TOO_BIG: 400,
  INVALID_OPTION: 400,
  INVALID_ID: 400,
  INVALID_ADDRESS: 400,
  INVALID_KEY: 400,
  CAS_MISMATCH: 409,
  SEQ_TOO_LOW: 409,
  NOT_FOUND: 404,
  NO_CONTACTS: 503,
  NOT_STORED: 502,
  REMOTE_ERROR: 502,
  OVERLOADED: 503,
  CLOSED: 503,
  TIMEOUT: 504,
};

const REGISTRY_STATUS: Record<string, number> = {
  INVALID_KEY: 400,
  INVALID_VALUE: 400,
  INVALID_TTL: 400,
  INVALID_OPTION: 400,
  VALUE_TOO_LARGE: 413,
  CAPACITY_EXCEEDED: 507,
  VERSION_CONFLICT: 409,
  BACKEND_UNAVAILABLE: 503,
  TIMEOUT: 504,
  CLOSED: 503,
};

/** Codes of the HTTP framework's own errors, by what they mean to a client. */
const FRAMEWORK: Record<string, [number, string, string]> = {
  FST_ERR_CTP_BODY_TOO_LARGE: [413, 'PAYLOAD_TOO_LARGE', 'request body is larger than the API accepts'],
  FST_ERR_CTP_INVALID_MEDIA_TYPE: [415, 'UNSUPPORTED_MEDIA_TYPE', 'request body must be application/json'],
  FST_ERR_CTP_INVALID_JSON_BODY: [400, 'INVALID_REQUEST', 'request body is not valid JSON'],
  FST_ERR_CTP_EMPTY_JSON_BODY: [400, 'INVALID_REQUEST', 'request body is empty; a JSON object is expected'],
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: [400, 'INVALID_REQUEST', 'content-length does not match the body'],
};

/**
 * The status and `{ error: { code, message } }` body for anything a handler threw: the daemon's,
 * the node's and the registry's typed errors keep their codes; schema failures are
 * `INVALID_REQUEST`; a deadline is `TIMEOUT`; anything else is `INTERNAL` (its message withheld).
 */
export function toHttpError(error: unknown): HttpError {
  const make = (status: number, code: string, message: string): HttpError => ({
    status,
    body: { error: { code, message } },
  });
  if (isDaemonError(error)) return make(DAEMON_STATUS[error.code] ?? 500, error.code, error.message);
  if (isKadError(error)) return make(KAD_STATUS[error.code] ?? 500, error.code, error.message);
  if (isRegistryError(error)) return make(REGISTRY_STATUS[error.code] ?? 500, error.code, error.message);
  if (error instanceof Error) {
    const fastify = error as Error & { code?: string; validation?: unknown; validationContext?: string };
    if (fastify.validation !== undefined) return make(400, 'INVALID_REQUEST', error.message);
    const known = fastify.code === undefined ? undefined : FRAMEWORK[fastify.code];
    if (known !== undefined) return make(known[0], known[1], known[2]);
    if (error.name === 'TimeoutError') return make(504, 'TIMEOUT', 'the operation took longer than its deadline');
    if (error.name === 'AbortError') return make(499, 'ABORTED', 'the request was cancelled');
  }
  return make(500, 'INTERNAL', 'internal error (see the daemon log)');
}
