import type { SetEntry } from '../registry.js';
import { escapeGlob, groupBySlot } from './batches.js';
import {
  isNotLocal,
  isRedirect,
  type RedisArg,
  type RedisConnection,
  type RedisNode,
  type RedisNodeClient,
} from './connection.js';
import { keySlot } from './key-slot.js';
import { type LuaScript, READ, replyNumber, type WriteScripts } from './scripts.js';

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

/**
 * What {@link RecordStore.walk} yields for a key that holds another Redis type (a list, a
 * hash…): this very Buffer, told apart by identity from an empty string.
 */
export const OTHER_TYPE: Buffer = Buffer.alloc(0);

/** What {@link RecordStore.walk} reads per key: the record, its header only, or nothing. */
export type WalkFetch = 'GET' | 'GETRANGE' | undefined;

/**
 * The Redis side of a registry's batch operations, in its key namespace: keys are prefixed,
 * grouped by server (in a cluster, by the master serving their slot) in chunks of one
 * multi-key command each, and every chunk is pipelined, so a batch costs one round trip per node. No validation, no events, no deadlines: the
 * registry adds those.
 */
export class RecordStore {
  readonly #connection: RedisConnection;
  readonly #prefix: string;
  readonly #prefixBytes: number;
  readonly #chunk: number;
  readonly #scanCount: string;
  readonly #scripts: WriteScripts;

  constructor(connection: RedisConnection, prefix: string, chunk: number, scanCount: number, scripts: WriteScripts) {
    this.#connection = connection;
    this.#scripts = scripts;
    this.#prefix = prefix;
    this.#prefixBytes = Buffer.byteLength(prefix);
    this.#chunk = chunk;
    this.#scanCount = String(scanCount);
  }

