/**
 * `nautilus start --storage redis-cluster://…` against a real local Redis Cluster: the records
 * of the registry verbs and the items other nodes store on the daemon land in the cluster, and
 * are read back from it.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { REDIS_KEY_PREFIXES } from '../../src/daemon/storage.js';
import { RedisRegistry } from '../../src/registry/redis/index.js';
import { type RedisClusterHandle, startRedisCluster } from '../../src/testing/index.js';
import { respCommand } from '../../src/testing/redis/resp-client.js';
import {
  type CliProcess,
  runCli,
  spawnCli,
  startArgs,
  daemonStarted,
  type DaemonStarted,
} from '../helpers/cli-process.js';

async function startDaemon(args: string[]): Promise<{ daemon: CliProcess; started: DaemonStarted }> {
  const daemon = spawnCli(args);
  const started = await daemonStarted(daemon);
  await daemon.line(/"msg":"node ready"/);
  return { daemon, started };
}

async function stop(daemon: CliProcess | undefined): Promise<void> {
  if (daemon === undefined) return;
  daemon.child.kill('SIGTERM');
  await daemon.exited;
  await daemon.kill();
}

describe('nautilus start --storage redis-cluster://', () => {
  let cluster: RedisClusterHandle;
  let dir: string;
  let storage: string;
  /** A client of its own on the cluster, under the prefix of the daemon's records or its node's store. */
  let records: RedisRegistry;
  let store: RedisRegistry;

  before(async () => {
    cluster = await startRedisCluster({ masters: 3, replicasPerMaster: 0 });
    dir = await mkdtemp(join(tmpdir(), 'nautilus-redis-cluster-e2e-'));
    storage = `redis-cluster://${cluster.urls.map((u) => u.replace('redis://', '')).join(',')}`;
    records = await RedisRegistry.connect({ cluster: [...cluster.urls], keyPrefix: REDIS_KEY_PREFIXES.records });
    store = await RedisRegistry.connect({ cluster: [...cluster.urls], keyPrefix: REDIS_KEY_PREFIXES.node });
  });
  after(async () => {
    await records?.close();
    await store?.close();
    await cluster?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  it('keeps registry records in the cluster: another client reads them, and a restarted daemon too', async () => {
    const state = join(dir, 'records');
    const first = await startDaemon(startArgs('none', state, '--storage', storage));
    const api = (s: DaemonStarted) => ['--api', s.http, '--state-dir', state];
    try {
      assert.equal(first.started.storage, 'redis-cluster');
      // keys that hash to slots of different masters
      const keys = Array.from({ length: 12 }, (_, i) => `app/${i}`);
      for (const key of keys) {
        const set = await runCli(['registry', 'set', key, `value of ${key}`, ...api(first.started)]);
        assert.equal(set.code, 0, set.stderr);
      }
      for (const key of keys) {
        const record = await records.get(key);
        assert.equal(Buffer.from(record?.value ?? []).toString(), `value of ${key}`);
      }
      // the keys spread over every master of the cluster (the slots of fixed keys are fixed)
      const sizes = await Promise.all(
        (await cluster.masters()).map(async (master) => Number(await respCommand(master, ['DBSIZE']))),
      );
      assert.deepEqual([sizes.length, sizes.every((n) => n > 0), sizes.reduce((a, b) => a + b)], [3, true, 12]);
    } finally {
      await stop(first.daemon);
    }
    const second = await startDaemon(startArgs('none', state, '--storage', storage));
    try {
      const got = await runCli(['registry', 'get', 'app/7', ...api(second.started)]);
      assert.deepEqual([got.code, got.stdout], [0, 'value of app/7\n']);
      const scan = await runCli(['registry', 'scan', '--prefix', 'app/', '--json', ...api(second.started)]);
      assert.equal((JSON.parse(scan.stdout) as { records: unknown[] }).records.length, 12);
    } finally {
      await stop(second.daemon);
    }
  });

  it('stores the items other nodes put on it in the cluster and answers gets from there', async () => {
    await cluster.flushAll();
    const state = join(dir, 'items');
    const holder = await startDaemon(startArgs('none', join(state, 'holder'), '--storage', storage));
    // a second daemon, in memory, whose only contact is the one on the cluster
    const udp = holder.started.udp.find((a) => a.startsWith('127.0.0.1:')) as string;
    const client = await startDaemon(startArgs(udp, join(state, 'client')));
    const api = ['--api', client.started.http, '--state-dir', join(state, 'client')];
    try {
      const put = await runCli(['put', 'kept in the cluster', ...api]);
      assert.equal(put.code, 0, put.stderr);
      const [target, summary] = put.stdout.trim().split('\n') as [string, string];
      assert.match(summary, /^stored on 1 nodes/);
      const stored = [];
      for await (const record of store.scan()) stored.push(record.key);
      assert.deepEqual(stored, [`item:${target}`]);

      const got = await runCli(['get', target, '--json', ...api]);
      assert.equal(got.code, 0, got.stderr);
      const answer = JSON.parse(got.stdout) as { value: string; from: number };
      assert.deepEqual([answer.value, answer.from], ['kept in the cluster', 1]);
      // the daemon holds nothing of its own: with the cluster emptied, the item is gone
      await cluster.flushAll();
      const gone = await runCli(['get', target, ...api]);
      assert.equal(gone.code, 1);
      assert.match(gone.stderr, /NOT_FOUND/);
    } finally {
      await stop(client.daemon);
      await stop(holder.daemon);
    }
  });
});
