import { connect as connectTcp, type Socket } from 'node:net';
import { connect as connectTls } from 'node:tls';

/** Where and how the test helpers' own admin connections reach a `redis-server`. */
export interface RespTarget {
  /** TCP port on 127.0.0.1 (the TLS port when `tls` is set). */
  readonly port: number;
  /** TLS with these PEM texts: the CA to trust, and a client certificate to present. */
  readonly tls?: { readonly ca: string; readonly cert?: string; readonly key?: string } | undefined;
  /** `AUTH` before the command: a password of the `default` user, or `[user, password]`. */
  readonly auth?: string | readonly [string, string] | undefined;
}

const REPLY_TIMEOUT_MS = 2000;

/**
 * One command over a fresh connection (after `AUTH`, if the target has credentials), with just
 * enough RESP2 to read simple strings, errors, integers and bulk strings (the admin commands
 * the helpers send). An error reply rejects with its text. Bounded by 2 s.
 */
export function respCommand(target: RespTarget, args: readonly string[]): Promise<string> {
  const frames: (readonly string[])[] = [];
  if (target.auth !== undefined)
    frames.push(['AUTH', ...(typeof target.auth === 'string' ? [target.auth] : target.auth)]);
  frames.push(args);
  return new Promise((resolve, reject) => {
    const socket: Socket =
      target.tls === undefined
        ? connectTcp({ host: '127.0.0.1', port: target.port })
        : connectTls({
            host: '127.0.0.1',
            port: target.port,
            ca: target.tls.ca,
            ...(target.tls.cert === undefined ? {} : { cert: target.tls.cert }),
            ...(target.tls.key === undefined ? {} : { key: target.tls.key }),
          });
    let buffer = Buffer.alloc(0);
    let awaiting = frames.length;
    const finish = (error: Error | undefined, reply?: string): void => {
      socket.destroy();
      clearTimeout(timer);
      if (error) reject(error);
      else resolve(reply ?? '');
    };
    const timer = setTimeout(
      () => finish(new Error(`no reply from 127.0.0.1:${target.port} within ${REPLY_TIMEOUT_MS} ms`)),
      REPLY_TIMEOUT_MS,
    );
    socket.once('error', (error) => finish(error));
    socket.on('data', (chunk: Buffer) => {
      buffer = Buffer.concat([buffer, chunk]);
      for (;;) {
        const parsed = parseReply(buffer);
        if (parsed === undefined) return;
        buffer = buffer.subarray(parsed.length);
        // an AUTH failure ends the exchange with its error; its OK is not the answer
        if (parsed.error !== undefined) return finish(parsed.error);
        if (--awaiting === 0) return finish(undefined, parsed.text);
      }
    });
    // pipelined: AUTH and the command go out together (the server answers them in order)
    socket.write(frames.map(encode).join(''));
  });
}

function encode(args: readonly string[]): string {
  return [`*${args.length}\r\n`, ...args.map((a) => `$${Buffer.byteLength(a)}\r\n${a}\r\n`)].join('');
}

interface Parsed {
  readonly length: number;
  readonly text?: string;
  readonly error?: Error;
}

/** The first complete reply in `buffer` and its length in bytes; `undefined` while incomplete. */
function parseReply(buffer: Buffer): Parsed | undefined {
  const lineEnd = buffer.indexOf('\r\n');
  if (lineEnd === -1) return undefined;
  const type = String.fromCharCode(buffer[0] ?? 0);
  const line = buffer.subarray(1, lineEnd).toString();
  if (type === '+' || type === ':') return { length: lineEnd + 2, text: line };
  if (type === '-') return { length: lineEnd + 2, error: new Error(line) };
  if (type === '$') {
    const size = Number(line);
    if (size < 0) return { length: lineEnd + 2, text: '' };
    const end = lineEnd + 2 + size;
    if (buffer.length < end + 2) return undefined;
    return { length: end + 2, text: buffer.subarray(lineEnd + 2, end).toString() };
  }
  return { length: buffer.length, error: new Error(`unexpected RESP reply type ${type}`) };
}