  /**
   * The stored bytes of `keys`, in order (null for an absent key or another Redis type). One
   * `MGET` per chunk on a standalone server; in a cluster one read script per master and chunk
   * (`MGET` takes a single slot), slot by slot where the slot map was out of date.
   */
  async mget(keys: readonly string[]): Promise<(Buffer | null)[]> {
    const connection = this.#connection;
    const prefix = this.#prefix;
    if (connection.isCluster) {
      const parts = this.#scripted<Buffer | null>({
        script: READ,
        redisKeys: keys.map((key) => prefix + key),
        head: [],
        perKey: pushKey,
        stride: 1,
      });
      return inKeyOrder(parts, await Promise.all(parts.map((part) => part.reply)), keys.length, 1) as (Buffer | null)[];
    }
    const sent: Promise<(Buffer | null)[]>[] = [];
    for (let start = 0; start < keys.length; start += this.#chunk) {
      const end = Math.min(keys.length, start + this.#chunk);
      const command = new Array<string>(end - start + 1);
      command[0] = 'MGET';
      for (let i = start; i < end; i++) command[i - start + 1] = prefix + (keys[i] as string);
      sent.push(connection.sendToSlot(0, '', command, true) as Promise<(Buffer | null)[]>);
    }
    // consecutive chunks: their replies in sequence are in key order
    return sent.length === 1 ? (sent[0] as Promise<(Buffer | null)[]>) : (await Promise.all(sent)).flat();
  }

  /**
   * Writes every entry (unconditionally, a repeated key twice, in order). Resolves even when
   * some parts failed: `replies[i]` is `undefined` for the entries of a failed part, and
   * `failure` is the first error, so the writes that did happen can still be reported.
   */
  async writeMany(entries: readonly SetEntry[], now: number, grace: string): Promise<WriteManyResult> {
    const parts = this.#scripted<number | Buffer>({
      script: this.#scripts.write,
      redisKeys: entries.map((e) => this.#prefix + e.key),
      head: [String(now), grace, ''],
      perKey: (i, key, args) => {
        const entry = entries[i] as SetEntry;
        args.push(key, bufferOf(entry.value), entry.ttlMs === undefined ? '0' : String(entry.ttlMs));
      },
      stride: 3,
    });
    let failure: Error | undefined;
    const settled = (await Promise.allSettled(parts.map((part) => part.reply))).map((result) => {
      if (result.status === 'fulfilled') return result.value;
      failure ??= result.reason as Error;
      return undefined;
    });
    const flat = inKeyOrder(parts, settled, entries.length, 3);
    const replies = entries.map((_, i): WriteReply | undefined =>
      flat[3 * i] === undefined
        ? undefined
        : [replyNumber(flat[3 * i]), replyNumber(flat[3 * i + 1] ?? now), replyNumber(flat[3 * i + 2] ?? 0)],
    );
    return { replies, failure };
  }

  /**
   * Unconditional delete of `keys` (records past their deadline at `now` count as expired);
   * `reason` is what the change feed says of the records deleted.
   */
  async deleteMany(keys: readonly string[], now: number, reason: 'delete' | 'clear'): Promise<DeleteReply[]> {
    const parts = this.#scripted<number | Buffer>({
      script: this.#scripts.delete,
      redisKeys: keys.map((key) => this.#prefix + key),
      head: [String(now), '', reason],
      perKey: pushKey,
      stride: 2,
    });
    const flat = inKeyOrder(parts, await Promise.all(parts.map((part) => part.reply)), keys.length, 2);
    return keys.map((_, i): DeleteReply => [replyNumber(flat[2 * i] ?? 0), replyNumber(flat[2 * i + 1] ?? 0)]);
  }

  /** Removes records found expired, if still that version and expired; resolves to those removed. */
  async reap(expired: readonly Expired[], now: number): Promise<Expired[]> {
    const unique = [...new Map(expired.map((e) => [e.key, e])).values()];
    const parts = this.#scripted<number>({
      script: this.#scripts.reap,
      redisKeys: unique.map((e) => this.#prefix + e.key),
      head: [String(now)],
      perKey: (i, key, args) => {
        args.push(key, String((unique[i] as Expired).version));
      },
      stride: 1,
    });
    const flat = inKeyOrder(parts, await Promise.all(parts.map((part) => part.reply)), unique.length, 1);
    return unique.filter((_, i) => flat[i] === 1);
  }

  /**
   * Pages of `[key, reply]` for every key of the namespace starting with `prefix`: `SCAN MATCH`
   * master by master (never `KEYS`), then `fetch` per key of the page in one pipelined round
   * trip (`null` for a key gone since, {@link OTHER_TYPE} for one of another Redis type). `step` puts each round trip under the caller's deadline and checks before each one
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
        const [next, found] = (await step(() =>
          node.send(['SCAN', cursor, 'MATCH', pattern, 'COUNT', this.#scanCount]),
        )) as [Buffer, Buffer[]];
        cursor = next.toString();
        if (found.length === 0) continue;
        const keys = found.map((k) => k.subarray(this.#prefixBytes).toString('utf8'));
        if (fetch === undefined) {
          yield keys.map((key) => [key, null]);
          continue;
        }
        const replies = await step(() =>
          Promise.all(
            found.map((k) =>
              (node.send(fetch === 'GET' ? ['GET', k] : ['GETRANGE', k, '0', '32']) as Promise<Buffer | null>).catch(
                otherType,
              ),
            ),
          ),
        );
        yield keys.map((key, i) => [key, replies[i] ?? null]);
      } while (cursor !== '0');
    }
  }

  /**
   * Sends a multi-key script (see `CROSS_SLOT` in scripts.ts) for the batch's keys: one call per
   * server (standalone) or per master of the cached slot map, and per `chunk` keys, all
   * pipelined. A call whose master turns out not to serve one of its keys, or whose master is
   * unknown, goes again slot by slot.
   */
  #scripted<R>(batch: ScriptBatch): Part<R>[] {
    const { script, redisKeys, head, perKey } = batch;
    const connection = this.#connection;
    const parts: Part<R>[] = [];
    const send = (node: RedisNodeClient | undefined, indices: number[]): void => {
      if (node === undefined) {
        parts.push({ indices, reply: this.#bySlot<R>(batch, indices) });
        return;
      }
      const args = head.slice();
      for (const i of indices) perKey(i, redisKeys[i] as string, args);
      const feedKeys = script === READ ? [] : this.#scripts.feedKeys;
      const reply = connection.evalOn(node, script, args, feedKeys) as Promise<R[]>;
      parts.push({
        indices,
        reply: connection.isCluster
          ? reply.catch((error: unknown) => {
              // a declared feed key another master serves now: MOVED (resharding, failover)
              if (!isNotLocal(error) && !isRedirect(error)) throw error;
              return this.#bySlot<R>(batch, indices);
            })
          : reply,
      });
    };
    if (!connection.isCluster) {
      const server = connection.nodeOf(0);
      for (let start = 0; start < redisKeys.length; start += this.#chunk) {
        const end = Math.min(redisKeys.length, start + this.#chunk);
        send(
          server,
          Array.from({ length: end - start }, (_, j) => start + j),
        );
      }
      return parts;
    }
    const open = new Map<RedisNodeClient | undefined, number[]>();
    for (let i = 0; i < redisKeys.length; i++) {
      const node = connection.nodeOf(keySlot(redisKeys[i] as string));
      const indices = open.get(node);
      if (indices === undefined) open.set(node, [i]);
      else if (indices.push(i) === this.#chunk) {
        open.delete(node);
        send(node, indices);
      }
    }
    for (const [node, indices] of open) send(node, indices);
    return parts;
  }

  /**
   * The batch's script for its keys at `indices`, one call per slot with the keys declared, so
   * the cluster client routes each and follows `MOVED`/`ASK`; the replies merged back in order.
   */
  async #bySlot<R>(batch: ScriptBatch, indices: readonly number[]): Promise<R[]> {
    const { script, redisKeys, head, perKey, stride } = batch;
    const groups = groupBySlot(indices.length, (j) => keySlot(redisKeys[indices[j] as number] as string), this.#chunk);
    const replies = await Promise.all(
      groups.map((group) => {
        const keys: string[] = [];
        const args = head.slice();
        for (const j of group) {
          const key = redisKeys[indices[j] as number] as string;
          keys.push(key);
          perKey(indices[j] as number, key, args);
        }
        if (script !== READ) keys.push(...this.#scripts.feedKeys);
        return this.#connection.eval(script, keys, args) as Promise<R[]>;
      }),
    );
    // the groups hold positions in `indices`: merged, the replies follow `indices`
    return replies.length === 1
      ? (replies[0] as R[])
      : (inKeyOrder(
          groups.map((indices) => ({ indices })),
          replies,
          indices.length,
          stride,
        ) as R[]);
  }
}

/**
 * The replies of a batch's parts in key order: `stride` items per key, the part holding key
 * `parts[p].indices[j]` having its items at `replies[p][stride * j …]`; `undefined` for the keys
 * of a part without a reply (failed).
 */
function inKeyOrder<R>(
  parts: readonly { readonly indices: readonly number[] }[],
  replies: readonly (readonly R[] | undefined)[],
  count: number,
  stride: number,
): (R | undefined)[] {
  const out = new Array<R | undefined>(count * stride);
  parts.forEach(({ indices }, p) => {
    const reply = replies[p];
    if (reply === undefined) return;
    indices.forEach((index, j) => {
      for (let s = 0; s < stride; s++) out[index * stride + s] = reply[j * stride + s];
    });
  });
  return out;
}

/** Appends the arguments of key `i` (named `key`) to a script call's ARGV. */
type PerKey = (i: number, key: string, args: RedisArg[]) => void;

/** One multi-key script sent for many keys by `RecordStore.#scripted`. */
interface ScriptBatch {
  readonly script: LuaScript;
  /** The keys, prefixed; a reply's items follow their order. */
  readonly redisKeys: readonly string[];
  /** The ARGV of every call, before what `perKey` appends. */
  readonly head: readonly RedisArg[];
  /** Appends the arguments of the `i`-th key (the key first) to a call's ARGV. */
  readonly perKey: PerKey;
  /** Items per key in a call's reply. */
  readonly stride: number;
}

/** One call of a batch: the indices of its keys and its reply. */
interface Part<R> {
  readonly indices: number[];
  readonly reply: Promise<R[]>;
}

const pushKey: PerKey = (_i, key, args) => {
  args.push(key);
};

/** {@link OTHER_TYPE} for a `WRONGTYPE` reply; any other error passes on. */
function otherType(error: unknown): Buffer {
  if (error instanceof Error && error.message.startsWith('WRONGTYPE')) return OTHER_TYPE;
  throw error;
}

/** The bytes of `value` as a Buffer without copying. */
export function bufferOf(value: Uint8Array): Buffer {
  return Buffer.isBuffer(value) ? value : Buffer.from(value.buffer, value.byteOffset, value.byteLength);
}
