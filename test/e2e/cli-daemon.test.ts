import assert from 'node:assert/strict';
import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
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
} from '../helpers/cli-process.js';

/** The `http` field of the daemon's "nautilus daemon started" log line. */
async function daemonUrl(daemon: CliProcess): Promise<string> {
  const line = await daemon.line(/"msg":"nautilus daemon started"/);
  return (JSON.parse(line) as { http: string }).http;
}

describe('nautilus start and the client verbs, as processes', () => {
  let dir: string;
  let testnet: CliProcess;
  let started: TestnetStarted;
  let daemon: CliProcess;
  let api: string[];

  const cli = (...args: string[]) => runCli([...args, ...api]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nautilus-e2e-'));
    ({ testnet, started } = await spawnTestnet(6));
    await testnet.line(/^\{"event":"demo"/);
    daemon = spawnCli(startArgs((started.nodes[0] as { address: string }).address, join(dir, 'state')));
    api = ['--api', await daemonUrl(daemon), '--state-dir', join(dir, 'state')];
    await daemon.line(/"msg":"node ready"/);
  });
  after(async () => {
    await daemon?.kill();
    testnet?.child.kill('SIGINT');
    await testnet?.exited;
    await rm(dir, { recursive: true, force: true });
  });

  it('puts and gets an immutable item, as text and as JSON', async () => {
    const put = await cli('put', 'hello through the daemon');
    assert.equal(put.code, 0, put.stderr);
    const [target, summary] = put.stdout.trim().split('\n');
    assert.match(target ?? '', /^[0-9a-f]{40}$/);
    assert.match(summary ?? '', /^stored on [1-8] nodes \(\d+ failed, \d+ queries, [\d.]+ ms\)$/);
    const got = await cli('get', target as string);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, 'hello through the daemon\n');
    const json = await cli('get', target as string, '--json');
    assert.deepEqual(
      { ...(JSON.parse(json.stdout) as object), from: 0, queried: 0, durationMs: 0 },
      {
        target,
        value: 'hello through the daemon',
        valueHex: Buffer.from('hello through the daemon').toString('hex'),
        seq: null,
        publicKey: null,
        from: 0,
        queried: 0,
        durationMs: 0,
      },
    );
  });

  it('signs mutable items with a key file and finds the newest', async () => {
    const keyFile = join(dir, 'me.key');
    const keygen = await runCli(['keygen', '--out', keyFile, '--json']);
    assert.equal(keygen.code, 0, keygen.stderr);
    const { publicKey } = JSON.parse(keygen.stdout) as { publicKey: string };
    assert.equal((await stat(keyFile)).mode & 0o777, 0o600);
    for (const value of ['v1', 'v2']) {
      const put = await cli('put', '--mutable', '--key-file', keyFile, '--salt', 'profile', value);
      assert.equal(put.code, 0, put.stderr);
    }
    const got = await cli('get', '--mutable', publicKey, '--salt', 'profile', '--json');
    assert.equal(got.code, 0, got.stderr);
    const item = JSON.parse(got.stdout) as { value: string; seq: number; publicKey: string };
    assert.deepEqual([item.value, item.seq, item.publicKey], ['v2', 2, publicKey]);
    const low = await cli('put', '--mutable', '--key-file', keyFile, '--salt', 'profile', '--seq', '1', 'old');
    assert.equal(low.code, 1);
    assert.match(low.stderr, /^nautilus put: (SEQ_TOO_LOW|NOT_STORED): /);
  });

  it('announces a peer and finds it; looks up, pings and shows stats and the table', async () => {
    const infoHash = 'c12fe1c06bba254a9dc9f519b335aa7c1367a88a';
    const announce = await cli('announce', infoHash, '--port', '7000');
    assert.equal(announce.code, 0, announce.stderr);
    assert.match(announce.stdout, /^announced c12fe1c06bba254a9dc9f519b335aa7c1367a88a on [1-8] nodes/);
    const peers = await cli('peers', infoHash, '--json');
    assert.deepEqual(JSON.parse(peers.stdout), { infoHash, peers: ['127.0.0.1:7000'] });
    const lookup = await cli('lookup', (started.nodes[1] as { id: string }).id, '--json');
    const closest = (JSON.parse(lookup.stdout) as { closest: { id: string }[] }).closest;
    assert.equal(closest[0]?.id, started.nodes[1]?.id);
    const ping = await cli('ping', (started.nodes[0] as { address: string }).address);
    assert.match(
      ping.stdout,
      new RegExp(`^${started.nodes[0]?.address ?? ''} is ${started.nodes[0]?.id ?? ''} \\([\\d.]+ ms\\)\\n$`),
    );
    const stats = await cli('stats');
    assert.match(stats.stdout, /^id {10}[0-9a-f]{40}\n/);
    assert.match(stats.stdout, /^contacts {4}[1-9]\d*$/m);
    const table = await cli('table');
    assert.match(table.stdout, /^IPv4: \d+ contacts in \d+ buckets$/m);
    assert.match(table.stdout, /^ {2}bucket +\d+ {2}\d+ contacts$/m);
  });

  it('sets, reads, scans and deletes registry records', async () => {
    assert.equal((await cli('registry', 'set', 'users/alice', '{"name":"Alice"}', '--ttl-ms', '60000')).code, 0);
    assert.equal((await cli('registry', 'get', 'users/alice')).stdout, '{"name":"Alice"}\n');
    assert.equal((await cli('registry', 'scan', '--prefix', 'users/')).stdout, 'users/alice\t{"name":"Alice"}\n');
    assert.equal((await cli('registry', 'delete', 'users/alice')).stdout, 'deleted users/alice\n');
    const gone = await cli('registry', 'get', 'users/alice');
    assert.deepEqual([gone.code, gone.stderr], [1, 'nautilus registry: NOT_FOUND: no record "users/alice"\n']);
  });

  it('serves the API of the testnet entry node with the token it printed', async () => {
    const stats = await runCli(['stats', '--json', '--api', started.api, '--token', started.token]);
    assert.equal(stats.code, 0, stats.stderr);
    assert.equal((JSON.parse(stats.stdout) as { id: string }).id, started.nodes[0]?.id);
  });

  it('fails with one line on stderr and exit 2 for usage errors, 1 for failed operations', async () => {
    const unknown = await runCli(['launch']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^nautilus: unknown command "launch"\n/);
    const cases: [string[], number, RegExp][] = [
      [
        ['put', '--frobnicate', 'x'],
        2,
        /^nautilus: put: Unknown option '--frobnicate'.*\(see nautilus put --help\)\n$/s,
      ],
      [
        ['get', 'xyz'],
        2,
        /^nautilus: get: <target> must be 40 hex digits \(got "xyz"\) \(see nautilus get --help\)\n$/,
      ],
      [['put'], 2, /^nautilus: put: missing <value>/],
      [['put', '--mutable', 'x'], 2, /--mutable needs --key-file FILE/],
      [['put', 'x'.repeat(1001)], 1, /^nautilus put: MESSAGE_TOO_BIG: value of 100\d bytes exceeds 1000 bytes\n$/],
      [['get', 'ab'.repeat(20)], 1, /^nautilus get: NOT_FOUND: the closest nodes have no item for (ab){20}\n$/],
    ];
    for (const [args, code, stderr] of cases) {
      const run = await cli(...args);
      assert.equal(run.code, code, `${args.join(' ')}: ${run.stderr}`);
      assert.match(run.stderr, stderr);
      assert.equal(run.stdout, '');
    }
    const wrongToken = await runCli(['stats', '--api', api[1] as string, '--token', 'nope']);
    assert.deepEqual([wrongToken.code, wrongToken.stderr.split('\n').length], [1, 2]);
    assert.match(wrongToken.stderr, /^nautilus stats: the daemon refused the token \(wrong token/);
    const unreachable = await runCli(['stats', '--api', 'http://127.0.0.1:9', '--token', 'x']);
    assert.equal(unreachable.code, 1);
    assert.match(
      unreachable.stderr,
      /^nautilus stats: cannot reach the daemon at http:\/\/127\.0\.0\.1:9 \(.+\): is `nautilus start` running\?/,
    );
  });

  it('prints help with examples for every command', async () => {
    const top = await runCli(['--help']);
    const names = [...top.stdout.matchAll(/^ {2}([a-z]+) {2,}/gm)]
      .map((m) => m[1] as string)
      .filter((n) => n !== 'help' && n !== 'version');
    assert.ok(names.includes('start') && names.includes('registry'), top.stdout);
    for (const name of names) {
      const help = await runCli([name, '--help']);
      assert.equal(help.code, 0);
      assert.match(help.stdout, new RegExp(`^Usage: nautilus ${name}`));
      assert.match(help.stdout, /\nExamples:\n {2}nautilus /);
    }
  });

  it('stops on SIGTERM with exit 0 after saving state, and a restart resumes without its bootstrap host', async () => {
    daemon.child.kill('SIGTERM');
    assert.deepEqual(await daemon.exited, { code: 0, signal: null });
    assert.match(daemon.stdout(), /"msg":"stopped"/);
    const saved = JSON.parse(await readFile(join(dir, 'state', 'kad-state.json'), 'utf8')) as object;
    assert.ok(Object.keys(saved).length > 0);

    // the bootstrap host of the restart is a socket that counts what it receives and never answers
    const bootstrap: Socket = createSocket('udp4');
    bootstrap.bind(0, '127.0.0.1');
    await once(bootstrap, 'listening');
    let datagrams = 0;
    bootstrap.on('message', () => datagrams++);
    const restarted = spawnCli(startArgs(`127.0.0.1:${bootstrap.address().port}`, join(dir, 'state')));
    try {
      await restarted.line(/"msg":"state restored"/);
      await restarted.line(/"msg":"node ready"/);
      const url = await daemonUrl(restarted);
      const stats = await runCli(['stats', '--json', '--api', url, '--state-dir', join(dir, 'state')]);
      assert.ok((JSON.parse(stats.stdout) as { contacts: number }).contacts > 0);
      assert.equal(datagrams, 0);
      restarted.child.kill('SIGINT');
      assert.deepEqual(await restarted.exited, { code: 0, signal: null });
    } finally {
      await restarted.kill();
      bootstrap.close();
    }
  });
});
