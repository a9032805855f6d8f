import type { FamilyTable } from '../../daemon/table.js';
import { CLIENT_HELP, CLIENT_OPTIONS, connect } from '../client.js';
import { type Command, positionals, printJson } from '../command.js';

/** `nautilus table`: the routing table, bucket by bucket. */
export const tableCommand: Command = {
  name: 'table',
  summary: 'Show the routing table, bucket by bucket',
  options: CLIENT_OPTIONS,
  help: `Usage: nautilus table

Prints each address family's routing table: the non-empty buckets (by the length of the id
prefix they share with this node) and their contacts.

${CLIENT_HELP}
Examples:
  nautilus table
`,
  async run(args, io) {
    positionals(args);
    const client = await connect(args, io);
    const answer = await client.request<{ id: string; families: FamilyTable[] }>('GET', '/api/table');
    if (args.values['json'] === true) {
      printJson(io, answer);
      return 0;
    }
    io.out(`node ${answer.id}\n`);
    for (const table of answer.families) {
      io.out(`IPv${table.family}: ${table.contacts} contacts in ${table.buckets.length} buckets\n`);
      for (const bucket of table.buckets) {
        io.out(`  bucket ${String(bucket.index).padStart(3)}  ${bucket.contacts.length} contacts\n`);
        for (const c of bucket.contacts)
          io.out(`    ${c.id}  ${c.host.includes(':') ? `[${c.host}]` : c.host}:${c.port}\n`);
      }
    }
    return 0;
  },
};
