import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import { createLogger, startDaemon } from '../../../src/daemon/index.js';
import { createTestnet } from '../../../src/testing/index.js';
import { testDaemonConfig } from '../../helpers/daemon-config.js';

describe('daemon HTTP API, cancellation', () => {
  it('stops a lookup when its client disconnects', async () => {
    const stateDir = await mkdtemp(join(tmpdir(), 'nautilus-cancel-'));
    const testnet = await createTestnet({ transport: 'udp', nodes: 4 });
    const entry = testnet.nodes[0]!.address();
    const daemon = await startDaemon(testDaemonConfig(stateDir, { bootstrap: `${entry.host}:${entry.port}` }), {
      logger: createLogger('silent'),
    });
    try {
      await daemon.node.ready;
      // every contact the daemon knows goes silent: a lookup now waits on their timeouts
      await testnet.close();
      const headers = { authorization: `Bearer ${daemon.token}` };
      const client = new AbortController();
      const pending = fetch(`${daemon.url}/api/lookup/${'00'.repeat(20)}`, { headers, signal: client.signal });
      while (daemon.node.stats().rpc.inFlight === 0) await sleep(5);
      client.abort();
      await assert.rejects(pending, { name: 'AbortError' });
      let activity: { operation: string; outcome: string }[] = [];
      while (activity.length === 0) {
        await sleep(5);
        activity = (
          (await (await fetch(`${daemon.url}/api/activity`, { headers })).json()) as { activity: typeof activity }
        ).activity;
      }
      assert.deepEqual(
        activity.map((a) => [a.operation, a.outcome]),
        [['lookup', 'AbortError']],
      );
    } finally {
      await daemon.close();
      await testnet.close();
      await rm(stateDir, { recursive: true, force: true });
    }
  });
});
