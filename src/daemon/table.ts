import { bucketIndex, idToHex } from '../kad/id.js';
import type { KadNode } from '../kad/node/types.js';
import type { AddressFamily } from '../kad/wire/compact.js';

/** One bucket of a routing table: the contacts sharing `index` leading bits with the node's id. */
export interface TableBucket {
  /** Common-prefix length with the node's id (0: the farthest half of the id space). */
  readonly index: number;
  readonly contacts: readonly { readonly id: string; readonly host: string; readonly port: number }[];
}

/** The routing table of one address family, bucket by bucket (only non-empty buckets). */
export interface FamilyTable {
  readonly family: AddressFamily;
  readonly contacts: number;
  readonly buckets: readonly TableBucket[];
}

/** The node's routing tables, one per family it runs, each bucket by bucket. */
export function routingTables(node: KadNode): FamilyTable[] {
  const families = Object.keys(node.stats().families).map(Number) as AddressFamily[];
  return families.map((family) => {
    const byIndex = new Map<number, { id: string; host: string; port: number }[]>();
    const contacts = node.contacts(node.id, Number.MAX_SAFE_INTEGER, { family });
    for (const contact of contacts) {
      const index = bucketIndex(node.id, contact.id);
      const bucket = byIndex.get(index) ?? [];
      bucket.push({ id: idToHex(contact.id), host: contact.host, port: contact.port });
      byIndex.set(index, bucket);
    }
    const buckets = [...byIndex.entries()]
      .sort(([a], [b]) => a - b)
      .map(([index, list]) => ({ index, contacts: list }));
    return { family, contacts: contacts.length, buckets };
  });
}
