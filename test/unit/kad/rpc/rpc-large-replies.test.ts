import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bencode } from '../../../../src/kad/wire/bencode.js';
import { isKadError } from '../../../../src/kad/errors.js';
import { encodeMessage, type KrpcQuery } from '../../../../src/kad/wire/krpc.js';
import { Rpc, type RpcOptions } from '../../../../src/kad/rpc/rpc.js';
import { MAX_UDP_PAYLOAD_BYTES } from '../../../../src/kad/transport/transport.js';
import { ManualClock } from '../../../../src/testing/manual-clock.js';
import { MemoryNetwork } from '../../../../src/testing/memory-network.js';
import { dict, nodeId, rawPeer, text, track } from './rpc-harness.js';

const FIND = dict({ id: nodeId(1), target: nodeId(3) });

/** An Rpc under test and a raw peer that may send datagrams of any size, as other implementations do. */
function setup(options: RpcOptions = {}) {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 10, maxDatagramBytes: MAX_UDP_PAYLOAD_BYTES }, { clock });
  const rpc = new Rpc(options, { transport: network.createTransport(), clock });
  const peer = rawPeer(network, clock);
  const stranger = rawPeer(network, clock);
  /** Sends find_node to the peer and resolves with the query as it arrived. */
  const ask = async () => {
    const result = track(rpc.query(peer.transport.address(), 'find_node', FIND, { retries: 0 }));
    await clock.advanceAsync(10);
    const query = peer.received.at(-1)?.message as KrpcQuery;
    return { result, query };
  };
  return { clock, network, rpc, peer, stranger, ask };
}

describe('Rpc replies over 1500 bytes', () => {
  it('accepts a response over 1500 bytes to its own query in flight', async () => {
    const { clock, rpc, peer, ask } = setup();
    const { result, query } = await ask();
    const nodes = new Uint8Array(26 * 110).fill(5); // 110 contacts, as bittorrent-dht sends
    const datagram = encodeMessage({ y: 'r', t: query.t, r: dict({ id: nodeId(2), nodes }) });
    assert.ok(datagram.byteLength > 2800);
    peer.transport.send(datagram, rpc.address());
    await clock.advanceAsync(10);
    assert.equal(result.state, 'resolved');
    assert.deepEqual(result.value?.response.r['nodes'], nodes);
    assert.equal(rpc.stats().largeReplies, 1);
    assert.equal(rpc.stats().dropped.oversized, 0);
  });

  it('accepts an error reply over 1500 bytes to its own query in flight', async () => {
    const { clock, rpc, peer, ask } = setup();
    const { result, query } = await ask();
    peer.transport.send(encodeMessage({ y: 'e', t: query.t, e: [202, 'x'.repeat(3000)] }), rpc.address());
    await clock.advanceAsync(10);
    assert.equal(result.state, 'rejected');
    assert.ok(isKadError(result.error, 'REMOTE_ERROR'));
    assert.equal(rpc.stats().largeReplies, 1);
  });

  it('drops a reply over maxReplyBytes undecoded, and the query times out', async () => {
    const { clock, rpc, peer, ask } = setup({ maxReplyBytes: 2000 });
    const { result, query } = await ask();
    const datagram = encodeMessage({ y: 'r', t: query.t, r: dict({ id: nodeId(2), nodes: new Uint8Array(2600) }) });
    peer.transport.send(datagram, rpc.address());
    await clock.advanceAsync(10);
    assert.equal(result.state, 'pending');
    assert.equal(rpc.stats().dropped.oversized, 1);
    await clock.advanceAsync(2000);
    assert.ok(isKadError(result.error, 'TIMEOUT'));
  });

  it('drops big datagrams that answer no query in flight to their sender, without decoding them', async () => {
    const { clock, rpc, peer, stranger, ask } = setup();
    const { result, query } = await ask();
    const reply = (t: Uint8Array) =>
      encodeMessage({ y: 'r', t, r: dict({ id: nodeId(2), nodes: new Uint8Array(2600) }) });
    stranger.transport.send(reply(query.t), rpc.address()); // the right t from another address
    peer.transport.send(reply(Uint8Array.of(0, 0, 0, 0)), rpc.address()); // another t
    peer.transport.send(new Uint8Array(3000).fill(0x64), rpc.address()); // junk: 'ddd…'
    peer.transport.send(
      bencode(dict({ t: query.t, y: text('r'), pad: new Uint8Array(2000) })).subarray(0, 1800),
      rpc.address(),
    );
    await clock.advanceAsync(10);
    const stats = rpc.stats();
    assert.equal(stats.dropped.oversized, 4);
    assert.equal(stats.dropped.malformed, 0, 'nothing was decoded');
    assert.equal(stats.dropped.unmatched, 0);
    assert.equal(result.state, 'pending', 'the query still waits for its answer');
    peer.transport.send(reply(query.t), rpc.address());
    await clock.advanceAsync(10);
    assert.equal(result.state, 'resolved');
  });

  it('drops queries over 1500 bytes unanswered, even from a node it is asking', async () => {
    const { clock, rpc, peer, ask } = setup();
    let served = 0;
    rpc.setQueryHandler(() => {
      served++;
      return dict({ id: nodeId(2) });
    });
    const { query } = await ask();
    const big = encodeMessage({ y: 'q', t: query.t, q: 'ping', a: dict({ id: nodeId(2), pad: new Uint8Array(2000) }) });
    peer.transport.send(big, rpc.address());
    await clock.advanceAsync(20);
    assert.equal(served, 0);
    assert.equal(peer.received.length, 1, 'only our own query reached the peer');
    assert.equal(rpc.stats().dropped.oversized, 1);
  });

  it('counts a big reply that scans as awaited but does not decode as malformed, and keeps waiting', async () => {
    const { clock, rpc, peer, ask } = setup();
    const { result, query } = await ask();
    // keys out of order and no r: the scan sees a reply with our t, the decoder refuses it
    const bad = text(`d1:y1:r3:pad2000:${'p'.repeat(2000)}1:t4:`);
    peer.transport.send(Uint8Array.from([...bad, ...query.t, 0x65]), rpc.address());
    await clock.advanceAsync(10);
    assert.equal(rpc.stats().dropped.malformed, 1);
    assert.equal(rpc.stats().internalErrors, 0);
    assert.equal(result.state, 'pending');
    await clock.advanceAsync(2000);
    assert.ok(isKadError(result.error, 'TIMEOUT'));
  });

  it('sends nothing over 1500 bytes itself, whatever maxReplyBytes', async () => {
    const { clock, rpc, peer } = setup({ maxReplyBytes: MAX_UDP_PAYLOAD_BYTES });
    rpc.setQueryHandler(() => dict({ id: nodeId(2), nodes: new Uint8Array(3000) }));
    peer.send({ y: 'q', t: text('aa'), q: 'find_node', a: FIND }, rpc.address());
    await clock.advanceAsync(20);
    const reply = peer.received[0]?.message;
    assert.equal(reply?.y, 'e', 'answered 202 instead of a response it cannot send');
    const sent = rpc.stats();
    assert.equal(sent.responsesSent, 0);
    assert.equal(sent.handlerErrors, 1);
  });

  it('refuses a maxReplyBytes outside [1500, 65507]', () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({}, { clock });
    for (const maxReplyBytes of [1499, 65508, 2000.5]) {
      assert.throws(
        () => new Rpc({ maxReplyBytes }, { transport: network.createTransport(), clock }),
        (error: unknown) => isKadError(error, 'INVALID_OPTION') && /maxReplyBytes/.test(String(error)),
      );
    }
  });
});
