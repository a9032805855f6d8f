import { type Clock, type Milliseconds, systemClock } from '../core/clock.js';
import { KadError } from '../kad/errors.js';
import { createNode } from '../kad/node/node.js';
import type { KadNodeOptions } from '../kad/node/options.js';
import type { KadNode } from '../kad/node/types.js';
import type { Endpoint, Transport } from '../kad/transport/transport.js';
import type { AddressFamily } from '../kad/wire/compact.js';
import { isLoopback } from '../kad/wire/ip-class.js';
import { ManualClock } from './manual-clock.js';
import { MemoryNetwork, type MemoryNetworkOptions } from './memory-network.js';
import { seededRandom } from './seeded-random.js';

/** Address families of one node: IPv4, IPv6, or both (BEP 32: one socket and routing table each). */
export type TestnetFamily = AddressFamily | 'dual';

/**
 * Whom each new node bootstraps from, among the nodes started before it:
 * - `'none'`: nobody (the node knows no one until it is contacted);
 * - `'first'`: node 0;
 * - `{ random: n }`: node 0 and up to `n` other earlier nodes, picked with `random`;
 * - a function of the new node's index and the earlier nodes, returning the endpoints.
 */
export type TestnetBootstrap =
  | 'none'
  | 'first'
  | { readonly random: number }
  | ((index: number, earlier: readonly KadNode[]) => readonly Endpoint[]);

/** Options of one node of a testnet: `createNode` options, and its families. */
export interface TestnetNodeOptions extends KadNodeOptions {
  /** The node's families; its transports (or UDP sockets) are made to match. @default the testnet's `family` */
  readonly family?: TestnetFamily;
}

/** What {@link createTestnet} options have in common, whatever carries the datagrams. */
export interface TestnetBaseOptions {
  /** Nodes started by `createTestnet` (more with `add`), 0–10 000. @default 16 */
  readonly nodes?: number;
  /** Families of every node (unless a node's options say otherwise). @default 4 (6 for a UDP `host` of `::1`) */
  readonly family?: TestnetFamily;
  /** Whom each node bootstraps from. @default { random: 2 } */
  readonly bootstrap?: TestnetBootstrap;
  /** Wait for each node's start-up bootstrap before starting the next one. @default true */
  readonly awaitBootstrap?: boolean;
  /**
   * Options of every node, or of node `index` (merged over what the testnet sets: transports or
   * loopback sockets, `clock`, `bootstrap`).
   */
  readonly node?: TestnetNodeOptions | ((index: number) => TestnetNodeOptions);
  /** Picks the `{ random: n }` bootstrap contacts, in [0, 1). @default seededRandom(1) */
  readonly random?: () => number;
  /** Aborts the start: `createTestnet` closes what it started and rejects with `signal.reason`. */
  readonly signal?: AbortSignal;
}

/** A testnet on a {@link MemoryNetwork}: deterministic, in one process, on virtual time. */
export interface MemoryTestnetOptions extends TestnetBaseOptions {
  readonly transport?: 'memory';
  /** The clock of the network and of every node. @default a new ManualClock */
  readonly clock?: ManualClock;
  /**
   * The network to use (then pass its `clock` too; it is left open by `close()`), or options of the
   * network the testnet makes (and closes). @default a new MemoryNetwork with its default options
   */
  readonly network?: MemoryNetwork | MemoryNetworkOptions;
}

/** A testnet of real UDP sockets on loopback (never another address). */
export interface UdpTestnetOptions extends TestnetBaseOptions {
  readonly transport: 'udp';
  /** Loopback address of the first (or only) socket of each node. @default "127.0.0.1", or "::1" for family 6 */
  readonly host?: string;
  /** Loopback address of the IPv6 socket of dual-stack nodes. @default "::1" */
  readonly host6?: string;
  /** The clock of every node. @default systemClock */
  readonly clock?: Clock;
}

/** Options of {@link Testnet.settle}. */
export interface SettleOptions {
  /** Virtual time after which `settle` gives up with `TIMEOUT`. @default 60_000 */
  readonly maxMs?: Milliseconds;
  /** Virtual time advanced between two checks. @default 5 */
  readonly stepMs?: Milliseconds;
}

