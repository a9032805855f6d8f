import type { NodeId } from '../../src/kad/id.js';
import { decodeMessage, encodeMessage, type KrpcQuery } from '../../src/kad/wire/krpc.js';
import { type ResponseValues, writeResponse } from '../../src/kad/wire/krpc-args.js';
import type { Contact } from '../../src/kad/wire/compact.js';
import type { MemoryTransport, Packet } from '../../src/testing/memory-network.js';
import type { KadTestNetwork } from './kad-network.js';
import { junkContacts } from './lookup-model.js';

/**
 * What a hostile node answers to `find_node`, `get_peers` and `get` (other queries reach the real
 * node behind it): `junk` unusable contacts (port 0, multicast, …); `far` contacts of made-up
 * nodes far from the target; `wrong-value` a value that does not hash to the target or a forged
 * signature, and no contacts; `silent` nothing; `sybil` contacts of the Sybil region, ids right
 * beside the target.
 */
export type Hostility = 'junk' | 'far' | 'wrong-value' | 'silent' | 'sybil';

/** A region of Sybil endpoints that claim ids right beside any target and answer promptly. */
export interface SybilRegion {
  /** The Sybil endpoints, by index `j`: endpoint `j` claims the id `target xor j` for every target. */
  readonly endpoints: MemoryTransport[];
  /** Eight Sybil contacts for `target`. */
  contacts(target: NodeId): Contact[];
}

/**
 * Creates `size` Sybil endpoints on the network: each answers `find_node`, `get_peers` and `get`
 * for a target T with the id `T xor j` (its own index) and eight other Sybil contacts, with a
 * token and never a value; it accepts `put` and `announce_peer` and keeps nothing.
 */
export function createSybilRegion(net: KadTestNetwork, size: number): SybilRegion {
  const endpoints: MemoryTransport[] = [];
  const region: SybilRegion = {
    endpoints,
    contacts(target: NodeId): Contact[] {
      const out: Contact[] = [];
      for (let n = 0; n < 8; n++) {
        const j = 1 + Math.floor(net.random() * size);
        const endpoint = endpoints[j - 1] as MemoryTransport;
        out.push({ id: beside(target, j), host: endpoint.address().host, port: endpoint.address().port });
      }
      return out;
    },
  };
  for (let j = 1; j <= size; j++) {
    const transport = net.network.createTransport({ host: `10.250.${j >> 8}.${j & 0xff}` });
    endpoints.push(transport);
    transport.on('message', ({ data, from }) => {
      const query = decodeQuery(data);
      if (query === undefined) return;
      const target = targetOf(query);
      const id = target === undefined ? new Uint8Array(20).fill(j) : beside(target, j);
      const values: ResponseValues = { id };
      if (target !== undefined) Object.assign(values, { nodes: region.contacts(target), token: Uint8Array.of(j) });
      transport.send(encodeMessage({ y: 'r', t: query.t, r: writeResponse(values) }), from);
    });
  }
  return region;
}

/**
 * Makes the nodes of `net` at `indices` hostile (from now on): their answers to `find_node`,
 * `get_peers` and `get` come from `hostility(index)` instead of the node. Intercepts packets
 * with the network's drop filter (replacing any other).
 */
export function makeHostile(
  net: KadTestNetwork,
  indices: Iterable<number>,
  hostility: (index: number) => Hostility,
  region?: SybilRegion,
): void {
  const byHost = new Map<string, number>();
  for (const i of indices) byHost.set((net.transports[i] as MemoryTransport).address().host, i);
  net.network.setDropFilter((packet: Packet) => {
    const index = byHost.get(packet.to.host);
    if (index === undefined) return false;
    const query = decodeQuery(packet.data);
    const target = query === undefined ? undefined : targetOf(query);
    if (query === undefined || target === undefined) return false; // pings and replies reach the node
    const kind = hostility(index);
    if (kind === 'silent') return true;
    const transport = net.transports[index] as MemoryTransport;
    const values: ResponseValues = { id: (net.nodes[index] as { id: NodeId }).id, token: Uint8Array.of(index & 0xff) };
    if (kind === 'junk') values.nodes = junkContacts(target);
    else if (kind === 'far') values.nodes = farContacts(target, index);
    else if (kind === 'sybil') values.nodes = region?.contacts(target) ?? [];
    else if (query.q === 'get') Object.assign(values, wrongValue(index));
    transport.send(encodeMessage({ y: 'r', t: query.t, r: writeResponse(values) }), packet.from);
    return true;
  });
}

/** The id `target xor j` (in its last three bytes): a Sybil id right beside the target. */
function beside(target: NodeId, j: number): NodeId {
  const id = Uint8Array.from(target);
  id[17] = (id[17] ?? 0) ^ ((j >> 16) & 0xff);
  id[18] = (id[18] ?? 0) ^ ((j >> 8) & 0xff);
  id[19] = (id[19] ?? 0) ^ (j & 0xff);
  return id;
}

/** Made-up nodes at the far side of the id space from `target`, at hosts nobody listens on. */
function farContacts(target: NodeId, index: number): Contact[] {
  return Array.from({ length: 8 }, (_, n) => {
    const id = Uint8Array.from(target, (b) => b ^ 0xff);
    id[19] = n;
    return { id, host: `10.251.${index & 0xff}.${n + 1}`, port: 6881 };
  });
}

/** A value that fails verification: bytes that do not hash to the target, or a mutable item with a forged signature. */
function wrongValue(index: number): Partial<ResponseValues> {
  if (index % 2 === 0) return { v: new TextEncoder().encode(`not it ${index}`) };
  return {
    v: new TextEncoder().encode('forged'),
    k: new Uint8Array(32).fill(index & 0xff),
    sig: new Uint8Array(64),
    seq: 99,
  };
}

function decodeQuery(data: Uint8Array): KrpcQuery | undefined {
  try {
    const message = decodeMessage(data);
    return message.y === 'q' ? message : undefined;
  } catch {
    return undefined;
  }
}

function targetOf(query: KrpcQuery): NodeId | undefined {
  if (query.q !== 'find_node' && query.q !== 'get_peers' && query.q !== 'get') return undefined;
  const target = query.a[query.q === 'get_peers' ? 'info_hash' : 'target'];
  return target instanceof Uint8Array && target.length === 20 ? target : undefined;
}
