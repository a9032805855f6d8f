/**
 * A bare UDP socket on loopback that speaks just enough KRPC to play a peer of a `nautilus`
 * process in the e2e tests: it sends queries, records every message it receives, decoded, and
 * answers nothing unless told to.
 */
import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { bdecode, bencode, type BencodeDict } from '../../src/kad/wire/bencode.js';

/** A message the socket received, decoded, with its sender. */
export interface Received {
  readonly message: BencodeDict;
  readonly from: { readonly address: string; readonly port: number };
}

/** The socket and what it received. */
export interface KrpcSocket {
  readonly id: Uint8Array;
  /** `host:port` (`[::1]:port` for IPv6) to give a node as a bootstrap host or to ping. */
  readonly address: string;
  readonly received: readonly Received[];
  /** Sends query `q` with `a` (plus its own `id`) and transaction id `t` to `host:port`. */
  query(host: string, port: number, q: string, t: string, a?: BencodeDict): void;
  /** Resolves with the first message received (now or later) that `match` accepts; rejects after `timeoutMs`. */
  next(match: (r: Received) => boolean, timeoutMs?: number): Promise<Received>;
  close(): void;
}

/** Binds a socket on 127.0.0.1 (`udp4`) or ::1 (`udp6`), port 0. */
export async function krpcSocket(type: 'udp4' | 'udp6'): Promise<KrpcSocket> {
  const host = type === 'udp4' ? '127.0.0.1' : '::1';
  const socket: Socket = createSocket(type);
  socket.bind(0, host);
  await once(socket, 'listening');
  const id = new Uint8Array(randomBytes(20));
  const received: Received[] = [];
  const waiters = new Set<() => void>();
  socket.on('message', (bytes, info) => {
    try {
      const message = bdecode(new Uint8Array(bytes)) as BencodeDict;
      received.push({ message, from: { address: info.address, port: info.port } });
    } catch {
      return; // not bencode: nothing a node sends
    }
    for (const wake of waiters) wake();
  });
  const port = socket.address().port;
  return {
    id,
    address: type === 'udp4' ? `${host}:${port}` : `[${host}]:${port}`,
    received,
    query(to, toPort, q, t, a = {}) {
      const enc = new TextEncoder();
      const message = { t: enc.encode(t), y: enc.encode('q'), q: enc.encode(q), a: { ...a, id } };
      socket.send(bencode(message), toPort, to);
    },
    next(match, timeoutMs = 20_000) {
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check);
          reject(new Error(`no matching KRPC message within ${timeoutMs} ms`));
        }, timeoutMs);
        const check = (): void => {
          const found = received.find(match);
          if (found === undefined) return;
          clearTimeout(timer);
          waiters.delete(check);
          resolve(found);
        };
        waiters.add(check);
        check();
      });
    },
    close: () => socket.close(),
  };
}

/** A message's byte-string field as text (latin1: ids and tokens keep their bytes). */
export function field(message: BencodeDict, key: string): string | undefined {
  const value = message[key];
  return value instanceof Uint8Array ? Buffer.from(value).toString('latin1') : undefined;
}
