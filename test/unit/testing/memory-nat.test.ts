import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../src/kad/errors.js';
import type { InboundDatagram } from '../../../src/kad/transport/transport.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import type { NatKind } from '../../../src/testing/memory-nat.js';
import { MemoryNetwork, type MemoryTransport } from '../../../src/testing/memory-network.js';

function inbox(transport: MemoryTransport): InboundDatagram[] {
  const received: InboundDatagram[] = [];
  transport.on('message', (message) => received.push(message));
  return received;
}

const one = Uint8Array.of(1);

/** A home host behind a NAT of `kind`, and two public hosts (two ports on the first). */
function world(kind: NatKind, timeoutMs = 30_000) {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 5 }, { clock });
  const nat = network.addNat({ external: '198.51.100.1', hosts: ['10.99.0.2'], kind, timeoutMs });
  const home = network.createTransport({ host: '10.99.0.2', port: 6881 });
  const pub = network.createTransport({ host: '198.51.100.2', port: 6881 });
  const pubOtherPort = network.createTransport({ host: '198.51.100.2', port: 7000 });
  const other = network.createTransport({ host: '198.51.100.3', port: 6881 });
  return { clock, network, nat, home, pub, pubOtherPort, other };
}

/** `home` sends one datagram to `pub`: the external endpoint `pub` sees it from. */
async function mappedVia(w: ReturnType<typeof world>): Promise<{ host: string; port: number }> {
  const atPub = inbox(w.pub);
  w.home.send(one, w.pub.address());
  await w.clock.advanceAsync(5);
  const mapped = atPub[0]?.from;
  assert.ok(mapped !== undefined);
  return mapped;
}

