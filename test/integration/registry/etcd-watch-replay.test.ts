import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../../src/registry/etcd/index.js';
import { type EtcdClusterHandle, startEtcdServer } from '../../../src/testing/index.js';

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
  it('keeps the stream etcd is still preparing a replay on, past twice watchProgressMs of silence', async () => {
    // etcd answers progress requests only once a watch has caught up, and sends a replay as one
    // response: 20 000 changes with previous values take it seconds (~130 µs each on one core),
    // far beyond the 2 × 250 ms after which a silent stream of a caught-up watch counts as broken
    const registry = new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: 'replay:', watchProgressMs: 250 });
    try {
      const KEYS = 100;
      const ROUNDS = 200;
      const start = await registry.cursor();
      for (let r = 0; r < ROUNDS; r++) {
        await registry.setMany(Array.from({ length: KEYS }, (_, k) => ({ key: `k${k}`, value: Buffer.from([r]) })));
      }
      const streamsBefore = await watchStreamsStarted();
      const versions = new Map<string, number[]>();
      let seen = 0;
      const changes = registry.watch({ after: start, signal: AbortSignal.timeout(120_000) });
      for await (const change of changes) {
        assert.equal(change.type, 'set');
        const { key, version } = change.record;
        versions.set(key, [...(versions.get(key) ?? []), version]);
        if (++seen === KEYS * ROUNDS) break;
      }
      for (let k = 0; k < KEYS; k++) {
        assert.deepEqual(
          versions.get(`k${k}`),
          Array.from({ length: ROUNDS }, (_, i) => i + 1),
          `k${k}: every change once, in order`,
        );
      }
      assert.equal(await watchStreamsStarted(), streamsBefore + 1, 'one watch stream, never reopened');
    } finally {
      await registry.close();
    }
  });
});
