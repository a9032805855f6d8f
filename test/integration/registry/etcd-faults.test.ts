import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry } from '../../../src/registry/etcd/index.js';
import { isRegistryError, type RegistryChange } from '../../../src/registry/index.js';
import {
  checkVersionHistory,
  type EtcdClusterHandle,
  startEtcdCluster,
  type VersionOperation,
} from '../../../src/testing/index.js';
import { startTcpProxy } from '../../helpers/tcp-proxy.js';

let cluster: EtcdClusterHandle;
let namespaces = 0;

before(async () => {
  cluster = await startEtcdCluster(3);
});

after(async () => {
  await cluster?.stop();
});

/** Resolves once `check()` holds, polling every 10 ms; fails the test after `withinMs` (a bound, not a measurement). */
async function waitFor(what: string, check: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

const open = (hosts: readonly string[] = cluster.endpoints, timeoutMs = 3000): EtcdRegistry =>
  new EtcdRegistry({ hosts: [...hosts], keyPrefix: `faults:${namespaces++}:`, timeoutMs });

describe('EtcdRegistry on a 3-member cluster under faults', () => {
  it('keeps a linearizable history of concurrent compare-and-set increments, none lost or doubled, when the leader is killed (-9)', async (t) => {
    const writer = open();
    // four clients of one namespace, each with its own connections
    const shared = [writer, ...[1, 2, 3].map(() => new EtcdRegistry({ ...writer.options }))];
    await writer.set('counter', Buffer.from('0:init'));
    // every successful increment writes version v+1 with a value naming its client; the whole
    // history (reads and writes, with their call times) must be linearizable for a register
    const history: VersionOperation[] = [];
    let stop = false;
    let killedAt = 0;
    let recoveredAt = 0;
    const increments = shared.map(async (registry, client) => {
      for (let n = 0; !stop && n < 10_000; n++) {
        let from: number;
        const readAt = performance.now();
        try {
          from = (await registry.get('counter'))?.version ?? 0;
          history.push({ kind: 'read', version: from, invokedAt: readAt, returnedAt: performance.now() });
        } catch {
          continue;
        }
        const issuedAt = Date.now();
        const invokedAt = performance.now();
        let outcome: 'ok' | 'conflict' | 'unknown';
        try {
          await registry.set('counter', Buffer.from(`${from + 1}:${client}:${n}`), { ifVersion: from });
          outcome = 'ok';
          // failover: the first increment issued after the kill that is acknowledged
          if (killedAt !== 0 && issuedAt > killedAt && recoveredAt === 0) recoveredAt = Date.now();
        } catch (error) {
          outcome = isRegistryError(error, 'VERSION_CONFLICT') ? 'conflict' : 'unknown';
        }
        history.push({ kind: 'cas', from, outcome, invokedAt, returnedAt: performance.now() });
      }
    });
    await new Promise((r) => setTimeout(r, 300));
    const leader = await cluster.leader();
    killedAt = Date.now();
    await leader.kill9();
    // run on until an increment issued after the kill is acknowledged (bounded: 20 s), then a
    // little more, so the history spans the failover however long the election and the clients'
    // reconnects take on a loaded machine
    const waitUntil = Date.now() + 20_000;
    while (recoveredAt === 0 && Date.now() < waitUntil) await new Promise((r) => setTimeout(r, 50));
    await new Promise((r) => setTimeout(r, 300));
    stop = true;
    await Promise.all(increments);
    const finalAt = performance.now();
    const final = await writer.get('counter');
    assert.ok(final !== undefined);
    history.push({ kind: 'read', version: final.version, invokedAt: finalAt, returnedAt: performance.now() });
    const acked = history.filter((h) => h.kind === 'cas' && h.outcome === 'ok').length;
    const unknown = history.filter((h) => h.kind === 'cas' && h.outcome === 'unknown').length;
    // version 1 is the initial write
    const verdict = checkVersionHistory(history, { initialVersion: 1 });
    assert.ok(
      verdict.linearizable,
      `not linearizable: ${verdict.longestPrefix} operations placed, then none of ${JSON.stringify(verdict.stuckAt)}`,
    );
    assert.equal(final.value.toString().split(':')[0], String(final.version), 'the stored value is the last edge');
    assert.ok(recoveredAt > 0, 'increments succeeded again after the kill');
    t.diagnostic(
      `failover: an increment issued after kill -9 of the leader acknowledged ${recoveredAt - killedAt} ms after it; ` +
        `${history.length} operations (${acked} acknowledged increments, ${unknown} indeterminate), linearizable (${verdict.explored} states searched)`,
    );
    await leader.restart();
    await cluster.waitHealthy();
    for (const r of shared) await r.close();
  });

  it('serves a live watch connected to the leader through its kill (-9) and the election that follows, every write once and in order', async () => {
    const leader = await cluster.leader();
    const watcher = open();
    // the writer avoids the leader's endpoint: its writes go on while the leader is dead
    const writer = new EtcdRegistry({
      ...watcher.options,
      hosts: cluster.endpoints.filter((url) => url !== leader.clientUrl),
    });
    const start = await writer.cursor();
    const versions: number[] = [];
    let stop = new AbortController();
    const consume = (): Promise<void> =>
      (async () => {
        for await (const change of watcher.watch({ after: start, signal: stop.signal })) {
          assert.ok(change.type === 'set');
          versions.push(change.record.version);
        }
      })().catch((e: unknown) => {
        if (!stop.signal.aborted) throw e;
      });
    // a watch starts on a random member: open it again until it is the leader's (each attempt
    // a third; 40 attempts all missing: (2/3)^40 ≈ 1e-7)
    let watching = consume();
    for (let attempt = 1; ; attempt++) {
      await waitFor('the watch connected', () => watcher.watchHosts.length === 1, 10_000);
      if (watcher.watchHosts[0] === leader.clientUrl) break;
      assert.ok(attempt < 40, 'a watch connected to the leader');
      stop.abort();
      await watching;
      await waitFor('the watch closed', () => watcher.watchHosts.length === 0, 10_000);
      stop = new AbortController();
      versions.length = 0;
      watching = consume();
    }
    // every write is acknowledged (versions 1, 2, …) or fails with a typed error, its outcome
    // then unknown: the feed and the final read say whether it applied
    let acked = 0;
    let writing = true;
    const writes = (async () => {
      for (let i = 0; writing && i < 100_000; i++) {
        await writer.set('leader-watch', Buffer.from(String(i))).then(
          (record) => (acked = record.version),
          (e: unknown) =>
            assert.ok(isRegistryError(e, 'TIMEOUT') || isRegistryError(e, 'BACKEND_UNAVAILABLE'), String(e)),
        );
      }
    })();
    try {
      await waitFor('writes before the kill', () => acked >= 50 && versions.length >= 20, 20_000);
      await leader.kill9();
      const killedAt = acked;
      await waitFor('writes acknowledged after the kill', () => acked >= killedAt + 50, 30_000);
      writing = false;
      await writes;
      const final = (await writer.get('leader-watch'))?.version ?? 0;
      await waitFor('every change delivered', () => versions.length >= final, 20_000);
      assert.deepEqual(
        versions,
        Array.from({ length: final }, (_, i) => i + 1),
        'every write once, in order',
      );
      assert.ok(final >= acked, 'the acknowledged writes are in etcd');
      assert.notEqual(watcher.watchHosts[0], leader.clientUrl, 'the watch resumed on another member');
      assert.notEqual((await cluster.leader()).clientUrl, leader.clientUrl, 'another member leads');
    } finally {
      writing = false;
      await writes;
      stop.abort();
      await watching;
      await writer.close();
      await watcher.close();
      if (!leader.running) await leader.restart();
      await cluster.waitHealthy();
    }
  });

  it('serves a live watch with removals through a leader kill, each removal with the version it removed', async () => {
    const registry = open();
    const watcher = new EtcdRegistry({ ...registry.options });
    const start = await registry.cursor();
    const served: RegistryChange[] = [];
    const watching = (async () => {
      for await (const change of watcher.watch({ after: start, signal: AbortSignal.timeout(30_000) })) {
        served.push(change);
        if (change.type === 'set' && change.record.key === 'done') return;
      }
    })();
    const deleted: string[] = [];
    for (let i = 0; i < 200; i++) {
      if (i === 100) {
        const leader = await cluster.leader();
        await leader.kill9();
        await leader.restart();
      }
      const key = `k${i % 10}`;
      try {
        await registry.set(key, Buffer.from(String(i)));
        if (await registry.delete(key)) deleted.push(`${key}@${i}`);
      } catch {
        // indeterminate: the feed says whether it applied
      }
    }
    await cluster.waitHealthy();
    await registry.set('done', Buffer.from('1'));
    await watching;
    const last = new Map<string, number>();
    let removals = 0;
    for (const change of served) {
      if (change.type === 'set') {
        last.set(change.record.key, change.record.version);
        continue;
      }
      removals++;
      assert.equal(change.version, last.get(change.key), `the removal of ${change.key} has the version it removed`);
      assert.equal(change.reason, 'delete');
    }
    assert.ok(removals >= deleted.length, `every acknowledged delete served (${removals} of ${deleted.length})`);
    await watcher.close();
    await registry.close();
  });

  it('resumes a watch on another member, with no gap and no repeat, when the member it is connected to is paused (SIGSTOP)', async (t) => {
    const watcher = open();
    const start = await watcher.cursor();
    const versions: number[] = [];
    const stop = new AbortController();
    const watching = (async () => {
      for await (const change of watcher.watch({ after: start, signal: stop.signal })) {
        versions.push((change as Extract<RegistryChange, { type: 'set' }>).record.version);
      }
    })().catch((e: unknown) => {
      if (!stop.signal.aborted) throw e;
    });
    await waitFor('the watch connected', () => watcher.watchHosts.length === 1, 10_000);
    const host = watcher.watchHosts[0];
    const member = cluster.members.find((m) => m.clientUrl === host);
    assert.ok(member !== undefined);
    // the writer talks to the other members only: its writes go on while this one is paused
    const writer = new EtcdRegistry({
      ...watcher.options,
      hosts: cluster.endpoints.filter((url) => url !== host),
    });
    // acknowledged writes until `count`; one that times out (a Raft leader paused) may have applied
    // or not: the feed says, and the check below counts what etcd holds
    let acked = 0;
    const writeUntil = async (count: number): Promise<void> => {
      while (acked < count) {
        await writer.set('paused-watch', Buffer.from(String(acked))).then(
          () => acked++,
          (e: unknown) => assert.ok(isRegistryError(e, 'TIMEOUT') || isRegistryError(e, 'BACKEND_UNAVAILABLE')),
        );
      }
    };
    try {
      await writeUntil(50);
      const before = (await writer.get('paused-watch'))?.version ?? 0;
      await waitFor('the first changes', () => versions.length === before, 10_000);
      await member.pause();
      const pausedAt = Date.now();
      // written while the watch's member is paused (the first ones may wait for a new Raft leader)
      await writeUntil(100);
      const final = (await writer.get('paused-watch'))?.version ?? 0;
      await waitFor('the watch on another member', () => (watcher.watchHosts[0] ?? host) !== host, 20_000);
      const movedAt = Date.now();
      await waitFor('the changes written during the pause', () => versions.length >= final, 20_000);
      const caughtUpAt = Date.now();
      assert.deepEqual(
        versions,
        Array.from({ length: final }, (_, i) => i + 1),
        'every change once, in order',
      );
      assert.ok(watcher.watchHosts.length === 1 && watcher.watchHosts[0] !== host, 'the watch left the paused member');
      t.diagnostic(
        `watch left the paused member after ${movedAt - pausedAt} ms, delivered every change of the pause ` +
          `${caughtUpAt - pausedAt} ms after SIGSTOP`,
      );
    } finally {
      member.resume();
      stop.abort();
      await watching;
      await writer.close();
      await watcher.close();
      await cluster.waitHealthy();
    }
  });

  it('gives a client cut off from every member BACKEND_UNAVAILABLE before its deadline, then serves it again once the network is back', async () => {
    // the registry reaches each member through a proxy of its own: cutting them all partitions
    // this client, and only it, from a healthy cluster
    const proxies = await Promise.all(cluster.endpoints.map((url) => startTcpProxy(url)));
    const registry = open(
      proxies.map((p) => p.url),
      5000,
    );
    try {
      await registry.set('p', Buffer.from('1'));
      for (const proxy of proxies) proxy.cutAfter(0);
      // every connection refused at once: the client knows the cluster cannot serve it, and says
      // so rather than waiting out timeoutMs for a TIMEOUT
      await assert.rejects(registry.get('p'), (e: unknown) => isRegistryError(e, 'BACKEND_UNAVAILABLE'));
      await assert.rejects(registry.set('p', Buffer.from('2')), (e: unknown) =>
        isRegistryError(e, 'BACKEND_UNAVAILABLE'),
      );
      for (const proxy of proxies) proxy.cutAfter(undefined);
      const served = await untilServed(registry, () => registry.set('p', Buffer.from('3')));
      assert.equal(served.version >= 2, true, 'the write after the partition is a later version');
      assert.equal((await registry.get('p'))?.value.toString(), '3');
    } finally {
      await registry.close();
      await Promise.all(proxies.map((p) => p.close()));
    }
  });

  it('gives BACKEND_UNAVAILABLE, not TIMEOUT, when the only member a client reaches has lost its quorum, then serves again', async () => {
    const [survivor, ...others] = cluster.members;
    assert.ok(survivor !== undefined);
    const registry = open([survivor.clientUrl], 2000);
    try {
      await registry.set('q', Buffer.from('1'));
      for (const member of others) await member.kill9();
      // the survivor knows it has no leader once an election timeout passes without a quorum
      const deadline = Date.now() + 20_000;
      while (await survivor.healthy()) {
        assert.ok(Date.now() < deadline, 'the survivor reports no leader within 20 s');
        await new Promise((r) => setTimeout(r, 50));
      }
      await assert.rejects(registry.get('q'), (e: unknown) => isRegistryError(e, 'BACKEND_UNAVAILABLE'));
      await assert.rejects(registry.set('q', Buffer.from('2')), (e: unknown) =>
        isRegistryError(e, 'BACKEND_UNAVAILABLE'),
      );
      for (const member of others) await member.restart();
      await cluster.waitHealthy();
      await untilServed(registry, () => registry.set('q', Buffer.from('3')));
      assert.equal((await registry.get('q'))?.value.toString(), '3');
    } finally {
      for (const member of others) if (!member.running) await member.restart();
      await registry.close();
      await cluster.waitHealthy();
    }
  });

  it('gives TIMEOUT when the only member a client reaches stops answering (SIGSTOP), then serves it again', async () => {
    const member = cluster.members[2];
    assert.ok(member !== undefined);
    const registry = open([member.clientUrl], 800);
    try {
      await registry.set('p', Buffer.from('1'));
      await member.pause();
      // nothing answers, nothing errors: the registry cannot tell down from slow, and a write may
      // still apply when the member wakes
      await assert.rejects(registry.get('p'), (e: unknown) => isRegistryError(e, 'TIMEOUT'));
      await assert.rejects(registry.set('p', Buffer.from('2')), (e: unknown) => isRegistryError(e, 'TIMEOUT'));
      member.resume();
      await cluster.waitHealthy();
      const read = await untilServed(registry, () => registry.get('p'));
      assert.ok(
        read !== undefined && ['1', '2'].includes(read.value.toString()),
        'served again once the member answers',
      );
    } finally {
      member.resume();
      await registry.close();
    }
  });
});

/**
 * The result of `call` once it succeeds, tried again after each typed unavailability (`TIMEOUT`,
 * `BACKEND_UNAVAILABLE`; anything else fails the test) every 50 ms; bounded by 200 attempts and
 * 30 s, whichever comes first.
 */
async function untilServed<T>(registry: EtcdRegistry, call: () => Promise<T>): Promise<T> {
  const deadline = Date.now() + 30_000;
  let last: unknown;
  for (let attempt = 0; attempt < 200 && Date.now() < deadline; attempt++) {
    try {
      return await call();
    } catch (error) {
      assert.ok(isRegistryError(error, 'TIMEOUT') || isRegistryError(error, 'BACKEND_UNAVAILABLE'), String(error));
      last = error;
      await new Promise((r) => setTimeout(r, 50));
    }
  }
  assert.fail(`${registry.options.keyPrefix}: not served again within 200 attempts / 30 s (last: ${String(last)})`);
}
