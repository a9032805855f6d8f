import type { Milliseconds } from '../../core/clock.js';
import type { NodeId } from '../../kad/id.js';
import { createNode } from '../../kad/node/node.js';
import type { KadNodeOptions } from '../../kad/node/options.js';
import type { KadNode } from '../../kad/node/types.js';
import type { Endpoint, Transport } from '../../kad/transport/transport.js';
import type { Contact } from '../../kad/wire/compact.js';
import type { ManualClock } from '../manual-clock.js';
import type { MemoryNetwork } from '../memory-network.js';
import { seededBytes, seededRandom } from '../seeded-random.js';
import { HostileTransport } from './hostile.js';
import { hash32, hostOf, type NetworkModel, SIMULATED_PORT } from './network-model.js';
import type { HostileBehaviour, ResolvedSimulateOptions, SimulateOptions } from './options.js';

/** One simulated node: a real `KadNode`, its address and role, and its session. */
export interface SimNode {
  /** Address index (never reused): the host is `hostOf(index)`. */
  readonly index: number;
  readonly host: string;
  readonly id: NodeId;
  readonly hostile: HostileBehaviour | undefined;
  readonly firewalled: boolean;
  node: KadNode | undefined;
  transport: Transport | undefined;
  online: boolean;
  joinedAt: Milliseconds;
}

/**
 * Storage bounds of simulated nodes: the default in-memory registry is sized for 50 000
 * records, which costs most of a node's heap; a simulated node holds a few items at most.
 */
const SIM_STORAGE = Object.freeze({ maxInfoHashes: 256, maxItems: 256, maxEntries: 512, maxBytes: 1 << 20 });

/** Bootstrap contacts of a newcomer: reachable nodes already online. */
const BOOTSTRAP_CONTACTS = 3;

/**
 * The simulated population: creates nodes with seeded ids, roles and randomness on the memory
 * network, joins them through random reachable online nodes, and takes them offline.
 */
export class Population {
  readonly all: SimNode[] = [];
  readonly #online: SimNode[] = [];
  /** Position of each online node in `#online` (swap-remove). */
  readonly #slot = new Map<SimNode, number>();
  readonly #hostileOnline: SimNode[] = [];
  readonly #options: ResolvedSimulateOptions;
  readonly #nodeOptions: SimulateOptions['node'];
  readonly #clock: ManualClock;
  readonly #network: MemoryNetwork;
  readonly #model: NetworkModel;
  readonly #random: () => number;
  joins = 0;
  leaves = 0;

  constructor(
    options: ResolvedSimulateOptions,
    nodeOptions: SimulateOptions['node'],
    deps: { clock: ManualClock; network: MemoryNetwork; model: NetworkModel; random: () => number },
  ) {
    this.#options = options;
    this.#nodeOptions = nodeOptions;
    this.#clock = deps.clock;
    this.#network = deps.network;
    this.#model = deps.model;
    this.#random = deps.random;
  }

  /** Nodes online now (in no meaningful order). */
  get online(): readonly SimNode[] {
    return this.#online;
  }

  /** A uniformly random online node that `accept`s, or `undefined` after a bounded search. */
  pick(accept: (node: SimNode) => boolean): SimNode | undefined {
    const online = this.#online;
    for (let tries = 0; tries < 64 && online.length > 0; tries++) {
      const node = online[Math.floor(this.#random() * online.length)] as SimNode;
      if (accept(node)) return node;
    }
    return online.find(accept);
  }

  /** Starts a new node (its role drawn from the seed, or `like` a node it replaces) and joins it. */
  async join(like?: SimNode): Promise<SimNode> {
    const index = this.all.length;
    const options = this.#options;
    const random = seededRandom(hash32(options.seed ^ Math.imul(index + 1, 0x9e3779b1)));
    const roll = random();
    const hostile =
      like === undefined
        ? roll < options.hostile
          ? (options.hostileBehaviours[Math.floor(random() * options.hostileBehaviours.length)] as HostileBehaviour)
          : undefined
        : like.hostile;
    const firewalled = like === undefined ? hostile === undefined && random() < options.firewalled : like.firewalled;
    const id = seededBytes(random, 20);
    const host = hostOf(index);
    const sim: SimNode = {
      index,
      host,
      id,
      hostile,
      firewalled,
      node: undefined,
      transport: undefined,
      online: false,
      joinedAt: 0,
    };
    this.all.push(sim);
    this.#model.addHost(host, index, firewalled);
    const bootstrap = this.#bootstrapFor();
    const memory = this.#network.createTransport({ host, port: SIMULATED_PORT });
    const transport =
      hostile === undefined
        ? memory
        : new HostileTransport(memory, {
            id,
            behaviour: hostile,
            random,
            colluders: (count, r) => this.#colluders(sim, count, r),
          });
    sim.transport = transport;
    const nodeOptions: KadNodeOptions = {
      storage: SIM_STORAGE,
      ...this.#nodeOptions,
      transport,
      clock: this.#clock,
      id,
      bootstrap,
      randomBytes: (size) => seededBytes(random, size),
    };
    sim.node = await createNode(nodeOptions);
    sim.online = true;
    sim.joinedAt = this.#clock.now();
    this.#slot.set(sim, this.#online.length);
    this.#online.push(sim);
    if (hostile !== undefined) this.#hostileOnline.push(sim);
    this.joins++;
    return sim;
  }

  /** Takes `sim` offline without a word (a crash or a closed laptop): its node closes. */
  async leave(sim: SimNode): Promise<void> {
    if (!sim.online) return;
    sim.online = false;
    const slot = this.#slot.get(sim) as number;
    const last = this.#online.pop() as SimNode;
    if (last !== sim) {
      this.#online[slot] = last;
      this.#slot.set(last, slot);
    }
    this.#slot.delete(sim);
    if (sim.hostile !== undefined) this.#hostileOnline.splice(this.#hostileOnline.indexOf(sim), 1);
    this.leaves++;
    const node = sim.node;
    sim.node = undefined;
    sim.transport = undefined;
    this.#model.removeHost(sim.host);
    await node?.close();
  }

  /** Closes every node. */
  async close(): Promise<void> {
    await Promise.allSettled([...this.#online].map((sim) => this.leave(sim)));
  }

  #bootstrapFor(): Endpoint[] {
    const chosen = new Set<SimNode>();
    for (let i = 0; i < BOOTSTRAP_CONTACTS * 4 && chosen.size < BOOTSTRAP_CONTACTS; i++) {
      const candidate = this.pick((n) => !n.firewalled && n.hostile === undefined);
      if (candidate !== undefined) chosen.add(candidate);
    }
    return [...chosen].map((n) => ({ host: n.host, port: SIMULATED_PORT }));
  }

  #colluders(self: SimNode, count: number, random: () => number): Contact[] {
    const pool = this.#hostileOnline;
    const out: Contact[] = [];
    for (let i = 0; i < count * 2 && out.length < count && pool.length > 1; i++) {
      const n = pool[Math.floor(random() * pool.length)] as SimNode;
      if (n !== self && !out.some((c) => c.host === n.host)) out.push({ id: n.id, host: n.host, port: SIMULATED_PORT });
    }
    return out;
  }
}
