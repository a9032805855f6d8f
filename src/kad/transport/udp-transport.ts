import { Emitter } from '../../core/emitter.js';
import { createSocket, type RemoteInfo as DgramRemoteInfo, type Socket } from 'node:dgram';
import { KadError } from '../errors.js';
import { abortReason, integerInRange } from '../option-checks.js';
import { type AddressFamily, familyOf } from '../wire/compact.js';
import {
  type Endpoint,
  MAX_DATAGRAM_BYTES,
  MAX_UDP_PAYLOAD_BYTES,
  type RemoteInfo,
  type Transport,
  TransportCounters,
  type TransportEvents,
  type TransportStats,
} from './transport.js';

/** Where a {@link createUdpTransport} socket binds. */
export interface UdpTransportOptions {
  /**
   * Local IP literal to bind: `0.0.0.0` / `127.0.0.1` (a `udp4` socket) or `::` / `::1` (a `udp6`
   * socket, bound IPv6-only so that each transport serves exactly one family; see
   * {@link Transport}). Host names are refused: they would make the family ambiguous.
   * @default "0.0.0.0"
   */
  readonly host?: string;
  /**
   * Local UDP port; 0 lets the operating system pick a free one (read it from `address()`).
   * @default 0
   */
  readonly port?: number;
  /**
   * Largest datagram delivered to `message` listeners, in bytes, in
   * `[MAX_DATAGRAM_BYTES, MAX_UDP_PAYLOAD_BYTES]`; bigger ones are dropped (counted under
   * `oversizedDropped`). The RPC layer accepts datagrams over 1500 bytes only as replies to its
   * own outstanding queries (`RpcOptions.maxReplyBytes`), so the default costs nothing for others.
   * @default 65507 (`MAX_UDP_PAYLOAD_BYTES`)
   */
  readonly maxReceiveBytes?: number;
  /** Aborts binding: the promise rejects with `signal.reason` and the socket is released. */
  readonly signal?: AbortSignal;
}

/** A {@link Transport} on a Node.js `dgram` socket. */
export interface UdpTransport extends Transport {
  /** `udp4` or `udp6`. */
  readonly socketType: 'udp4' | 'udp6';
}

/**
 * Binds a UDP socket and wraps it as a {@link Transport}.
 *
 * Rejects with `INVALID_ADDRESS` for a host that is not an IP literal or a port outside
 * `[0, 65535]`, and also with `INVALID_ADDRESS` (the operating system error as `cause`, its `code`
 * in the message) when binding fails, for example `EADDRINUSE`, or `EADDRNOTAVAIL` for `::1` on
 * a machine without IPv6 loopback.
 *
 * @example
 * const transport = await createUdpTransport({ host: '0.0.0.0', port: 6881 });
 * transport.on('message', ({ data, from }) => console.log(from, data.byteLength));
 */
export async function createUdpTransport(options: UdpTransportOptions = {}): Promise<UdpTransport> {
  const host = options.host ?? '0.0.0.0';
  const port = options.port ?? 0;
  const family = familyOf(host);
  if (family === undefined)
    throw KadError.invalidAddress(`host must be an IPv4 or IPv6 literal (got ${JSON.stringify(host)})`);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw KadError.invalidAddress(`port must be an integer in [0, 65535] (got ${String(port)})`);
  }
  const maxReceiveBytes = integerInRange(
    'maxReceiveBytes',
    options.maxReceiveBytes,
    MAX_UDP_PAYLOAD_BYTES,
    MAX_DATAGRAM_BYTES,
    MAX_UDP_PAYLOAD_BYTES,
  );
  options.signal?.throwIfAborted();
  const socket = createSocket({ type: family === 4 ? 'udp4' : 'udp6', ipv6Only: family === 6 });
  await bind(socket, host, port, options.signal);
  return new UdpSocketTransport(socket, family, maxReceiveBytes);
}

