import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../../src/registry/etcd/index.js';
import { isRegistryError } from '../../../src/registry/index.js';
import { type EtcdClusterHandle, ManualClock, startEtcdServer } from '../../../src/testing/index.js';
import { startTcpProxy } from '../../helpers/tcp-proxy.js';

let server: EtcdClusterHandle;

before(async () => {
  server = await startEtcdServer();
});

after(async () => {
  await server?.stop();
});

/** Watch streams the member has started (etcd's gRPC server counter). */
async function watchStreamsStarted(): Promise<number> {
  const text = await (await fetch(`${server.endpoints[0]}/metrics`)).text();
  const line = text
    .split('\n')
    .find((l) => l.startsWith('grpc_server_started_total{') && l.includes('grpc_service="etcdserverpb.Watch"'));
  assert.ok(line !== undefined, 'etcd reports the watch streams it started');
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

describe('EtcdRegistry watch replaying a long history', () => {
  it("replays 20 MB of history, beyond gRPC's 4 MiB message limit, in order, each change once, on one stream", async () => {
    // etcd sends the history since a cursor as one response unless the watch asks for
    // fragments; the client refuses any message over 4 MiB, so a watch without them failed and
    // reopened for ever on a replay this size
    const registry = new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: 'replay:', watchProgressMs: 250 });
    try {
      const KEYS = 100;
      const ROUNDS = 200;
      const value = Buffer.alloc(1024, 7);
      const start = await registry.cursor();
      for (let r = 0; r < ROUNDS; r++) {
        await registry.setMany(Array.from({ length: KEYS }, (_, k) => ({ key: `k${k}`, value })));
      }
      await registry.deleteMany(['k0', 'k1']);
      const streamsBefore = await watchStreamsStarted();
      const versions = new Map<string, number[]>();
      const removed: [string, number, string][] = [];
      let seen = 0;
      const changes = registry.watch({ after: start, signal: AbortSignal.timeout(120_000) });
      for await (const change of changes) {
        if (change.type === 'set') {
          const { key, version } = change.record;
          versions.set(key, [...(versions.get(key) ?? []), version]);
        } else removed.push([change.key, change.version, change.reason]);
        if (++seen === KEYS * ROUNDS + 2) break;
      }
      for (let k = 0; k < KEYS; k++) {
        assert.deepEqual(
          versions.get(`k${k}`),
          Array.from({ length: ROUNDS }, (_, i) => i + 1),
          `k${k}: every change once, in order`,
        );
      }
      assert.deepEqual(removed, [
        ['k0', ROUNDS, 'delete'],
        ['k1', ROUNDS, 'delete'],
      ]);
      assert.equal(await watchStreamsStarted(), streamsBefore + 1, 'one watch stream, never reopened');
    } finally {
      await registry.close();
    }
  });
});

describe('EtcdRegistry watch removals', () => {
  it('serves a record removed past its deadline as expire, with the version it had, and a delete as delete', async () => {
    const clock = new ManualClock(Date.now());
    // etcd's own leases run on real time: keep them from removing the records first
    const registry = new EtcdRegistry(
      { hosts: [...server.endpoints], keyPrefix: 'removals:', expiryGraceMs: 600_000 },
      { clock },
    );
    try {
      const start = await registry.cursor();
      await registry.set('short', Buffer.from('a'), { ttlMs: 1000 });
      await registry.set('short', Buffer.from('b'), { ttlMs: 1000 });
      await registry.set('kept', Buffer.from('c'));
      clock.advance(1001);
      assert.equal(await registry.get('short'), undefined, 'the registry meets the expired record on read');
      await registry.delete('kept');
      const removals: [string, number, string][] = [];
      for await (const change of registry.watch({ after: start, signal: AbortSignal.timeout(10_000) })) {
        if (change.type === 'removed') removals.push([change.key, change.version, change.reason]);
        if (removals.length === 2) break;
      }
      assert.deepEqual(removals, [
        ['short', 2, 'expire'],
        ['kept', 1, 'delete'],
      ]);
    } finally {
      await registry.close();
    }
  });
});

describe('EtcdRegistry watch on a member that cuts every stream', () => {
  it('rejects with BACKEND_UNAVAILABLE after timeoutMs when each reopened stream breaks before it delivers anything', async () => {
    const proxy = await startTcpProxy(server.endpoints[0] as string);
    const registry = new EtcdRegistry({
      hosts: [proxy.url],
      keyPrefix: 'cut:',
      timeoutMs: 1500,
      watchProgressMs: 1000,
    });
    try {
      const start = await registry.cursor();
      // etcd confirms each watch at once; a progress report would come only after 1 s of silence
      proxy.cutAfter(300);
      const outcome = await Promise.race([
        (async () => {
          for await (const change of registry.watch({ after: start })) void change;
          return 'ended';
        })().catch((error: unknown) => error),
        new Promise((resolve) => setTimeout(() => resolve('still reopening after 10 s'), 10_000)),
      ]);
      assert.ok(isRegistryError(outcome, 'BACKEND_UNAVAILABLE'), `the watch's outcome: ${String(outcome)}`);
      // it did not give up on the first cut: it reopened the stream before its deadline ended it
      assert.ok(proxy.accepted >= 2, `${proxy.accepted} connections`);
      // reopened with backoff (50, 100, 200 … ms after each cut), not every 50 ms
      assert.ok(proxy.accepted <= 8, `${proxy.accepted} connections`);
    } finally {
      proxy.cutAfter(undefined);
      await registry.close();
      await proxy.close();
    }
  });
});
