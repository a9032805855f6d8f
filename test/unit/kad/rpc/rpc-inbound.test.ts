import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bencode } from '../../../../src/kad/wire/bencode.js';
import { encodePeer } from '../../../../src/kad/wire/compact.js';
import { KadError } from '../../../../src/kad/errors.js';
import type { KrpcErrorMessage, KrpcResponse } from '../../../../src/kad/wire/krpc.js';
import { Rpc } from '../../../../src/kad/rpc/rpc.js';
import type { RemoteInfo } from '../../../../src/kad/transport/transport.js';
import { ManualClock } from '../../../../src/testing/manual-clock.js';
import { MemoryNetwork } from '../../../../src/testing/memory-network.js';
import { dict, nodeId, rawPeer, text } from './rpc-harness.js';

function server(options: ConstructorParameters<typeof Rpc>[0] = {}) {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 10 }, { clock });
  const rpc = new Rpc(options, { transport: network.createTransport(), clock });
  const client = rawPeer(network, clock);
  const ask = (q: string, t = text('aa'), a = dict({ id: nodeId(1) })): void =>
    client.send({ y: 'q', t, q, a }, rpc.address());
  return { clock, network, rpc, client, ask };
}

describe('Rpc inbound queries', () => {
  it('answers with the handler result, echoing t and adding v and the requester ip', async () => {
    const { clock, rpc, client, ask } = server();
    const seen: { q: string; from: RemoteInfo }[] = [];
    rpc.setQueryHandler((query, from) => {
      seen.push({ q: query.q, from });
      return dict({ id: nodeId(9) });
    });
    ask('ping', text('xy'));
    await clock.advanceAsync(20);
    const reply = client.received[0]?.message as KrpcResponse;
    assert.equal(reply.y, 'r');
    assert.deepEqual(reply.t, text('xy'));
    assert.deepEqual(reply.r['id'], nodeId(9));
    assert.deepEqual(reply.v, Uint8Array.of(0x4e, 0x41, 0, 1));
    assert.deepEqual(reply.ip, encodePeer(client.transport.address()));
    assert.deepEqual(seen, [{ q: 'ping', from: client.transport.address() }]);
    assert.equal(rpc.stats().responsesSent, 1);
  });

  it('answers an async handler once its promise settles', async () => {
    const { clock, rpc, client, ask } = server();
    rpc.setQueryHandler(async () => {
      await Promise.resolve();
      return dict({ id: nodeId(4) });
    });
    ask('get');
    await clock.advanceAsync(20);
    assert.equal(client.received[0]?.message.y, 'r');
  });

  it('turns a KadError with a wire code into that KRPC error', async () => {
    const { clock, rpc, client, ask } = server();
    rpc.setQueryHandler(() => {
      throw KadError.seqTooLow(1, 2);
    });
    ask('put');
    await clock.advanceAsync(20);
    const reply = client.received[0]?.message as KrpcErrorMessage;
    assert.equal(reply.y, 'e');
    assert.equal(reply.e[0], 302);
    assert.match(reply.e[1], /sequence number 1 less than current 2/);
  });

  it('answers 202 for any other failure, without leaking its message', async () => {
    const { clock, rpc, client, ask } = server();
    rpc.setQueryHandler(() => Promise.reject(new Error('secret internal detail')));
    ask('get_peers');
    await clock.advanceAsync(20);
    assert.deepEqual((client.received[0]?.message as KrpcErrorMessage).e, [202, 'server error']);
  });

  it('answers 204 when no handler is set', async () => {
    const { clock, client, ask } = server();
    ask('ping');
    await clock.advanceAsync(20);
    assert.equal((client.received[0]?.message as KrpcErrorMessage).e[0], 204);
  });

  it('leaves a query unanswered when the handler returns undefined', async () => {
    const { clock, rpc, client, ask } = server();
    rpc.setQueryHandler(() => undefined);
    ask('ping');
    await clock.advanceAsync(20);
    assert.equal(client.received.length, 0);
    assert.equal(rpc.stats().unanswered, 1);
  });

  it('answers 202 when the response would not fit in one datagram', async () => {
    const { clock, rpc, client, ask } = server();
    rpc.setQueryHandler(() => dict({ id: nodeId(1), values: new Uint8Array(1500) }));
    ask('get_peers');
    await clock.advanceAsync(20);
    assert.equal((client.received[0]?.message as KrpcErrorMessage).e[0], 202);
    assert.equal(rpc.stats().handlerErrors, 1);
  });

  it('tells the handler how many bytes r may take: that many fit one datagram, one more is a 202', async () => {
    for (const options of [{}, { clientVersion: null, reportRequesterIp: false }]) {
      const { clock, rpc, client, ask } = server(options);
      let room = 0;
      let extra = 0;
      rpc.setQueryHandler((_query, _from, { maxResponseBytes }) => {
        room = maxResponseBytes;
        const r = dict({ id: nodeId(1), pad: new Uint8Array(0) });
        const pad = maxResponseBytes - bencode(r).length + extra;
        return dict({ id: nodeId(1), pad: new Uint8Array(pad - String(pad).length + 1) });
      });
      ask('get', new Uint8Array(16));
      await clock.advanceAsync(20);
      const sent = client.received[0]?.message as KrpcResponse;
      assert.equal(sent.y, 'r');
      assert.equal(bencode(sent.r).length, room);
      extra = 1;
      ask('get', new Uint8Array(16));
      await clock.advanceAsync(20);
      assert.equal((client.received[1]?.message as KrpcErrorMessage).e[0], 202);
    }
  });

  it('drops garbage silently and counts it as malformed', async () => {
    const { clock, rpc, client } = server();
    client.transport.send(text('not bencode at all'), rpc.address());
    client.transport.send(bencode(dict({ t: text('aa'), y: text('r') })), rpc.address());
    await clock.advanceAsync(20);
    assert.equal(client.received.length, 0);
    assert.equal(rpc.stats().dropped.malformed, 2);
  });

  it('answers 203 to a malformed query whose transaction id can be read', async () => {
    const { clock, rpc, client } = server();
    rpc.setQueryHandler(() => dict({ id: nodeId(1) }));
    // a query without a: { id }
    client.transport.send(bencode(dict({ t: text('zz'), y: text('q'), q: text('ping'), a: dict({}) })), rpc.address());
    await clock.advanceAsync(20);
    const reply = client.received[0]?.message as KrpcErrorMessage;
    assert.equal(reply.y, 'e');
    assert.deepEqual(reply.t, text('zz'));
    assert.equal(reply.e[0], 203);
    assert.equal(rpc.stats().dropped.malformed, 1);
  });

  it('never answers replies, so two nodes cannot loop on errors', async () => {
    const { clock, rpc, client } = server();
    client.send({ y: 'e', t: text('qq'), e: [201, 'x'] }, rpc.address());
    client.send({ y: 'r', t: text('qq'), r: dict({ id: nodeId(1) }) }, rpc.address());
    await clock.advanceAsync(20);
    assert.equal(client.received.length, 0);
    assert.equal(rpc.stats().dropped.unmatched, 2);
  });

  it('counts datagrams over 1500 bytes that reach it as oversized', () => {
    const { rpc, network } = server();
    const transport = network.transportAt(rpc.address());
    assert.ok(transport !== undefined);
    transport.receive(new Uint8Array(1501), { host: '10.9.9.9', port: 1, family: 4 });
    assert.equal(rpc.stats().dropped.oversized, 1);
  });

  it('drops queries over the per-IP rate and counts them', async () => {
    const { clock, rpc, client, ask } = server({ inboundLimit: { ratePerSecond: 1, burst: 2 } });
    rpc.setQueryHandler(() => dict({ id: nodeId(1) }));
    for (let i = 0; i < 5; i++) ask('ping', Uint8Array.of(i));
    await clock.advanceAsync(20);
    assert.equal(client.received.length, 2);
    assert.equal(rpc.stats().dropped.rateLimited, 3);
    await clock.advanceAsync(1000);
    ask('ping');
    await clock.advanceAsync(20);
    assert.equal(client.received.length, 3);
  });

  it('counts inbound queries per method', async () => {
    const { clock, rpc, ask } = server();
    rpc.setQueryHandler(() => dict({ id: nodeId(1) }));
    ask('find_node');
    ask('find_node');
    ask('announce_peer');
    await clock.advanceAsync(20);
    const { queriesIn } = rpc.stats();
    assert.deepEqual([queriesIn.find_node, queriesIn.announce_peer, queriesIn.ping], [2, 1, 0]);
  });

  it('aborts the handler signal on close and sends nothing afterwards', async () => {
    const { clock, rpc, client, ask } = server();
    let signal: AbortSignal | undefined;
    let finish: (() => void) | undefined;
    rpc.setQueryHandler((_query, _from, context) => {
      signal = context.signal;
      return new Promise((resolve) => {
        finish = () => resolve(dict({ id: nodeId(1) }));
      });
    });
    ask('get');
    await clock.advanceAsync(10);
    await rpc.close();
    assert.equal(signal?.aborted, true);
    finish?.();
    await clock.advanceAsync(20);
    assert.equal(client.received.length, 0);
  });

  it('keeps serving after a malformed datagram between queries', async () => {
    const { clock, rpc, client, ask } = server();
    rpc.setQueryHandler(() => dict({ id: nodeId(1) }));
    ask('ping', text('t1'));
    client.transport.send(Uint8Array.of(0xff, 0x00), rpc.address());
    ask('ping', text('t2'));
    await clock.advanceAsync(20);
    assert.equal(client.received.length, 2);
    assert.equal(rpc.stats().internalErrors, 0);
  });
});
