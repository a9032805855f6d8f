import { fileURLToPath } from 'node:url';
import type { Reachability, ReachabilityReport } from '../../src/kad/node/reachability.js';
import type { Lab } from './netns.js';
import type { JsonLine, NsProcess } from './netns-process.js';

const AGENT = fileURLToPath(new URL('./nat-node-agent.js', import.meta.url));

/** The port every lab node binds (each has its own address, so one port serves them all). */
export const NODE_PORT = 6881;

/** A Nautilus node running in a lab namespace (nat-node-agent.ts). */
export interface LabNode {
  readonly proc: NsProcess;
  readonly host: string;
  readonly port: number;
  request(cmd: string, args?: Record<string, unknown>, timeoutMs?: number): Promise<JsonLine>;
  reachability(): Promise<{ report: ReachabilityReport; readOnly: boolean }>;
  /** Resolves once a `reachability:changed` to `to` was printed (now or later), within `timeoutMs`. */
  reached(to: Reachability, timeoutMs: number): Promise<void>;
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
  await proc.json((l) => l['event'] === 'listening');
  return {
    proc,
    host,
    port: config.port,
    request: (cmd, args, timeoutMs) => proc.request(cmd, args, timeoutMs),
    async reachability() {
      const reply = await proc.request('reachability');
      return { report: reply['report'] as ReachabilityReport, readOnly: reply['readOnly'] === true };
    },
    async reached(to, timeoutMs) {
      await proc.json((l) => l['event'] === 'reachability' && l['reachability'] === to, timeoutMs);
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
