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
import {
  NODE_PORT,
  startLabNode,
  startPublicPeers,
  startThirdPeer,
  waitForContacts,
  type LabNode,
} from '../../helpers/nat-world.js';

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

/**
 * Public peers on .2 and .3, and the home node behind router 0 joined through both; with
 * `third`, once the home knows both, a third public peer there pings them (and only them): a
 * node in their tables the home never sent to, which the dial-back needs (a probe from a host the
 * home has sent to may be a reply its NAT lets in, and proves nothing).
 */
async function homeBehindNat(lab: Lab, options: Record<string, unknown>, third?: string): Promise<LabNode> {
  const peers = await startPublicPeers(lab);
  const [p1, p2] = peers;
  const home = lab.routers[0]!.homes[0]!;
  const node = await startLabNode(lab, home.ns, home.address, {
    bootstrap: [`${p1.host}:${NODE_PORT}`, `${p2.host}:${NODE_PORT}`],
    maintenance: { tickMs: TICK_MS, firewallCheckMs: FIREWALL_CHECK_MS },
    portMappingOptions: { lifetimeMs: LEASE_MS, timeoutMs: 3000, retryMs: 60_000 },
    ...options,
  });
  if (third === undefined) return node;
  await waitForContacts(node, 2, 10_000);
  await startThirdPeer(lab, third, peers);
  return node;
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

describe('reachability behind a real NAT (network namespaces)', { timeout: 7 * TEST_MS }, () => {
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

  it(
    "with 'auto' and no mapping service on the router reports a failed mapping within its deadline, and is firewalled",
    { timeout: TEST_MS },
    async () => {
      await withLab({}, async (lab) => {
        const started = Date.now();
        const home = await homeBehindNat(lab, { portMapping: 'auto' });
        // NAT-PMP then UPnP, each bounded by timeoutMs (3 s here)
        const failed = await reportUntil(home, (r) => r.mapping.state === 'failed', 2 * 3000 + 2000);
        assert.ok(failed.mapping.state === 'failed');
        assert.ok(['PORT_MAPPING_FAILED', 'TIMEOUT'].includes(failed.mapping.reason), failed.mapping.reason);
        assert.ok(Date.now() - started < 2 * 3000 + 5000);
        await home.reached('firewalled', FIREWALL_CHECK_MS + 8000);
        assert.equal((await home.reachability()).readOnly, true);
      });
    },
  );

  for (const protocol of ['upnp', 'natpmp'] as const satisfies readonly PortMappingProtocol[]) {
    it(
      `with ${protocol} is mapped once a third node verifies it from outside, a public peer stores an item on it, the lease is renewed past its end, and close deletes it`,
      { timeout: TEST_MS },
      async () => {
        const service = { upnp: protocol === 'upnp', natpmp: protocol === 'natpmp' };
        await withLab({ publicHosts: 4, routers: [{ portMapping: service }] }, async (lab) => {
          const router = lab.routers[0]!;
          const home = await homeBehindNat(lab, { portMapping: protocol }, lab.pub.addresses[2]);
          // a round before the third peer joined sees only probes from the two peers the home
          // talked to; the contacts relay the home's requests again 10 s after the last time
          await home.reached('mapped', 25_000);
          const { report, readOnly } = await home.reachability();
          assert.equal(report.mapping.state, 'mapped');
          assert.ok(report.mapping.state === 'mapped' && report.mapping.protocol === protocol);
          assert.equal(report.verifiedBy, 'dial-back');
          assert.equal(report.dialBack.last, 'verified');
          assert.deepEqual(
            { host: report.externalAddress?.host, port: report.externalAddress?.port },
            { host: router.wanAddress, port: NODE_PORT },
          );
          assert.equal(readOnly, false);
          const verifiedAt = Date.now();
          const renewalsThen = report.mapping.state === 'mapped' ? report.mapping.renewals : 0;
          // a stranger the home never sent to reaches it through the mapping and stores on it
          const stranger = await startLabNode(lab, lab.pub.ns, lab.pub.addresses[3]!, {
            secureIdFor: lab.pub.addresses[3],
          });
          const { target } = await stranger.request('store', {
            host: router.wanAddress,
            port: NODE_PORT,
            text: 'stored through the mapping',
          });
          const fetched = await stranger.request('fetch', { host: router.wanAddress, port: NODE_PORT, target });
          assert.equal(fetched['text'], 'stored through the mapping');
          // renewed at half the lease: three renewals on, past the end of the lease, the router still holds it
          const renewed = await reportUntil(
            home,
            (r) => r.mapping.state === 'mapped' && r.mapping.renewals >= renewalsThen + 3,
            4 * LEASE_MS,
          );
          assert.equal(renewed.reachability, 'mapped');
          assert.ok(Date.now() - verifiedAt > LEASE_MS);
          assert.match(await router.ruleset(), new RegExp(`dport ${NODE_PORT}\\b`));
          await home.close();
          assert.doesNotMatch(await router.ruleset(), new RegExp(`dport ${NODE_PORT}\\b`));
        });
      },
    );
  }

  it(
    "believing in a mapping the router does not hold, is not verified: the probes the NAT lets in come from peers it sent to and are ignored, the stranger's is dropped",
    { timeout: TEST_MS },
    async () => {
      await withLab({ publicHosts: 3 }, async (lab) => {
        // a port-restricted NAT (masquerade keeps the source port): a probe from a peer the home
        // sent to gets in as a reply, which is what a single-hop dial-back used to count
        const home = await homeBehindNat(lab, { portMapping: 'upnp', pretendMapping: true }, lab.pub.addresses[2]);
        await home.reached('firewalled', FIREWALL_CHECK_MS + 8000);
        const report = await reportUntil(
          home,
          (r) => r.dialBack.last !== undefined && r.dialBack.ignoredProbes > 0,
          // rounds at each renewal (2 s); contacts relay one every 10 s
          15_000,
        );
        assert.equal(report.mapping.state, 'mapped', 'the pretend mapper granted it');
        assert.equal(report.dialBack.last, 'no-probe');
        assert.equal(report.verifiedBy, undefined);
        assert.equal(report.reachability, 'firewalled');
        assert.equal(report.unsolicitedQueries, 0);
        assert.equal((await home.reachability()).readOnly, true);
      });
    },
  );

  it(
    'goes back to firewalled, without a crash or a hang, when the mapping service dies',
    { timeout: TEST_MS },
    async () => {
      await withLab({ publicHosts: 3, routers: [{ portMapping: { natpmp: true, upnp: true } }] }, async (lab) => {
        const router = lab.routers[0]!;
        const home = await homeBehindNat(lab, { portMapping: 'auto' }, lab.pub.addresses[2]);
        await home.reached('mapped', 25_000);
        await router.stopMiniupnpd();
        await router.flushMappings();
        // the next renewal (at half the lease) fails within its deadline
        await home.reached('firewalled', LEASE_MS / 2 + 3000 * 2 + 2000, 'mapped');
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
