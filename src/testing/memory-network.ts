import { Emitter } from '../core/emitter.js';
import type { Clock, Milliseconds } from '../core/clock.js';
import { KadError } from '../kad/errors.js';
import { integerInRange, optionError, probability } from '../kad/option-checks.js';
import { MemoryNat, type MemoryNatOptions } from './memory-nat.js';
import { seededRandom } from './seeded-random.js';
import { type AddressFamily, familyOf } from '../kad/wire/compact.js';
import {
  type Endpoint,
  endpointKey,
  MAX_DATAGRAM_BYTES,
  MAX_UDP_PAYLOAD_BYTES,
  type RemoteInfo,
  type Transport,
  TransportCounters,
  type TransportEvents,
  type TransportStats,
} from '../kad/transport/transport.js';

/** One datagram crossing a {@link MemoryNetwork}, as seen by latency functions and drop filters. */
export interface Packet {
  readonly from: RemoteInfo;
  readonly to: Endpoint;
  readonly data: Uint8Array;
}

/** Configuration of a {@link MemoryNetwork}. */
export interface MemoryNetworkOptions {
  /**
   * One-way delay of every datagram, in ms: a number, or a function of the packet (for example
   * per-pair latencies). Negative results count as 0. Delivery always goes through the clock,
   * even at 0 ms, so nothing is delivered re-entrantly from inside `send`.
   * @default 10
   */
  readonly latencyMs?: Milliseconds | ((packet: Packet) => Milliseconds);
  /** Probability in `[0, 1]` that a datagram is lost, drawn from the seeded PRNG. @default 0 */
  readonly lossRate?: number;
  /** Seed of the PRNG behind losses and {@link MemoryNetwork.random}. @default 1 */
  readonly seed?: number;
  /**
   * Largest datagram a transport of this network sends, in bytes, in
   * `[MAX_DATAGRAM_BYTES, MAX_UDP_PAYLOAD_BYTES]` (1500 to 65 507); bigger sends are refused and
   * counted under `oversizedRefused`, as a UDP transport refuses anything over 1500. Raise it to
   * let a test peer answer with the big replies other implementations send (a KRPC layer never
   * sends more than 1500 bytes itself, so Nautilus nodes on the network are unchanged).
   * @default 1500
   */
  readonly maxDatagramBytes?: number;
}

/** Injected collaborators of a {@link MemoryNetwork}. */
export interface MemoryNetworkDeps {
  /** Schedules deliveries; a `ManualClock` makes whole networks deterministic. */
  readonly clock: Clock;
}

/** Where a {@link MemoryNetwork.createTransport} transport lives. */
export interface MemoryTransportOptions {
  /**
   * Any host string: an IP literal, or a name such as `"alice"` (family 4 unless it has a `:`).
   * @default the next free virtual address: `10.0.1.1`, `10.0.2.1`, … (IPv4) or `fd00:0:0:1::1`,
   * `fd00:0:0:2::1`, … (IPv6); each in its own /24 or /64, so routing-table diversity limits do
   * not interfere with simulated networks, and all private (BEP 42 exempt)
   */
  readonly host?: string;
  /** Port; 0 or omitted picks the first free port from 6881 on that host. @default 0 */
  readonly port?: number;
  /** Family of an auto-assigned host; ignored when `host` is given. @default 4 */
  readonly family?: AddressFamily;
}

/** Counters of a {@link MemoryNetwork}, monotonic since creation (except `inFlight`). */
export interface MemoryNetworkStats {
  /** Datagrams accepted by some transport's `send`. */
  readonly sent: number;
  /** Datagrams handed to the receiving transport. */
  readonly delivered: number;
  /** Datagrams lost to `lossRate`. */
  readonly lost: number;
  /** Datagrams dropped by a partition, the drop filter or a NAT (see {@link MemoryNetwork.addNat}). */
  readonly filtered: number;
  /** Datagrams whose destination did not exist (or was closed) when they arrived. */
  readonly unroutable: number;
  /** Datagrams scheduled and not yet delivered. */
  readonly inFlight: number;
}

/** Defaults of {@link MemoryNetworkOptions}. */
export const DEFAULT_MEMORY_NETWORK_OPTIONS = Object.freeze({
  latencyMs: 10,
  lossRate: 0,
  seed: 1,
  maxDatagramBytes: MAX_DATAGRAM_BYTES,
});

/** A datagram drop hook: return `true` to drop the packet. */
export type DropFilter = (packet: Packet) => boolean;

/**
 * A simulated datagram network for tests and benchmarks: transports that never open a socket,
 * with latency, seeded loss, partitions and a drop hook, and deliveries scheduled on an injected
 * {@link Clock}. On a `ManualClock`, hundreds of nodes run deterministically in one process.
 *
 * @example
 * const clock = new ManualClock();
 * const network = new MemoryNetwork({ latencyMs: 5, lossRate: 0.01, seed: 42 }, { clock });
 * const a = network.createTransport(); // 10.0.1.1:6881
 * const b = network.createTransport(); // 10.0.2.1:6881
 * b.on('message', ({ data, from }) => console.log(from.host, data));
 * a.send(new Uint8Array([1]), b.address());
 * await clock.advanceAsync(5);
 */
