// the daemon's light modules only: a client verb loads no HTTP server
import { defaultStateDir } from '../daemon/config.js';
import { readToken, tokenPath } from '../daemon/token.js';
import { FailureError, type CliIo, type CommandArgs, type CommandOptions, stringFlag } from './command.js';

/** Flags every client verb takes. */
export const CLIENT_OPTIONS: CommandOptions = {
  api: { type: 'string' },
  token: { type: 'string' },
  'state-dir': { type: 'string' },
  'timeout-ms': { type: 'string' },
  json: { type: 'boolean' },
};

/** Help text of {@link CLIENT_OPTIONS}. */
export const CLIENT_HELP = `Daemon options (every client verb):
  --api URL                The daemon's API (env NAUTILUS_API; default http://127.0.0.1:7401)
  --token TOKEN            Bearer token (env NAUTILUS_TOKEN; default: read from the state dir)
  --state-dir DIR          Where the daemon keeps api-token (env NAUTILUS_STATE_DIR;
                           default $XDG_STATE_HOME/nautilus)
  --timeout-ms MS          Give up after MS milliseconds (default 30000)
  --json                   Print the API's JSON answer instead of text
`;

/** A connection to a running daemon's API. */
export interface ApiClient {
  /** The JSON answer of `method path`; {@link FailureError} with one line for every failure. */
  request<T = Record<string, unknown>>(method: string, path: string, body?: unknown): Promise<T>;
  /** Like {@link request}, but resolves `undefined` for a 404 `NOT_FOUND`. */
  find<T = Record<string, unknown>>(path: string): Promise<T | undefined>;
}

/** The client of the daemon the flags and environment point at. */
export async function connect(args: CommandArgs, io: CliIo): Promise<ApiClient> {
  const env = io.env ?? process.env;
  const base = (stringFlag(args, 'api') ?? env['NAUTILUS_API'] ?? 'http://127.0.0.1:7401').replace(/\/+$/, '');
  if (!/^https?:\/\/[^/]+$/.test(base))
    throw new FailureError(`--api must be http://host:port (got ${JSON.stringify(base)})`);
  const timeoutRaw = stringFlag(args, 'timeout-ms');
  const timeoutMs = timeoutRaw === undefined ? 30_000 : Number(timeoutRaw);
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)
    throw new FailureError(`--timeout-ms must be a positive integer`);
  const token = stringFlag(args, 'token') ?? env['NAUTILUS_TOKEN'] ?? (await stateDirToken(args, env));

  const call = async (
    method: string,
    path: string,
    body: unknown,
  ): Promise<{ status: number; json: Record<string, unknown> }> => {
    const signals = [AbortSignal.timeout(timeoutMs), ...(io.signal === undefined ? [] : [io.signal])];
    let response: Response;
    try {
      response = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(token === undefined ? {} : { authorization: `Bearer ${token}` }),
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
        signal: AbortSignal.any(signals),
      });
    } catch (error) {
      throw unreachable(base, error, timeoutMs);
    }
    const text = await response.text();
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(text) as Record<string, unknown>;
    } catch {
      throw new FailureError(`the daemon at ${base} answered HTTP ${response.status} with a body that is not JSON`);
    }
    return { status: response.status, json };
  };
  const failed = (status: number, json: Record<string, unknown>): FailureError => {
    const error = json['error'] as { code?: string; message?: string } | undefined;
    const code = error?.code ?? `HTTP_${status}`;
    if (code === 'UNAUTHORIZED') {
      return new FailureError(`the daemon refused the token (${error?.message ?? 'unauthorized'})`);
    }
    return new FailureError(`${code}: ${error?.message ?? `HTTP ${status}`}`);
  };
  return {
    async request<T>(method: string, path: string, body?: unknown): Promise<T> {
      const { status, json } = await call(method, path, body);
      if (status >= 400) throw failed(status, json);
      return json as T;
    },
    async find<T>(path: string): Promise<T | undefined> {
      const { status, json } = await call('GET', path, undefined);
      if (status === 404 && (json['error'] as { code?: string } | undefined)?.code === 'NOT_FOUND') return undefined;
      if (status >= 400) throw failed(status, json);
      return json as T;
    },
  };
}

async function stateDirToken(
  args: CommandArgs,
  env: Readonly<Record<string, string | undefined>>,
): Promise<string | undefined> {
  const dir = stringFlag(args, 'state-dir') ?? env['NAUTILUS_STATE_DIR'] ?? defaultStateDir(env);
  try {
    return await readToken(tokenPath(dir));
  } catch (error) {
    throw new FailureError(`cannot read the API token in ${tokenPath(dir)}: ${(error as Error).message}`);
  }
}

function unreachable(base: string, error: unknown, timeoutMs: number): FailureError {
  const err = error as Error & { cause?: { code?: string; message?: string } };
  if (err.name === 'TimeoutError')
    return new FailureError(`TIMEOUT: no answer from the daemon at ${base} within ${timeoutMs} ms`);
  if (err.name === 'AbortError') return new FailureError('interrupted');
  const code = err.cause?.code ?? err.cause?.message ?? err.message;
  return new FailureError(
    `cannot reach the daemon at ${base} (${code}): is \`nautilus start\` running? (--api to point elsewhere)`,
  );
}
