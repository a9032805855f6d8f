import { CLIENT_HELP, CLIENT_OPTIONS, connect } from '../client.js';
import { type Command, positionals, printJson, UsageError } from '../command.js';

/** `nautilus ping`: a KRPC ping from the daemon's node. */
export const pingCommand: Command = {
  name: 'ping',
  summary: 'Ping a DHT node from the daemon (KRPC ping)',
  options: CLIENT_OPTIONS,
  help: `Usage: nautilus ping <host:port>

Sends a KRPC ping to <host:port> (IPv6 as [::1]:6881) and prints its id and the round trip.

${CLIENT_HELP}
Examples:
  nautilus ping 127.0.0.1:6881
`,
  async run(args, io) {
    const [address] = positionals(args, '<host:port>') as [string];
    if (!/^(\[[^\]]+\]|[^:[\]\s]+):\d{1,5}$/.test(address))
      throw new UsageError(`<host:port> must be host:port (got ${JSON.stringify(address)})`);
    const client = await connect(args, io);
    const answer = await client.request<{ id: string; address: string; rttMs: number }>('POST', '/api/ping', {
      address,
    });
    if (args.values['json'] === true) printJson(io, answer);
    else io.out(`${answer.address} is ${answer.id} (${answer.rttMs} ms)\n`);
    return 0;
  },
};
