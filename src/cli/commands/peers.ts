import { CLIENT_HELP, CLIENT_OPTIONS, connect } from '../client.js';
import { type Command, hexArg, positionals, printJson } from '../command.js';

/** `nautilus peers`: the peers of an info-hash (BEP 5 get_peers lookup). */
export const peersCommand: Command = {
  name: 'peers',
  summary: 'Find the peers of an info-hash (BEP 5 get_peers)',
  options: CLIENT_OPTIONS,
  help: `Usage: nautilus peers <info-hash>

Prints the peers (host:port, one a line) the closest nodes know for <info-hash>.

${CLIENT_HELP}
Examples:
  nautilus peers c12fe1c06bba254a9dc9f519b335aa7c1367a88a
  nautilus peers --json c12fe1c06bba254a9dc9f519b335aa7c1367a88a | jq '.peers | length'
`,
  async run(args, io) {
    const [infoHash] = positionals(args, '<info-hash>') as [string];
    const client = await connect(args, io);
    const answer = await client.request<{ peers: string[] }>('GET', `/api/peers/${hexArg(infoHash, '<info-hash>')}`);
    if (args.values['json'] === true) printJson(io, answer);
    else if (answer.peers.length === 0) io.err('no peers found\n');
    else io.out(answer.peers.map((p) => `${p}\n`).join(''));
    return 0;
  },
};
