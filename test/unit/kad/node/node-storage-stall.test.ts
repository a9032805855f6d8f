/**
 * A node whose storage stops answering (a FaultRegistry `hang`): inbound queries that need
 * storage are capped and bounded in time, the others are served as usual.
 */
import assert from 'node:assert/strict';
import { afterEach, describe, it } from 'node:test';
import type { BencodeDict, BencodeValue } from '../../../../src/kad/wire/bencode.js';
import { decodeMessage, encodeMessage, type KrpcMessage } from '../../../../src/kad/wire/krpc.js';
import { createNode, type KadNode } from '../../../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../../../src/kad/node/options.js';
import { MemoryRegistry } from '../../../../src/registry/index.js';
import { FaultRegistry, ManualClock, MemoryNetwork } from '../../../../src/testing/index.js';

const QUERIER = new Uint8Array(20).fill(0x24);
const INFO_HASH = new Uint8Array(20).fill(0x42);

function world(options: KadNodeOptions = {}) {
  const clock = new ManualClock();
  const network = new MemoryNetwork({ latencyMs: 5 }, { clock });
  const registry = new FaultRegistry(new MemoryRegistry({}, { clock }), { clock });
  const nodes: KadNode[] = [];
  const close = async (): Promise<void> => {
    registry.heal();
    await Promise.all(nodes.map((n) => n.close()));
    await registry.close();
    await network.close();
  };
  const start = async (): Promise<KadNode> => {
    const node = await createNode({ transport: network.createTransport(), clock, registry, ...options });
    nodes.push(node);
    return node;
  };
  // a loopback querier: exempt from the inbound rate limit, so a flood reaches the handlers
  const raw = network.createTransport({ host: '127.0.0.1' });
  const replies: KrpcMessage[] = [];
  raw.on('message', ({ data }) => replies.push(decodeMessage(data)));
  let t = 0;
  const send = (to: KadNode, q: string, a: Record<string, BencodeValue>): void => {
    const args = Object.assign(Object.create(null) as BencodeDict, { id: QUERIER, ...a });
    raw.send(encodeMessage({ y: 'q', t: Uint8Array.of(t >> 8, t++ & 0xff), q, a: args }), to.address());
  };
  return { clock, registry, start, send, replies, close };
}

const codes = (replies: readonly KrpcMessage[]): (number | 'r')[] => replies.map((m) => (m.y === 'e' ? m.e[0] : 'r'));

let cleanup: (() => Promise<void>) | undefined;
afterEach(async () => {
  await cleanup?.();
  cleanup = undefined;
});

describe('KadNode when storage stops answering', () => {
  it('answers 202 at once beyond maxStorageWaiting, and the waiting ones 202 at storageTimeoutMs', async () => {
    const w = world({ maxStorageWaiting: 4, storageTimeoutMs: 500 });
    cleanup = w.close;
    const node = await w.start();
    w.registry.inject({ type: 'hang' });
    for (let i = 0; i < 10; i++) w.send(node, 'get_peers', { info_hash: INFO_HASH });
    await w.clock.advanceAsync(20);
    assert.deepEqual(codes(w.replies), [202, 202, 202, 202, 202, 202]);
    assert.deepEqual(node.stats().storage, { waiting: 4, refused: 6, timedOut: 0 });
    await w.clock.advanceAsync(470); // the deadline runs from arrival (5 ms), the reply takes 5 ms more
    assert.equal(w.replies.length, 6);
    await w.clock.advanceAsync(20);
    assert.deepEqual(codes(w.replies), Array(10).fill(202));
    assert.deepEqual(node.stats().storage, { waiting: 0, refused: 6, timedOut: 4 });
  });

  it('still answers ping and find_node at once, which need no storage', async () => {
    const w = world({ maxStorageWaiting: 2, storageTimeoutMs: 60_000 });
    cleanup = w.close;
    const node = await w.start();
    w.registry.inject({ type: 'hang' });
    for (let i = 0; i < 5; i++) w.send(node, 'get', { target: INFO_HASH });
    w.send(node, 'ping', {});
    w.send(node, 'find_node', { target: INFO_HASH });
    await w.clock.advanceAsync(20);
    assert.deepEqual(codes(w.replies), [202, 202, 202, 'r', 'r']);
  });

  it('serves storage again once it answers', async () => {
    const w = world({ maxStorageWaiting: 2, storageTimeoutMs: 500 });
    cleanup = w.close;
    const node = await w.start();
    w.registry.inject({ type: 'hang' });
    w.send(node, 'get_peers', { info_hash: INFO_HASH });
    await w.clock.advanceAsync(600);
    w.registry.heal();
    w.send(node, 'get_peers', { info_hash: INFO_HASH });
    await w.clock.advanceAsync(20);
    assert.deepEqual(codes(w.replies), [202, 'r']);
    assert.equal(node.stats().storage.waiting, 0);
  });

  it('adds no listener per waiting query to a long-lived signal (no MaxListenersExceededWarning)', async () => {
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      const w = world({ maxStorageWaiting: 1000, storageTimeoutMs: 1000 });
      cleanup = w.close;
      const node = await w.start();
      w.registry.inject({ type: 'latency', ms: 100 });
      for (let i = 0; i < 200; i++) w.send(node, 'get', { target: INFO_HASH });
      await w.clock.advanceAsync(200);
      assert.equal(w.replies.length, 200);
      assert.ok(w.replies.every((m) => m.y === 'r'));
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on a later tick
    } finally {
      process.off('warning', onWarning);
    }
    assert.deepEqual(
      warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
      [],
    );
  });
});
