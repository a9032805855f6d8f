/**
 * NAT traversal behind real NATs (network namespaces built as the NAT tests build them, see
 * test/helpers/netns.ts; needs root, nftables and miniupnpd):
 *
 * - time from start to `mapped` (verified from outside by a contact's dial-back), for UPnP-IGD
 *   and NAT-PMP: a Nautilus node created behind the router, joining through two public peers,
 *   against the anchor: one bare `@silentbot1/nat-api` map (the router round trip alone, nothing
 *   verified), rounds alternating in the same lab;
 * - hole punching: success rate and time per NAT kind (bench/hole-punch-rows.ts).
 *
 * Run: npm run bench -- kad-nat (KAD_NAT_ROUNDS: rounds per protocol, default 7)
 */
import { fileURLToPath } from 'node:url';
import type { PortMappingProtocol } from '../src/kad/nat/port-mapper.js';
import { createLab, type Lab } from '../test/helpers/netns.js';
import { NODE_PORT, startLabNode, startPublicPeers } from '../test/helpers/nat-world.js';
import { median, type Row } from './harness.js';
import { holePunchRows } from './hole-punch-rows.js';

const ROUNDS = Number(process.env['KAD_NAT_ROUNDS'] ?? 7);
const ANCHOR = fileURLToPath(new URL('./helpers/nat-api-map.js', import.meta.url));

/** One Nautilus round: ms from the agent's start to `mapped`. */
async function nautilusRound(
  lab: Lab,
  protocol: PortMappingProtocol,
  bootstrap: string[],
  port: number,
): Promise<number> {
  const home = lab.routers[0]!.homes[0]!;
  // a port per round: the verifiers probe one IP and port at most once per 10 s
  const node = await startLabNode(lab, home.ns, home.address, {
    port,
    bootstrap,
    portMapping: protocol,
    portMappingOptions: { lifetimeMs: 600_000, timeoutMs: 3000 },
  });
  try {
    const line = await node.proc.json((l) => l['event'] === 'reachability' && l['reachability'] === 'mapped', 30_000);
    return Number(line['elapsedMs']);
  } finally {
    await node.close();
  }
}

/** One anchor round: ms of a bare nat-api map of the same port (deleted after). */
async function anchorRound(lab: Lab, protocol: PortMappingProtocol, port: number): Promise<number> {
  const home = lab.routers[0]!.homes[0]!;
  const proc = lab.spawn(home.ns, [process.execPath, ANCHOR, protocol, String(port)], { timeoutMs: 30_000 });
  const line = await proc.json((l) => l['event'] === 'mapped' || l['event'] === 'failed', 30_000);
  await proc.exited;
  if (line['event'] !== 'mapped') throw new Error(`nat-api could not map over ${protocol}`);
  return Number(line['ms']);
}

async function timeToMapped(protocol: PortMappingProtocol): Promise<Row> {
  const lab = await createLab({
    routers: [{ portMapping: { upnp: protocol === 'upnp', natpmp: protocol === 'natpmp' } }],
  });
  try {
    const [p1, p2] = await startPublicPeers(lab);
    const bootstrap = [`${p1.host}:${NODE_PORT}`, `${p2.host}:${NODE_PORT}`];
    const anchor: number[] = [];
    const nautilus: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      const port = NODE_PORT + 1 + r;
      anchor.push(await anchorRound(lab, protocol, port));
      nautilus.push(await nautilusRound(lab, protocol, bootstrap, port));
    }
    return {
      what: `start to mapped (verified), ${protocol === 'upnp' ? 'UPnP-IGD' : 'NAT-PMP'}, median of ${ROUNDS}`,
      anchorName: 'bare nat-api map (unverified)',
      anchor: median(anchor),
      nautilus: median(nautilus),
      unit: 'ms',
    };
  } finally {
    await lab.close();
  }
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
