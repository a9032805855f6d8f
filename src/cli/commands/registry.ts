import { CLIENT_HELP, CLIENT_OPTIONS, connect } from '../client.js';
import { type Command, FailureError, integerFlag, printJson, stringFlag, UsageError } from '../command.js';

interface RecordAnswer {
  key: string;
  value: string | null;
  valueHex: string;
  version: number;
  expiresAt: number | null;
}

/** `nautilus registry get|set|delete|scan`: the daemon's record registry. */
export const registryCommand: Command = {
  name: 'registry',
  summary: "Read and write records of the daemon's registry (get|set|delete|scan)",
  options: {
    ...CLIENT_OPTIONS,
    'ttl-ms': { type: 'string' },
    prefix: { type: 'string' },
    limit: { type: 'string' },
    hex: { type: 'boolean' },
  },
  help: `Usage: nautilus registry get <key>
       nautilus registry set <key> <value> [--ttl-ms MS] [--hex]
       nautilus registry delete <key>
       nautilus registry scan [--prefix P] [--limit N]

Records of the daemon's registry (its --storage backend, apart from the node's items and
peers). Values are UTF-8 text (--hex: bytes in hex).

Options:
  --ttl-ms MS              set: expire the record after MS milliseconds
  --prefix P               scan: only keys starting with P
  --limit N                scan: at most N records, 1-1000 (default 100)
  --hex                    set: <value> is hex; get: print the value as hex

${CLIENT_HELP}
Examples:
  nautilus registry set users/alice '{"name":"Alice"}' --ttl-ms 60000
  nautilus registry get users/alice
  nautilus registry scan --prefix users/
  nautilus registry delete users/alice
`,
  async run(args, io) {
    const [verb, key, value, ...extra] = args.positionals;
    const arity: Record<string, number> = { get: 1, set: 2, delete: 1, scan: 0 };
    if (verb === undefined || !(verb in arity))
      throw new UsageError(`registry needs get, set, delete or scan (got ${JSON.stringify(verb ?? '')})`);
    const want = arity[verb] as number;
    const given = [key, value, ...extra].filter((x) => x !== undefined).length;
    if (given !== want)
      throw new UsageError(
        `registry ${verb} takes ${want === 0 ? 'no' : want} argument${want === 1 ? '' : 's'} (got ${given})`,
      );
    const json = args.values['json'] === true;
    const hex = args.values['hex'] === true;
    const client = await connect(args, io);
    const path = (k: string): string => `/api/registry/${encodeURIComponent(k)}`;
    if (verb === 'get') {
      const record = await client.find<RecordAnswer>(path(key as string));
      if (record === undefined) throw new FailureError(`NOT_FOUND: no record "${key}"`);
      if (json) printJson(io, record);
      else io.out(`${hex || record.value === null ? record.valueHex : record.value}\n`);
    } else if (verb === 'set') {
      if (hex && !/^([0-9a-fA-F]{2})*$/.test(value as string))
        throw new UsageError('<value> is not hex (pairs of 0-9a-f)');
      const ttl = args.values['ttl-ms'] === undefined ? undefined : integerFlag(args, 'ttl-ms', 0, 1);
      const body = { value, encoding: hex ? 'hex' : 'utf8', ...(ttl === undefined ? {} : { ttlMs: ttl }) };
      const record = await client.request<RecordAnswer>('PUT', path(key as string), body);
      if (json) printJson(io, record);
      else
        io.out(
          `set ${record.key} (version ${record.version}${record.expiresAt === null ? '' : `, expires ${new Date(record.expiresAt).toISOString()}`})\n`,
        );
    } else if (verb === 'delete') {
      const answer = await client.request<{ deleted: boolean }>('DELETE', path(key as string));
      if (json) printJson(io, answer);
      else io.out(answer.deleted ? `deleted ${key}\n` : `no record "${key}"\n`);
    } else {
      const limit = integerFlag(args, 'limit', 100, 1, 1000);
      const prefix = stringFlag(args, 'prefix');
      const query = new URLSearchParams({ limit: String(limit), ...(prefix === undefined ? {} : { prefix }) });
      const answer = await client.request<{ records: RecordAnswer[] }>('GET', `/api/registry?${query.toString()}`);
      if (json) printJson(io, answer);
      else for (const r of answer.records) io.out(`${r.key}\t${r.value ?? r.valueHex}\n`);
    }
    return 0;
  },
};
