import { createMutableItem } from '../../kad/items.js';
import { CLIENT_HELP, CLIENT_OPTIONS, connect } from '../client.js';
import { type Command, positionals, printJson, stringFlag, UsageError } from '../command.js';
import { hex, readKeyFile } from '../key-file.js';

interface StoreAnswer {
  target: string;
  seq: number | string | null;
  storedOn: number;
  failed: number;
  queried: number;
  durationMs: number;
}

/** `nautilus put`: stores an immutable item, or with --mutable a signed one, through the daemon. */
export const putCommand: Command = {
  name: 'put',
  summary: 'Store a value in the DHT (BEP 44 immutable, or --mutable signed)',
  options: {
    ...CLIENT_OPTIONS,
    mutable: { type: 'boolean' },
    'key-file': { type: 'string' },
    salt: { type: 'string' },
    seq: { type: 'string' },
    hex: { type: 'boolean' },
  },
  help: `Usage: nautilus put [--hex] <value>
       nautilus put --mutable --key-file FILE [--salt S] [--seq N] [--hex] <value>

Stores <value> (UTF-8 text; with --hex, bytes in hex; at most 1000 bytes) on the k nodes
closest to its target and prints the target. --mutable signs it with the key file's ed25519
key (the key stays here: the daemon only sees the signed item); its target is
SHA-1(public key + salt). --seq defaults to one above the newest found.

Options:
  --mutable                Store a signed, updatable item
  --key-file FILE          Key file from \`nautilus keygen\` (with --mutable)
  --salt S                 Salt (UTF-8 text, at most 64 bytes): one key, many items
  --seq N                  Sequence number (default: the newest found + 1, or 1)
  --hex                    <value> is hex

${CLIENT_HELP}
Examples:
  nautilus put 'hello world'
  nautilus put --hex 68656c6c6f
  nautilus keygen --out me.key && nautilus put --mutable --key-file me.key --salt profile 'v1'
`,
  async run(args, io) {
    const [value] = positionals(args, '<value>') as [string];
    const encoding = args.values['hex'] === true ? 'hex' : 'utf8';
    if (encoding === 'hex' && !/^([0-9a-fA-F]{2})*$/.test(value))
      throw new UsageError('<value> is not hex (pairs of 0-9a-f)');
    const client = await connect(args, io);
    let answer: StoreAnswer;
    if (args.values['mutable'] !== true) {
      for (const flag of ['key-file', 'salt', 'seq']) {
        if (args.values[flag] !== undefined) throw new UsageError(`--${flag} needs --mutable`);
      }
      answer = await client.request<StoreAnswer>('POST', '/api/items', { value, encoding });
    } else {
      const keyFile = stringFlag(args, 'key-file');
      if (keyFile === undefined)
        throw new UsageError('--mutable needs --key-file FILE (make one with nautilus keygen)');
      const seqRaw = stringFlag(args, 'seq');
      if (seqRaw !== undefined && !/^\d{1,19}$/.test(seqRaw))
        throw new UsageError(`--seq must be a non-negative integer (got ${JSON.stringify(seqRaw)})`);
      const keys = await readKeyFile(keyFile);
      const saltText = stringFlag(args, 'salt');
      const salt = saltText === undefined || saltText === '' ? undefined : new TextEncoder().encode(saltText);
      const publicKey = hex(keys.publicKey);
      let seq: bigint;
      if (seqRaw !== undefined) seq = BigInt(seqRaw);
      else {
        const query = salt === undefined ? '' : `?salt=${hex(salt)}`;
        const current = await client.find<{ seq: number | string }>(`/api/items/mutable/${publicKey}${query}`);
        seq = current === undefined ? 1n : BigInt(current.seq) + 1n;
      }
      const v = encoding === 'hex' ? new Uint8Array(Buffer.from(value, 'hex')) : new TextEncoder().encode(value);
      const item = createMutableItem(keys, v, seq, salt);
      answer = await client.request<StoreAnswer>('POST', '/api/items/mutable', {
        value,
        encoding,
        publicKey,
        signature: hex(item.sig),
        seq: seq.toString(),
        ...(salt === undefined ? {} : { salt: hex(salt) }),
      });
    }
    if (args.values['json'] === true) printJson(io, answer);
    else {
      const seqText = answer.seq === null ? '' : ` seq ${answer.seq}`;
      io.out(
        `${answer.target}\nstored${seqText} on ${answer.storedOn} nodes (${answer.failed} failed, ${answer.queried} queries, ${answer.durationMs} ms)\n`,
      );
    }
    return 0;
  },
};
