import type { SetEntry } from '../registry.js';
import { escapeGlob, groupBySlot } from './batches.js';
import { isRedirect, type RedisArg, type RedisConnection, type RedisNode } from './connection.js';
import { keySlot } from './key-slot.js';
import { DELETE, REAP, WRITE } from './scripts.js';

/** A record found past its deadline by a read, to remove if it is still that version. */
export interface Expired {
  readonly key: string;
  readonly version: number;
}

/**
 * Reply of the write script for one key: new version, createdAt, version of an expired record
 * replaced (0: none). A version of -2 means the key holds a value of another Redis type (not
 * written).
 */
export type WriteReply = readonly [version: number, createdAt: number, expiredVersion: number];

/** Result of {@link RecordStore.writeMany}. */
export interface WriteManyResult {
  /** Per entry; `undefined` for the entries of a group that failed. */
  readonly replies: (WriteReply | undefined)[];
  /** The first error of a failed group. */
  readonly failure: Error | undefined;
}

/** Reply of the delete script for one key: state (0 absent, 1 deleted, 2 was expired) and version. */
export type DeleteReply = readonly [state: number, version: number];

/** What {@link RecordStore.walk} reads per key: the record, its header only, or nothing. */
export type WalkFetch = 'GET' | 'GETRANGE' | undefined;

/**
 * The Redis side of a registry's batch operations, in its key namespace: keys are prefixed,
 * grouped by hash slot in chunks (one multi-key command each), and every group is pipelined,
 * so a batch costs one round trip per node. No validation, no events, no deadlines: the
 * registry adds those.
 */
export class RecordStore {
  readonly #connection: RedisConnection;
  readonly #prefix: string;
  readonly #prefixBytes: number;
  readonly #chunk: number;
  readonly #scanCount: string;

  constructor(connection: RedisConnection, prefix: string, chunk: number, scanCount: number) {
    this.#connection = connection;
    this.#prefix = prefix;
    this.#prefixBytes = Buffer.byteLength(prefix);
    this.#chunk = chunk;
    this.#scanCount = String(scanCount);
  }

  /**
   * `MGET` per group; `replies[g][j]` answers `keys[groups[g][j]]`. Redirections (resharding,
   * failover) are followed once for the whole batch.
   */
  mget(keys: readonly string[]): { groups: number[][]; replies: Promise<(Buffer | null)[][]> } {
    const { groups, commands, slots } = this.#mgetCommands(keys);
    const connection = this.#connection;
    let replies: Promise<(Buffer | null)[][]>;
    if (commands.length === 1) {
      const command = commands[0] as string[];
      replies = (connection.sendToSlot(slots[0] ?? 0, command[1] as string, command, true) as Promise<(Buffer | null)[]>).then(
        (reply) => [reply],
      );
    } else {
      const sent = new Array<Promise<(Buffer | null)[]>>(commands.length);
      for (let g = 0; g < commands.length; g++) {
        const command = commands[g] as string[];
        sent[g] = connection.sendToSlot(slots[g] ?? 0, command[1] as string, command, true) as Promise<(Buffer | null)[]>;
      }
      replies = Promise.all(sent);
    }
    if (connection.isCluster) {
      replies = replies.catch((error: unknown) => {
        if (!isRedirect(error)) throw error;
        return Promise.all(
          commands.map((command) => connection.redirect(command[1] as string, command, true) as Promise<(Buffer | null)[]>),
        );
      });
    }
    return { groups, replies };
  }

