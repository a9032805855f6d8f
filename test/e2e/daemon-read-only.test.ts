/**
 * `nautilus start --read-only` (BEP 43), checked from its peers: every query it sends carries
 * `ro: 1`, it answers no query, the nodes it queries do not take it into their tables, and its
 * lookups still work.
 */
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import {
  type CliProcess,
  runCli,
  spawnCli,
  spawnTestnet,
  startArgs,
  type TestnetStarted,
  daemonStarted,
  type DaemonStarted,
} from '../helpers/cli-process.js';
import { field, krpcSocket, type KrpcSocket } from '../helpers/krpc-socket.js';

describe('nautilus start --read-only', () => {
  let dir: string;
  let testnet: CliProcess;
  let info: TestnetStarted;
  let daemon: CliProcess;
  let started: DaemonStarted;
  let api: string[];
  /** A second bootstrap host of the daemon: a bare socket that sees its queries. */
  let peer: KrpcSocket;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nautilus-read-only-'));
    let started_;
    ({ testnet, started: started_ } = await spawnTestnet(4));
    info = started_;
    peer = await krpcSocket('udp4');
    const bootstrap = `${(info.nodes[0] as { address: string }).address},${peer.address}`;
    daemon = spawnCli(startArgs(bootstrap, join(dir, 'state'), '--read-only'));
    started = await daemonStarted(daemon);
    api = ['--api', started.http, '--state-dir', join(dir, 'state')];
    await daemon.line(/"msg":"node ready"/);
  });
  after(async () => {
    peer?.close();
    await daemon?.kill();
    testnet?.child.kill('SIGINT');
    await testnet?.exited;
    await rm(dir, { recursive: true, force: true });
  });

  it('marks the queries it sends with ro: 1', async () => {
    const { message } = await peer.next((r) => field(r.message, 'y') === 'q');
    assert.equal(field(message, 'q'), 'find_node');
    assert.equal(message['ro'], 1);
    assert.equal(Buffer.from((message['a'] as Record<string, Uint8Array>)['id'] ?? []).toString('hex'), started.id);
  });

  it('answers no query: a ping gets nothing back, though the node pings the sender after it', async () => {
    const port = Number((started.udp[0] as string).split(':')[1]);
    peer.query('127.0.0.1', port, 'ping', 'p1');
    peer.query('127.0.0.1', port, 'find_node', 'f1', { target: peer.id });
    // the node's own ping, asked for through the API after ours were sent: any answer to them
    // would have left its one socket first (the CLI command then times out: nobody answers it)
    const pinging = spawnCli(['ping', peer.address, ...api]);
    try {
      const { message } = await peer.next((r) => field(r.message, 'q') === 'ping');
      assert.equal(message['ro'], 1);
    } finally {
      await pinging.kill();
    }
    const answers = peer.received.filter((r) => ['p1', 'f1'].includes(field(r.message, 't') ?? ''));
    assert.deepEqual(answers, []);
  });

  it('is left out of the tables of the nodes it queried, and its lookups work', async () => {
    const lookup = await runCli(['lookup', (info.nodes[2] as { id: string }).id, '--json', ...api]);
    assert.equal(lookup.code, 0, lookup.stderr);
    const { closest } = JSON.parse(lookup.stdout) as { closest: { id: string }[] };
    assert.equal(closest[0]?.id, (info.nodes[2] as { id: string }).id);
    const table = await runCli(['table', '--json', '--api', info.api, '--token', info.token]);
    assert.equal(table.code, 0, table.stderr);
    const { families } = JSON.parse(table.stdout) as { families: { buckets: { contacts: { id: string }[] }[] }[] };
    const ids = families.flatMap((f) => f.buckets.flatMap((b) => b.contacts.map((c) => c.id)));
    assert.equal(ids.length, 3, 'the entry node holds the other testnet nodes');
    assert.equal(ids.includes(started.id), false);
    const stats = await runCli(['stats', '--json', ...api]);
    assert.equal((JSON.parse(stats.stdout) as { daemon: { readOnly: boolean } }).daemon.readOnly, true);
  });
});
