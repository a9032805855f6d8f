import type { Etcd3, ICompare } from 'etcd3';
import { RegistryError } from '../errors.js';
import { rangeEnd } from './calls.js';

/**
 * A fencing token with what a write needs to check it: the holder's entry in etcd (of a lock,
 * see {@link EtcdRegistry.lock}, or of an election, see {@link EtcdRegistry.campaign}), which
 * must still exist with this creation revision and be the oldest entry of its lock or election.
 * Pass it as `fence` to {@link EtcdRegistry.set}.
 */
export interface Fence {
  /** The holder's entry (an etcd key, latin1): the lock's or election's prefix, then a lease id. */
  readonly entry: string;
  /** The fencing token: the etcd revision that created the entry; increases with every holder. */
  readonly token: string;
}

// the end of every holder's entry: `/` and its lease id (decimal, a positive int64)
const ENTRY_TAIL = /.\/[1-9][0-9]{0,18}$/s;

/**
 * Throws `INVALID_OPTION` unless `fence` is the fence of a lock or leadership handle of this
 * registry's namespace: its `token` a positive decimal revision, its `entry` under one of
 * `namespaces` (the registry's lock and election prefixes, latin1 as entries are) followed by a
 * name, `/` and a lease id. Anything else (a hand-made object, another namespace's fence, a
 * record key) could never hold; refusing it up front tells a mistake from a lost lock.
 */
export function checkFence(fence: unknown, namespaces: readonly string[]): asserts fence is Fence {
  const f = fence as Partial<Fence> | null | undefined;
  const entry = f?.entry;
  if (
    typeof entry !== 'string' ||
    typeof f?.token !== 'string' ||
    !/^[1-9][0-9]{0,18}$/.test(f.token) ||
    !namespaces.some((ns) => entry.startsWith(ns) && ENTRY_TAIL.test(entry.slice(ns.length)))
  ) {
    throw RegistryError.invalidOptionValue(
      'fence',
      "the fence of a lock or leadership handle of this registry's namespace",
      fence,
    );
  }
}

/** The entries of the fence's lock or election: every key sharing its entry's prefix. */
function siblings(fence: Fence): { key: Buffer; end: Buffer } {
  const entry = Buffer.from(fence.entry, 'latin1');
  const key = entry.subarray(0, entry.lastIndexOf(0x2f) + 1);
  return { key, end: rangeEnd(key) };
}

/**
 * The compares that hold exactly while the fence's holder holds: its entry exists with the
 * token as creation revision, and no entry of the same lock or election is older. One holder
 * at any revision, however its contenders believe they stand.
 */
export function fenceGuards(fence: Fence): ICompare[] {
  const { key, end } = siblings(fence);
  return [
    { key: Buffer.from(fence.entry, 'latin1'), target: 'Create', result: 'Equal', create_revision: fence.token },
    // every entry of the range: created at the token or later
    {
      key,
      range_end: end,
      target: 'Create',
      result: 'Greater',
      create_revision: String(BigInt(fence.token) - 1n),
    },
  ];
}

/** Whether the fence's holder still holds (read at once, linearizable). */
export async function fenceHolds(client: Etcd3, fence: Fence): Promise<boolean> {
  const { key, end } = siblings(fence);
  const oldest = await client.kv.range({ key, range_end: end, sort_order: 'Ascend', sort_target: 'Create', limit: 1 });
  const first = oldest.kvs[0];
  return first !== undefined && first.key.toString('latin1') === fence.entry && first.create_revision === fence.token;
}
