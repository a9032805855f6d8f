import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../../../src/cli/main.js';
import { progressBar } from '../../../src/cli/commands/testnet.js';

describe('nautilus testnet output', () => {
  it('draws the start-up progress bar in place, ending the line when every node started', () => {
    assert.equal(progressBar(0, 4, 8), '\rstarting nodes [--------] 0/4');
    assert.equal(progressBar(2, 4, 8), '\rstarting nodes [####----] 2/4');
    assert.equal(progressBar(4, 4, 8), '\rstarting nodes [########] 4/4\n');
  });

  it('shows the progress bar on a terminal only, one frame per node', async () => {
    const frames: string[] = [];
    const args = ['testnet', '--nodes', '3', '--duration-ms', '0', '--http', 'none'];
    const io = { out: () => undefined, err: (t: string) => void frames.push(t) };
    assert.equal(await main(args, { ...io, errIsTty: true }), 0, frames.join(''));
    assert.deepEqual(
      frames.map((f) => /\d\/3/.exec(f)?.[0]),
      ['1/3', '2/3', '3/3'],
    );
    frames.length = 0;
    assert.equal(await main(args, io), 0, frames.join(''));
    assert.deepEqual(frames, []);
  });

  it('prints JSON lines with --json: started (nodes, API, token), demo, stopped', async () => {
    const lines: string[] = [];
    const code = await main(
      ['testnet', '--nodes', '4', '--duration-ms', '0', '--json', '--http', '127.0.0.1:0', '--token', 't0k'],
      {
        out: (t) => void lines.push(t),
        err: (t) => void lines.push(t),
      },
    );
    assert.equal(code, 0, lines.join(''));
    const events = lines
      .join('')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      events.map((e) => e['event']),
      ['started', 'demo', 'stopped'],
    );
    const [started, demo] = events as [
      Record<string, unknown>,
      { put: { readBack: string }; announce: { peers: string[] } },
    ];
    assert.equal((started['nodes'] as unknown[]).length, 4);
    assert.equal(started['token'], 't0k');
    assert.match(started['dashboard'] as string, /^http:\/\/127\.0\.0\.1:\d+\/#token=t0k$/);
    assert.match(demo.put.readBack, /^hello from [0-9a-f]{8}$/);
    assert.deepEqual(demo.announce.peers, ['127.0.0.1:6881']);
  });
});
