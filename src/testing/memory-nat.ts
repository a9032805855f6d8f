import type { Clock, Milliseconds } from '../core/clock.js';
import { KadError } from '../kad/errors.js';
import { integerInRange, optionError, positiveNumber } from '../kad/option-checks.js';
import { familyOf } from '../kad/wire/compact.js';
import { type Endpoint, endpointKey, type RemoteInfo } from '../kad/transport/transport.js';

/**
 * How a NAT picks the external port of an outbound flow (RFC 4787 §4.1):
 * `endpoint-independent` keeps one external port per internal endpoint toward every destination
 * (Linux masquerade keeps the internal port while it is free); `address-dependent` and
 * `address-and-port-dependent` take a new one per destination host, or host and port (a
 * "symmetric" NAT, like nftables `masquerade random`).
 */
export type NatMapping = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

/**
 * Which inbound datagrams a NAT lets through a mapping (RFC 4787 §5): from anyone
 * (`endpoint-independent`, a "full cone"), from hosts the inside has sent to (`address-dependent`,
 * a "restricted cone"), or only from the host and port it has sent to
 * (`address-and-port-dependent`, a "port-restricted cone").
 */
export type NatFiltering = 'endpoint-independent' | 'address-dependent' | 'address-and-port-dependent';

/** The usual names of NAT behaviours, as mapping and filtering. */
export const NAT_KINDS = Object.freeze({
  'full-cone': Object.freeze({ mapping: 'endpoint-independent', filtering: 'endpoint-independent' }),
  'restricted-cone': Object.freeze({ mapping: 'endpoint-independent', filtering: 'address-dependent' }),
  'port-restricted': Object.freeze({ mapping: 'endpoint-independent', filtering: 'address-and-port-dependent' }),
  symmetric: Object.freeze({ mapping: 'address-and-port-dependent', filtering: 'address-and-port-dependent' }),
} satisfies Record<string, { mapping: NatMapping; filtering: NatFiltering }>);

/** A named NAT behaviour (see {@link NAT_KINDS}). */
export type NatKind = keyof typeof NAT_KINDS;

/** Configuration of a {@link MemoryNat} (`MemoryNetwork.addNat`). */
export interface MemoryNatOptions {
  /** The NAT's public address: what the hosts behind it look like from outside (an IP literal). */
  readonly external: string;
  /** Hosts behind it (IP literals of the external address's family). */
  readonly hosts: readonly string[];
  /** A named behaviour; `mapping` and `filtering` override its parts. @default 'port-restricted' */
  readonly kind?: NatKind;
  /** @default that of `kind` */
  readonly mapping?: NatMapping;
  /** @default that of `kind` */
  readonly filtering?: NatFiltering;
  /**
   * How long a mapping (and what it lets in) lives after the last datagram that used it, ms.
   * RFC 4787 REQ-5 asks for at least 2 minutes; Linux conntrack keeps an unanswered UDP flow 30 s.
   * @default 120_000
   */
  readonly timeoutMs?: Milliseconds;
  /** First external port handed out when a mapping cannot keep the internal port. @default 40000 */
  readonly firstPort?: number;
}

/** Counters of a {@link MemoryNat}. */
export interface MemoryNatStats {
  /** Outbound datagrams whose source was rewritten. */
  readonly outbound: number;
  /** Inbound datagrams let through to a host behind the NAT. */
  readonly inbound: number;
  /** Inbound datagrams dropped: no live mapping at that port, or filtered. */
  readonly dropped: number;
  /** Live mappings (expired ones are swept when looked at). */
  readonly mappings: number;
}

interface Mapping {
  readonly internal: RemoteInfo;
  readonly port: number;
  /** Filter keys (remote host, or host:port) → last use, ms. */
  readonly allowed: Map<string, Milliseconds>;
  lastUsed: Milliseconds;
}

/**
 * A simulated NAT on a {@link MemoryNetwork}: rewrites the source of what hosts behind it send,
 * keeps mappings per RFC 4787's mapping behaviour, and lets inbound datagrams through them per
 * its filtering behaviour, each mapping forgotten `timeoutMs` after its last use. Hosts behind
 * the same NAT reach each other directly; a datagram from inside to the NAT's own external
 * address (hairpinning) is dropped.
 */
export class MemoryNat {
  readonly external: string;
  readonly hosts: ReadonlySet<string>;
  readonly mapping: NatMapping;
  readonly filtering: NatFiltering;
  readonly #clock: Clock;
  readonly #timeoutMs: Milliseconds;
  /** Mapping key (internal endpoint, plus destination per `mapping`) → mapping. */
  readonly #byFlow = new Map<string, Mapping>();
  readonly #byPort = new Map<number, Mapping>();
  /** Port forwards (what a UPnP-IGD / NAT-PMP mapping installs): external port → internal endpoint. */
  readonly #forwards = new Map<number, RemoteInfo>();
  #nextPort: number;
  #outbound = 0;
  #inbound = 0;
  #dropped = 0;