function bind(socket: Socket, host: string, port: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    const cleanup = (): void => {
      socket.off('error', onError);
      socket.off('listening', onListening);
      signal?.removeEventListener('abort', onAbort);
    };
    const onListening = (): void => {
      cleanup();
      resolve();
    };
    const onError = (error: Error): void => {
      cleanup();
      closeQuietly(socket);
      reject(KadError.invalidAddress(`cannot bind UDP ${host}:${port}: ${error.message}`, error));
    };
    const onAbort = (): void => {
      cleanup();
      closeQuietly(socket);
      if (signal !== undefined) reject(abortReason(signal));
    };
    socket.once('error', onError);
    socket.once('listening', onListening);
    signal?.addEventListener('abort', onAbort, { once: true });
    socket.bind({ address: host, port, exclusive: true });
  });
}

function closeQuietly(socket: Socket): void {
  try {
    socket.close();
  } catch {
    // already closed: nothing to release
  }
}

class UdpSocketTransport extends Emitter<TransportEvents> implements UdpTransport {
  readonly socketType: 'udp4' | 'udp6';
  readonly #socket: Socket;
  readonly #family: AddressFamily;
  readonly #address: RemoteInfo;
  readonly #counters = new TransportCounters();
  readonly #maxReceiveBytes: number;
  #closed = false;
  #closing: Promise<void> | undefined;

  constructor(socket: Socket, family: AddressFamily, maxReceiveBytes: number) {
    super();
    this.#socket = socket;
    this.#maxReceiveBytes = maxReceiveBytes;
    this.#family = family;
    this.socketType = family === 4 ? 'udp4' : 'udp6';
    const bound = socket.address();
    this.#address = Object.freeze({ host: bound.address, port: bound.port, family });
    socket.on('message', (message: Buffer, rinfo: DgramRemoteInfo) => this.#receive(message, rinfo));
    // an 'error' listener keeps socket errors from becoming uncaught exceptions
    socket.on('error', (error: Error) => {
      this.#counters.socketErrors++;
      this.emit('error', { error });
    });
  }

  get closed(): boolean {
    return this.#closed;
  }

  address(): RemoteInfo {
    return this.#address;
  }

  stats(): TransportStats {
    return this.#counters.snapshot();
  }

  send(datagram: Uint8Array, to: Endpoint): void {
    const counters = this.#counters;
    if (datagram.byteLength > MAX_DATAGRAM_BYTES) {
      counters.oversizedRefused++;
      return;
    }
    if (this.#closed || familyOf(to.host) !== this.#family || !validPort(to.port)) {
      // refuse host names too: dgram would resolve them through DNS on the hot path
      this.#sendFailed(to, new Error(this.#closed ? 'transport closed' : `bad destination ${to.host}:${to.port}`));
      return;
    }
    try {
      this.#socket.send(datagram, to.port, to.host, (error) => {
        if (error) this.#sendFailed(to, error);
      });
    } catch (error) {
      this.#sendFailed(to, error instanceof Error ? error : new Error(String(error)));
      return;
    }
    counters.datagramsSent++;
    counters.bytesSent += datagram.byteLength;
  }

  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#closing = new Promise<void>((resolve) => {
      try {
        this.#socket.close(() => resolve());
      } catch {
        resolve();
      }
    }).then(() => this.emit('close', undefined));
    return this.#closing;
  }

  #receive(message: Buffer, rinfo: DgramRemoteInfo): void {
    if (this.#closed) return;
    const counters = this.#counters;
    if (message.byteLength > this.#maxReceiveBytes) {
      counters.oversizedDropped++;
      return;
    }
    counters.datagramsReceived++;
    counters.bytesReceived += message.byteLength;
    // a plain Uint8Array view (no copy): Buffer's slice/equality semantics differ from Uint8Array's
    const data = new Uint8Array(message.buffer, message.byteOffset, message.byteLength);
    this.emit('message', { data, from: { host: rinfo.address, port: rinfo.port, family: this.#family } });
  }

  #sendFailed(to: Endpoint, error: Error): void {
    this.#counters.sendErrors++;
    if (this.listening('error')) this.emit('error', { error, to });
  }
}

function validPort(port: number): boolean {
  return Number.isInteger(port) && port > 0 && port <= 65535;
}
