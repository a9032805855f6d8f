/**
 * The reachability dial-back through a third node (nautilus_reach → nautilus_relay →
 * nautilus_probe) on a MemoryNetwork with simulated NATs, on virtual time: a probe proves the
 * mapping only when it comes from a host the node never sent to.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PortMapper } from '../../../../src/kad/nat/port-mapper.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import type { ReachabilityReport } from '../../../../src/kad/node/reachability.js';
import { secureId } from '../../../../src/kad/routing/secure-id.js';
import type { BencodeDict } from '../../../../src/kad/wire/bencode.js';
import { decodeMessage, type KrpcMessage } from '../../../../src/kad/wire/krpc.js';
import { ManualClock, MemoryNetwork, type MemoryNat, type NatKind } from '../../../../src/testing/index.js';
import type { MemoryTransport } from '../../../../src/testing/memory-network.js';
import { rawQuery } from '../../../helpers/memory-nat-world.js';
import { drive } from '../../../helpers/virtual-time.js';

const HOME = '10.99.0.2';
const EXTERNAL = '198.51.100.1';
const P1 = '198.51.100.2';
const P2 = '198.51.100.3';
const THIRD = '203.0.113.5';
const PORT = 6881;
/** The lease the home node asks for: renewed (and the dial-back run again) every 30 s. */
const LEASE_MS = 60_000;

interface SeenQuery {
  readonly from: string;
  readonly to: string;
  readonly q: string;
  readonly a: BencodeDict;
  readonly at: number;
}

/** Every KRPC query sent on `network` from now on (source as a NAT rewrote it, destination as sent), dropping none. */
function recordQueries(network: MemoryNetwork, clock: ManualClock): SeenQuery[] {
  const queries: SeenQuery[] = [];
  network.setDropFilter((packet) => {
    let message: KrpcMessage;
    try {
      message = decodeMessage(packet.data);
    } catch {
      return false;
    }
    if (message.y === 'q') {
      queries.push({ from: packet.from.host, to: packet.to.host, q: message.q, a: message.a, at: clock.now() });
    }
    return false;
  });
  return queries;
}

/** A router client granting every request; with `nat`, each grant installs a real forward on it. */
function mapper(nat?: MemoryNat): () => PortMapper {
  return () => ({
    protocol: 'upnp',
    map: (request) => {
      nat?.forward(request.externalPort, { host: HOME, port: request.internalPort, family: 4 });
      return Promise.resolve({ externalPort: request.externalPort, lifetimeMs: request.lifetimeMs });
    },
    unmap: (request) => {
      nat?.unforward(request.externalPort);
      return Promise.resolve();
    },
    close: () => Promise.resolve(),
  });
}

interface World {
  readonly clock: ManualClock;
  readonly network: MemoryNetwork;
  readonly nat: MemoryNat;
  readonly home: KadNode;
  readonly peers: readonly KadNode[];
  readonly queries: SeenQuery[];
  /** Starts a public node at `host` that pings the two public peers only (the home never hears of it). */
  addThird(host?: string): Promise<KadNode>;
  /** Moves virtual time on by `ms`, in small steps. */
  advance(ms: number): Promise<void>;
  report(): ReachabilityReport;
  close(): Promise<void>;
}

/**
 * Two public peers, and a home node behind a NAT of `kind` that holds a port mapping (only a
 * belief of its own unless `forward`) and joined through both: it has sent to both.
 */