/** A running network of Nautilus nodes. */
export interface Testnet<C extends Clock = Clock> {
  /** The nodes, in the order they were started. */
  readonly nodes: readonly KadNode[];
  /** The clock every node runs on. */
  readonly clock: C;
  /** The in-memory network, or `undefined` on UDP. */
  readonly network: MemoryNetwork | undefined;
  /** Starts one more node (bootstrapped like the others unless `options.bootstrap` says otherwise). */
  add(options?: TestnetNodeOptions): Promise<KadNode>;
  /**
   * Resolves or rejects as `promise` does. On a `ManualClock` it advances virtual time meanwhile
   * (the network and every node run on it), since nothing else would.
   */
  settle<T>(promise: Promise<T>, options?: SettleOptions): Promise<T>;
  /** Closes every node and every transport and network the testnet made. Idempotent. */
  close(): Promise<void>;
}

/** A testnet on a {@link MemoryNetwork} and a {@link ManualClock}. */
export interface MemoryTestnet extends Testnet<ManualClock> {
  readonly network: MemoryNetwork;
}

/** Defaults of {@link TestnetBaseOptions}. */
export const DEFAULT_TESTNET_OPTIONS = Object.freeze({
  nodes: 16,
  bootstrap: Object.freeze({ random: 2 }),
  awaitBootstrap: true,
});

const MAX_NODES = 10_000;

/**
 * Starts a network of `nodes` Nautilus nodes, one after another, each bootstrapping from earlier
 * ones: on a `MemoryNetwork` with a `ManualClock` (the default), or on UDP sockets on loopback
 * (`transport: 'udp'`). Rejects with `INVALID_OPTION` naming a bad option (and a host that is not
 * loopback); a start that fails closes what it started.
 *
 * @example
 * const net = await createTestnet({ nodes: 50, network: { latencyMs: 5 } });
 * const [a, b] = net.nodes;
 * await net.settle(a!.ping(b!.address()));
 * await net.close();
 */
export function createTestnet(options: UdpTestnetOptions): Promise<Testnet>;
export function createTestnet(options?: MemoryTestnetOptions): Promise<MemoryTestnet>;
export async function createTestnet(options: MemoryTestnetOptions | UdpTestnetOptions = {}): Promise<Testnet> {
  const count = options.nodes ?? DEFAULT_TESTNET_OPTIONS.nodes;
  if (!Number.isSafeInteger(count) || count < 0 || count > MAX_NODES) {
    throw KadError.invalidOption(`nodes must be an integer in [0, ${MAX_NODES}] (got ${String(count)})`);
  }
  const shape = options.bootstrap;
  if (typeof shape === 'object' && !(Number.isSafeInteger(shape.random) && shape.random >= 0)) {
    throw KadError.invalidOption(`bootstrap.random must be a non-negative integer (got ${String(shape.random)})`);
  }
  options.signal?.throwIfAborted();
  const net = new TestnetNodes(options);
  try {
    for (let i = 0; i < count; i++) await net.add();
  } catch (error) {
    await net.close();
    throw error;
  }
  return net;
}

class TestnetNodes implements Testnet {
  readonly nodes: KadNode[] = [];
  readonly clock: Clock;
  readonly network: MemoryNetwork | undefined;
  readonly #options: MemoryTestnetOptions | UdpTestnetOptions;
  readonly #random: () => number;
  readonly #transports: Transport[] = [];
  readonly #ownsNetwork: boolean;
  #closing: Promise<void> | undefined;

  constructor(options: MemoryTestnetOptions | UdpTestnetOptions) {
    this.#options = options;
    this.#random = options.random ?? seededRandom(1);
    if (options.transport === 'udp') {
      this.clock = options.clock ?? systemClock;
      this.network = undefined;
      this.#ownsNetwork = false;
      for (const name of ['host', 'host6'] as const) {
        const host = options[name];
        if (host !== undefined && !isLoopback(host)) {
          throw KadError.invalidOption(`${name} must be a loopback address (got ${host})`);
        }
      }
    } else {
      const given = options.network instanceof MemoryNetwork ? options.network : undefined;
      if (given !== undefined && options.clock === undefined) {
        throw KadError.invalidOption('clock must be given with network: the ManualClock the network runs on');
      }
      const clock = options.clock ?? new ManualClock();
      this.clock = clock;
      this.network = given ?? new MemoryNetwork(options.network as MemoryNetworkOptions | undefined, { clock });
      this.#ownsNetwork = given === undefined;
    }
  }

