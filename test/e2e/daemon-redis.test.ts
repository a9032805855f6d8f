import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startRedisServer, type RedisServerHandle } from '../../src/testing/index.js';
import { type CliProcess, runCli, spawnCli, startArgs } from '../helpers/cli-process.js';

describe('nautilus start --storage redis://', () => {
  let redis: RedisServerHandle;
  let dir: string;

  before(async () => {
    redis = await startRedisServer();
    dir = await mkdtemp(join(tmpdir(), 'nautilus-redis-'));
  });
  after(async () => {
    await redis?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  const start = async (): Promise<{ daemon: CliProcess; api: string[] }> => {
    const daemon = spawnCli(startArgs('none', dir, '--storage', redis.url));
    const line = await daemon.line(/"msg":"nautilus daemon started"/);
    const { http, storage } = JSON.parse(line) as { http: string; storage: string };
    assert.equal(storage, 'redis');
    return { daemon, api: ['--api', http, '--state-dir', dir] };
  };

  it('keeps registry records in Redis across a restart of the daemon', async () => {
    const first = await start();
    try {
      const set = await runCli(['registry', 'set', 'app/config', 'kept in redis', ...first.api]);
      assert.equal(set.code, 0, set.stderr);
      first.daemon.child.kill('SIGTERM');
      assert.equal((await first.daemon.exited).code, 0);
    } finally {
      await first.daemon.kill();
    }
    const second = await start();
    try {
      const got = await runCli(['registry', 'get', 'app/config', ...second.api]);
      assert.deepEqual([got.code, got.stdout], [0, 'kept in redis\n']);
      const metrics = await fetch(`${second.api[1] as string}/metrics`, {
        headers: { authorization: `Bearer ${await tokenOf(dir)}` },
      });
      assert.match(
        await metrics.text(),
        /^nautilus_registry_operations_total\{registry="records",operation="get",outcome="ok"\} 1$/m,
      );
    } finally {
      second.daemon.child.kill('SIGTERM');
      await second.daemon.exited;
    }
  });

  it('refuses a storage URL it does not know with exit 2, naming --storage', async () => {
    const run = await runCli([
      'start',
      '--bootstrap',
      'none',
      '--port',
      '0',
      '--http',
      '127.0.0.1:0',
      '--storage',
      'mongodb://x',
      '--state-dir',
      dir,
    ]);
    assert.equal(run.code, 2);
    assert.match(
      run.stderr,
      /^nautilus: start: --storage must be memory, redis:\/\/host:port or redis-cluster:\/\/host:port,… \(got "mongodb:\/\/x"\)/,
    );
  });
});

async function tokenOf(dir: string): Promise<string> {
  return (await readFile(join(dir, 'api-token'), 'utf8')).trim();
}
