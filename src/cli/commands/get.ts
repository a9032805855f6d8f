import { CLIENT_HELP, CLIENT_OPTIONS, connect } from '../client.js';
import { type Command, FailureError, hexArg, positionals, printJson, stringFlag, UsageError } from '../command.js';
import { hex } from '../key-file.js';

interface ItemAnswer {
  target: string;
  value: string | null;
  valueHex: string;
  seq: number | string | null;
  from: number;
  queried: number;
  durationMs: number;
}

/** `nautilus get`: finds an item by target, or with --mutable by public key (and salt). */
export const getCommand: Command = {
  name: 'get',
  summary: 'Find a value in the DHT by target, or --mutable by public key',
  options: { ...CLIENT_OPTIONS, mutable: { type: 'boolean' }, salt: { type: 'string' }, hex: { type: 'boolean' } },
  help: `Usage: nautilus get <target>
       nautilus get --mutable <public-key> [--salt S]

Finds the item stored under <target> (40 hex digits), or the newest mutable item of
<public-key> (64 hex digits) and salt, and prints its value (as text when it is UTF-8, else
hex). Exit code 1 when the closest nodes do not have it.

Options:
  --mutable                <public-key> instead of a target
  --salt S                 Salt of the mutable item (UTF-8 text)
  --hex                    Print the value as hex

${CLIENT_HELP}
Examples:
  nautilus get 2aae6c35c94fcfb415dbe95f408b9ce91ee846ed
  nautilus get --mutable 77ff84905a91936367c01360803104f92432fcd904a43511876df5cdf3e7e548 --salt profile
`,
  async run(args, io) {
    const [key] = positionals(args, args.values['mutable'] === true ? '<public-key>' : '<target>') as [string];
    const saltText = stringFlag(args, 'salt');
    const query = saltText === undefined || saltText === '' ? '' : `?salt=${hex(new TextEncoder().encode(saltText))}`;
    let path: string;
    if (args.values['mutable'] === true) path = `/api/items/mutable/${hexArg(key, '<public-key>', 64)}${query}`;
    else {
      if (saltText !== undefined) throw new UsageError('--salt needs --mutable');
      path = `/api/items/${hexArg(key, '<target>')}`;
    }
    const client = await connect(args, io);
    const answer = await client.find<ItemAnswer>(path);
    if (answer === undefined)
      throw new FailureError(`NOT_FOUND: the closest nodes have no item for ${key.toLowerCase()}`);
    if (args.values['json'] === true) printJson(io, answer);
    else {
      io.out(`${args.values['hex'] === true || answer.value === null ? answer.valueHex : answer.value}\n`);
      const seq = answer.seq === null ? '' : `seq ${answer.seq}, `;
      io.err(`${seq}from ${answer.from} nodes (${answer.queried} queries, ${answer.durationMs} ms)\n`);
    }
    return 0;
  },
};
