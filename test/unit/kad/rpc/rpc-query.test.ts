import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { encodePeer } from '../../../../src/kad/wire/compact.js';
import { isKadError } from '../../../../src/kad/errors.js';
import type { KrpcQuery } from '../../../../src/kad/wire/krpc.js';
import { dict, nodeId, rawPeer, setup, track } from './rpc-harness.js';

const PING = dict({ id: nodeId(1) });
const NO_PACING = { pacing: { ratePerSecond: Number.POSITIVE_INFINITY } } as const;

describe('Rpc queries', () => {
  it('resolves with the response, the responder and the round-trip time', async () => {
    const { clock, a, b } = setup();
    const result = track(a.query(b.address(), 'ping', PING));
    await clock.advanceAsync(20);
    assert.equal(result.state, 'resolved');
    assert.deepEqual(result.value?.response.r['id'], nodeId(2));
    assert.deepEqual(result.value?.from, b.address());
    assert.equal(result.value?.rttMs, 20);
    assert.deepEqual(result.value?.response.ip, encodePeer(a.address()));
  });

  it('puts the client version on queries and ro: 1 when read-only', async () => {
    const { clock, network, a } = setup({ readOnly: true, clientVersion: Uint8Array.of(0x4e, 0x41, 1, 2) });
    const peer = rawPeer(network, clock);
    void a.query(peer.transport.address(), 'find_node', PING, { retries: 0 }).catch(() => undefined);
    await clock.advanceAsync(10);
    const query = peer.received[0]?.message as KrpcQuery;
    assert.equal(query.q, 'find_node');
    assert.deepEqual(query.v, Uint8Array.of(0x4e, 0x41, 1, 2));
    assert.equal(query.ro, true);
    assert.equal(query.t.byteLength, 4);
    await a.close();
  });

  it('rejects with TIMEOUT after the default timeout for an unknown node', async () => {
    const { clock, network, a } = setup();
    const silent = rawPeer(network, clock);
    const result = track(a.query(silent.transport.address(), 'ping', PING, { retries: 0 }));
    await clock.advanceAsync(1499);
    assert.equal(result.state, 'pending');
    await clock.advanceAsync(1);
    assert.equal(result.state, 'rejected');
    assert.ok(isKadError(result.error, 'TIMEOUT'));
    assert.equal(a.stats().timeouts, 1);
  });

  it('retries with a fresh transaction id and a doubled timeout', async () => {
    const { clock, network, a } = setup();
    const silent = rawPeer(network, clock);
    const result = track(a.query(silent.transport.address(), 'ping', PING, { retries: 2, timeoutMs: 100 }));
    await clock.advanceAsync(100 + 200 + 399);
    assert.equal(result.state, 'pending');
    await clock.advanceAsync(1);
    assert.ok(isKadError(result.error, 'TIMEOUT'));
    assert.deepEqual(
      silent.received.map((r) => r.at - silent.received[0]!.at),
      [0, 100, 300],
    );
    const ids = new Set(silent.received.map((r) => Buffer.from(r.message.t).toString('hex')));
    assert.equal(ids.size, 3);
    assert.equal(a.stats().retransmits, 2);
    assert.equal(a.stats().queriesSent, 3);
  });

  it('accepts a late answer to an earlier attempt after retrying', async () => {
    const { clock, network, a } = setup();
    const slow = rawPeer(network, clock);
    const result = track(a.query(slow.transport.address(), 'ping', PING, { retries: 1, timeoutMs: 100 }));
    await clock.advanceAsync(150); // first attempt timed out, second sent at 100
    const first = slow.received[0];
    assert.ok(first !== undefined && slow.received.length === 2);
    slow.send({ y: 'r', t: first.message.t, r: dict({ id: nodeId(3) }) }, first.from);
    await clock.advanceAsync(10);
    assert.equal(result.state, 'resolved');
    assert.equal(result.value?.rttMs, 160);
  });

  it('shrinks the timeout of a node after fast answers', async () => {
    const { clock, a, b } = setup(NO_PACING);
    for (let i = 0; i < 30; i++) {
      const ping = track(a.query(b.address(), 'ping', PING));
      await clock.advanceAsync(20);
      assert.equal(ping.state, 'resolved');
    }
    b.setQueryHandler(() => undefined); // b stops answering
    const result = track(a.query(b.address(), 'ping', PING, { retries: 0 }));
    await clock.advanceAsync(250); // the floor of minTimeoutMs, far below the 1500 ms default
    assert.ok(isKadError(result.error, 'TIMEOUT'));
  });

  it('rejects with REMOTE_ERROR carrying the wire code and message', async () => {
    const { clock, a, b } = setup();
    b.setQueryHandler(() => {
      throw new (class extends Error {})('boom');
    });
    const result = track(a.query(b.address(), 'ping', PING));
    await clock.advanceAsync(20);
    assert.ok(isKadError(result.error, 'REMOTE_ERROR'));
    assert.equal(result.error.wireCode, 202);
    assert.match(result.error.message, /server error/);
    assert.equal(a.stats().errorsReceived, 1);
  });

  it('caps queries in flight per destination and sends the next when one completes', async () => {
    const { clock, network, a } = setup({ ...NO_PACING, inFlight: { maxInFlightPerDestination: 2 } });
    const silent = rawPeer(network, clock);
    const results = [1, 2, 3].map(() =>
      track(a.query(silent.transport.address(), 'ping', PING, { retries: 0, timeoutMs: 100 })),
    );
    await clock.advanceAsync(10);
    assert.equal(silent.received.length, 2);
    assert.equal(a.stats().queued, 1);
    await clock.advanceAsync(100);
    assert.equal(silent.received.length, 3);
    await clock.advanceAsync(100);
    assert.ok(results.every((r) => isKadError(r.error, 'TIMEOUT')));
  });

  it('fails fast with OVERLOADED when the wait queue is full', async () => {
    const { clock, network, a } = setup({ ...NO_PACING, inFlight: { maxInFlight: 1, maxQueued: 1 } });
    const silent = rawPeer(network, clock);
    const to = silent.transport.address();
    const first = track(a.query(to, 'ping', PING, { retries: 0, timeoutMs: 50 }));
    const second = track(a.query(to, 'ping', PING, { retries: 0, timeoutMs: 50 }));
    await assert.rejects(a.query(to, 'ping', PING), (e) => isKadError(e, 'OVERLOADED'));
    await clock.advanceAsync(100);
    assert.ok(isKadError(first.error, 'TIMEOUT') && isKadError(second.error, 'TIMEOUT'));
  });

  it('paces queries to one destination at 4 per second after a burst of 4', async () => {
    const { clock, network, a } = setup();
    const silent = rawPeer(network, clock);
    for (let i = 0; i < 6; i++)
      void a.query(silent.transport.address(), 'ping', PING, { retries: 0 }).catch(() => undefined);
    await clock.advanceAsync(1000);
    assert.deepEqual(
      silent.received.map((r) => r.at - clock.now() + 1000),
      [10, 10, 10, 10, 260, 510],
    );
    await a.close();
  });

  it('rejects with the signal reason on abort and ignores the late answer', async () => {
    const { clock, a, b } = setup();
    const controller = new AbortController();
    const result = track(a.query(b.address(), 'ping', PING, { signal: controller.signal }));
    const reason = new Error('user gave up');
    controller.abort(reason);
    await clock.advanceAsync(20);
    assert.equal(result.error, reason);
    assert.equal(a.stats().inFlight, 0);
    assert.equal(a.stats().dropped.unmatched, 1);
    await assert.rejects(a.query(b.address(), 'ping', PING, { signal: controller.signal }), (e) => e === reason);
  });

  it('aborts a query still waiting for pacing or for a slot, freeing its place', async () => {
    const { clock, network, a } = setup({ pacing: { ratePerSecond: 1, burst: 1 }, inFlight: { maxInFlight: 2 } });
    const silent = rawPeer(network, clock);
    const to = silent.transport.address();
    const first = track(a.query(to, 'ping', PING, { retries: 0 }));
    const controller = new AbortController();
    const paced = track(a.query(to, 'ping', PING, { signal: controller.signal }));
    const slotted = track(a.query(to, 'ping', PING, { signal: controller.signal }));
    assert.equal(a.stats().queued, 2);
    controller.abort();
    await clock.advanceAsync(0);
    assert.equal(a.stats().queued, 0);
    assert.equal(a.stats().inFlight, 1);
    assert.ok(paced.error instanceof DOMException && slotted.error instanceof DOMException);
    await clock.advanceAsync(2000);
    assert.equal(silent.received.length, 1);
    assert.ok(isKadError(first.error, 'TIMEOUT'));
  });

  it('counts an answer after the last timeout as unmatched', async () => {
    const { clock, network, a } = setup();
    const late = rawPeer(network, clock);
    const result = track(a.query(late.transport.address(), 'ping', PING, { retries: 0, timeoutMs: 100 }));
    await clock.advanceAsync(100);
    assert.ok(isKadError(result.error, 'TIMEOUT'));
    const { message, from } = late.received[0]!;
    late.send({ y: 'r', t: message.t, r: dict({ id: nodeId(3) }) }, from);
    await clock.advanceAsync(10);
    assert.equal(a.stats().dropped.unmatched, 1);
  });

  it('gives every query in flight its own transaction id', async () => {
    const { clock, network, a } = setup({
      ...NO_PACING,
      inFlight: { maxInFlight: 2000, maxInFlightPerDestination: 2000 },
    });
    const silent = rawPeer(network, clock);
    for (let i = 0; i < 2000; i++)
      void a.query(silent.transport.address(), 'ping', PING, { retries: 0 }).catch(() => undefined);
    await clock.advanceAsync(10);
    const ids = new Set(silent.received.map((r) => Buffer.from(r.message.t).toString('hex')));
    assert.equal(ids.size, 2000);
    await a.close();
  });

  it('ignores a reply with the right transaction id from another address', async () => {
    const { clock, network, a } = setup();
    const target = rawPeer(network, clock);
    const spoofer = rawPeer(network, clock);
    const result = track(a.query(target.transport.address(), 'ping', PING));
    await clock.advanceAsync(10);
    const { message } = target.received[0]!;
    spoofer.send({ y: 'r', t: message.t, r: dict({ id: nodeId(6) }) }, a.address());
    await clock.advanceAsync(10);
    assert.equal(result.state, 'pending');
    assert.equal(a.stats().dropped.unmatched, 1);
    target.send({ y: 'r', t: message.t, r: dict({ id: nodeId(5) }) }, a.address());
    await clock.advanceAsync(10);
    assert.deepEqual(result.value?.response.r['id'], nodeId(5));
  });

  it('rejects everything in flight with CLOSED on close and leaves no timer behind', async () => {
    const { clock, network, a, b } = setup({ inFlight: { maxInFlight: 1 } });
    const silent = rawPeer(network, clock);
    const inFlight = track(a.query(silent.transport.address(), 'ping', PING));
    const queued = track(a.query(b.address(), 'ping', PING));
    await a.close();
    await clock.advanceAsync(10);
    assert.ok(isKadError(inFlight.error, 'CLOSED') && isKadError(queued.error, 'CLOSED'));
    assert.equal(clock.pendingTimers, 0);
    await assert.rejects(a.query(b.address(), 'ping', PING), (e) => isKadError(e, 'CLOSED'));
  });

  it('closes when its transport closes', async () => {
    const { clock, network, a } = setup();
    const silent = rawPeer(network, clock);
    const result = track(a.query(silent.transport.address(), 'ping', PING));
    await network.transportAt(a.address())?.close();
    await clock.advanceAsync(0);
    assert.ok(isKadError(result.error, 'CLOSED'));
    assert.equal(a.closed, true);
  });

  it('rejects a query that cannot fit in one datagram with INVALID_MESSAGE', async () => {
    const { a, b } = setup();
    const big = dict({ id: nodeId(1), blob: new Uint8Array(1600) });
    await assert.rejects(a.query(b.address(), 'put', big), (e) => isKadError(e, 'INVALID_MESSAGE'));
    assert.equal(a.stats().inFlight, 0);
  });

  it('counts outbound queries per method, unknown names under other', async () => {
    const { clock, a, b } = setup(NO_PACING);
    await Promise.all([
      a.query(b.address(), 'ping', PING),
      a.query(b.address(), 'get_peers', PING),
      a.query(b.address(), 'x_custom', PING),
      clock.advanceAsync(20),
    ]);
    const { queriesOut } = a.stats();
    assert.deepEqual([queriesOut.ping, queriesOut.get_peers, queriesOut.other], [1, 1, 1]);
    assert.equal(b.stats().queriesIn.other, 1);
  });

  it('rejects a destination of the other address family with INVALID_ADDRESS at once', async () => {
    const { a } = setup();
    await assert.rejects(a.query({ host: '::1', port: 6881 }, 'ping', PING), (e) => isKadError(e, 'INVALID_ADDRESS'));
    assert.equal(a.stats().queriesSent, 0);
  });

  it('rejects invalid per-call options with INVALID_OPTION', async () => {
    const { a, b } = setup();
    await assert.rejects(a.query(b.address(), 'ping', PING, { retries: -1 }), (e) => isKadError(e, 'INVALID_OPTION'));
    await assert.rejects(a.query(b.address(), 'ping', PING, { timeoutMs: 0 }), (e) => isKadError(e, 'INVALID_OPTION'));
  });
});