  async add(extra: TestnetNodeOptions = {}): Promise<KadNode> {
    if (this.#closing !== undefined) throw KadError.closed('testnet');
    const index = this.nodes.length;
    const perNode = typeof this.#options.node === 'function' ? this.#options.node(index) : this.#options.node;
    const { family = this.#defaultFamily(), ...own } = { ...perNode, ...extra };
    const signal = this.#options.signal;
    signal?.throwIfAborted();
    const node = await createNode({
      ...this.#place(family, own),
      clock: this.clock,
      bootstrap: this.#bootstrapFor(index, family),
      ...(signal === undefined ? {} : { signal }),
      ...own,
    });
    this.nodes.push(node);
    if (this.#options.awaitBootstrap ?? DEFAULT_TESTNET_OPTIONS.awaitBootstrap) await this.settle(node.bootstrapped);
    return node;
  }

  async settle<T>(promise: Promise<T>, { maxMs = 60_000, stepMs = 5 }: SettleOptions = {}): Promise<T> {
    const clock = this.clock;
    if (!(clock instanceof ManualClock)) return promise;
    let pending = true;
    const settled = promise.finally(() => {
      pending = false;
    });
    settled.catch(() => undefined); // the caller sees the rejection through the returned promise
    for (let elapsed = 0; pending; elapsed += stepMs) {
      if (elapsed >= maxMs) throw KadError.timeout(`still pending after ${maxMs} ms of virtual time`);
      await clock.advanceAsync(stepMs);
    }
    return settled;
  }

  close(): Promise<void> {
    this.#closing ??= this.#release();
    return this.#closing;
  }

  async #release(): Promise<void> {
    const results = await Promise.allSettled(this.nodes.map((node) => node.close()));
    if (this.network !== undefined && this.#ownsNetwork) await this.network.close();
    else await Promise.all(this.#transports.map((transport) => transport.close()));
    const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed !== undefined) throw failed.reason;
  }

  #defaultFamily(): TestnetFamily {
    const { family, transport } = this.#options;
    if (family !== undefined) return family;
    return transport === 'udp' && this.#options.host?.includes(':') === true ? 6 : 4;
  }

  /** Where a node of `family` listens: new memory transports, or loopback sockets. */
  #place(family: TestnetFamily, own: KadNodeOptions): KadNodeOptions {
    const options = this.#options;
    if (options.transport === 'udp') {
      const host = options.host ?? (family === 6 ? '::1' : '127.0.0.1');
      const placed = family === 'dual' ? { host, port: 0, host6: options.host6 ?? '::1', port6: 0 } : { host, port: 0 };
      for (const name of ['host', 'host6'] as const) {
        const chosen = own[name] ?? (placed as KadNodeOptions)[name];
        if (chosen !== undefined && !isLoopback(chosen)) {
          throw KadError.invalidOption(`${name} must be a loopback address (got ${chosen})`);
        }
      }
      return placed;
    }
    const network = this.network as MemoryNetwork;
    const open = (f: AddressFamily): Transport => {
      const transport = network.createTransport({ family: f });
      this.#transports.push(transport);
      return transport;
    };
    return {
      ...(own.transport === undefined ? { transport: open(family === 6 ? 6 : 4) } : {}),
      ...(family === 'dual' && own.transport6 === undefined ? { transport6: open(6) } : {}),
    };
  }

  #bootstrapFor(index: number, family: TestnetFamily): readonly Endpoint[] {
    const shape = this.#options.bootstrap ?? DEFAULT_TESTNET_OPTIONS.bootstrap;
    const earlier = this.nodes;
    if (typeof shape === 'function') return shape(index, earlier);
    if (shape === 'none' || earlier.length === 0) return [];
    const first = earlier[0] as KadNode;
    if (shape === 'first') return endpointsOf(first, family);
    const others = earlier.slice(1);
    const picked: KadNode[] = [];
    while (picked.length < shape.random && others.length > 0) {
      picked.push(others.splice(Math.floor(this.#random() * others.length), 1)[0] as KadNode);
    }
    return [first, ...picked].flatMap((node) => endpointsOf(node, family));
  }
}

/**
 * Where a node of `family` bootstraps from `node`: every address of it for a dual-stack node (so
 * both routing tables fill), else its address in that family, or its first one.
 */
function endpointsOf(node: KadNode, family: TestnetFamily): Endpoint[] {
  if (family === 'dual') return node.addresses();
  return [node.addresses().find((a) => a.family === family) ?? node.address()];
}
