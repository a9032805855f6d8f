import type { Listener } from '../../core/emitter.js';
import type { AddressFamily } from '../wire/compact.js';

/**
 * Largest datagram a transport sends, in bytes: one Ethernet MTU, which every KRPC message this
 * node builds fits. Transports refuse bigger datagrams on send (counted), so this node never
 * makes the network fragment. It is also the bound of what the RPC layer accepts from anyone:
 * queries and unsolicited datagrams over it are dropped undecoded; only replies to this node's
 * own outstanding queries may be bigger (up to `RpcOptions.maxReplyBytes`), because other
 * implementations answer with more (bittorrent-dht puts its whole routing table in `nodes`).
 */
export const MAX_DATAGRAM_BYTES = 1500;

/**
 * Largest UDP payload, in bytes (65 535 minus the IPv4 and UDP headers): the default receive
 * bound of a transport, which delivers datagrams up to its bound and leaves it to the RPC layer
 * to accept the big ones only as replies to its own queries.
 */
export const MAX_UDP_PAYLOAD_BYTES = 65_507;

/** Where a datagram goes: an IP literal (dotted IPv4 or IPv6 text, no brackets) and a UDP port. */
export interface Endpoint {
  readonly host: string;
  readonly port: number;
}

/** Where a datagram came from, or where a transport is bound. */
export interface RemoteInfo extends Endpoint {
  readonly family: AddressFamily;
}

/** Payload of a transport's `message` event: one datagram as received. */
export interface InboundDatagram {
  /**
   * The bytes, at most the transport's receive bound (`MAX_UDP_PAYLOAD_BYTES`, 65 507, unless
   * configured lower). A plain `Uint8Array` view that the receiver may keep; the transport never
   * reuses it.
   */
  readonly data: Uint8Array;
  /** The sender. */
  readonly from: RemoteInfo;
}

/** Payload of a transport's `error` event: a socket-level failure that was counted and survived. */
export interface TransportErrorEvent {
  /** The underlying error (for example `EHOSTUNREACH` from a send, or a socket error). */
  readonly error: Error;
  /** The destination when the failure belongs to a send. */
  readonly to?: Endpoint;
}

/** The events of a {@link Transport}. */
export interface TransportEvents {
  /** A datagram arrived (already checked against the transport's receive bound). */
  message: InboundDatagram;
  /** A send or socket error; informational only, the transport keeps working. */
  error: TransportErrorEvent;
  /** The transport was closed; no more `message` events follow. */
  close: undefined;
}

/** Counters of a {@link Transport}, monotonic since it was created. */
export interface TransportStats {
  /** Datagrams handed to the network. */
  readonly datagramsSent: number;
  /** Datagrams delivered to `message` listeners. */
  readonly datagramsReceived: number;
  /** Bytes handed to the network. */
  readonly bytesSent: number;
  /** Bytes delivered to `message` listeners. */
  readonly bytesReceived: number;
  /** Sends refused because the datagram exceeded `MAX_DATAGRAM_BYTES` (1500). */
  readonly oversizedRefused: number;
  /** Received datagrams dropped because they exceeded the receive bound (65 507 unless configured lower). */
  readonly oversizedDropped: number;
  /**
   * Sends that failed: a destination that is not an IP literal of this transport's family or
   * has a bad port, a send after close, or an error reported by the operating system.
   */
  readonly sendErrors: number;
  /** Socket-level errors other than send failures. */
  readonly socketErrors: number;
}

/**
 * A datagram transport: the only I/O a KAD node does. `rpc.ts` is its only user.
 *
 * **Family.** One transport serves one address family, reported by `address().family`; it sends
 * to and receives from endpoints of that family only (a send to the other family fails and is
 * counted under `sendErrors`). A dual-stack node (BEP 32) runs two transports, one `udp4` and one
 * `udp6`, each with its own RPC layer and routing table, which keeps `nodes` and `nodes6` apart
 * and lets a node learn its external address per family (BEP 42).
 *
 * **Receiving.** Datagrams arrive as `message` events (the typed {@link TransportEvents}); an
 * event API rather than a single handler slot, so that metrics or tests can listen beside the RPC
 * layer. Listeners run synchronously and must not throw (a throw surfaces as an uncaught
 * exception on a later microtask, as with every `Emitter`).
 *
 * **Errors.** `send` is fire-and-forget: it never throws for network reasons and never throws
 * after close; failures are counted in {@link TransportStats} and reported as `error` events.
 */
