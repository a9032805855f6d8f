import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { fileURLToPath } from 'node:url';
import { createInterface } from 'node:readline';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../../src/registry/etcd/index.js';
import { isRegistryError } from '../../../src/registry/index.js';
import { type EtcdClusterHandle, startEtcdServer } from '../../../src/testing/index.js';
import { untilWatchers, watchersOf } from '../../helpers/etcd-watchers.js';

let server: EtcdClusterHandle;
let registry: EtcdRegistry;

before(async () => {
  server = await startEtcdServer();
  registry = new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: 'locks-test:' });
});

after(async () => {
  await registry?.close();
  await server?.stop();
});

describe('EtcdRegistry locks and fencing tokens', () => {
  it('hands a released lock to the waiting contender only after the release, with a larger fencing token', async () => {
    const events: string[] = [];
    const first = await registry.lock('handover', { ttlMs: 5000 });
    events.push('first acquired');
    const member = server.endpoints[0] as string;
    const watchers = await watchersOf(member);
    const waiting = registry.lock('handover', { ttlMs: 5000 }).then((h) => {
      events.push('second acquired');
      return h;
    });
    // the second contender has read that the lock is taken once it watches the first's entry
    await untilWatchers(member, watchers + 1);
    events.push('first releasing');
    await first.release();
    const second = await waiting;
    assert.deepEqual(events, ['first acquired', 'first releasing', 'second acquired']);
    assert.ok(BigInt(second.token) > BigInt(first.token));
    await second.release();
    await second.release();
  });

  it('writes with the fence of the holder, and refuses a stale fence with FENCED, changing nothing', async () => {
    const first = await registry.lock('fence', { ttlMs: 5000 });
    await registry.set('fenced', Buffer.from('1'), { fence: first.fence });
    await first.release();
    const second = await registry.lock('fence', { ttlMs: 5000 });
    await assert.rejects(registry.set('fenced', Buffer.from('stale'), { fence: first.fence }), (e: unknown) =>
      isRegistryError(e, 'FENCED'),
    );
    assert.equal((await registry.get('fenced'))?.value.toString(), '1');
    assert.equal((await registry.set('fenced', Buffer.from('2'), { fence: second.fence })).version, 2);
    await second.release();
  });

  it('gives the lock of a holder paused past its lease to the next contender, and refuses the paused holder its write', async () => {
    const script = fileURLToPath(new URL('../../helpers/etcd-lock-holder.js', import.meta.url));
    const holder = spawn(process.execPath, [script, server.endpoints.join(','), 'paused', '2000'], {
      stdio: ['pipe', 'pipe', 'inherit'],
    });
    try {
      const lines = createInterface({ input: holder.stdout })[Symbol.asyncIterator]();
      const fence = JSON.parse(String((await lines.next()).value)) as { token: string };
      holder.kill('SIGSTOP');
      // the contender waits until the paused holder's 2 s lease runs out
      const taken = await registry.lock('paused', { ttlMs: 5000, signal: AbortSignal.timeout(15_000) });
      assert.ok(BigInt(taken.token) > BigInt(fence.token));
      await registry.set('guarded', Buffer.from('from the new holder'), { fence: taken.fence });
      holder.kill('SIGCONT');
      holder.stdin.write('write\n');
      assert.equal((await lines.next()).value, 'FENCED');
      assert.equal((await registry.get('guarded'))?.value.toString(), 'from the new holder');
      await taken.release();
    } finally {
      holder.kill('SIGCONT');
      holder.stdin.end();
      if (holder.exitCode === null) await once(holder, 'exit');
    }
  });

  it('rejects a lock name that is not a non-empty string with INVALID_OPTION', async () => {
    await assert.rejects(registry.lock(''), (e: unknown) => isRegistryError(e, 'INVALID_OPTION'));
  });
});