  /** One pass over `keys`: the `MGET` of each group (same slot, at most `chunk` keys), its indices and slot. */
  #mgetCommands(keys: readonly string[]): { groups: number[][]; commands: string[][]; slots: number[] } {
    const prefix = this.#prefix;
    const chunk = this.#chunk;
    const groups: number[][] = [];
    const commands: string[][] = [];
    const slots: number[] = [];
    if (!this.#connection.isCluster) {
      // one server: consecutive chunks
      for (let i = 0; i < keys.length; i++) {
        if (i % chunk === 0) {
          groups.push([]);
          commands.push(['MGET']);
          slots.push(0);
        }
        (groups[groups.length - 1] as number[]).push(i);
        (commands[commands.length - 1] as string[]).push(prefix + (keys[i] as string));
      }
      return { groups, commands, slots };
    }
    // the open group of each slot, by group number
    const open = new Map<number, number>();
    for (let i = 0; i < keys.length; i++) {
      const redisKey = prefix + (keys[i] as string);
      const slot = keySlot(redisKey);
      let g = open.get(slot);
      if (g === undefined || (groups[g] as number[]).length === chunk) {
        g = groups.length;
        open.set(slot, g);
        groups.push([i]);
        commands.push(['MGET', redisKey]);
        slots.push(slot);
      } else {
        (groups[g] as number[]).push(i);
        (commands[g] as string[]).push(redisKey);
      }
    }
    return { groups, commands, slots };
  }

  /**
   * Writes every entry (unconditionally, a repeated key twice, in order). Resolves even when
   * some groups failed: `replies[i]` is `undefined` for the entries of a failed group, and
   * `failure` is the first error, so the writes that did happen can still be reported.
   */
  async writeMany(
    entries: readonly SetEntry[],
    now: number,
    grace: string,
  ): Promise<WriteManyResult> {
    const redisKeys = entries.map((e) => this.#prefix + e.key);
    const { groups, slots } = this.#group(redisKeys);
    const settled = await Promise.allSettled(
      groups.map((group, g) => {
        const args: RedisArg[] = [String(now), grace, ''];
        for (const i of group) {
          const entry = entries[i] as SetEntry;
          args.push(bufferOf(entry.value), entry.ttlMs === undefined ? '0' : String(entry.ttlMs));
        }
        return this.#connection.eval(WRITE, group.map((i) => redisKeys[i] as string), args, slots[g]) as Promise<number[]>;
      }),
    );
    const replies = new Array<WriteReply | undefined>(entries.length).fill(undefined);
    let failure: Error | undefined;
    settled.forEach((result, g) => {
      if (result.status === 'rejected') {
        failure ??= result.reason as Error;
        return;
      }
      const r = result.value;
      (groups[g] as number[]).forEach((index, j) => {
        replies[index] = [r[3 * j] ?? 0, r[3 * j + 1] ?? now, r[3 * j + 2] ?? 0];
      });
    });
    return { replies, failure };
  }

  /** Unconditional delete of `keys` (records past their deadline at `now` count as expired). */
  async deleteMany(keys: readonly string[], now: number): Promise<DeleteReply[]> {
    const redisKeys = keys.map((key) => this.#prefix + key);
    const { groups, slots } = this.#group(redisKeys);
    const args = [String(now), ''];
    const replies = await Promise.all(
      groups.map((group, g) => this.#connection.eval(DELETE, group.map((i) => redisKeys[i] as string), args, slots[g]) as Promise<number[]>),
    );
    const out = new Array<DeleteReply>(keys.length);
    groups.forEach((group, g) => {
      const reply = replies[g] as number[];
      group.forEach((index, j) => {
        out[index] = [reply[2 * j] ?? 0, reply[2 * j + 1] ?? 0];
      });
    });
    return out;
  }

  /** Removes records found expired, if still that version and expired; resolves to those removed. */
  async reap(expired: readonly Expired[], now: number): Promise<Expired[]> {
    const unique = [...new Map(expired.map((e) => [e.key, e])).values()];
    const redisKeys = unique.map((e) => this.#prefix + e.key);
    const { groups, slots } = this.#group(redisKeys);
    const replies = await Promise.all(
      groups.map((group, g) => {
        const args = [String(now), ...group.map((i) => String((unique[i] as Expired).version))];
        return this.#connection.eval(REAP, group.map((i) => redisKeys[i] as string), args, slots[g]) as Promise<number[]>;
      }),
    );
    const removed: Expired[] = [];
    groups.forEach((group, g) => {
      group.forEach((index, j) => {
        if ((replies[g] as number[])[j] === 1) removed.push(unique[index] as Expired);
      });
    });
    return removed;
  }

  /**
   * Pages of `[key, reply]` for every key of the namespace starting with `prefix`: `SCAN MATCH`
   * master by master (never `KEYS`), then `fetch` per key of the page in one pipelined round
   * trip. `step` puts each round trip under the caller's deadline and checks before each one
   * that the caller still wants it.
   */
  async *walk(
    prefix: string,
    fetch: WalkFetch,
    step: <T>(work: () => Promise<T>) => Promise<T>,
  ): AsyncGenerator<[string, Buffer | null][]> {
    const pattern = `${escapeGlob(this.#prefix + prefix)}*`;
    const masters: RedisNode[] = await step(() => this.#connection.masters());
    for (const node of masters) {
      let cursor = '0';
      do {
        const [next, found] = (await step(() => node.send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', this.#scanCount]))) as [
          Buffer,
          Buffer[],
        ];
        cursor = next.toString();
        if (found.length === 0) continue;
        const keys = found.map((k) => k.subarray(this.#prefixBytes).toString('utf8'));
        if (fetch === undefined) {
          yield keys.map((key) => [key, null]);
          continue;
        }
        const replies = await step(() =>
          Promise.all(found.map((k) => node.send(fetch === 'GET' ? ['GET', k] : ['GETRANGE', k, '0', '32']) as Promise<Buffer | null>)),
        );
        yield keys.map((key, i) => [key, replies[i] ?? null]);
      } while (cursor !== '0');
    }
  }

  /** Groups of one slot (chunked), and the slot of each group. */
  #group(redisKeys: readonly string[]): { groups: number[][]; slots: number[] } {
    const connection = this.#connection;
    if (!connection.isCluster) {
      // one server: consecutive chunks
      const groups: number[][] = [];
      for (let i = 0; i < redisKeys.length; i++) {
        if (i % this.#chunk === 0) groups.push([]);
        (groups[groups.length - 1] as number[]).push(i);
      }
      return { groups, slots: groups.map(() => 0) };
    }
    const keySlots = redisKeys.map((key) => connection.slotOf(key));
    const groups = groupBySlot(redisKeys.length, (i) => keySlots[i] ?? 0, this.#chunk);
    return { groups, slots: groups.map((group) => keySlots[group[0] as number] ?? 0) };
  }
}

/** The bytes of `value` as a Buffer without copying. */
export function bufferOf(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
