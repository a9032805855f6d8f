import { fileURLToPath } from 'node:url';
import { bucketIndex } from '../../src/kad/id.js';
import type { Reachability, ReachabilityReport } from '../../src/kad/node/reachability.js';
import { secureId } from '../../src/kad/routing/secure-id.js';
import type { Lab } from './netns.js';
import type { JsonLine, NsProcess } from './netns-process.js';

const AGENT = fileURLToPath(new URL('./nat-node-agent.js', import.meta.url));

/** The port every lab node binds (each has its own address, so one port serves them all). */
export const NODE_PORT = 6881;

/** A Nautilus node running in a lab namespace (nat-node-agent.ts). */
export interface LabNode {
  readonly proc: NsProcess;
  /** Its node id, hex. */
  readonly id: string;
  readonly host: string;
  readonly port: number;
  request(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<JsonLine>;
  reachability(): Promise<{ report: ReachabilityReport; readOnly: boolean }>;
  /**
   * Resolves once a `reachability:changed` to `to` (from `from`, if given) was printed (now or
   * later), within `timeoutMs`.
   */
  reached(to: Reachability, timeoutMs: number, from?: Reachability): Promise<void>;
  /** Closes the node (deleting its mapping) and waits for the process to end. */
  close(): Promise<void>;
}

/** Starts a node in `ns` on `host:NODE_PORT` (or `options.port`) with `options` (plain KadNodeOptions fields). */
export async function startLabNode(
  lab: Lab,
  ns: string,
  host: string,
  options: Record<string, unknown> = {},
): Promise<LabNode> {
  const config = { host, port: NODE_PORT, ...options };
  const proc = lab.spawn(ns, [process.execPath, AGENT, JSON.stringify(config)], { timeoutMs: 90_000 });
  const listening = await proc.json((l) => l['event'] === 'listening');
  return {
    proc,
    id: String(listening['id']),
    host,
    port: config.port,
    request: (cmd, args, timeoutMs) => proc.request(cmd, args, timeoutMs),
    async reachability() {
      const reply = await proc.request('reachability');
      return { report: reply['report'] as ReachabilityReport, readOnly: reply['readOnly'] === true };
    },
    async reached(to, timeoutMs, from) {
      await proc.json(
        (l) =>
          l['event'] === 'reachability' && l['reachability'] === to && (from === undefined || l['previous'] === from),
        timeoutMs,
      );
    },
    async close() {
      await proc.request('close', {}, 15_000).catch(() => undefined);
      await Promise.race([proc.exited, new Promise((resolve) => setTimeout(resolve, 5000).unref())]);
      await proc.kill();
    },
  };
}

/** Two public peers on the lab's first two public addresses, the second joined through the first. */
export async function startPublicPeers(lab: Lab): Promise<[LabNode, LabNode]> {
  const [a, b] = lab.pub.addresses;
  const first = await startLabNode(lab, lab.pub.ns, a ?? '', { secureIdFor: a, bootstrap: [] });
  const second = await startLabNode(lab, lab.pub.ns, b ?? '', {
    secureIdFor: b,
    bootstrap: [`${a ?? ''}:${NODE_PORT}`],
  });
  return [first, second];
}

/** Resolves once `node`'s tables hold at least `count` contacts; rejects after `timeoutMs`. */
export async function waitForContacts(node: LabNode, count: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { contacts } = (await node.request('contacts')) as unknown as { contacts: unknown[] };
    if (contacts.length >= count) return;
    if (Date.now() > deadline) throw new Error(`${node.host} did not learn ${count} contacts within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/**
 * A public peer at `address` that only pings `via` (joining nothing), so that they hold it in
 * their tables while a node that joined before it never heard of it: a third node that node
 * has never sent to, for the reachability dial-back. Every lab public address is in one /24, and
 * a routing table keeps at most 2 contacts of a /24 per bucket (`maxPerSubnet`): the peer takes
 * a BEP 42 id that falls, in each table of `via`, in a bucket holding fewer than 2.
 */
export async function startThirdPeer(lab: Lab, address: string, via: readonly LabNode[]): Promise<LabNode> {
  const held = await Promise.all(
    via.map(async (peer) => {
      const { contacts } = (await peer.request('contacts')) as unknown as { contacts: { id: string }[] };
      return { self: hexId(peer.id), ids: contacts.map((c) => hexId(c.id)) };
    }),
  );
  const roomy = (id: Uint8Array): boolean =>
    held.every(({ self, ids }) => ids.filter((c) => bucketIndex(self, c) === bucketIndex(self, id)).length < 2);
  let id = secureId(address);
  for (let tries = 0; !roomy(id); tries++) {
    if (tries > 1000) throw new Error('no id with room in the tables of the peers');
    id = secureId(address);
  }
  const third = await startLabNode(lab, lab.pub.ns, address, { idHex: Buffer.from(id).toString('hex'), bootstrap: [] });
  for (const peer of via) await third.request('ping', { host: peer.host, port: peer.port });
  return third;
}

const hexId = (hex: string): Uint8Array => Uint8Array.from(Buffer.from(hex, 'hex'));
