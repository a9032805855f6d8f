/**
 * The namespace lab itself (test/helpers/netns.ts), checked against what docs/nat.md says it
 * builds: a home behind the router reaches the public segment under the router's address, an
 * unsolicited datagram does not get in, `symmetric` gives a new external port per destination,
 * miniupnpd's NAT-PMP opens a port a public host can reach, and `close()` leaves no namespace.
 * Every wait is bounded; every lab is closed pass or fail.
 */
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { describe, it } from 'node:test';
import { createLab, startUdpProbe, type Lab } from '../../helpers/netns.js';

/** Bounds one test (a lab builds in well under a second; miniupnpd's STUN check takes ~1 s). */
const TEST_MS = 30_000;

async function withLab(options: Parameters<typeof createLab>[0], body: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = await createLab(options);
  try {
    await body(lab);
  } finally {
    await lab.close();
  }
}

/** A NAT-PMP (RFC 6886) request mapping UDP `internal` → `external` for `lifetime` s. */
function natPmpMapRequest(internal: number, external: number, lifetime: number): string {
  const b = Buffer.alloc(12);
  b.writeUInt8(0, 0);
  b.writeUInt8(1, 1);
  b.writeUInt16BE(internal, 4);
  b.writeUInt16BE(external, 6);
  b.writeUInt32BE(lifetime, 8);
  return b.toString('hex');
}

describe('namespace NAT lab', { timeout: 4 * TEST_MS }, () => {
  it(
    'lets a home reach a public host, which sees the router WAN address and the same port',
    { timeout: TEST_MS },
    async () => {
      await withLab({}, async (lab) => {
        const router = lab.routers[0]!;
        const home = router.homes[0]!;
        const server = await startUdpProbe(lab, lab.pub.ns, lab.pub.addresses[0]!);
        const client = await startUdpProbe(lab, home.ns, home.address);
        await client.send(lab.pub.addresses[0]!, server.port, { text: 'hello' });
        const got = await server.received({ text: 'hello' }, 5000);
        assert.equal(got.from, router.wanAddress);
        assert.equal(got.port, client.port, 'masquerade keeps the source port while it is free');
        await server.send(got.from, got.port, { text: 'reply' });
        await client.received({ text: 'reply', from: lab.pub.addresses[0]! }, 5000);
      });
    },
  );

  it('drops a datagram from a public host the home never sent to', { timeout: TEST_MS }, async () => {
    await withLab({}, async (lab) => {
      const router = lab.routers[0]!;
      const home = router.homes[0]!;
      const first = await startUdpProbe(lab, lab.pub.ns, lab.pub.addresses[0]!);
      const stranger = await startUdpProbe(lab, lab.pub.ns, lab.pub.addresses[1]!);
      const client = await startUdpProbe(lab, home.ns, home.address);
      await client.send(lab.pub.addresses[0]!, first.port, { text: 'open' });
      const seen = await first.received({ text: 'open' }, 5000);
      await stranger.send(router.wanAddress, seen.port, { text: 'unsolicited' });
      // the answer of the peer it did talk to, sent after the stranger's, arrives: the stranger's was dropped
      await first.send(router.wanAddress, seen.port, { text: 'after' });
      await client.received({ text: 'after' }, 5000);
      assert.equal(client.proc.stdout().includes('unsolicited'), false);
    });
  });

  it('gives a new external port per destination behind a symmetric router', { timeout: TEST_MS }, async () => {
    await withLab({ routers: [{ symmetric: true }] }, async (lab) => {
      const home = lab.routers[0]!.homes[0]!;
      const a = await startUdpProbe(lab, lab.pub.ns, lab.pub.addresses[0]!);
      const b = await startUdpProbe(lab, lab.pub.ns, lab.pub.addresses[1]!);
      const client = await startUdpProbe(lab, home.ns, home.address);
      await client.send(lab.pub.addresses[0]!, a.port, { text: 'to-a' });
      await client.send(lab.pub.addresses[1]!, b.port, { text: 'to-b' });
      const atA = await a.received({ text: 'to-a' }, 5000);
      const atB = await b.received({ text: 'to-b' }, 5000);
      assert.notEqual(atA.port, atB.port);
    });
  });

  it('opens a NAT-PMP mapping through miniupnpd that a public host reaches', { timeout: TEST_MS }, async () => {
    await withLab({ routers: [{ portMapping: { natpmp: true, upnp: false } }] }, async (lab) => {
      const router = lab.routers[0]!;
      const home = router.homes[0]!;
      const client = await startUdpProbe(lab, home.ns, home.address);
      await client.send(router.lanAddress, 5351, { hex: natPmpMapRequest(client.port, client.port, 60) });
      const answer = await client.received({ from: router.lanAddress }, 5000);
      const reply = Buffer.from(answer.hex, 'hex');
      assert.equal(reply.readUInt8(1), 129, 'a UDP mapping response');
      assert.equal(reply.readUInt16BE(2), 0, 'result code success');
      const external = reply.readUInt16BE(10);
      const stranger = await startUdpProbe(lab, lab.pub.ns, lab.pub.addresses[1]!);
      await stranger.send(router.wanAddress, external, { text: 'through the mapping' });
      await client.received({ text: 'through the mapping' }, 5000);
      assert.match(await router.ruleset(), new RegExp(`dport ${external}`));
    });
  });

  it('deletes its namespaces and ends its processes on close', { timeout: TEST_MS }, async () => {
    const lab = await createLab({ routers: [{ portMapping: { natpmp: true, upnp: true } }, { homes: 2 }] });
    const daemon = lab.routers[0]!.miniupnpd()!;
    const probe = await startUdpProbe(lab, lab.routers[1]!.homes[1]!.ns, lab.routers[1]!.homes[1]!.address);
    await lab.close();
    const names = execFileSync('ip', ['netns', 'list'], { encoding: 'utf8' });
    assert.equal(names.includes(lab.id), false, names);
    assert.notEqual(daemon.child.exitCode ?? daemon.child.signalCode, null);
    assert.notEqual(probe.proc.child.exitCode ?? probe.proc.child.signalCode, null);
  });
});
