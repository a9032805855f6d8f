import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, describe, it } from 'node:test';
import { isKadError } from '../../../src/kad/errors.js';
import { Rpc } from '../../../src/kad/rpc/rpc.js';
import type { InboundDatagram, Transport } from '../../../src/kad/transport/transport.js';
import { createUdpTransport } from '../../../src/kad/transport/udp-transport.js';
import { dict, nodeId } from '../../unit/kad/rpc/rpc-harness.js';

const opened: Transport[] = [];
after(async () => {
  await Promise.all(opened.map((t) => t.close()));
});

async function open(host: string): Promise<Transport> {
  const transport = await createUdpTransport({ host, port: 0 });
  opened.push(transport);
  return transport;
}

function nextMessage(transport: Transport): Promise<InboundDatagram> {
  return new Promise((resolve) => transport.once('message', resolve));
}

for (const host of ['127.0.0.1', '::1']) {
  describe(`UDP transport on ${host}`, () => {
    it('binds port 0 and reports its address and family', async () => {
      const transport = await open(host);
      const address = transport.address();
      assert.equal(address.host, host);
      assert.ok(address.port > 0);
      assert.equal(address.family, host.includes(':') ? 6 : 4);
    });

    it('exchanges datagrams between two transports', async () => {
      const [a, b] = await Promise.all([open(host), open(host)]);
      const arrival = nextMessage(b);
      a.send(Uint8Array.of(1, 2, 3), b.address());
      const { data, from } = await arrival;
      assert.deepEqual(data, Uint8Array.of(1, 2, 3));
      assert.equal(Object.getPrototypeOf(data), Uint8Array.prototype);
      assert.deepEqual(from, a.address());
      assert.equal(a.stats().datagramsSent, 1);
      assert.equal(b.stats().datagramsReceived, 1);
    });

    it('refuses datagrams over 1500 bytes on send and delivers bigger ones up to its receive bound', async () => {
      const receiver = await open(host);
      const sender = await open(host);
      sender.send(new Uint8Array(1501), receiver.address());
      assert.equal(sender.stats().oversizedRefused, 1);
      // a raw socket sends what other implementations do: replies of a few kilobytes
      const raw = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      const arrival = nextMessage(receiver);
      await new Promise<void>((resolve) =>
        raw.send(new Uint8Array(4000).fill(1), receiver.address().port, host, () => resolve()),
      );
      const { data } = await arrival;
      raw.close();
      assert.equal(data.byteLength, 4000);
      assert.equal(receiver.stats().oversizedDropped, 0);
    });

    it('drops datagrams over maxReceiveBytes on receive', async () => {
      const receiver = await createUdpTransport({ host, port: 0, maxReceiveBytes: 1500 });
      opened.push(receiver);
      const raw = createSocket(host.includes(':') ? 'udp6' : 'udp4');
      const arrival = nextMessage(receiver);
      await new Promise<void>((resolve) =>
        raw.send(new Uint8Array(4000), receiver.address().port, host, () => resolve()),
      );
      await new Promise<void>((resolve) => raw.send(Uint8Array.of(7), receiver.address().port, host, () => resolve()));
      const { data } = await arrival;
      raw.close();
      assert.deepEqual(data, Uint8Array.of(7));
      assert.equal(receiver.stats().oversizedDropped, 1);
    });

    it('counts sends to the wrong family or a host name instead of throwing', async () => {
      const transport = await open(host);
      transport.send(Uint8Array.of(1), { host: host.includes(':') ? '127.0.0.1' : '::1', port: 9 });
      transport.send(Uint8Array.of(1), { host: 'localhost', port: 9 });
      transport.send(Uint8Array.of(1), { host, port: 0 });
      assert.equal(transport.stats().sendErrors, 3);
    });

    it('carries a KRPC ping between two Rpc layers', async () => {
      const [ta, tb] = await Promise.all([open(host), open(host)]);
      const a = new Rpc({}, { transport: ta });
      const b = new Rpc({}, { transport: tb });
      b.setQueryHandler(() => dict({ id: nodeId(2) }));
      const { response, from } = await a.query(tb.address(), 'ping', dict({ id: nodeId(1) }));
      assert.deepEqual(response.r['id'], nodeId(2));
      assert.deepEqual(from, tb.address());
      assert.ok(response.ip !== undefined);
      await Promise.all([a.close(), b.close()]);
    });

    it('releases the port on close, and close is idempotent', async () => {
      const transport = await createUdpTransport({ host, port: 0 });
      const { port } = transport.address();
      await transport.close();
      await transport.close();
      transport.send(Uint8Array.of(1), { host, port });
      assert.equal(transport.stats().sendErrors, 1);
      const again = await createUdpTransport({ host, port });
      assert.equal(again.address().port, port);
      await again.close();
    });
  });
}

describe('createUdpTransport', () => {
  it('rejects a host that is not an IP literal and a port out of range', async () => {
    await assert.rejects(createUdpTransport({ host: 'localhost' }), (e) => isKadError(e, 'INVALID_ADDRESS'));
    await assert.rejects(createUdpTransport({ host: '127.0.0.1', port: 70000 }), (e) =>
      isKadError(e, 'INVALID_ADDRESS'),
    );
  });

  it('rejects a maxReceiveBytes outside [1500, 65507] naming the option', async () => {
    for (const maxReceiveBytes of [1499, 65508]) {
      await assert.rejects(
        createUdpTransport({ host: '127.0.0.1', maxReceiveBytes }),
        (e) => isKadError(e, 'INVALID_OPTION') && /maxReceiveBytes/.test(e.message),
      );
    }
  });

  it('rejects with INVALID_ADDRESS when the port is taken', async () => {
    const first = await open('127.0.0.1');
    await assert.rejects(
      createUdpTransport({ host: '127.0.0.1', port: first.address().port }),
      (e) => isKadError(e, 'INVALID_ADDRESS') && /EADDRINUSE/.test(e.message),
    );
  });

  it('rejects with the signal reason when aborted before binding', async () => {
    const reason = new Error('not now');
    await assert.rejects(
      createUdpTransport({ host: '127.0.0.1', signal: AbortSignal.abort(reason) }),
      (e) => e === reason,
    );
  });
});

describe('Rpc on loopback', () => {
  it('neither paces nor rate-limits loopback peers unless limitLoopback is set', async () => {
    const [ta, tb] = await Promise.all([open('127.0.0.1'), open('127.0.0.1')]);
    const a = new Rpc({ pacing: { ratePerSecond: 1, burst: 1 } }, { transport: ta });
    const b = new Rpc({ inboundLimit: { ratePerSecond: 1, burst: 1 } }, { transport: tb });
    b.setQueryHandler(() => dict({ id: nodeId(2) }));
    const results = await Promise.all(
      Array.from({ length: 10 }, () => a.query(tb.address(), 'ping', dict({ id: nodeId(1) }))),
    );
    assert.equal(results.length, 10);
    assert.equal(b.stats().dropped.rateLimited, 0);
    await Promise.all([a.close(), b.close()]);
  });
});