export class MemoryNetwork {
  readonly #clock: Clock;
  readonly #latency: (packet: Packet) => Milliseconds;
  readonly #lossRate: number;
  readonly #random: () => number;
  readonly #maxDatagramBytes: number;
  readonly #transports = new Map<string, MemoryTransport>();
  #groupOf = new Map<string, number>();
  #dropFilter: DropFilter | undefined;
  /** NATs by their external address, and by the hosts behind them. */
  readonly #natAt = new Map<string, MemoryNat>();
  readonly #natOf = new Map<string, MemoryNat>();
  #nextHost = 1;
  #sent = 0;
  #delivered = 0;
  #lost = 0;
  #filtered = 0;
  #unroutable = 0;
  #inFlight = 0;

  constructor(options: MemoryNetworkOptions = {}, deps: MemoryNetworkDeps) {
    const latency = options.latencyMs ?? DEFAULT_MEMORY_NETWORK_OPTIONS.latencyMs;
    if (typeof latency === 'function') {
      this.#latency = (packet) => Math.max(0, latency(packet));
    } else if (typeof latency === 'number' && Number.isFinite(latency) && latency >= 0) {
      this.#latency = () => latency;
    } else {
      throw optionError('latencyMs', 'a non-negative number or a function', latency);
    }
    this.#lossRate = probability('lossRate', options.lossRate, DEFAULT_MEMORY_NETWORK_OPTIONS.lossRate);
    const seed = options.seed ?? DEFAULT_MEMORY_NETWORK_OPTIONS.seed;
    if (!Number.isSafeInteger(seed)) throw optionError('seed', 'an integer', seed);
    this.#random = seededRandom(seed);
    this.#maxDatagramBytes = integerInRange(
      'maxDatagramBytes',
      options.maxDatagramBytes,
      DEFAULT_MEMORY_NETWORK_OPTIONS.maxDatagramBytes,
      MAX_DATAGRAM_BYTES,
      MAX_UDP_PAYLOAD_BYTES,
    );
    this.#clock = deps.clock;
  }

  /** Creates a transport attached to this network; throws `INVALID_ADDRESS` if the address is taken. */
  createTransport(options: MemoryTransportOptions = {}): MemoryTransport {
    const host = options.host ?? this.#allocateHost(options.family ?? 4);
    const family: AddressFamily = familyOf(host) ?? (host.includes(':') ? 6 : 4);
    let port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw KadError.invalidAddress(`port must be an integer in [0, 65535] (got ${String(port)})`);
    }
    if (port === 0) port = this.#freePort(host);
    const key = endpointKey({ host, port });
    if (this.#transports.has(key)) throw KadError.invalidAddress(`address in use: ${key}`);
    const transport = new MemoryTransport(this, { host, port, family }, key);
    this.#transports.set(key, transport);
    return transport;
  }

  /**
   * Splits the network: hosts in different groups cannot exchange datagrams (in flight ones
   * included, checked on arrival); hosts in no group reach everyone. Replaces any earlier
   * partition.
   */
  partition(...groups: readonly (readonly string[])[]): void {
    const groupOf = new Map<string, number>();
    groups.forEach((hosts, index) => {
      for (const host of hosts) groupOf.set(host, index);
    });
    this.#groupOf = groupOf;
  }

  /**
   * Puts `options.hosts` behind a simulated NAT whose public address is `options.external`: what
   * they send to hosts outside it leaves from that address (the mapping and filtering of
   * `options.kind`, port-restricted cone by default), and only what its filtering lets through a
   * live mapping comes back. Hosts behind it reach each other directly.
   * @throws {KadError} `INVALID_OPTION` for a bad option or a host already behind a NAT.
   */
  addNat(options: MemoryNatOptions): MemoryNat {
    const nat = new MemoryNat(options, { clock: this.#clock });
    for (const host of [nat.external, ...nat.hosts]) {
      if (this.#natAt.has(host) || this.#natOf.has(host)) throw optionError('hosts', 'hosts behind no other NAT', host);
    }
    this.#natAt.set(nat.external, nat);
    for (const host of nat.hosts) this.#natOf.set(host, nat);
    return nat;
  }

  /** Removes any partition. */
  heal(): void {
    this.#groupOf = new Map();
  }

  /** Installs (or with `undefined` removes) a hook that drops every packet it returns `true` for. */
  setDropFilter(filter: DropFilter | undefined): void {
    this.#dropFilter = filter;
  }

  /** The next number in `[0, 1)` from the network's seeded PRNG, for deterministic test choices. */
  random(): number {
    return this.#random();
  }

  /** The open transport bound to `endpoint`, if any. */
  transportAt(endpoint: Endpoint): MemoryTransport | undefined {
    return this.#transports.get(endpointKey(endpoint));
  }

  /** Open transports. */
  get size(): number {
    return this.#transports.size;
  }

  /** Counters since creation. */
  stats(): MemoryNetworkStats {
    return {
      sent: this.#sent,
      delivered: this.#delivered,
      lost: this.#lost,
      filtered: this.#filtered,
      unroutable: this.#unroutable,
      inFlight: this.#inFlight,
    };
  }

  /** Closes every transport. */
  async close(): Promise<void> {
    await Promise.all([...this.#transports.values()].map((transport) => transport.close()));
  }

  /** Largest datagram its transports send, in bytes (the `maxDatagramBytes` option). */
  sendLimit(): number {
    return this.#maxDatagramBytes;
  }

  /** @internal called by {@link MemoryTransport.send} with an already copied datagram. */
  route(original: Packet): void {
    this.#sent++;
    const nat = this.#natOf.get(original.from.host);
    const packet =
      nat === undefined || nat.hosts.has(original.to.host)
        ? original
        : { ...original, from: nat.outbound(original.from, original.to) };
    if (this.#blocked(packet)) {
      this.#filtered++;
      return;
    }
    if (this.#lossRate > 0 && this.#random() < this.#lossRate) {
      this.#lost++;
      return;
    }
    this.#inFlight++;
    this.#clock.setTimeout(() => this.#deliver(packet), this.#latency(packet));
  }

  /** @internal called when a transport closes. */
  detach(key: string, transport: MemoryTransport): void {
    if (this.#transports.get(key) === transport) this.#transports.delete(key);
  }

  #deliver(packet: Packet): void {
    this.#inFlight--;
    if (this.#partitioned(packet.from.host, packet.to.host)) {
      this.#filtered++;
      return;
    }
    const nat = this.#natAt.get(packet.to.host);
    const to = nat === undefined ? packet.to : nat.inbound(packet.from, packet.to.port);
    if (to === undefined) {
      this.#filtered++;
      return;
    }
    const target = this.#transports.get(endpointKey(to));
    if (target === undefined || !target.receive(packet.data, packet.from)) {
      this.#unroutable++;
      return;
    }
    this.#delivered++;
  }

  #blocked(packet: Packet): boolean {
    return this.#partitioned(packet.from.host, packet.to.host) || (this.#dropFilter?.(packet) ?? false);
  }

  #partitioned(a: string, b: string): boolean {
    const groupOf = this.#groupOf;
    if (groupOf.size === 0) return false;
    const ga = groupOf.get(a);
    const gb = groupOf.get(b);
    return ga !== undefined && gb !== undefined && ga !== gb;
  }

  #allocateHost(family: AddressFamily): string {
    for (;;) {
      const n = this.#nextHost++;
      if (n > 0xffff) throw KadError.overloaded('memory network ran out of virtual addresses (65535 hosts)');
      // one /24 (or /64) per host: 10.0.1.1, 10.0.2.1, …, 10.1.0.1, …
      const host = family === 4 ? `10.${n >> 8}.${n & 0xff}.1` : `fd00:0:0:${n.toString(16)}::1`;
      const prefix = family === 4 ? `${host}:` : `[${host}]:`;
      if (![...this.#transports.keys()].some((key) => key.startsWith(prefix))) return host;
    }
  }

  #freePort(host: string): number {
    for (let port = 6881; port <= 65535; port++) {
      if (!this.#transports.has(endpointKey({ host, port }))) return port;
    }
    throw KadError.overloaded(`no free port left on ${host}`);
  }
}

/** A {@link Transport} on a {@link MemoryNetwork}; created by {@link MemoryNetwork.createTransport}. */
export class MemoryTransport extends Emitter<TransportEvents> implements Transport {
  readonly #network: MemoryNetwork;
  readonly #address: RemoteInfo;
  readonly #key: string;
  readonly #counters = new TransportCounters();
  #closed = false;

  /** @internal use {@link MemoryNetwork.createTransport} */
  constructor(network: MemoryNetwork, address: RemoteInfo, key: string) {
    super();
    this.#network = network;
    this.#address = Object.freeze({ ...address });
    this.#key = key;
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
    if (datagram.byteLength > this.#network.sendLimit()) {
      counters.oversizedRefused++;
      return;
    }
    // what familyOf(to.host) says of an IP literal, and the rule for names, without a regex per datagram
    const toFamily = to.host.includes(':') ? 6 : 4;
    if (
      this.#closed ||
      toFamily !== this.#address.family ||
      !Number.isInteger(to.port) ||
      to.port <= 0 ||
      to.port > 65535
    ) {
      counters.sendErrors++;
      return;
    }
    counters.datagramsSent++;
    counters.bytesSent += datagram.byteLength;
    // copy: the sender may reuse its buffer, and the receiver owns what it gets
    this.#network.route({ from: this.#address, to: { host: to.host, port: to.port }, data: datagram.slice() });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#network.detach(this.#key, this);
    this.emit('close', undefined);
  }

  /** @internal delivery from the network; `false` when closed. */
  receive(data: Uint8Array, from: RemoteInfo): boolean {
    if (this.#closed) return false;
    this.#counters.datagramsReceived++;
    this.#counters.bytesReceived += data.byteLength;
    this.emit('message', { data, from });
    return true;
  }
}