async function dialBackWorld(kind: NatKind, forward: boolean, leaseMs = LEASE_MS): Promise<World> {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 10 }, { clock });
  const nat = network.addNat({ external: EXTERNAL, hosts: [HOME], kind, timeoutMs: 30_000 });
  const queries = recordQueries(network, clock);
  const nodes: KadNode[] = [];
  const start = async (host: string, options: Parameters<typeof createNode>[0] = {}): Promise<KadNode> => {
    const node = await createNode({
      id: secureId(host === HOME ? EXTERNAL : host),
      maintenance: { enabled: false },
      bootstrap: [],
      ...options,
      clock,
      transport: network.createTransport({ host, port: PORT }),
    });
    nodes.push(node);
    return node;
  };
  const advance = async (ms: number): Promise<void> => {
    for (let left = ms; left > 0; left -= 5) await clock.advanceAsync(5);
  };
  const p1 = await start(P1);
  const p2 = await start(P2, { bootstrap: [{ host: P1, port: PORT }] });
  await advance(1000);
  const home = await start(HOME, {
    bootstrap: [
      { host: P1, port: PORT },
      { host: P2, port: PORT },
    ],
    portMapping: 'upnp',
    portMapper: mapper(forward ? nat : undefined),
    portMappingOptions: { lifetimeMs: leaseMs },
  });
  // the join, and the first round (only the two peers the home sent to can probe)
  await advance(5000);
  return {
    clock,
    network,
    nat,
    home,
    peers: [p1, p2],
    queries,
    async addThird(host = THIRD) {
      const third = await start(host);
      for (const peer of [P1, P2]) {
        const pinged = third.ping({ host: peer, port: PORT });
        await advance(100);
        await pinged;
      }
      return third;
    },
    advance,
    report: () => home.reachability(),
    close: () => Promise.all(nodes.map((n) => n.close())).then(() => undefined),
  };
}

async function withWorld(
  kind: NatKind,
  forward: boolean,
  test: (w: World) => Promise<void>,
  leaseMs = LEASE_MS,
): Promise<void> {
  const w = await dialBackWorld(kind, forward, leaseMs);
  try {
    await test(w);
  } finally {
    await w.close();
  }
}

const probesTo = (w: World, host: string): SeenQuery[] =>
  w.queries.filter((q) => q.q === 'nautilus_probe' && q.to === host);

