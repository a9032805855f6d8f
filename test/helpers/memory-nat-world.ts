import { decodeMessage, encodeMessage, type KrpcMessage } from '../../src/kad/wire/krpc.js';
import type { BencodeDict } from '../../src/kad/wire/bencode.js';
import { createNode, type KadNode } from '../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../src/kad/node/options.js';
import type { PunchOptions, PunchResult } from '../../src/kad/node/hole-punch-options.js';
import { secureId } from '../../src/kad/routing/secure-id.js';
import type { Endpoint } from '../../src/kad/transport/transport.js';
import { ManualClock, MemoryNetwork, type NatKind, type Packet } from '../../src/testing/index.js';
import type { MemoryTransport } from '../../src/testing/memory-network.js';
import { drive } from './virtual-time.js';

/** Two public nodes on the "internet", and two home nodes each behind its own NAT. */
export interface NatWorld {
  readonly clock: ManualClock;
  readonly network: MemoryNetwork;
  /** The rendezvous, 198.51.100.2. */
  readonly rendezvous: KadNode;
  /** A second public node, 198.51.100.3 (a second `ip` report for the NAT mapping verdict). */
  readonly other: KadNode;
  /** Behind NAT A (external 198.51.100.1). */
  readonly a: KadNode;
  /** Behind NAT B (external 198.51.100.4). */
  readonly b: KadNode;
  /** Every query datagram that crossed the network, decoded, with its source and destination as sent. */
  readonly queries: { readonly from: string; readonly to: string; readonly q: string; readonly a: BencodeDict }[];
  /** Awaits `promise`, moving virtual time forward while it is pending. */
  run<T>(promise: Promise<T>, maxMs?: number): Promise<T>;
  /** Each home node pings the rendezvous (and, with `both`, the other public node too). */
  talk(both?: boolean): Promise<void>;
  /** A punches to B (by id) through the rendezvous, on virtual time. */
  punchToB(options?: PunchOptions): Promise<PunchResult>;
  close(): Promise<void>;
}

export const EXTERNAL_A = '198.51.100.1';
export const EXTERNAL_B = '198.51.100.4';

/** Builds a {@link NatWorld}: NAT kinds of A and B, and options of the nodes. */
export async function natWorld(
  kinds: { a: NatKind; b: NatKind },
  options: {
    rendezvous?: Omit<KadNodeOptions, 'transport' | 'clock'>;
    home?: Omit<KadNodeOptions, 'transport' | 'clock'>;
  } = {},
): Promise<NatWorld> {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 10 }, { clock });
  network.addNat({ external: EXTERNAL_A, hosts: ['10.99.0.2'], kind: kinds.a, timeoutMs: 30_000 });
  network.addNat({ external: EXTERNAL_B, hosts: ['10.99.1.2'], kind: kinds.b, timeoutMs: 30_000 });
  const queries: NatWorld['queries'][number][] = [];
  network.setDropFilter((packet: Packet) => {
    let message: KrpcMessage;
    try {
      message = decodeMessage(packet.data);
    } catch {
      return false;
    }
    if (message.y === 'q') queries.push({ from: packet.from.host, to: packet.to.host, q: message.q, a: message.a });
    return false;
  });
  const base = { maintenance: { enabled: false }, clock } as const;
  const node = (
    host: string,
    id: Uint8Array,
    extra: Omit<KadNodeOptions, 'transport' | 'clock'> = {},
  ): Promise<KadNode> =>
    createNode({ ...base, id, ...extra, transport: network.createTransport({ host, port: 6881 }) });
  const rendezvous = await node('198.51.100.2', secureId('198.51.100.2'), options.rendezvous);
  const other = await node('198.51.100.3', secureId('198.51.100.3'));
  // ids of the external addresses: BEP 42 lets them store on each other
  const a = await node('10.99.0.2', secureId(EXTERNAL_A), options.home);
  const b = await node('10.99.1.2', secureId(EXTERNAL_B), options.home);
  const run = <T>(promise: Promise<T>, maxMs = 60_000): Promise<T> => drive(clock, promise, maxMs, 5);
  return {
    clock,
    network,
    rendezvous,
    other,
    a,
    b,
    queries,
    run,
    async talk(both = true) {
      const to: Endpoint[] = both ? [rendezvous.address(), other.address()] : [rendezvous.address()];
      await run(Promise.all([a, b].flatMap((n) => to.map((e) => n.ping(e)))));
    },
    punchToB(punchOptions = {}) {
      return run(a.punch({ rendezvous: rendezvous.address(), id: b.id }, punchOptions));
    },
    async close() {
      await Promise.all([rendezvous, other, a, b].map((n) => n.close()));
    },
  };
}

let rawCount = 0;

/** Runs `test` in a fresh {@link NatWorld} (after `talk(both)` unless `talk` is false), closed pass or fail. */
export async function withNatWorld(
  kinds: { a: NatKind; b: NatKind },
  setup: Parameters<typeof natWorld>[1] & { talk?: 'both' | 'rendezvous' | false },
  test: (world: NatWorld) => Promise<void>,
): Promise<void> {
  const world = await natWorld(kinds, setup);
  try {
    if (setup.talk !== false) await world.talk(setup.talk !== 'rendezvous');
    await test(world);
  } finally {
    await world.close();
  }
}

/** Sends one raw query from `transport` to `to` and awaits the reply (or gives up after `waitMs`). */
export async function rawQuery(
  world: Pick<NatWorld, 'clock'>,
  transport: MemoryTransport,
  to: Endpoint,
  q: string,
  a: BencodeDict,
  waitMs = 1000,
): Promise<KrpcMessage | undefined> {
  const t = Uint8Array.of(++rawCount % 256, 7);
  let reply: KrpcMessage | undefined;
  const listener = ({ data }: { data: Uint8Array }): void => {
    const message = decodeMessage(data);
    if (message.y !== 'q' && Buffer.from(message.t).equals(Buffer.from(t))) reply = message;
  };
  transport.on('message', listener);
  transport.send(encodeMessage({ y: 'q', t, q, a }), to);
  for (let waited = 0; reply === undefined && waited < waitMs; waited += 5) await world.clock.advanceAsync(5);
  transport.off('message', listener);
  return reply;
}
