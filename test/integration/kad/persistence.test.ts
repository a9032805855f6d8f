/**
 * Restarts on real UDP sockets on 127.0.0.1 with a real state directory, and with storage in a
 * real redis-server. Every wait is bounded; nothing leaves loopback; temp dirs are removed.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { raceAbort } from '../../../src/core/abort.js';
import { idToHex } from '../../../src/kad/id.js';
import { createNode, type KadNode } from '../../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../../src/kad/node/options.js';
import { createUdpTransport } from '../../../src/kad/transport/udp-transport.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import { type RedisServerHandle, startRedisServer } from '../../../src/testing/index.js';

const WAIT_MS = 5000;
const within = <T>(promise: Promise<T>): Promise<T> => raceAbort(promise, AbortSignal.timeout(WAIT_MS));
const local = (options: KadNodeOptions = {}): Promise<KadNode> =>
  createNode({ host: '127.0.0.1', port: 0, signal: AbortSignal.timeout(WAIT_MS), ...options });

describe('a UDP node restarted from its stateDir', () => {
  let dir: string;
  const nodes: KadNode[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nautilus-restart-'));
    const seed = await local();
    nodes.push(seed);
    for (let i = 0; i < 3; i++) nodes.push(await local({ bootstrap: [seed.address()] }));
    await within(Promise.all(nodes.map((n) => n.ready)));
  });

  after(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await rm(dir, { recursive: true, force: true });
  });

  it('is ready through its saved contacts without a datagram to its bootstrap host', async () => {
    const stateDir = join(dir, 'node');
    const first = await local({ stateDir, bootstrap: [(nodes[0] as KadNode).address()] });
    await within(first.ready);
    const { port } = first.address();
    await first.close();

    const bootstrapHost = await createUdpTransport({ host: '127.0.0.1', port: 0 });
    let received = 0;
    bootstrapHost.on('message', () => {
      received++;
    });
    const again = await local({ port, stateDir, bootstrap: [bootstrapHost.address()] });
    try {
      await within(again.ready);
      assert.equal(idToHex(again.id), idToHex(first.id));
      assert.equal(received, 0);
      assert.deepEqual(
        again
          .contacts()
          .map((c) => idToHex(c.id))
          .sort(),
        nodes.map((n) => idToHex(n.id)).sort(),
      );
    } finally {
      await again.close();
      await bootstrapHost.close();
    }
  });
});

describe('a node whose storage is a redis-server, across a restart', () => {
  let server: RedisServerHandle;
  let dir: string;

  before(async () => {
    server = await startRedisServer();
    dir = await mkdtemp(join(tmpdir(), 'nautilus-restart-redis-'));
  });

  after(async () => {
    await server?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves the items it stored before it restarted', async () => {
    const connect = (): Promise<RedisRegistry> => RedisRegistry.connect({ url: server.url, keyPrefix: 'kad:' });
    const stateDir = join(dir, 'node');
    const seed = await local();
    const others = [await local({ bootstrap: [seed.address()] }), await local({ bootstrap: [seed.address()] })];
    let registry = await connect();
    const keeper = await local({ registry, stateDir, bootstrap: [seed.address()] });
    const late: KadNode[] = [];
    try {
      await within(Promise.all([...others, keeper].map((n) => n.ready)));
      const v = new TextEncoder().encode('kept in redis');
      const put = await within(seed.put({ v }));
      const holder = put.storedOn.find((c) => idToHex(c.id) === idToHex(keeper.id));
      assert.ok(holder, 'the keeper stored it');
      const { port } = keeper.address();
      await keeper.close();
      await registry.close();
      // the other holders go away: only the restarted keeper can answer
      await Promise.all(others.map((n) => n.close()));

      registry = await connect();
      const restarted = await local({ port, registry, stateDir });
      late.push(restarted);
      await within(restarted.ready);
      const direct = await seed.getItem(restarted.address(), put.target, { signal: AbortSignal.timeout(WAIT_MS) });
      assert.deepEqual(direct.item, { v });
      const reader = await local({ bootstrap: [restarted.address()] });
      late.push(reader);
      await within(reader.ready);
      const found = await within(reader.get(put.target));
      assert.deepEqual(found?.item, { v });
      assert.deepEqual(
        found?.from.map((c) => idToHex(c.id)),
        [idToHex(keeper.id)],
      );
    } finally {
      await Promise.all([seed, ...others, keeper, ...late].map((n) => n.close()));
      await registry.close();
    }
  });
});
