import { KadError } from '../../src/kad/errors.js';
import { bucketIndex, compareDistance, type NodeId } from '../../src/kad/id.js';
import type { LookupInit, LookupQuery } from '../../src/kad/lookup/lookup-init.js';
import { Lookup } from '../../src/kad/lookup/lookup.js';
import { type LookupOptions, resolveLookupOptions } from '../../src/kad/lookup/options.js';
import type { Contact } from '../../src/kad/wire/compact.js';
import type { ResponseValues } from '../../src/kad/wire/krpc-args.js';
import { ManualClock } from '../../src/testing/index.js';
import { randomBytes } from './kad-network.js';

/**
 * How a model node answers: `ok` after its latency; `silent` never (the query times out after
 * the hard timeout); `error` with a KRPC error; `junk` with unusable and far-away contacts;
 * `wrong-id` with another node id than the one it is known by.
 */
export type Behaviour = 'ok' | 'silent' | 'error' | 'junk' | 'wrong-id';

/** A node of a {@link LookupModel}. */
export interface ModelNode {
  readonly contact: Contact;
  behaviour: Behaviour;
  latencyMs: number;
  /** Its routing table: what it returns, the k closest of it to the target. */
  known: Contact[];
  /** Extra fields of its responses (a value, peers, a token). */
  extra?: (target: NodeId) => Partial<ResponseValues>;
}

/**
 * A simulated network behind a {@link LookupQuery}, on a ManualClock: nodes with Kademlia-like
 * tables and chosen behaviours, and a record of every query (for assertions on who was asked,
 * how many at once, and what was aborted).
 */
export class LookupModel {
  readonly clock = new ManualClock();
  readonly nodes: ModelNode[] = [];
  readonly byKey = new Map<string, ModelNode>();
  /** Endpoint keys of the nodes asked, in order. */
  readonly asked: string[] = [];
  /** Queries aborted by the lookup's signal before they settled. */
  aborted = 0;
  inFlight = 0;
  maxInFlight = 0;
  /** The RPC layer's hard timeout, ms. */
  hardTimeoutMs = 1000;
  k = 8;

  /** Adds `n` nodes with ids from `random`, each in its own 10.x.y.1 host. */
  addNodes(n: number, random: () => number, family: 4 | 6 = 4): ModelNode[] {
    const added: ModelNode[] = [];
    for (let i = 0; i < n; i++) {
      const index = this.nodes.length + 1;
      const host = family === 4 ? `10.${index >> 8}.${index & 0xff}.1` : `fd00::${index.toString(16)}`;
      const node: ModelNode = {
        contact: { id: randomBytes(random, 20), host, port: 6881 },
        behaviour: 'ok',
        latencyMs: 10,
        known: [],
      };
      this.nodes.push(node);
      this.byKey.set(key(node.contact), node);
      added.push(node);
    }
    return added;
  }

  /** Gives every node a Kademlia table over the nodes of its family: up to `k` per bucket, at random. */
  fillTables(random: () => number): void {
    for (const node of this.nodes) {
      const buckets = new Map<number, Contact[]>();
      for (const other of this.nodes) {
        if (other === node || other.contact.host.includes(':') !== node.contact.host.includes(':')) continue;
        const b = bucketIndex(node.contact.id, other.contact.id);
        const list = buckets.get(b) ?? [];
        list.push(other.contact);
        buckets.set(b, list);
      }
      node.known = [...buckets.values()].flatMap((list) => shuffle(list, random).slice(0, this.k));
    }
  }

  /** The `count` nodes answering `ok` closest to `target`, of `family`. */
  trueClosest(target: NodeId, count: number, family: 4 | 6 = 4): Contact[] {
    return this.nodes
      .filter((n) => n.behaviour === 'ok' && n.contact.host.includes(':') === (family === 6))
      .map((n) => n.contact)
      .sort((a, b) => compareDistance(target, a.id, b.id))
      .slice(0, count);
  }

