import { type Command, integerFlag, positionals, stringFlag } from '../command.js';

/** The default API address of the testnet's entry node. */
export const TESTNET_HTTP = '127.0.0.1:7401';

/** `nautilus testnet`: a local network on loopback, with the API and dashboard of its first node. */
export const testnetCommand: Command = {
  name: 'testnet',
  summary: 'Start a local DHT network on loopback UDP, with a dashboard, and show put/get and announce',
  options: {
    nodes: { type: 'string' },
    host: { type: 'string' },
    'duration-ms': { type: 'string' },
    'interval-ms': { type: 'string' },
    http: { type: 'string' },
    token: { type: 'string' },
    json: { type: 'boolean' },
  },
  help: `Usage: nautilus testnet [options]

Starts N Mainline DHT nodes on loopback UDP with in-memory storage (a progress bar on a
terminal), serves the HTTP API and dashboard of the first node, shows a BEP 44 put/get and a
BEP 5 announce/get_peers across nodes, then keeps running and prints counters.

Options:
  --nodes N                Number of nodes, 2-500 (default 16)
  --host ADDRESS           Loopback address to bind: 127.0.0.1 or ::1 (default 127.0.0.1)
  --duration-ms MS         Stop after MS milliseconds; 0 stops right after the demo
                           (default: run until Ctrl-C)
  --interval-ms MS         Print network counters every MS milliseconds (default 10000)
  --http HOST:PORT         API and dashboard of the first node, on loopback; none for no API
                           (default ${TESTNET_HTTP}, or a free port when that one is taken)
  --token TOKEN            Bearer token of that API (default: a random one, printed)
  --json                   JSON lines (started, demo, stats, stopped) instead of text

Examples:
  nautilus testnet
  nautilus testnet --nodes 50 --interval-ms 2000
  nautilus testnet --nodes 8 --duration-ms 0 --json | jq .
`,
  async run(args, io) {
    positionals(args);
    const nodes = integerFlag(args, 'nodes', 16, 2, 500);
    const durationMs = integerFlag(args, 'duration-ms', Number.POSITIVE_INFINITY, 0);
    const intervalMs = integerFlag(args, 'interval-ms', 10_000, 100);
    const http = stringFlag(args, 'http') ?? TESTNET_HTTP;
    const token = stringFlag(args, 'token');
    const json = args.values['json'] === true;
    // loaded here: the network, the server and its framework are for this command only
    const { runTestnet } = await import('../testnet.js');
    return runTestnet({
      nodes,
      host: stringFlag(args, 'host') ?? '127.0.0.1',
      durationMs,
      intervalMs,
      http: http === 'none' ? null : http,
      httpFallback: stringFlag(args, 'http') === undefined,
      json,
      print: (line) => io.out(`${line}\n`),
      ...(token === undefined ? {} : { token }),
      ...(io.signal === undefined ? {} : { signal: io.signal }),
      ...(io.errIsTty === true ? { progress: (done: number, total: number) => io.err(progressBar(done, total)) } : {}),
    });
  },
};

/** One frame of the start-up progress bar (redrawn in place with a carriage return). */
export function progressBar(done: number, total: number, width = 30): string {
  const filled = Math.round((done / total) * width);
  const bar = `${'#'.repeat(filled)}${'-'.repeat(width - filled)}`;
  return `\rstarting nodes [${bar}] ${done}/${total}${done === total ? '\n' : ''}`;
}
