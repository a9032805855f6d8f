/**
 * Hole punching behind real NATs: each test builds its own namespace lab (test/helpers/netns.ts:
 * a public segment with a rendezvous and a second public node, two routers with nftables
 * masquerade, one home node behind each), runs Nautilus nodes inside it as child processes
 * (nat-node-agent.ts) and deletes everything pass or fail. Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createLab, type Lab, type RouterOptions } from '../../helpers/netns.js';
import { type LabNode, NODE_PORT, startLabNode, startPublicPeers } from '../../helpers/nat-world.js';

const TEST_MS = 40_000;

interface PunchLab {
  readonly lab: Lab;
  readonly rendezvous: LabNode;
  readonly a: LabNode;
  readonly b: LabNode;
  /** B's node id, hex. */
  readonly bId: string;
  /** Each home node pings both public nodes (fresh NAT flows toward the rendezvous, two `ip` reports). */
  readonly talk: () => Promise<void>;
}

/** A lab whose two routers are `router`, a rendezvous and a second public node, a home node behind each router. */
async function withPunchLab(router: RouterOptions, body: (world: PunchLab) => Promise<void>): Promise<void> {
  const lab = await createLab({ routers: [router, router], udpTimeoutS: 30 });
  try {
    const [rendezvous, other] = await startPublicPeers(lab);
    const homes = lab.routers.map((r) => r.homes[0]!);
    const publics = [rendezvous, other].map((p) => `${p.host}:${NODE_PORT}`);
    const [a, b] = await Promise.all(
      homes.map((home, i) =>
        startLabNode(lab, home.ns, home.address, {
          bootstrap: publics,
          portMapping: 'off',
          // a BEP 42 id of its router's address: the other home node stores what it puts
          secureIdFor: lab.routers[i]!.wanAddress,
        }),
      ),
    );
    const bId = (await b!.proc.json((l) => l['event'] === 'listening'))['id'] as string;
    const talk = async (): Promise<void> => {
      for (const node of [a!, b!]) {
        for (const p of [rendezvous, other]) await node.request('ping', { host: p.host, port: NODE_PORT });
      }
    };
    await body({ lab, rendezvous, a: a!, b: b!, bId, talk });
  } finally {
    await lab.close();
  }
}

describe('hole punching behind real NATs (network namespaces)', { timeout: 4 * TEST_MS }, () => {
  it(
    'two home nodes behind two cone NATs exchange a ping and a get directly after a punch through a public rendezvous',
    { timeout: TEST_MS },
    async () => {
      await withPunchLab({}, async ({ lab, rendezvous, a, bId, talk }) => {
        await talk();
        const bWan = lab.routers[1]!.wanAddress;
        const via = { rendezvous: { host: rendezvous.host, port: NODE_PORT }, peer: bId };
        const pong = await a.request('ping', { host: bWan, port: NODE_PORT, ...via });
        assert.deepEqual({ host: pong['host'], port: pong['port'] }, { host: bWan, port: NODE_PORT });
        const { target } = await a.request('store', { host: bWan, port: NODE_PORT, text: 'punched', ...via });
        const fetched = await a.request('fetch', { host: bWan, port: NODE_PORT, target, ...via });
        assert.equal(fetched['text'], 'punched');
      });
    },
  );

  it('a punch between two full-cone NATs succeeds', { timeout: TEST_MS }, async () => {
    await withPunchLab({ fullCone: true }, async ({ lab, rendezvous, a, bId, talk }) => {
      await talk();
      const result = await a.request('punch', { rendezvous: { host: rendezvous.host, port: NODE_PORT }, peer: bId });
      assert.equal(result['ok'], true, JSON.stringify(result));
      assert.equal((result['contact'] as { host: string }).host, lab.routers[1]!.wanAddress);
    });
  });

  it(
    'behind two symmetric NATs (masquerade random) the attempt fails at once with reason symmetric, and a ping through the rendezvous with PUNCH_FAILED',
    { timeout: TEST_MS },
    async () => {
      await withPunchLab({ symmetric: true }, async ({ lab, rendezvous, a, bId, talk }) => {
        await talk();
        const via = { rendezvous: { host: rendezvous.host, port: NODE_PORT }, peer: bId };
        const result = await a.request('punch', via);
        assert.equal(result['ok'], false);
        assert.equal(result['reason'], 'symmetric', JSON.stringify(result));
        assert.equal(result['sent'], 0);
        assert.ok((result['durationMs'] as number) < 5000, JSON.stringify(result));
        await assert.rejects(
          a.request('ping', { host: lab.routers[1]!.wanAddress, port: NODE_PORT, ...via }),
          /hole punch failed \(symmetric\)/,
        );
      });
    },
  );
});
