import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { EtcdRegistry, type LeaderChange, type LeadershipHandle } from '../../../src/registry/etcd/index.js';
import { isRegistryError, type RegistryChange } from '../../../src/registry/index.js';
import { rangeEnd } from '../../../src/registry/etcd/calls.js';
import { type EtcdClusterHandle, startEtcdServer } from '../../../src/testing/index.js';
import { untilWatchers, watchersOf } from '../../helpers/etcd-watchers.js';

let server: EtcdClusterHandle;
let namespaces = 0;
const opened: EtcdRegistry[] = [];

before(async () => {
  server = await startEtcdServer();
});

after(async () => {
  for (const registry of opened) await registry.close();
  await server?.stop();
});

/** A registry of its own (own connections, like another process) in namespace `ns`. */
const open = (ns: string, timeoutMs = 2000): EtcdRegistry => {
  const registry = new EtcdRegistry({ hosts: [...server.endpoints], keyPrefix: `elections:${ns}:`, timeoutMs });
  opened.push(registry);
  return registry;
};

/** Resolves once `check()` holds, polling every 20 ms; rejects after `withinMs`. */
async function until(what: string, check: () => boolean, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${withinMs} ms`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

describe('EtcdRegistry leader election', () => {
  it('elects the next contender only once the leader resigns, with a larger fencing token, and leader() follows', async () => {
    const ns = `resign-${namespaces++}`;
    const a = open(ns);
    const b = open(ns);
    const events: string[] = [];
    const first = await a.campaign('e', Buffer.from('a'), { ttlMs: 5000 });
    events.push('a elected');
    assert.equal(Buffer.from((await b.leader('e'))?.value ?? []).toString(), 'a');
    const member = server.endpoints[0] as string;
    const watchers = await watchersOf(member);
    const waiting = b.campaign('e', Buffer.from('b'), { ttlMs: 5000 }).then((h) => {
      events.push('b elected');
      return h;
    });
    // b has read that a leads once it watches a's entry
    await untilWatchers(member, watchers + 1);
    assert.equal((await a.leader('e'))?.token, first.token);
    events.push('a resigning');
    await first.resign();
    const second = await waiting;
    assert.deepEqual(events, ['a elected', 'a resigning', 'b elected']);
    assert.ok(BigInt(second.token) > BigInt(first.token));
    assert.equal(Buffer.from((await a.leader('e'))?.value ?? []).toString(), 'b');
    assert.equal(first.lost.aborted, false, 'resigning is not losing');
    await second.resign();
    await second.resign();
    assert.equal(await a.leader('e'), undefined);
  });

  it('observe() yields the leader now, then each change of leader and of its proclaimed value', async () => {
    const ns = `observe-${namespaces++}`;
    const a = open(ns);
    const b = open(ns);
    const seen: LeaderChange[] = [];
    const stop = new AbortController();
    const observing = (async () => {
      for await (const change of a.observe('e', { signal: stop.signal })) {
        seen.push(change);
        if (seen.length === 6) return;
      }
    })();
    await until('the empty election observed', () => seen.length === 1, 5000);
    const first = await a.campaign('e', Buffer.from('a1'), { ttlMs: 5000 });
    await first.proclaim(Buffer.from('a2'));
    await first.resign();
    await until('the resignation observed', () => seen.length === 4, 5000);
    const second = await b.campaign('e', Buffer.from('b1'), { ttlMs: 5000 });
    await second.resign();
    await observing;
    stop.abort();
    assert.deepEqual(
      seen.map((c) => (c.leader === undefined ? '-' : `${Buffer.from(c.leader.value).toString()}@${c.leader.token}`)),
      ['-', `a1@${first.token}`, `a2@${first.token}`, '-', `b1@${second.token}`, '-'],
    );
  });

  it("refuses a resigned leader's proclaim and fenced write with FENCED, changing nothing", async () => {
    const ns = `fence-${namespaces++}`;
    const a = open(ns);
    const first = await a.campaign('e', Buffer.from('a'), { ttlMs: 5000 });
    await a.set('guarded', Buffer.from('1'), { fence: first.fence });
    await first.resign();
    const second = await a.campaign('e', Buffer.from('b'), { ttlMs: 5000 });
    await assert.rejects(first.proclaim(Buffer.from('stale')), (e: unknown) => isRegistryError(e, 'FENCED'));
    await assert.rejects(a.set('guarded', Buffer.from('stale'), { fence: first.fence }), (e: unknown) =>
      isRegistryError(e, 'FENCED'),
    );
    assert.equal(Buffer.from((await a.get('guarded'))?.value ?? []).toString(), '1');
    assert.equal(Buffer.from((await a.leader('e'))?.value ?? []).toString(), 'b');
    await second.resign();
  });

  it('rejects a bad name, value or ttlMs with INVALID_OPTION / INVALID_TTL, and an aborted campaign with the reason', async () => {
    const a = open(`invalid-${namespaces++}`);
    await assert.rejects(a.campaign('', Buffer.from('x')), (e: unknown) => isRegistryError(e, 'INVALID_OPTION'));
    await assert.rejects(a.campaign('e', 'x' as never), (e: unknown) => isRegistryError(e, 'INVALID_OPTION'));
    await assert.rejects(a.campaign('e', Buffer.from('x'), { ttlMs: -1 }), (e: unknown) =>
      isRegistryError(e, 'INVALID_TTL'),
    );
    await assert.rejects(a.leader(''), (e: unknown) => isRegistryError(e, 'INVALID_OPTION'));
    const held = await a.campaign('e', Buffer.from('x'), { ttlMs: 5000 });
    const reason = new Error('gave up');
    const stop = new AbortController();
    const waiting = a.campaign('e', Buffer.from('y'), { ttlMs: 5000, signal: stop.signal });
    setTimeout(() => stop.abort(reason), 100);
    await assert.rejects(waiting, (e: unknown) => e === reason);
    await held.resign();
    // the aborted contender left no entry: nobody leads
    assert.equal(await a.leader('e'), undefined);
  });

  it('never accepts fenced writes of two leaders across etcd restarts, and refuses the deposed leader its write (microsoft/etcd3#158)', async (t) => {
    const ns = `restart-${namespaces++}`;
    const log = open(ns, 5000);
    const start = await log.cursor();
    // long enough that the leader's lease outlives the short outage: the waiting contender's
    // watch breaks while the leader still leads, and must not take that for its turn
    const TTL = 5000;
    let stop = false;
    /** Each contender's handles, in the order it won them. */
    const handles: LeadershipHandle[][] = [[], []];
    const refused: string[] = [];
    const written = new Map<string, number>();
    const failed: string[] = [];
    const quit = new AbortController();
    const leaders = (): LeadershipHandle[] => handles.flat().filter((h) => !h.lost.aborted);
    // the most contenders that believed they led at once: beliefs only grow when a campaign
    // resolves, so counting at each win (every contender in this process) misses no overlap
    let most = 0;
    const contenders = [0, 1].map(async (who) => {
      const registry = open(ns);
      const write = async (): Promise<void> => {
        const handle = handles[who]?.at(-1);
        if (handle === undefined || handle.lost.aborted) return;
        try {
          await registry.set('log', Buffer.from(`${handle.token}:${who}`), { fence: handle.fence });
          written.set(handle.token, (written.get(handle.token) ?? 0) + 1);
        } catch (error) {
          if (isRegistryError(error, 'FENCED')) refused.push(handle.token);
          // etcd down or failing over: the write's outcome is unknown, the history below says
          else if (isRegistryError(error, 'TIMEOUT') || isRegistryError(error, 'BACKEND_UNAVAILABLE')) {
            failed.push(error.code);
          } else throw error;
        }
      };
      const campaigning = (async () => {
        while (!stop) {
          // a campaign rides out outages itself: it ends only when told to stop
          const handle = await registry
            .campaign('e', Buffer.from(String(who)), { ttlMs: TTL, signal: quit.signal })
            .catch((error: unknown) => {
              if (quit.signal.aborted && error === quit.signal.reason) return undefined;
              throw error;
            });
          if (handle === undefined) continue;
          most = Math.max(most, leaders().length + 1);
          handles[who]?.push(handle);
          await Promise.race([handle.whenLost, new Promise((r) => quit.signal.addEventListener('abort', r))]);
        }
      })();
      while (!stop) {
        await write();
        await new Promise((r) => setTimeout(r, 20));
      }
      await campaigning;
    });
    const writing = async (what: string, withinMs: number): Promise<LeadershipHandle> => {
      await until(what, () => leaders().length > 0, withinMs);
      assert.ok(most <= 1, `${most} contenders held leadership at once`);
      const leader = leaders()[0] as LeadershipHandle;
      // it writes a while, the other contender campaigning meanwhile
      await until(`${what}: its fenced writes`, () => (written.get(leader.token) ?? 0) >= 20, 10_000);
      return leader;
    };
    try {
      await writing('a first leader', 10_000);
      const member = server.members[0];
      assert.ok(member !== undefined);

      // a short outage: kill -9, start again at once
      await member.kill9();
      await member.restart();
      await server.waitHealthy();
      // an outage longer than the leases: the leader's handle reports the loss; etcd restarts
      const deposed = await writing('a leader after the restart', 30_000);
      await member.kill9();
      const killedAt = Date.now();
      await until("the leader's loss reported", () => deposed.lost.aborted, 3 * TTL + 5000);
      t.diagnostic(`long outage: loss reported ${Date.now() - killedAt} ms after the kill`);
      await member.restart();
      const restartedAt = Date.now();
      await server.waitHealthy();
      const elected = await writing('a new leader', 30_000);
      assert.ok(BigInt(elected.token) > BigInt(deposed.token));
      t.diagnostic(`long outage: new leader writing ${Date.now() - restartedAt} ms after the restart`);
      await assert.rejects(log.set('log', Buffer.from('deposed'), { fence: deposed.fence }), (e: unknown) =>
        isRegistryError(e, 'FENCED'),
      );
      // every handle ever won: at most one fence accepted now
      const fencesAccepted: string[] = [];
      for (const handle of handles.flat()) {
        await log.set('probe', Buffer.from(handle.token), { fence: handle.fence }).then(
          () => fencesAccepted.push(handle.token),
          (e: unknown) => assert.ok(isRegistryError(e, 'FENCED')),
        );
      }
      assert.deepEqual(fencesAccepted, [elected.token]);
    } finally {
      stop = true;
      quit.abort();
      await Promise.all(contenders);
    }
    assert.ok(most <= 1, `${most} contenders held leadership at once`);

    // in commit order, the tokens of accepted fenced writes never go down: no write of an older
    // leader was accepted after a newer one's
    const final = (await log.get('log'))?.version ?? 0;
    const tokens: bigint[] = [];
    const accepted: { token: bigint; revision: number }[] = [];
    for await (const change of log.watch({ after: start, prefix: 'log', signal: AbortSignal.timeout(20_000) })) {
      const { record } = change as Extract<RegistryChange, { type: 'set' }>;
      const token = BigInt(Buffer.from(record.value).toString().split(':')[0] as string);
      tokens.push(token);
      accepted.push({ token, revision: Number(change.cursor.split('.')[0]) });
      if (record.version === final) break;
    }
    for (let i = 1; i < tokens.length; i++)
      assert.ok(tokens[i - 1]! <= tokens[i]!, `token ${tokens[i]} after ${tokens[i - 1]}`);
    // from etcd's own history: at the revision of each accepted fenced write, the writer's entry
    // was the oldest of the election (its leader then), so no two leaderships overlapped in etcd
    const entry = (handles.flat()[0] as LeadershipHandle).fence.entry;
    const prefix = Buffer.from(entry.slice(0, entry.lastIndexOf('/') + 1), 'latin1');
    for (let i = 0; i < accepted.length; i += 50) {
      await Promise.all(
        accepted.slice(i, i + 50).map(async ({ token, revision }) => {
          const oldest = await log.client.kv.range({
            key: prefix,
            range_end: rangeEnd(prefix),
            revision,
            sort_order: 'Ascend',
            sort_target: 'Create',
            limit: 1,
          });
          assert.equal(oldest.kvs[0]?.create_revision, String(token), `the leader at revision ${revision}`);
        }),
      );
    }
    assert.ok(new Set(tokens).size >= 2, 'fenced writes of at least two leaders were accepted');
    t.diagnostic(
      `${tokens.length} fenced writes accepted from ${new Set(tokens).size} leaders; ${refused.length} refused; ` +
        `${handles.flat().length} leaderships won; ${failed.length} failed otherwise (etcd down)`,
    );
  });
});
