import { CLIENT_HELP, CLIENT_OPTIONS, connect } from '../client.js';
import { type Command, hexArg, positionals, printJson } from '../command.js';

/** `nautilus lookup`: the k closest nodes to an id. */
export const lookupCommand: Command = {
  name: 'lookup',
  summary: 'Find the nodes closest to an id (find_node lookup)',
  options: CLIENT_OPTIONS,
  help: `Usage: nautilus lookup <node-id>

Runs an iterative find_node lookup of <node-id> (40 hex digits) and prints the closest nodes
that answered, closest first.

${CLIENT_HELP}
Examples:
  nautilus lookup 0000000000000000000000000000000000000000
`,
  async run(args, io) {
    const [id] = positionals(args, '<node-id>') as [string];
    const client = await connect(args, io);
    const answer = await client.request<{
      closest: { id: string; address: string }[];
      queried: number;
      responded: number;
      durationMs: number;
    }>('GET', `/api/lookup/${hexArg(id, '<node-id>')}`);
    if (args.values['json'] === true) printJson(io, answer);
    else {
      for (const contact of answer.closest) io.out(`${contact.id}  ${contact.address}\n`);
      io.err(
        `${answer.closest.length} closest, ${answer.responded}/${answer.queried} queries answered, ${answer.durationMs} ms\n`,
      );
    }
    return 0;
  },
};