  readonly query = (method: 'find_node' | 'get_peers' | 'get', target: NodeId): LookupQuery => {
    return (to, signal) => {
      this.asked.push(key(to));
      const node = this.byKey.get(key(to));
      this.inFlight++;
      this.maxInFlight = Math.max(this.maxInFlight, this.inFlight);
      return new Promise<ResponseValues>((resolve, reject) => {
        let settled = false;
        const settle = (fn: () => void): void => {
          if (settled) return;
          settled = true;
          this.inFlight--;
          signal.removeEventListener('abort', onAbort);
          fn();
        };
        const onAbort = (): void => {
          this.aborted++;
          settle(() => reject(signal.reason as Error));
        };
        signal.addEventListener('abort', onAbort, { once: true });
        if (node === undefined || node.behaviour === 'silent') {
          this.clock.setTimeout(() => settle(() => reject(KadError.timeout('silent'))), this.hardTimeoutMs);
          return;
        }
        this.clock.setTimeout(() => settle(() => this.#answer(node, method, target, resolve, reject)), node.latencyMs);
      });
    };
  };

  /** A lookup over this model. */
  lookup(
    target: NodeId,
    init: Partial<Omit<LookupInit, 'options'>> & { options?: LookupOptions } = {},
    method: 'find_node' | 'get_peers' | 'get' = 'find_node',
  ): Lookup {
    const seeds = init.seeds ?? this.nodes.slice(0, 3).map((n) => n.contact);
    return new Lookup({
      target,
      self: new Uint8Array(20).fill(0xee),
      method,
      k: this.k,
      families: [4],
      query: this.query(method, target),
      softDeadline: () => 50,
      clock: this.clock,
      ...init,
      seeds,
      options: resolveLookupOptions(init.options),
    });
  }

  /** The contacts `node` returns for `target`: the k closest it knows, or junk. */
  returned(node: ModelNode, target: NodeId): Contact[] {
    if (node.behaviour === 'junk') return junkContacts(target);
    return [...node.known].sort((a, b) => compareDistance(target, a.id, b.id)).slice(0, this.k);
  }

  #answer(
    node: ModelNode,
    method: string,
    target: NodeId,
    resolve: (values: ResponseValues) => void,
    reject: (error: Error) => void,
  ): void {
    const { behaviour } = node;
    if (behaviour === 'error') {
      reject(KadError.remote(202, 'server error'));
      return;
    }
    const id = behaviour === 'wrong-id' ? new Uint8Array(20).fill(0x77) : node.contact.id;
    const values: ResponseValues = { id, ...(node.extra?.(target) ?? {}) };
    const v6 = node.contact.host.includes(':');
    const nodes = this.returned(node, target);
    if (v6) values.nodes6 = nodes;
    else values.nodes = nodes;
    if (method !== 'find_node' && values.token === undefined) values.token = Uint8Array.of(1, 2, 3, 4);
    resolve(values);
  }
}

/** Contacts a lookup must not use (port 0, unspecified, multicast, broadcast, mapped, short id), and far-away ones. */
export function junkContacts(target: NodeId): Contact[] {
  const far = Uint8Array.from(target, (b) => b ^ 0xff);
  const near = Uint8Array.from(target);
  near[19] = (near[19] ?? 0) ^ 1;
  return [
    { id: near, host: '10.200.0.1', port: 0 },
    { id: near, host: '0.0.0.0', port: 6881 },
    { id: near, host: '224.0.0.1', port: 6881 },
    { id: near, host: '255.255.255.255', port: 6881 },
    { id: near.subarray(0, 19), host: '10.200.0.2', port: 6881 },
    { id: far, host: '10.201.0.1', port: 6881 },
  ];
}

/** Endpoint key of a contact. */
export function key(contact: { host: string; port: number }): string {
  return `${contact.host}:${contact.port}`;
}

function shuffle<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}
