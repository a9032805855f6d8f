/**
 * A node stores in a real Redis (`redis-server` child, stopped with SIGSTOP so it accepts
 * connections and commands but never answers) while a loopback querier floods it with
 * `get_peers`: every query is answered 202 (at once beyond `maxStorageWaiting`, or at
 * `storageTimeoutMs`), the heap stays bounded, and service resumes when Redis does.
 */
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { after, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { BencodeDict } from '../../../src/kad/wire/bencode.js';
import { decodeMessage, encodeMessage } from '../../../src/kad/wire/krpc.js';
import { createNode, type KadNode } from '../../../src/kad/node/node.js';
import { RedisRegistry } from '../../../src/registry/redis/index.js';
import { ManualClock, MemoryNetwork, type RedisServerHandle, startRedisServer } from '../../../src/testing/index.js';

const QUERIES = 40_000;
const ROUND = 4000;
const MAX_WAITING = 64;
const STORAGE_TIMEOUT_MS = 500;
// what the node may keep for a flood it refuses: its bounded state plus garbage a full GC missed;
// 40 000 queries each pinning even 400 bytes until Redis answers would exceed it
const MAX_HEAP_GROWTH = 16 * 1024 * 1024;

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

function heapAfterGc(): number {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

describe('KadNode on a Redis registry that stops answering (SIGSTOP)', () => {
  let server: RedisServerHandle;
  let registry: RedisRegistry;

  before(async () => {
    server = await startRedisServer();
    // the registry's own deadline is far off: the node's storage deadline is what answers
    registry = await RedisRegistry.connect({ url: server.url, keyPrefix: 'stall:', timeoutMs: 60_000 });
  });

  after(async () => {
    if (server?.running) process.kill(server.pid, 'SIGCONT');
    await registry?.close();
    await server?.stop();
  });

  it('answers a get_peers flood with 202s within bounded heap, then serves again once Redis answers', async () => {
    const clock = new ManualClock();
    const network = new MemoryNetwork({ latencyMs: 1 }, { clock });
    let node: KadNode | undefined;
    const warnings: Error[] = [];
    const onWarning = (warning: Error): void => {
      warnings.push(warning);
    };
    process.on('warning', onWarning);
    try {
      node = await createNode({
        transport: network.createTransport(),
        clock,
        registry,
        maxStorageWaiting: MAX_WAITING,
        storageTimeoutMs: STORAGE_TIMEOUT_MS,
      });
      const server4 = node.address();
      // a loopback querier is exempt from the inbound rate limit: the whole flood reaches the node
      const querier = network.createTransport({ host: '127.0.0.1' });
      const replies = { r: 0, e202: 0, other: 0 };
      querier.on('message', ({ data }) => {
        const m = decodeMessage(data);
        if (m.y === 'r') replies.r++;
        else if (m.y === 'e' && m.e[0] === 202) replies.e202++;
        else replies.other++;
      });
      const infoHash = new Uint8Array(20);
      const ask = (i: number): void => {
        infoHash[0] = i & 0xff;
        infoHash[1] = (i >> 8) & 0xff;
        const a = Object.assign(Object.create(null) as BencodeDict, {
          id: new Uint8Array(20).fill(7),
          info_hash: infoHash,
        });
        querier.send(encodeMessage({ y: 'q', t: Uint8Array.of(i >> 16, i >> 8, i), q: 'get_peers', a }), server4);
      };
      /** Sends until a reply comes, letting real time pass for Redis and virtual time for the node. */
      const served = async (): Promise<void> => {
        for (let i = 0; i < 200; i++) {
          const before = replies.r;
          ask(i);
          for (let j = 0; j < 10 && replies.r === before; j++) {
            await sleep(10);
            await clock.advanceAsync(5);
          }
          if (replies.r > before) return;
        }
        assert.fail('no get_peers was answered with a response');
      };
      await served();

      process.kill(server.pid, 'SIGSTOP');
      const heapBefore = heapAfterGc();
      const answered = replies.r + replies.e202 + replies.other;
      for (let sent = 0; sent < QUERIES; sent += ROUND) {
        for (let i = 0; i < ROUND; i++) ask(sent + i);
        await clock.advanceAsync(STORAGE_TIMEOUT_MS + 20);
        assert.ok(node.stats().storage.waiting <= MAX_WAITING);
      }
      const heapAfter = heapAfterGc();
      const stats = node.stats().storage;
      console.log(
        `storage stall: ${QUERIES} get_peers, heap ${(heapBefore / 2 ** 20).toFixed(1)} → ${(heapAfter / 2 ** 20).toFixed(1)} MiB, ` +
          `storage ${JSON.stringify(stats)}`,
      );
      assert.equal(replies.r + replies.e202 + replies.other - answered, QUERIES, 'every query is answered');
      assert.equal(replies.other, 0);
      assert.equal(stats.refused + stats.timedOut, QUERIES);
      assert.ok(stats.timedOut <= (QUERIES / ROUND) * MAX_WAITING);
      assert.ok(
        heapAfter - heapBefore < MAX_HEAP_GROWTH,
        `heap grew by ${((heapAfter - heapBefore) / 2 ** 20).toFixed(1)} MiB`,
      );

      process.kill(server.pid, 'SIGCONT');
      await served();
      assert.equal(node.stats().storage.waiting, 0);
      await new Promise((resolve) => setImmediate(resolve)); // warnings are emitted on a later tick
      assert.deepEqual(
        warnings.filter((w) => w.name === 'MaxListenersExceededWarning').map((w) => w.message),
        [],
      );
    } finally {
      process.off('warning', onWarning);
      if (server.running) process.kill(server.pid, 'SIGCONT');
      await node?.close();
      await network.close();
    }
  });
});