describe('KadNode dial-back through a third node', () => {
  it('behind a port-restricted NAT without a mapping, is not verified: the probes that get in come from peers it sent to, and the stranger’s is dropped', async () => {
    await withWorld('port-restricted', false, async (w) => {
      // first round: each peer relays to the other; both probes pass the NAT as replies
      const first = w.report();
      assert.equal(first.mapping.state, 'mapped');
      assert.equal(first.dialBack.last, 'no-probe');
      assert.equal(first.dialBack.ignoredProbes, 2, 'what a single-hop dial-back would have counted');
      assert.deepEqual(
        probesTo(w, EXTERNAL)
          .map((q) => q.from)
          .sort(),
        [P1, P2],
      );
      await w.addThird();
      const dropped = w.nat.stats().dropped;
      const renewal = w.clock.now();
      await w.advance(LEASE_MS / 2);
      const report = w.report();
      assert.ok(
        probesTo(w, EXTERNAL).some((q) => q.from === THIRD && q.at >= renewal),
        'the third node probed the mapped address',
      );
      assert.ok(w.nat.stats().dropped > dropped, 'and the NAT dropped it');
      assert.equal(report.dialBack.last, 'no-probe');
      assert.notEqual(report.reachability, 'mapped');
      assert.equal(report.verifiedBy, undefined);
      assert.equal(report.unsolicitedQueries, 0);
    });
  });

  it('behind a port-restricted NAT with the port forwarded, is verified by the probe of a third node it never sent to', async () => {
    await withWorld('port-restricted', true, async (w) => {
      assert.equal(w.report().dialBack.last, 'no-probe', 'before a third node exists');
      await w.addThird();
      await w.advance(LEASE_MS / 2);
      const report = w.report();
      assert.equal(report.dialBack.last, 'verified');
      assert.equal(report.reachability, 'mapped');
      assert.equal(report.verifiedBy, 'dial-back');
      assert.ok(probesTo(w, EXTERNAL).some((q) => q.from === THIRD));
      assert.equal(
        w.queries.some((q) => q.from === EXTERNAL && q.to === THIRD),
        false,
        'the home never sent to the third node',
      );
    });
  });

  it('behind a full-cone NAT, is verified by a third node, though the probes of peers it sent to arrived first and were ignored', async () => {
    await withWorld('full-cone', false, async (w) => {
      const first = w.report();
      assert.equal(first.dialBack.last, 'no-probe');
      assert.equal(first.dialBack.ignoredProbes, 2);
      assert.notEqual(first.reachability, 'mapped');
      await w.addThird();
      await w.advance(LEASE_MS / 2);
      assert.equal(w.report().dialBack.last, 'verified');
      assert.equal(w.report().reachability, 'mapped');
    });
  });

  it('asks again 15 s after a dial-back that proved nothing, without waiting for the renewal (a lease of 1 h), and not again once verified', async () => {
    await withWorld(
      'port-restricted',
      true,
      async (w) => {
        assert.equal(w.report().dialBack.last, 'no-probe', 'before a third node exists');
        await w.addThird();
        await w.advance(16_000);
        const report = w.report();
        assert.equal(report.dialBack.last, 'verified');
        assert.equal(report.reachability, 'mapped');
        const mapping = report.mapping;
        assert.ok(mapping.state === 'mapped' && mapping.renewals === 0, 'no renewal happened meanwhile');
        const asked = w.queries.filter((q) => q.q === 'nautilus_reach').length;
        await w.advance(10 * 60_000);
        assert.equal(w.queries.filter((q) => q.q === 'nautilus_reach').length, asked, 'no dial-back after the proof');
      },
      3_600_000,
    );
  });

  it('while the mapping stays unverified, asks again after 15, then 30, then 60 s (the wait doubles)', async () => {
    await withWorld(
      'port-restricted',
      false,
      async (w) => {
        const reachesAt = (): number[] =>
          w.queries.filter((q) => q.q === 'nautilus_reach' && q.from === EXTERNAL).map((q) => q.at);
        await w.advance(120_000);
        // one round asks both contacts at once: the rounds are the distinct times
        const rounds = [...new Set(reachesAt())];
        assert.equal(rounds.length, 4, `rounds at ${rounds.join(', ')} ms`);
        const gaps = rounds.slice(1).map((t, i) => t - (rounds[i] as number));
        // each gap is the wait after the previous round's 3 s for a probe, and the wait doubles
        for (const [i, gap] of gaps.entries()) {
          const wait = 15_000 * 2 ** i;
          assert.ok(gap >= wait && gap <= wait + 3_500, `gap ${i}: ${gap} ms`);
        }
        assert.equal(w.report().dialBack.last, 'no-probe');
        assert.notEqual(w.report().reachability, 'mapped');
      },
      3_600_000,
    );
  });

  it('the contacts asked relay to third nodes, never to the requester’s IP, naming its external address and the mapped port', async () => {
    await withWorld('full-cone', true, async (w) => {
      await w.addThird();
      await w.advance(LEASE_MS / 2);
      const relays = w.queries.filter((q) => q.q === 'nautilus_relay');
      assert.ok(relays.length > 0);
      for (const relay of relays) {
        assert.ok([P1, P2].includes(relay.from), 'sent by a contact asked');
        assert.ok([P1, P2, THIRD].includes(relay.to) && relay.to !== relay.from);
        assert.deepEqual(relay.a['ip'], Uint8Array.from([198, 51, 100, 1]));
        assert.equal(relay.a['port'], PORT);
      }
      // rounds at 5 s (before the third node) and at 30 s: two contacts, up to two relays each
      assert.ok(relays.length <= 2 * 2 * 2);
      assert.equal(
        w.queries.some((q) => q.q === 'nautilus_probe' && q.from !== P1 && q.from !== P2 && q.from !== THIRD),
        false,
      );
    });
  });
});

/** A public node, and raw sockets beside it to play relayers, requesters and targets. */
async function servingWorld(): Promise<{
  clock: ManualClock;
  network: MemoryNetwork;
  node: KadNode;
  queries: SeenQuery[];
  raw(host: string, port?: number): MemoryTransport;
  ask(from: MemoryTransport, q: string, a: Record<string, unknown>): Promise<KrpcMessage | undefined>;
  close(): Promise<void>;
}> {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 10 }, { clock });
  const queries = recordQueries(network, clock);
  const nodes: KadNode[] = [];
  const node = await createNode({
    id: secureId(P1),
    maintenance: { enabled: false },
    clock,
    transport: network.createTransport({ host: P1, port: PORT }),
  });
  nodes.push(node);
  const transports: MemoryTransport[] = [];
  return {
    clock,
    network,
    node,
    queries,
    raw(host, port = PORT) {
      const transport = network.createTransport({ host, port });
      transports.push(transport);
      return transport;
    },
    ask: (from, q, a) =>
      rawQuery({ clock }, from, node.address(), q, dict({ id: secureId(from.address().host), ...a })),
    async close() {
      for (const t of transports) await t.close();
      await node.close();
    },
  };
}

