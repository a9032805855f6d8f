/**
 * `nautilus start --host6 ::1`: the daemon runs a second, IPv6 socket (BEP 32) beside its IPv4
 * one, answers on it, and looks up, pings, puts and gets over IPv6 on a testnet of ::1 nodes.
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
  startArgs,
  type TestnetStarted,
  daemonStarted,
  type DaemonStarted,
} from '../helpers/cli-process.js';
import { field, krpcSocket, type KrpcSocket } from '../helpers/krpc-socket.js';

const portOf = (address: string): number => Number(address.slice(address.lastIndexOf(':') + 1));

describe('nautilus start --host6 ::1', () => {
  let dir: string;
  let testnet: CliProcess;
  let nodes: TestnetStarted['nodes'];
  let testnetApi: TestnetStarted;
  let daemon: CliProcess;
  let started: DaemonStarted;
  let api: string[];
  const sockets: KrpcSocket[] = [];

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nautilus-ipv6-'));
    testnet = spawnCli(['testnet', '--nodes', '4', '--host', '::1', '--json', '--http', '127.0.0.1:0']);
    const info = JSON.parse(await testnet.line(/^\{"event":"started"/)) as TestnetStarted;
    nodes = info.nodes;
    testnetApi = info;
    const bootstrap = (nodes[0] as { address: string }).address;
    daemon = spawnCli(startArgs(bootstrap, join(dir, 'state'), '--host6', '::1', '--port6', '0'));
    started = await daemonStarted(daemon);
    api = ['--api', started.http, '--state-dir', join(dir, 'state')];
    await daemon.line(/"msg":"node ready"/);
  });
  after(async () => {
    for (const socket of sockets) socket.close();
    await daemon?.kill();
    testnet?.child.kill('SIGINT');
    await testnet?.exited;
    await rm(dir, { recursive: true, force: true });
  });

  it('listens on 127.0.0.1 and on ::1, and answers a KRPC ping on each with its id', async () => {
    assert.equal(started.udp.length, 2);
    const [v4, v6] = started.udp as [string, string];
    assert.match(v4, /^127\.0\.0\.1:\d+$/);
    assert.match(v6, /^\[::1\]:\d+$/);
    for (const [type, host, address] of [
      ['udp4', '127.0.0.1', v4],
      ['udp6', '::1', v6],
    ] as const) {
      const peer = await krpcSocket(type);
      sockets.push(peer);
      peer.query(host, portOf(address), 'ping', 'p1');
      const { message } = await peer.next((r) => field(r.message, 't') === 'p1');
      assert.equal(field(message, 'y'), 'r', `${type}: a response`);
      const id = (message['r'] as Record<string, Uint8Array>)['id'];
      assert.equal(Buffer.from(id ?? []).toString('hex'), started.id, type);
    }
  });

  it('joined the IPv6 testnet: its IPv6 table holds the testnet nodes, and the entry node holds it', async () => {
    type Tables = { families: { family: number; buckets: { contacts: { id: string; host: string }[] }[] }[] };
    const v6Contacts = (stdout: string) =>
      ((JSON.parse(stdout) as Tables).families.find((f) => f.family === 6)?.buckets ?? []).flatMap((b) => b.contacts);
    const table = await runCli(['table', '--json', ...api]);
    assert.equal(table.code, 0, table.stderr);
    const contacts = v6Contacts(table.stdout);
    // the testnet's nodes (and the bare socket that pinged it above, a querier it learnt)
    const ids = new Set(contacts.map((c) => c.id));
    assert.deepEqual(
      nodes.filter((n) => !ids.has(n.id)),
      [],
    );
    assert.ok(contacts.every((c) => c.host === '::1'));
    // a node enters a table once it answered or its query validated: over ::1 here
    const entry = await runCli(['table', '--json', '--api', testnetApi.api, '--token', testnetApi.token]);
    assert.equal(entry.code, 0, entry.stderr);
    assert.ok(v6Contacts(entry.stdout).some((c) => c.id === started.id && c.host === '::1'));
  });

  it('looks up, pings, puts and gets over IPv6', async () => {
    const lookup = await runCli(['lookup', (nodes[1] as { id: string }).id, '--json', ...api]);
    assert.equal(lookup.code, 0, lookup.stderr);
    const { closest } = JSON.parse(lookup.stdout) as { closest: { id: string; address: string }[] };
    assert.equal(closest[0]?.id, (nodes[1] as { id: string }).id);
    assert.ok(closest.every((c) => c.address.startsWith('[::1]:')));

    const ping = await runCli(['ping', (nodes[2] as { address: string }).address, '--json', ...api]);
    assert.equal(ping.code, 0, ping.stderr);
    assert.equal((JSON.parse(ping.stdout) as { id: string }).id, (nodes[2] as { id: string }).id);

    const put = await runCli(['put', 'over ipv6', ...api]);
    assert.equal(put.code, 0, put.stderr);
    const [target] = put.stdout.trim().split('\n') as [string];
    const got = await runCli(['get', target, ...api]);
    assert.deepEqual([got.code, got.stdout], [0, 'over ipv6\n']);
  });
});
