import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isKadError } from '../../../src/kad/errors.js';
import type { InboundDatagram } from '../../../src/kad/transport/transport.js';
import { ManualClock } from '../../../src/testing/manual-clock.js';
import { MemoryNetwork, type MemoryTransport } from '../../../src/testing/memory-network.js';

function inbox(transport: MemoryTransport): InboundDatagram[] {
  const received: InboundDatagram[] = [];
  transport.on('message', (message) => received.push(message));
  return received;
}

const bytes = (...values: number[]): Uint8Array => Uint8Array.from(values);

describe('MemoryNetwork', () => {
  it('gives each transport its own private IPv4 address in its own /24', () => {
    const network = new MemoryNetwork({}, { clock: new ManualClock() });
    const a = network.createTransport();
    const b = network.createTransport();
    assert.deepEqual(a.address(), { host: '10.0.1.1', port: 6881, family: 4 });
    assert.deepEqual(b.address(), { host: '10.0.2.1', port: 6881, family: 4 });
    const v6 = network.createTransport({ family: 6 });
    assert.equal(v6.address().family, 6);
    assert.match(v6.address().host, /^fd00:0:0:[0-9a-f]+::1$/);
  });

  it('delivers a datagram after the latency, with the sender address', () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({ latencyMs: 25 }, { clock });
    const a = network.createTransport();
    const b = network.createTransport();
    const received = inbox(b);
    a.send(bytes(1, 2, 3), b.address());
    clock.advance(24);
    assert.equal(received.length, 0);
    clock.advance(1);
    assert.equal(received.length, 1);
    assert.deepEqual(received[0]?.data, bytes(1, 2, 3));
    assert.deepEqual(received[0]?.from, a.address());
    assert.equal(network.stats().delivered, 1);
  });

  it('copies the datagram, so the sender may reuse its buffer', () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    const a = network.createTransport();
    const b = network.createTransport();
    const received = inbox(b);
    const buffer = bytes(7);
    a.send(buffer, b.address());
    buffer[0] = 9;
    clock.advance(10);
    assert.deepEqual(received[0]?.data, bytes(7));
  });

  it('takes the latency from a function of the packet', () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({ latencyMs: (packet) => (packet.to.host === '10.0.2.1' ? 100 : 1) }, { clock });
    const a = network.createTransport();
    const b = network.createTransport();
    const c = network.createTransport();
    const toB = inbox(b);
    const toC = inbox(c);
    a.send(bytes(1), b.address());
    a.send(bytes(1), c.address());
    clock.advance(1);
    assert.deepEqual([toB.length, toC.length], [0, 1]);
    clock.advance(99);
    assert.deepEqual([toB.length, toC.length], [1, 1]);
  });

  it('loses the same datagrams for the same seed', () => {
    const run = (seed: number): number[] => {
      const clock = new ManualClock();
      const network = new MemoryNetwork({ lossRate: 0.3, seed }, { clock });
      const a = network.createTransport();
      const b = network.createTransport();
      const received = inbox(b);
      for (let i = 0; i < 200; i++) a.send(bytes(i), b.address());
      clock.advance(10);
      return received.map((m) => m.data[0] ?? -1);
    };
    const first = run(42);
    assert.deepEqual(run(42), first);
    assert.notDeepEqual(run(43), first);
    assert.ok(first.length > 100 && first.length < 180);
  });

  it('drops packets across a partition until healed, and through the drop filter', () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    const a = network.createTransport();
    const b = network.createTransport();
    const received = inbox(b);
    network.partition([a.address().host], [b.address().host]);
    a.send(bytes(1), b.address());
    clock.advance(10);
    network.heal();
    a.send(bytes(2), b.address());
    clock.advance(10);
    network.setDropFilter((packet) => packet.data[0] === 3);
    a.send(bytes(3), b.address());
    a.send(bytes(4), b.address());
    clock.advance(10);
    assert.deepEqual(
      received.map((m) => m.data[0]),
      [2, 4],
    );
    assert.equal(network.stats().filtered, 2);
  });

  it('counts datagrams to a missing or closed transport as unroutable', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    const a = network.createTransport();
    const b = network.createTransport();
    a.send(bytes(1), { host: '10.9.9.9', port: 1 });
    a.send(bytes(1), b.address());
    await b.close();
    clock.advance(10);
    assert.equal(network.stats().unroutable, 2);
    assert.equal(network.size, 1);
  });

  it('refuses datagrams over 1500 bytes and sends after close, without throwing', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    const a = network.createTransport();
    const b = network.createTransport();
    a.send(new Uint8Array(1501), b.address());
    assert.equal(a.stats().oversizedRefused, 1);
    await a.close();
    a.send(bytes(1), b.address());
    assert.equal(a.stats().sendErrors, 1);
    assert.equal(network.stats().sent, 0);
  });

  it('sends datagrams up to maxDatagramBytes when raised, and refuses a bound outside [1500, 65507]', () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({ maxDatagramBytes: 4000 }, { clock });
    const a = network.createTransport();
    const b = network.createTransport();
    const sizes: number[] = [];
    b.on('message', ({ data }) => sizes.push(data.byteLength));
    a.send(new Uint8Array(4000), b.address());
    a.send(new Uint8Array(4001), b.address());
    clock.advance(10);
    assert.deepEqual(sizes, [4000]);
    assert.equal(a.stats().oversizedRefused, 1);
    for (const maxDatagramBytes of [1499, 65508]) {
      assert.throws(
        () => new MemoryNetwork({ maxDatagramBytes }, { clock }),
        (error: unknown) => isKadError(error, 'INVALID_OPTION') && /maxDatagramBytes/.test(String(error)),
      );
    }
  });

  it('refuses to send to the other address family', () => {
    const network = new MemoryNetwork({}, { clock: new ManualClock() });
    const a = network.createTransport();
    a.send(bytes(1), { host: '::1', port: 6881 });
    assert.equal(a.stats().sendErrors, 1);
  });

  it('accepts any host string and picks free ports on a shared host', () => {
    const network = new MemoryNetwork({}, { clock: new ManualClock() });
    const a = network.createTransport({ host: 'alice' });
    const b = network.createTransport({ host: 'alice' });
    assert.deepEqual([a.address().port, b.address().port], [6881, 6882]);
    assert.throws(
      () => network.createTransport({ host: 'alice', port: 6881 }),
      (e) => isKadError(e, 'INVALID_ADDRESS'),
    );
  });

  it('rejects a loss rate outside [0, 1] with INVALID_OPTION', () => {
    assert.throws(
      () => new MemoryNetwork({ lossRate: 2 }, { clock: new ManualClock() }),
      (e) => isKadError(e, 'INVALID_OPTION'),
    );
  });

  it('runs hundreds of transports deterministically on one clock', () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({ latencyMs: (p) => 1 + (p.data[0] ?? 0) }, { clock });
    const transports = Array.from({ length: 300 }, () => network.createTransport());
    let total = 0;
    for (const t of transports) t.on('message', () => total++);
    for (const [i, t] of transports.entries())
      t.send(bytes(i % 7), (transports[(i + 1) % 300] as MemoryTransport).address());
    clock.advance(10);
    assert.equal(total, 300);
    assert.equal(network.stats().inFlight, 0);
  });
});
