import { performance } from 'node:perf_hooks';
import { createInterface } from 'node:readline';
import { createNode } from '../../src/kad/node/node.js';
import type { KadNode } from '../../src/kad/node/node.js';
import type { KadNodeOptions } from '../../src/kad/node/options.js';
import { immutableTarget } from '../../src/kad/items.js';
import type { PortMapper } from '../../src/kad/nat/port-mapper.js';
import { secureId } from '../../src/kad/routing/secure-id.js';

/**
 * A Nautilus node in a lab namespace, driven over stdin/stdout (JSON lines) by a NAT test:
 * `node nat-node-agent.js '<json options>'`. The options are `KadNodeOptions`' plain fields
 * (`host`, `port`, `bootstrap`, `portMapping`, `portMappingOptions`, `maintenance`, `readOnly`),
 * and `secureIdFor`: take the BEP 42 id of that IP; `idHex`: take this id; `pretendMapping`: a port mapper that grants
 * every request without asking the router (a node that believes it holds a mapping it has not).
 * Prints `{"event":"listening",…}` once bound and `{"event":"reachability",…}` on every change
 * (with `elapsedMs` since the agent began creating the node);
 * answers the commands of {@link handle}.
 */

const print = (line: Record<string, unknown>): void => {
  process.stdout.write(`${JSON.stringify(line)}\n`);
};
const hex = (bytes: Uint8Array): string => Buffer.from(bytes).toString('hex');

interface Command {
  readonly id: number;
  readonly cmd: string;
  readonly host?: string;
  readonly port?: number;
  readonly text?: string;
  readonly target?: string;
  readonly timeoutMs?: number;
  /** Hole punching: the rendezvous to go through (`punch`; `ping`, `store`, `fetch` through it). */
  readonly rendezvous?: { readonly host: string; readonly port: number };
  /** Hole punching: the target's node id, hex. */
  readonly peer?: string;
  /** `punch`: its `deadlineMs` and `attempts`. */
  readonly deadlineMs?: number;
  readonly attempts?: number;
}

async function handle(node: KadNode, c: Command): Promise<Record<string, unknown>> {
  const signal = AbortSignal.timeout(c.timeoutMs ?? 10_000);
  const peer = c.peer === undefined ? {} : { id: Uint8Array.from(Buffer.from(c.peer, 'hex')) };
  const to = { host: c.host ?? '', port: c.port ?? 0, ...peer };
  const call = c.rendezvous === undefined ? { signal } : { signal, rendezvous: c.rendezvous };
  switch (c.cmd) {
    case 'punch': {
      const options = {
        signal,
        ...(c.deadlineMs === undefined ? {} : { deadlineMs: c.deadlineMs }),
        ...(c.attempts === undefined ? {} : { attempts: c.attempts }),
      };
      const result = await node.punch({ rendezvous: c.rendezvous ?? to, ...peer }, options);
      return result.ok ? { ...result, contact: { ...result.contact, id: hex(result.contact.id) } } : { ...result };
    }
    case 'reachability':
      return { report: node.reachability(), readOnly: node.stats().maintenance.readOnly };
    case 'contacts':
      return { contacts: node.contacts().map((x) => ({ host: x.host, port: x.port, id: hex(x.id) })) };
    case 'ping': {
      const contact = await node.ping(to, call);
      return { host: contact.host, port: contact.port };
    }
    case 'store': {
      // a direct store on one node: `get` for its token, then `put` of the immutable { v: text }
      const v = Buffer.from(c.text ?? '');
      const target = immutableTarget(v);
      const { token } = await node.getItem(to, target, call);
      if (token === undefined) throw new Error('no token in the get response');
      await node.putItem(to, { v }, token, call);
      return { target: hex(target) };
    }
    case 'fetch': {
      const result = await node.getItem(to, Buffer.from(c.target ?? '', 'hex'), call);
      const v = result.item?.v;
      return { text: v instanceof Uint8Array ? Buffer.from(v).toString('utf8') : null };
    }
    case 'close':
      await node.close();
      return { closed: true };
    default:
      throw new Error(`unknown command ${c.cmd}`);
  }
}

/** A router client that grants every request and touches no router. */
function pretendMapper(): PortMapper {
  return {
    protocol: 'upnp',
    map: (request) => Promise.resolve({ externalPort: request.externalPort, lifetimeMs: request.lifetimeMs }),
    unmap: () => Promise.resolve(),
    close: () => Promise.resolve(),
  };
}

async function main(argv: readonly string[]): Promise<void> {
  const startedAt = performance.now();
  const { secureIdFor, idHex, pretendMapping, ...parsed } = JSON.parse(argv[0] ?? '{}') as KadNodeOptions & {
    secureIdFor?: string;
    idHex?: string;
    pretendMapping?: boolean;
  };
  const options: KadNodeOptions = pretendMapping === true ? { ...parsed, portMapper: pretendMapper } : parsed;
  // a public peer takes a BEP 42 id of its address, so that the nodes it stores on accept it
  const id =
    idHex !== undefined
      ? Uint8Array.from(Buffer.from(idHex, 'hex'))
      : secureIdFor === undefined
        ? undefined
        : secureId(secureIdFor);
  const node = await createNode(id === undefined ? options : { ...options, id });
  node.on('reachability:changed', (event) => {
    const elapsedMs = performance.now() - startedAt;
    print({ event: 'reachability', reachability: event.report.reachability, previous: event.previous, elapsedMs });
  });
  print({ event: 'listening', address: node.address(), id: hex(node.id) });
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    const command = JSON.parse(line) as Command;
    handle(node, command).then(
      (reply) => {
        print({ ...reply, id: command.id });
        if (command.cmd === 'close') process.exit(0);
      },
      (error: unknown) => print({ id: command.id, error: error instanceof Error ? error.message : String(error) }),
    );
  });
  // the test ends the agent with `close` or a kill; a closed stdin (the test gone) ends it too
  lines.on('close', () => {
    void node.close().then(() => process.exit(0));
  });
}

if (import.meta.url === `file://${process.argv[1] ?? ''}`) {
  main(process.argv.slice(2)).catch((error: unknown) => {
    console.error(error);
    process.exit(1);
  });
}
