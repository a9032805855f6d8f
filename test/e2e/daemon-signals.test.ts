import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { request, type ClientRequest } from 'node:http';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type CliProcess, spawnCli, startArgs } from '../helpers/cli-process.js';

/**
 * A daemon with a request in flight that it cannot finish on its own: a PUT whose body the
 * client has only begun to send. `finish()` sends the rest; `answer` is its status.
 */
async function busyDaemon(
  stateDir: string,
): Promise<{ daemon: CliProcess; finish: () => void; answer: Promise<number | string> }> {
  const daemon = spawnCli(startArgs('none', stateDir, '--log-level', 'debug'));
  const { http } = JSON.parse(await daemon.line(/"msg":"nautilus daemon started"/)) as { http: string };
  const token = (await readFile(join(stateDir, 'api-token'), 'utf8')).trim();
  const body = JSON.stringify({ value: 'sent slowly' });
  let req: ClientRequest | undefined;
  const answer = new Promise<number | string>((resolve) => {
    req = request(
      `${http}/api/registry/slow`,
      {
        method: 'PUT',
        headers: {
          authorization: `Bearer ${token}`,
          'content-type': 'application/json',
          'content-length': body.length,
        },
      },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.on('error', () => resolve('no answer'));
    req.write(body.slice(0, 5));
  });
  await daemon.line(/"url":"\/api\/registry\/slow","msg":"request received"/);
  return { daemon, answer, finish: () => req?.end(body.slice(5)) };
}

describe('nautilus start and signals', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nautilus-signals-'));
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it('lets a request in flight finish on SIGTERM, then exits 0', async () => {
    const { daemon, finish, answer } = await busyDaemon(join(dir, 'a'));
    try {
      daemon.child.kill('SIGTERM');
      await daemon.line(/"msg":"stopping: finishing requests in flight, saving state"/);
      assert.equal(daemon.child.exitCode, null, 'still running while the request is unfinished');
      finish();
      assert.equal(await answer, 200);
      assert.deepEqual(await daemon.exited, { code: 0, signal: null });
      assert.match(daemon.stdout(), /"msg":"stopped"/);
    } finally {
      await daemon.kill();
    }
  });

  it('exits at once with 143 on a second SIGTERM while it is still finishing', async () => {
    const { daemon, answer } = await busyDaemon(join(dir, 'b'));
    try {
      daemon.child.kill('SIGTERM');
      await daemon.line(/"msg":"stopping: finishing requests in flight, saving state"/);
      daemon.child.kill('SIGTERM');
      assert.deepEqual(await daemon.exited, { code: 143, signal: null });
      assert.equal(await answer, 'no answer');
      assert.doesNotMatch(daemon.stdout(), /"msg":"stopped"/);
    } finally {
      await daemon.kill();
    }
  });
});
