import { CLIENT_HELP, CLIENT_OPTIONS, connect } from '../client.js';
import { type Command, positionals, printJson } from '../command.js';

interface StatsAnswer {
  id: string;
  ready: boolean;
  addresses: string[];
  externalAddress: string | null;
  daemon: { storage: string; readOnly: boolean };
  contacts: number;
  published: number;
  rpc: {
    queriesSent: number;
    responsesSent: number;
    errorsSent: number;
    received: number;
    timeouts: number;
    dropped: Record<string, number>;
  };
  transport: { datagramsSent: number; datagramsReceived: number };
  reachability?: {
    state: string;
    mapping: { state: string; protocol?: string; externalPort?: number; reason?: string };
  };
}

/** `mapped (upnp :6881)`, `firewalled (mapping failed: TIMEOUT)`, `public`… */
function reachabilityText(r: NonNullable<StatsAnswer['reachability']>): string {
  const m = r.mapping;
  if (m.state === 'mapped') return `${r.state} (${m.protocol ?? '?'} :${m.externalPort ?? '?'})`;
  if (m.state === 'failed') return `${r.state} (mapping failed: ${m.reason ?? '?'})`;
  return r.state;
}

/** `nautilus stats`: the daemon node's counters. */
export const statsCommand: Command = {
  name: 'stats',
  summary: "Show the daemon node's id, addresses and counters",
  options: CLIENT_OPTIONS,
  help: `Usage: nautilus stats

${CLIENT_HELP}
Examples:
  nautilus stats
  nautilus stats --json | jq .rpc.queriesIn
`,
  async run(args, io) {
    positionals(args);
    const client = await connect(args, io);
    const s = await client.request<StatsAnswer>('GET', '/api/stats');
    if (args.values['json'] === true) {
      printJson(io, s);
      return 0;
    }
    const dropped = Object.entries(s.rpc.dropped)
      .map(([k, v]) => `${k} ${v}`)
      .join(', ');
    io.out(
      [
        `id          ${s.id}${s.ready ? '' : ' (joining)'}`,
        `addresses   ${s.addresses.join(', ')}${s.externalAddress === null ? '' : ` (seen as ${s.externalAddress})`}`,
        `storage     ${s.daemon.storage}${s.daemon.readOnly ? ', read-only' : ''}`,
        ...(s.reachability === undefined ? [] : [`reachable   ${reachabilityText(s.reachability)}`]),
        `contacts    ${s.contacts}`,
        `published   ${s.published}`,
        `queries     ${s.rpc.queriesSent} sent, ${s.rpc.timeouts} timed out; ${s.rpc.responsesSent + s.rpc.errorsSent} answered`,
        `datagrams   ${s.transport.datagramsSent} sent, ${s.transport.datagramsReceived} received; dropped ${dropped}`,
        '',
      ].join('\n'),
    );
    return 0;
  },
};
