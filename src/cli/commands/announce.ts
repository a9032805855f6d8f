import { CLIENT_HELP, CLIENT_OPTIONS, connect } from '../client.js';
import { type Command, hexArg, integerFlag, positionals, printJson } from '../command.js';

/** `nautilus announce`: announces the daemon's node as a peer of an info-hash (BEP 5). */
export const announceCommand: Command = {
  name: 'announce',
  summary: 'Announce a peer for an info-hash (BEP 5 announce_peer)',
  options: { ...CLIENT_OPTIONS, port: { type: 'string' } },
  help: `Usage: nautilus announce <info-hash> [--port P]

Announces the daemon's address as a peer of <info-hash> (40 hex digits) on the k closest
nodes: with --port, that port; without, the node's own UDP port (implied_port).

Options:
  --port P                 The port peers should connect to (1-65535)

${CLIENT_HELP}
Examples:
  nautilus announce c12fe1c06bba254a9dc9f519b335aa7c1367a88a --port 6881
`,
  async run(args, io) {
    const [infoHash] = positionals(args, '<info-hash>') as [string];
    const id = hexArg(infoHash, '<info-hash>');
    const port = args.values['port'] === undefined ? undefined : integerFlag(args, 'port', 0, 1, 65535);
    const client = await connect(args, io);
    const answer = await client.request<{ storedOn: number; failed: number; queried: number; durationMs: number }>(
      'POST',
      `/api/peers/${id}`,
      port === undefined ? {} : { port },
    );
    if (args.values['json'] === true) printJson(io, answer);
    else
      io.out(
        `announced ${id} on ${answer.storedOn} nodes (${answer.failed} failed, ${answer.queried} queries, ${answer.durationMs} ms)\n`,
      );
    return 0;
  },
};