describe('MemoryNetwork NATs', () => {
  it('rewrites the source of what a host behind a NAT sends, keeping its port under endpoint-independent mapping', async () => {
    const { clock, home, pub, other } = world('port-restricted');
    const atPub = inbox(pub);
    const atOther = inbox(other);
    home.send(one, pub.address());
    home.send(one, other.address());
    await clock.advanceAsync(5);
    assert.deepEqual(atPub[0]?.from, { host: '198.51.100.1', port: 6881, family: 4 });
    assert.deepEqual(atOther[0]?.from, { host: '198.51.100.1', port: 6881, family: 4 });
  });

  it('gives a new external port per destination under a symmetric NAT', async () => {
    const { clock, home, pub, pubOtherPort, other } = world('symmetric');
    const seen = [inbox(pub), inbox(pubOtherPort), inbox(other)];
    home.send(one, pub.address());
    home.send(one, pubOtherPort.address());
    home.send(one, other.address());
    await clock.advanceAsync(5);
    const ports = seen.map((received) => received[0]?.from.port);
    assert.equal(new Set(ports).size, 3);
  });

  it('lets an answer back through the mapping and delivers it to the host behind the NAT', async () => {
    const w = world('port-restricted');
    const { clock, home, pub } = w;
    const atHome = inbox(home);
    const mapped = await mappedVia(w);
    pub.send(Uint8Array.of(2), mapped);
    await clock.advanceAsync(5);
    assert.equal(atHome.length, 1);
    assert.deepEqual(atHome[0]?.from, pub.address());
  });

  const filtering: [NatKind, { otherPort: boolean; otherHost: boolean }][] = [
    ['full-cone', { otherPort: true, otherHost: true }],
    ['restricted-cone', { otherPort: true, otherHost: false }],
    ['port-restricted', { otherPort: false, otherHost: false }],
    ['symmetric', { otherPort: false, otherHost: false }],
  ];
  for (const [kind, expected] of filtering) {
    it(`${kind}: lets in unsolicited datagrams from another port of a contacted host: ${expected.otherPort}, from another host: ${expected.otherHost}`, async () => {
      const w = world(kind);
      const { clock, nat, home, pubOtherPort, other } = w;
      const atHome = inbox(home);
      const mapped = await mappedVia(w);
      pubOtherPort.send(Uint8Array.of(7), mapped);
      await clock.advanceAsync(5);
      assert.equal(atHome.length, expected.otherPort ? 1 : 0);
      other.send(Uint8Array.of(8), mapped);
      await clock.advanceAsync(5);
      assert.equal(atHome.length, (expected.otherPort ? 1 : 0) + (expected.otherHost ? 1 : 0));
      assert.equal(nat.stats().dropped, (expected.otherPort ? 0 : 1) + (expected.otherHost ? 0 : 1));
    });
  }

  it('drops everything sent to its external address before the inside sent anything', async () => {
    const { clock, network, home, pub } = world('full-cone');
    const atHome = inbox(home);
    pub.send(one, { host: '198.51.100.1', port: 6881 });
    await clock.advanceAsync(5);
    assert.equal(atHome.length, 0);
    assert.equal(network.stats().filtered, 1);
  });

  it('forgets a mapping idle for timeoutMs: a late answer is dropped', async () => {
    const w = world('port-restricted', 30_000);
    const { clock, nat, home, pub } = w;
    const atHome = inbox(home);
    const mapped = await mappedVia(w);
    await clock.advanceAsync(30_000);
    pub.send(Uint8Array.of(2), mapped);
    await clock.advanceAsync(5);
    assert.equal(atHome.length, 0);
    assert.equal(nat.stats().mappings, 0);
  });

  it('lets hosts behind the same NAT reach each other directly', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({ latencyMs: 5 }, { clock });
    network.addNat({ external: '198.51.100.1', hosts: ['10.99.0.2', '10.99.0.3'] });
    const a = network.createTransport({ host: '10.99.0.2' });
    const b = network.createTransport({ host: '10.99.0.3' });
    const atB = inbox(b);
    a.send(one, b.address());
    await clock.advanceAsync(5);
    assert.deepEqual(atB[0]?.from, a.address());
  });

  it('refuses a host that is already behind another NAT', () => {
    const network = new MemoryNetwork({}, { clock: new ManualClock() });
    network.addNat({ external: '198.51.100.1', hosts: ['10.99.0.2'] });
    assert.throws(
      () => network.addNat({ external: '198.51.100.9', hosts: ['10.99.0.2'] }),
      (error) => isKadError(error, 'INVALID_OPTION'),
    );
  });

  it('forwards a port to a host behind a port-restricted NAT: anyone gets in, from then on and not after unforward', async () => {
    const { clock, nat, home, pub, other } = world('port-restricted');
    const atHome = inbox(home);
    other.send(one, { host: '198.51.100.1', port: 6881 });
    await clock.advanceAsync(5);
    assert.equal(atHome.length, 0, 'no forward yet: dropped');
    nat.forward(6881, home.address());
    other.send(one, { host: '198.51.100.1', port: 6881 });
    await clock.advanceAsync(5);
    assert.deepEqual(
      atHome.map((m) => m.from),
      [other.address()],
    );
    // what the host sends from the forwarded endpoint leaves from the forwarded port
    const atPub = inbox(pub);
    home.send(one, pub.address());
    await clock.advanceAsync(5);
    assert.deepEqual(atPub[0]?.from, { host: '198.51.100.1', port: 6881, family: 4 });
    nat.unforward(6881);
    await clock.advanceAsync(30_000);
    other.send(one, { host: '198.51.100.1', port: 6881 });
    await clock.advanceAsync(5);
    assert.equal(atHome.length, 1);
  });

  it('refuses to forward a port another endpoint holds, or to a host not behind the NAT', () => {
    const { nat, home } = world('port-restricted');
    nat.forward(6881, home.address());
    assert.throws(
      () => nat.forward(6881, { host: '10.99.0.2', port: 7000, family: 4 }),
      (error) => isKadError(error, 'INVALID_OPTION'),
    );
    assert.throws(
      () => nat.forward(7000, { host: '198.51.100.2', port: 7000, family: 4 }),
      (error) => isKadError(error, 'INVALID_OPTION'),
    );
    assert.throws(
      () => nat.forward(0, home.address()),
      (error) => isKadError(error, 'INVALID_OPTION'),
    );
  });
});