export interface Transport {
  /**
   * Sends one datagram to `to`. Datagrams over `MAX_DATAGRAM_BYTES` (1500) are refused (counted
   * under `oversizedRefused`). The caller may reuse `datagram` once this returns.
   * Receiving is bounded apart, by a bound of at least 1500 bytes (see `MAX_UDP_PAYLOAD_BYTES`).
   */
  send(datagram: Uint8Array, to: Endpoint): void;
  /** The bound address; for a wildcard bind, the wildcard (`0.0.0.0` / `::`) and the real port. */
  address(): RemoteInfo;
  /** Counters since creation. */
  stats(): TransportStats;
  /** Whether {@link close} was called. */
  readonly closed: boolean;
  /** Releases the socket. Idempotent; resolves once the port is free again. */
  close(): Promise<void>;
  /** Adds `listener` for `event`. */
  on<E extends keyof TransportEvents>(event: E, listener: Listener<TransportEvents[E]>): this;
  /** Removes one registration of `listener` for `event`. */
  off<E extends keyof TransportEvents>(event: E, listener: Listener<TransportEvents[E]>): this;
  /** Adds a listener that removes itself after its first call. */
  once<E extends keyof TransportEvents>(event: E, listener: Listener<TransportEvents[E]>): this;
}

/** Mutable counters behind {@link TransportStats}, shared by the transport implementations. */
export class TransportCounters implements TransportStats {
  datagramsSent = 0;
  datagramsReceived = 0;
  bytesSent = 0;
  bytesReceived = 0;
  oversizedRefused = 0;
  oversizedDropped = 0;
  sendErrors = 0;
  socketErrors = 0;

  /** A frozen copy. */
  snapshot(): TransportStats {
    return Object.freeze({ ...this });
  }
}

/** Whether `a` and `b` name the same host and port (IPv6 text compared case-insensitively). */
export function sameEndpoint(a: Endpoint, b: Endpoint): boolean {
  return a.port === b.port && (a.host === b.host || a.host.toLowerCase() === b.host.toLowerCase());
}

/** `host:port`, with brackets around IPv6 hosts; a stable map key for an endpoint. */
export function endpointKey(endpoint: Endpoint): string {
  return endpoint.host.includes(':') ? `[${endpoint.host}]:${endpoint.port}` : `${endpoint.host}:${endpoint.port}`;
}

/**
 * A compact map key: a number for an IPv4 host (its 32-bit address), else the host text
 * (canonicalize IPv6 text first to compare). Numbers cost no string per entry, which matters
 * for per-destination state across hundreds of nodes in one process.
 */
export type HostId = number | string;

/** A compact map key for an endpoint: IPv4 `address * 65536 + port`, else `[host]:port`. */
export type EndpointId = number | string;

/** The {@link HostId} of `host`. */
export function hostId(host: string): HostId {
  const v4 = parseIpv4(host);
  return v4 === undefined ? host : v4;
}

/** The {@link EndpointId} of `endpoint`. */
export function endpointId(endpoint: Endpoint): EndpointId {
  const v4 = parseIpv4(endpoint.host);
  return v4 === undefined ? endpointKey(endpoint) : v4 * 65536 + endpoint.port;
}

/** The 32-bit value of canonical dotted-quad text (no leading zeros), without allocating. */
function parseIpv4(host: string): number | undefined {
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < host.length; i++) {
    const code = host.charCodeAt(i);
    if (code === 46 /* . */) {
      if (digits === 0 || ++dots > 3) return undefined;
      value = value * 256 + part;
      part = 0;
      digits = 0;
    } else if (code >= 48 && code <= 57) {
      if (digits > 0 && part === 0) return undefined; // leading zero
      part = part * 10 + (code - 48);
      if (++digits > 3 || part > 255) return undefined;
    } else {
      return undefined;
    }
  }
  if (dots !== 3 || digits === 0) return undefined;
  return value * 256 + part;
}
