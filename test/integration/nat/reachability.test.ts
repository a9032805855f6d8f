/**
 * Reachability and port mapping behind real NATs: each test builds its own namespace lab
 * (test/helpers/netns.ts: a public segment, a router with nftables masquerade and, where the
 * test needs it, Debian's miniupnpd), runs Nautilus nodes inside it as child processes
 * (nat-node-agent.ts) and deletes everything pass or fail. Every wait is bounded.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PortMappingProtocol } from '../../../src/kad/nat/port-mapper.js';
import type { ReachabilityReport } from '../../../src/kad/node/reachability.js';
import { createLab, type Lab, type LabOptions } from '../../helpers/netns.js';
import { NODE_PORT, startLabNode, startPublicPeers, type LabNode } from '../../helpers/nat-world.js';

/** The home node's detection window and upkeep tick (ms): short, so that a test need not wait 30 min. */
const FIREWALL_CHECK_MS = 2500;
const TICK_MS = 250;
/** Lease the home node asks for (ms): renewed every 2 s, so a test sees it renewed across its end. */
const LEASE_MS = 4000;
const TEST_MS = 50_000;

async function withLab(options: LabOptions, body: (lab: Lab) => Promise<void>): Promise<void> {
  const lab = await createLab(options);
  try {
    await body(lab);
  } finally {
    await lab.close();
  }
}

/** Public peers on .2 and .3, and the home node behind router 0 joined through both. */
async function homeBehindNat(lab: Lab, options: Record<string, unknown>): Promise<LabNode> {
  const [p1, p2] = await startPublicPeers(lab);
  const home = lab.routers[0]!.homes[0]!;
  return startLabNode(lab, home.ns, home.address, {
    bootstrap: [`${p1.host}:${NODE_PORT}`, `${p2.host}:${NODE_PORT}`],
    maintenance: { tickMs: TICK_MS, firewallCheckMs: FIREWALL_CHECK_MS },
    portMappingOptions: { lifetimeMs: LEASE_MS, timeoutMs: 3000, retryMs: 60_000 },
    ...options,
  });
}

/** Polls the node's report until `done` holds, within `timeoutMs`. */
async function reportUntil(
  node: LabNode,
  done: (report: ReachabilityReport) => boolean,
  timeoutMs: number,
): Promise<ReachabilityReport> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { report } = await node.reachability();
    if (done(report)) return report;
    if (Date.now() > deadline) assert.fail(`not reached within ${timeoutMs} ms: ${JSON.stringify(report)}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

describe('reachability behind a real NAT (network namespaces)', { timeout: 5 * TEST_MS }, () => {
  it(
    'without a mapping learns its external address, is firewalled within the detection window and runs read-only, so a public peer it queries does not add it',
    { timeout: TEST_MS },
    async () => {
      await withLab({ publicHosts: 3 }, async (lab) => {
        const router = lab.routers[0]!;
        const home = await homeBehindNat(lab, { portMapping: 'off' });
        await home.reached('firewalled', FIREWALL_CHECK_MS + 8000);
        const { report, readOnly } = await home.reachability();
        assert.equal(report.externalAddress?.host, router.wanAddress);
        assert.equal(report.behindNat, true);
        assert.equal(report.unsolicitedQueries, 0);
        assert.equal(report.mapping.state, 'off');
        assert.equal(readOnly, true);
        const third = await startLabNode(lab, lab.pub.ns, lab.pub.addresses[2]!, { secureIdFor: lab.pub.addresses[2] });
        await home.request('ping', { host: third.host, port: NODE_PORT });
        const { contacts } = (await third.request('contacts')) as unknown as { contacts: { host: string }[] };
        assert.deepEqual(
          contacts.filter((c) => c.host === router.wanAddress),
          [],
        );
      });
    },
  );

  for (const protocol of ['upnp', 'natpmp'] as const satisfies readonly PortMappingProtocol[]) {
    it(
      `with ${protocol} is mapped once verified from outside, a public peer stores an item on it, the lease is renewed past its end, and close deletes it`,
      { timeout: TEST_MS },
      async () => {
        const service = { upnp: protocol === 'upnp', natpmp: protocol === 'natpmp' };
        await withLab({ publicHosts: 3, routers: [{ portMapping: service }] }, async (lab) => {
          const router = lab.routers[0]!;
          const home = await homeBehindNat(lab, { portMapping: protocol });
          await home.reached('mapped', 20_000);
          const { report, readOnly } = await home.reachability();
          assert.equal(report.mapping.state, 'mapped');
          assert.ok(report.mapping.state === 'mapped' && report.mapping.protocol === protocol);
          assert.equal(report.verifiedBy, 'dial-back');
          assert.deepEqual(
            { host: report.externalAddress?.host, port: report.externalAddress?.port },
            { host: router.wanAddress, port: NODE_PORT },
          );
          assert.equal(readOnly, false);
          const granted = Date.now();
          // a stranger the home never sent to reaches it through the mapping and stores on it
          const stranger = await startLabNode(lab, lab.pub.ns, lab.pub.addresses[2]!, {
            secureIdFor: lab.pub.addresses[2],
          });
          const { target } = await stranger.request('store', {
            host: router.wanAddress,
            port: NODE_PORT,
            text: 'stored through the mapping',
          });
          const fetched = await stranger.request('fetch', { host: router.wanAddress, port: NODE_PORT, target });
          assert.equal(fetched['text'], 'stored through the mapping');
          // renewed at half the lease: after twice the lease the router still holds it
          const renewed = await reportUntil(
            home,
            (r) => r.mapping.state === 'mapped' && r.mapping.renewals >= 3,
            4 * LEASE_MS,
          );
          assert.equal(renewed.reachability, 'mapped');
          assert.ok(Date.now() - granted > LEASE_MS);
          assert.match(await router.ruleset(), new RegExp(`dport ${NODE_PORT}\\b`));
          await home.close();
          assert.doesNotMatch(await router.ruleset(), new RegExp(`dport ${NODE_PORT}\\b`));
        });
      },
    );
  }

  it(
    'goes back to firewalled, without a crash or a hang, when the mapping service dies',
    { timeout: TEST_MS },
    async () => {
      await withLab({ routers: [{ portMapping: { natpmp: true, upnp: true } }] }, async (lab) => {
        const router = lab.routers[0]!;
        const home = await homeBehindNat(lab, { portMapping: 'auto' });
        await home.reached('mapped', 20_000);
        await router.stopMiniupnpd();
        await router.flushMappings();
        // the next renewal (at half the lease) fails within its deadline
        await home.reached('firewalled', LEASE_MS / 2 + 3000 * 2 + 2000);
        const { report, readOnly } = await home.reachability();
        assert.equal(report.mapping.state, 'failed');
        assert.ok(report.mapping.state === 'failed' && report.mapping.reason === 'LOST');
        assert.equal(readOnly, true);
        const started = Date.now();
        await home.close();
        assert.ok(Date.now() - started < 10_000, 'close does not wait on the dead router beyond its deadline');
        const exit = await home.proc.exited;
        assert.equal(exit.code, 0);
      });
    },
  );
});
