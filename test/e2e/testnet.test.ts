import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main } from '../../src/cli/main.js';

describe('nautilus testnet', () => {
  it('starts a loopback network, stores and finds an item and a peer across nodes, then stops', async () => {
    const lines: string[] = [];
    const code = await main(['testnet', '--nodes', '12', '--duration-ms', '0'], {
      out: (t) => void lines.push(t),
      err: (t) => void lines.push(t),
    });
    const output = lines.join('');
    assert.equal(code, 0, output);
    assert.match(output, /testnet: 12 nodes on 127\.0\.0\.1 \(UDP\), in-memory storage/);
    assert.match(output, /BEP 44: put immutable item [0-9a-f]{12}… on [1-8] nodes; read back: hello from [0-9a-f]{8}/);
    assert.match(output, /BEP 5: announced port 6881 for [0-9a-f]{12}… on [1-8] nodes; get_peers: 127\.0\.0\.1:6881/);
    assert.match(output, /testnet: stopped 12 nodes/);
  });

  it('runs on IPv6 loopback as well', async () => {
    const lines: string[] = [];
    const code = await main(['testnet', '--nodes', '4', '--host', '::1', '--duration-ms', '0'], {
      out: (t) => void lines.push(t),
      err: (t) => void lines.push(t),
    });
    assert.equal(code, 0, lines.join(''));
    assert.match(lines.join(''), /get_peers: \[::1\]:6881/);
  });

  it('keeps running until aborted, printing counters', async () => {
    const lines: string[] = [];
    const controller = new AbortController();
    const running = main(['testnet', '--nodes', '3', '--interval-ms', '100'], {
      out: (t) => {
        lines.push(t);
        if (t.startsWith('nodes 3,')) controller.abort();
      },
      err: (t) => void lines.push(t),
      signal: controller.signal,
    });
    assert.equal(await running, 0);
    assert.match(lines.join(''), /running; Ctrl-C to stop/);
    assert.match(lines.join(''), /nodes 3, contacts per node \d/);
    assert.match(lines.join(''), /testnet: stopped 3 nodes/);
  });
});
