/**
 * NAT traversal behind real NATs (network namespaces built as the NAT tests build them, see
 * test/helpers/netns.ts; needs root, nftables and miniupnpd):
 *
 * - time from start to `mapped` (verified from outside: a contact has a third node probe the
 *   mapped port), for UPnP-IGD and NAT-PMP: a Nautilus node created behind the router, joining
 *   through two public peers, a third joining them after it, against the anchor: one bare
 *   `@silentbot1/nat-api` map (the router round trip alone, nothing verified); each round in a
 *   lab of its own, the anchor first;
 * - hole punching: success rate and time per NAT kind (bench/hole-punch-rows.ts).
 *
 * Run: npm run bench -- kad-nat (KAD_NAT_ROUNDS: rounds per protocol, default 7)
 */
import { fileURLToPath } from 'node:url';
import type { PortMappingProtocol } from '../src/kad/nat/port-mapper.js';
import { createLab, type Lab } from '../test/helpers/netns.js';
import {
  NODE_PORT,
  startLabNode,
  startPublicPeers,
  startThirdPeer,
  waitForContacts,
} from '../test/helpers/nat-world.js';
import { median, type Row } from './harness.js';
import { holePunchRows } from './hole-punch-rows.js';

const ROUNDS = Number(process.env['KAD_NAT_ROUNDS'] ?? 7);
const ANCHOR = fileURLToPath(new URL('./helpers/nat-api-map.js', import.meta.url));

/**
 * One round in a lab of its own (router, two public peers, a third public host): ms from the
 * Nautilus agent's start to `mapped`, and before it, in the same lab, the anchor's bare map.
 * Once the node knows both peers, a third peer pings them (and only them): the stranger whose
 * probe the dial-back counts (see test/helpers/nat-world.ts, `startThirdPeer`).
 */
async function round(protocol: PortMappingProtocol): Promise<{ anchor: number; nautilus: number }> {
  const lab = await createLab({
    routers: [{ portMapping: { upnp: protocol === 'upnp', natpmp: protocol === 'natpmp' } }],
    publicHosts: 3,
  });
  try {
    const home = lab.routers[0]!.homes[0]!;
    const peers = await startPublicPeers(lab);
    const anchor = await anchorRound(lab, protocol, NODE_PORT + 1);
    const node = await startLabNode(lab, home.ns, home.address, {
      port: NODE_PORT,
      bootstrap: peers.map((p) => `${p.host}:${NODE_PORT}`),
      portMapping: protocol,
      portMappingOptions: { lifetimeMs: 600_000, timeoutMs: 3000 },
    });
    try {
      await waitForContacts(node, 2, 10_000);
      await startThirdPeer(lab, lab.pub.addresses[2] ?? '', peers);
      const line = await node.proc.json((l) => l['event'] === 'reachability' && l['reachability'] === 'mapped', 60_000);
      return { anchor, nautilus: Number(line['elapsedMs']) };
    } finally {
      await node.close();
    }
  } finally {
    await lab.close();
  }
}

/** One anchor round: ms of a bare nat-api map of `port` (deleted after). */
async function anchorRound(lab: Lab, protocol: PortMappingProtocol, port: number): Promise<number> {
  const home = lab.routers[0]!.homes[0]!;
  const proc = lab.spawn(home.ns, [process.execPath, ANCHOR, protocol, String(port)], { timeoutMs: 30_000 });
  const line = await proc.json((l) => l['event'] === 'mapped' || l['event'] === 'failed', 30_000);
  await proc.exited;
  if (line['event'] !== 'mapped') throw new Error(`nat-api could not map over ${protocol}`);
  return Number(line['ms']);
}

async function timeToMapped(protocol: PortMappingProtocol): Promise<Row> {
  const anchor: number[] = [];
  const nautilus: number[] = [];
  for (let r = 0; r < ROUNDS; r++) {
    const figures = await round(protocol);
    anchor.push(figures.anchor);
    nautilus.push(figures.nautilus);
  }
  return {
    what: `start to mapped (verified by a third node), ${protocol === 'upnp' ? 'UPnP-IGD' : 'NAT-PMP'}, median of ${ROUNDS}`,
    anchorName: 'bare nat-api map (unverified)',
    anchor: median(anchor),
    nautilus: median(nautilus),
    unit: 'ms',
  };
}

/**
 * Hole punching (cone, port-restricted, symmetric NAT: success rate and time over 50 attempts per
 * kind) adds its row builders here; each builds its own lab.
 */
export const HOLE_PUNCH_ROWS: (() => Promise<Row[]>)[] = [holePunchRows];

export async function benchKadNat(): Promise<Row[]> {
  const rows: Row[] = [];
  for (const protocol of ['upnp', 'natpmp'] as const) rows.push(await timeToMapped(protocol));
  for (const build of HOLE_PUNCH_ROWS) rows.push(...(await build()));
  return rows;
}