  /** @throws {KadError} `INVALID_OPTION` naming the option. */
  constructor(options: MemoryNatOptions, deps: { readonly clock: Clock }) {
    const family = familyOf(options.external);
    if (family === undefined) throw optionError('external', 'an IP literal', options.external);
    const hosts: readonly unknown[] = Array.isArray(options.hosts) ? options.hosts : [undefined];
    if (hosts.some((h) => typeof h !== 'string' || familyOf(h) !== family)) {
      throw optionError('hosts', `IP literals of IPv${family}`, options.hosts);
    }
    const kind = options.kind ?? 'port-restricted';
    const preset = NAT_KINDS[kind] as (typeof NAT_KINDS)[NatKind] | undefined;
    if (preset === undefined) throw optionError('kind', `one of ${Object.keys(NAT_KINDS).join(', ')}`, kind);
    this.external = options.external;
    this.hosts = new Set(options.hosts);
    this.mapping = options.mapping ?? preset.mapping;
    this.filtering = options.filtering ?? preset.filtering;
    this.#timeoutMs = positiveNumber('timeoutMs', options.timeoutMs, 120_000, ' of ms');
    this.#nextPort = integerInRange('firstPort', options.firstPort, 40_000, 1, 65_535);
    this.#clock = deps.clock;
  }

  /** Counters since creation. */
  stats(): MemoryNatStats {
    this.#sweep();
    return { outbound: this.#outbound, inbound: this.#inbound, dropped: this.#dropped, mappings: this.#byPort.size };
  }

  /**
   * Forwards every inbound datagram to external `port` to `internal` (a host behind this NAT),
   * from anyone, until {@link unforward}: the port mapping a router grants over UPnP-IGD or
   * NAT-PMP. What `internal` sends from that endpoint leaves from `port` while it is free.
   * @throws {KadError} `INVALID_OPTION` for a host not behind this NAT, a bad port, or a port taken.
   */
  forward(port: number, internal: RemoteInfo): void {
    integerInRange('port', port, 0, 1, 65_535);
    if (!this.hosts.has(internal.host)) throw optionError('internal', `a host behind ${this.external}`, internal.host);
    const held = this.#forwards.get(port) ?? this.#byPort.get(port)?.internal;
    if (held !== undefined && endpointKey(held) !== endpointKey(internal)) {
      throw optionError('port', 'a port no other endpoint uses', port);
    }
    this.#forwards.set(port, internal);
  }

  /** Removes the forward of external `port` (no-op without one). */
  unforward(port: number): void {
    this.#forwards.delete(port);
  }

  /** The external endpoint `from` (behind the NAT) sends `to` from, creating or refreshing its mapping. */
  outbound(from: RemoteInfo, to: Endpoint): RemoteInfo {
    this.#sweep();
    const now = this.#clock.now();
    const flow = `${endpointKey(from)}>${this.#part(this.mapping, to)}`;
    let mapping = this.#byFlow.get(flow);
    if (mapping === undefined) {
      mapping = { internal: from, port: this.#allocate(from), allowed: new Map(), lastUsed: now };
      this.#byFlow.set(flow, mapping);
      this.#byPort.set(mapping.port, mapping);
    }
    mapping.lastUsed = now;
    const allow = this.#part(this.filtering, to);
    mapping.allowed.delete(allow);
    mapping.allowed.set(allow, now);
    this.#outbound++;
    return { host: this.external, port: mapping.port, family: from.family };
  }

  /** Where an inbound datagram from `from` to external port `port` goes behind the NAT, or `undefined` (dropped). */
  inbound(from: Endpoint, port: number): RemoteInfo | undefined {
    this.#sweep();
    const mapping = this.#byPort.get(port);
    const key = this.#part(this.filtering, from);
    if (mapping === undefined || (this.filtering !== 'endpoint-independent' && !mapping.allowed.has(key))) {
      const forwarded = this.#forwards.get(port);
      if (forwarded !== undefined) {
        this.#inbound++;
        return forwarded;
      }
      this.#dropped++;
      return undefined;
    }
    // an answer through the mapping keeps it alive, as conntrack does
    mapping.lastUsed = this.#clock.now();
    if (mapping.allowed.has(key)) mapping.allowed.set(key, mapping.lastUsed);
    this.#inbound++;
    return mapping.internal;
  }

  /** The part of a remote endpoint a behaviour depends on. */
  #part(behaviour: NatMapping | NatFiltering, remote: Endpoint): string {
    if (behaviour === 'endpoint-independent') return '*';
    return behaviour === 'address-dependent' ? remote.host : endpointKey(remote);
  }

  /**
   * The internal port while free and the mapping is endpoint-independent, else the next free one
   * (a forwarded port is free only to the endpoint it forwards to).
   */
  #allocate(from: RemoteInfo): number {
    const free = (port: number): boolean => {
      const forwarded = this.#forwards.get(port);
      return !this.#byPort.has(port) && (forwarded === undefined || endpointKey(forwarded) === endpointKey(from));
    };
    if (this.mapping === 'endpoint-independent' && free(from.port)) return from.port;
    for (let tried = 0; tried < 65_535; tried++) {
      const port = this.#nextPort;
      this.#nextPort = port >= 65_535 ? 1024 : port + 1;
      if (free(port)) return port;
    }
    throw KadError.overloaded(`NAT ${this.external} has no free external port`);
  }

  /** Forgets mappings (and their filter entries) idle for `timeoutMs`. */
  #sweep(): void {
    const now = this.#clock.now();
    for (const [flow, mapping] of this.#byFlow) {
      if (now - mapping.lastUsed >= this.#timeoutMs) {
        this.#byFlow.delete(flow);
        this.#byPort.delete(mapping.port);
        continue;
      }
      for (const [key, at] of mapping.allowed) if (now - at >= this.#timeoutMs) mapping.allowed.delete(key);
    }
  }
}
