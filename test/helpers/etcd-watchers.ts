import assert from 'node:assert/strict';

/** The watchers a member serves now (etcd's `etcd_debugging_mvcc_watcher_total` gauge). */
export async function watchersOf(clientUrl: string): Promise<number> {
  const text = await (await fetch(`${clientUrl}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('etcd_debugging_mvcc_watcher_total '));
  assert.ok(line !== undefined, 'etcd reports its watchers');
  return Number(line.slice(line.lastIndexOf(' ') + 1));
}

/**
 * Resolves once the member serves `count` watchers: e.g. a contender for a lock or an election
 * has read that it is not its turn and watches the entry ahead of it. Fails after 10 s (a bound
 * on the wait, not a measurement).
 */
export async function untilWatchers(clientUrl: string, count: number): Promise<void> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const now = await watchersOf(clientUrl);
    if (now === count) return;
    assert.ok(Date.now() < deadline, `${now} watchers on ${clientUrl}, not ${count}, after 10 s`);
    await new Promise((r) => setTimeout(r, 10));
  }
}
