import { type Command, positionals, printJson, stringFlag } from '../command.js';
import { newKeyFile, writeKeyFile } from '../key-file.js';

/** `nautilus keygen`: a new ed25519 key pair for mutable items (no daemon needed). */
export const keygenCommand: Command = {
  name: 'keygen',
  summary: 'Make an ed25519 key pair for mutable items (BEP 44)',
  options: { out: { type: 'string' }, json: { type: 'boolean' } },
  help: `Usage: nautilus keygen [--out FILE] [--json]

Makes a key pair for \`put --mutable\`. With --out, writes the key file there (mode 0600, never
over an existing file) and prints the public key; without it, prints the key file.

Options:
  --out FILE               Write the key file to FILE
  --json                   Print { publicKey, file } (with --out) as JSON

Examples:
  nautilus keygen --out alice.key
  nautilus keygen > alice.key && chmod 600 alice.key
`,
  async run(args, io) {
    positionals(args);
    const key = newKeyFile();
    const out = stringFlag(args, 'out');
    if (out === undefined) {
      io.out(`${JSON.stringify(key, null, 2)}\n`);
      return 0;
    }
    await writeKeyFile(out, key);
    if (args.values['json'] === true) printJson(io, { publicKey: key.publicKey, file: out });
    else io.out(`public key ${key.publicKey}\nkey file   ${out}\n`);
    return 0;
  },
};