async function withServing(test: (w: Awaited<ReturnType<typeof servingWorld>>) => Promise<void>): Promise<void> {
  const w = await servingWorld();
  try {
    await test(w);
  } finally {
    await w.close();
  }
}

const dict = (fields: Record<string, unknown>): BencodeDict => fields as BencodeDict;
const ipv4 = (host: string): Uint8Array => Uint8Array.from(host.split('.').map(Number));
const errorCode = (reply: KrpcMessage | undefined): number | undefined => (reply?.y === 'e' ? reply.e[0] : undefined);

describe('nautilus_relay and nautilus_reach as served by a node', () => {
  it('a relay makes one probe of the target named, at most one per 10 s for one target IP and port', () =>
    withServing(async (w) => {
      const relayer = w.raw('198.51.100.9');
      const target = w.raw('198.51.100.7');
      const probes: Uint8Array[] = [];
      target.on('message', ({ data }) => {
        const message = decodeMessage(data);
        if (message.y === 'q' && message.q === 'nautilus_probe') probes.push(message.a['nonce'] as Uint8Array);
      });
      const relay = (nonce: number, port = PORT) =>
        w.ask(relayer, 'nautilus_relay', { ip: ipv4('198.51.100.7'), port, nonce: Uint8Array.of(nonce) });
      const first = await relay(1);
      assert.equal(first?.y, 'r');
      assert.deepEqual(probes, [Uint8Array.of(1)]);
      assert.equal((await relay(2))?.y, 'r', 'accepted');
      assert.equal(probes.length, 1, 'but not probed again within 10 s');
      await relay(3, PORT + 1);
      assert.equal(probes.length, 1, 'nothing listens at the other port');
      assert.equal(w.queries.filter((q) => q.q === 'nautilus_probe').length, 2, 'another port is another target');
      await w.clock.advanceAsync(10_000);
      await relay(4);
      assert.deepEqual(probes.at(-1), Uint8Array.of(4));
      assert.equal(probes.length, 2);
    }));

  it('refuses (201) a relay to a target outside the relayer’s scope or a reserved address, and probes nothing', () =>
    withServing(async (w) => {
      const relayer = w.raw('198.51.100.9');
      for (const ip of [
        '10.0.0.1',
        '192.168.1.1',
        '127.0.0.1',
        '100.64.0.1',
        '0.0.0.0',
        '224.0.0.1',
        '255.255.255.255',
      ]) {
        const reply = await w.ask(relayer, 'nautilus_relay', { ip: ipv4(ip), port: PORT, nonce: Uint8Array.of(1) });
        assert.equal(errorCode(reply), 201, ip);
      }
      // a relayer in a private network may name a target there
      const local = w.raw('10.0.0.9');
      const reply = await w.ask(local, 'nautilus_relay', { ip: ipv4('10.0.0.1'), port: PORT, nonce: Uint8Array.of(1) });
      assert.equal(reply?.y, 'r');
      assert.deepEqual(
        w.queries.filter((q) => q.q === 'nautilus_probe').map((q) => q.to),
        ['10.0.0.1'],
      );
    }));

  it('answers 203 to a relay with a malformed ip, port or nonce, sends nothing, and keeps serving', () =>
    withServing(async (w) => {
      const relayer = w.raw('198.51.100.9');
      const ip = ipv4('198.51.100.7');
      const nonce = Uint8Array.of(1);
      for (const a of [
        { port: PORT, nonce },
        { ip: new Uint8Array(16), port: PORT, nonce },
        { ip: new Uint8Array(3), port: PORT, nonce },
        { ip: new Uint8Array(6), port: PORT, nonce },
        { ip: 7, port: PORT, nonce },
        { ip, nonce },
        { ip, port: 0, nonce },
        { ip, port: 65_536, nonce },
        { ip, port: -1, nonce },
        { ip, port: Buffer.from('6881'), nonce },
        { ip, port: PORT },
        { ip, port: PORT, nonce: new Uint8Array(0) },
        { ip, port: PORT, nonce: new Uint8Array(21) },
        { ip, port: PORT, nonce: [1] },
      ]) {
        assert.equal(errorCode(await w.ask(relayer, 'nautilus_relay', a)), 203, JSON.stringify(a));
      }
      assert.equal(
        errorCode(await w.ask(relayer, 'nautilus_relay', { id: Uint8Array.of(1), ip, port: PORT, nonce })),
        203,
      );
      assert.equal(w.queries.filter((q) => q.q === 'nautilus_probe').length, 0);
      assert.equal((await w.ask(relayer, 'ping', {}))?.y, 'r');
    }));

  it('refuses (201) a reach when it knows no node but at the requester’s IP, and relays it to one when it does', () =>
    withServing(async (w) => {
      const requester = w.raw('198.51.100.9');
      const nonce = Uint8Array.of(9, 9);
      assert.equal(errorCode(await w.ask(requester, 'nautilus_reach', { port: 7000, nonce })), 201, 'an empty table');
      // a node at the requester's IP (another port) in the table is no third node
      const sameIp = await createNode({
        clock: w.clock,
        maintenance: { enabled: false },
        transport: w.network.createTransport({ host: '198.51.100.9', port: 7001 }),
      });
      const third = await createNode({
        id: secureId('203.0.113.8'),
        clock: w.clock,
        maintenance: { enabled: false },
        transport: w.network.createTransport({ host: '203.0.113.8', port: PORT }),
      });
      try {
        await drive(w.clock, sameIp.ping(w.node.address()));
        assert.equal(errorCode(await w.ask(requester, 'nautilus_reach', { port: 7000, nonce })), 201);
        await drive(w.clock, third.ping(w.node.address()));
        const accepted = await w.ask(requester, 'nautilus_reach', { port: 7000, nonce });
        assert.equal(accepted?.y, 'r');
        const relays = w.queries.filter((q) => q.q === 'nautilus_relay');
        assert.deepEqual(
          relays.map((q) => ({ to: q.to, ip: q.a['ip'], port: q.a['port'], nonce: q.a['nonce'] })),
          [{ to: '203.0.113.8', ip: ipv4('198.51.100.9'), port: 7000, nonce }],
        );
        assert.deepEqual(
          w.queries.filter((q) => q.q === 'nautilus_probe').map((q) => `${q.from} ${q.to}`),
          ['203.0.113.8 198.51.100.9'],
          'the third node probes, never the contact asked',
        );
        // a second reach for the same IP and port within 10 s is answered, but not relayed
        assert.equal((await w.ask(requester, 'nautilus_reach', { port: 7000, nonce }))?.y, 'r');
        assert.equal(w.queries.filter((q) => q.q === 'nautilus_relay').length, 1);
      } finally {
        await sameIp.close();
        await third.close();
      }
    }));

  it('a requester whose only contact can relay to no one reports the dial-back unsupported and stays unverified', async () => {
    const w = await servingWorld();
    const home = await createNode({
      clock: w.clock,
      maintenance: { enabled: false },
      bootstrap: [w.node.address()],
      portMapping: 'upnp',
      portMapper: mapper(),
      transport: w.network.createTransport({ host: '198.51.100.9', port: PORT }),
    });
    try {
      await drive(w.clock, home.ready);
      await w.clock.advanceAsync(5000);
      const report = home.reachability();
      assert.equal(report.mapping.state, 'mapped');
      assert.equal(report.dialBack.last, 'unsupported');
      assert.equal(report.verifiedBy, undefined);
      assert.equal(w.queries.filter((q) => q.q === 'nautilus_relay').length, 0);
    } finally {
      await home.close();
      await w.close();
    }
  });
});
