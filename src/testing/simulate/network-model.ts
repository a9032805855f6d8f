import type { Milliseconds } from '../../core/clock.js';
import type { Packet } from '../memory-network.js';
import type { ResolvedSimulateOptions } from './options.js';

/** A 32-bit integer hash (lowbias32): stable, well mixed, for choices that must not consume a PRNG. */
export function hash32(x: number): number {
  let h = x >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** A uniform number in (0, 1) from the hash of `a`, `b` and `seed`. */
export function hashUniform(seed: number, a: number, b: number): number {
  const h = hash32(hash32(hash32(seed ^ 0x9e3779b9) ^ a) ^ Math.imul(b, 0x85ebca6b));
  return (h + 0.5) / 4294967296;
}

/**
 * The virtual address of the host of simulated node number `index` (0-based): private IPv4
 * (10.0.0.0/8, exempt from BEP 42 and the /24 diversity limit), one per node, 16 M at most.
 */
export function hostOf(index: number): string {
  const c = 1 + (index % 254);
  const rest = Math.floor(index / 254);
  return `10.${(rest >>> 8) & 0xff}.${rest & 0xff}.${c}`;
}

/** Port every simulated node listens on. */
export const SIMULATED_PORT = 6881;

/** What the network model knows of a host to shape its traffic. */
export interface ModelHost {
  /** Stable number of the host (its address index): RTTs are a function of the pair. */
  readonly index: number;
  /** Behind a NAT: inbound datagrams only from endpoints it sent to recently. */
  readonly firewalled: boolean;
  /** When a firewalled host last sent to each endpoint (`host:port`), virtual ms. */
  pinholes: Map<string, Milliseconds> | undefined;
}

/**
 * The seeded network: per-pair round-trip times from a clipped log-normal distribution (the
 * same for a pair in both directions, for the whole run), NAT behaviour of firewalled hosts, and
 * traffic counters. Losses are the `MemoryNetwork`'s own (its `lossRate`, from the same seed).
 */
export class NetworkModel {
  readonly #seed: number;
  readonly #medianMs: number;
  readonly #minMs: number;
  readonly #maxMs: number;
  /** Spread of ln(RTT): the 50–300 ms defaults hold about 95 % of the pairs unclipped. */
  readonly #sigma: number;
  readonly #natTimeoutMs: number;
  readonly #hosts = new Map<string, ModelHost>();
  readonly #now: () => Milliseconds;
  /** Datagrams and bytes sent by every host, whatever became of them. */
  datagrams = 0;
  bytes = 0;
  /** Datagrams refused by a NAT. */
  natDropped = 0;
  /** Sees each datagram as it is sent (hop tracing). */
  observer: ((packet: Packet) => void) | undefined;

  constructor(options: ResolvedSimulateOptions, now: () => Milliseconds) {
    this.#seed = options.seed;
    this.#medianMs = options.rttMedianMs;
    this.#minMs = options.rttMinMs;
    this.#maxMs = options.rttMaxMs;
    const spread = Math.min(options.rttMaxMs / options.rttMedianMs, options.rttMedianMs / options.rttMinMs);
    this.#sigma = Math.max(0.05, Math.log(Math.max(spread, 1.05)) / 1.96);
    this.#natTimeoutMs = options.natTimeoutMs;
    this.#now = now;
  }

  /** Registers the host of a node (before it sends or receives anything). */
  addHost(host: string, index: number, firewalled: boolean): void {
    this.#hosts.set(host, { index, firewalled, pinholes: firewalled ? new Map() : undefined });
  }

  /** Forgets a host whose node left (its address is never reused). */
  removeHost(host: string): void {
    this.#hosts.delete(host);
  }

  /** Round-trip time between two hosts, ms: stable for the pair, the same both ways. */
  rttMs(a: number, b: number): Milliseconds {
    const lo = Math.min(a, b);
    const hi = Math.max(a, b);
    // Box–Muller from two hashes of the pair: a standard normal, then log-normal around the median
    const u1 = hashUniform(this.#seed, lo, hi);
    const u2 = hashUniform(this.#seed ^ 0x5bd1e995, hi, lo);
    const z = Math.sqrt(-2 * Math.log(u1)) * Math.cos(2 * Math.PI * u2);
    const rtt = this.#medianMs * Math.exp(this.#sigma * z);
    return Math.min(this.#maxMs, Math.max(this.#minMs, Math.round(rtt)));
  }

  /** One-way delay of `packet`: half the pair's RTT. */
  readonly latency = (packet: Packet): Milliseconds => {
    const from = this.#hosts.get(packet.from.host);
    const to = this.#hosts.get(packet.to.host);
    if (from === undefined || to === undefined) return this.#medianMs / 2;
    return this.rttMs(from.index, to.index) / 2;
  };

  /**
   * The network's drop filter: counts every datagram, opens the NAT pinhole of a firewalled
   * sender, and drops what a firewalled receiver did not ask for.
   */
  readonly filter = (packet: Packet): boolean => {
    this.datagrams++;
    this.bytes += packet.data.byteLength;
    this.observer?.(packet);
    const now = this.#now();
    const from = this.#hosts.get(packet.from.host);
    if (from?.pinholes !== undefined) from.pinholes.set(`${packet.to.host}:${packet.to.port}`, now);
    const to = this.#hosts.get(packet.to.host);
    if (to?.pinholes === undefined) return false;
    const opened = to.pinholes.get(`${packet.from.host}:${packet.from.port}`);
    if (opened !== undefined && now - opened <= this.#natTimeoutMs) return false;
    this.natDropped++;
    return true;
  };
}
