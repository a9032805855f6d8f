import { RegistryError } from '../errors.js';
import type { RemovalReason } from '../events.js';
import { isRecord, readRecord } from '../record-layout.js';
import type { RegistryChange, WatchOptions } from '../registry.js';
import { checkOpen } from '../validation.js';
import type { DedicatedConnection, RedisArg } from './connection.js';
import { BLOCK_MS, type ResolvedChangefeed } from './options.js';

/** What a Redis watch needs from its registry. */
export interface FeedContext {
  readonly feed: ResolvedChangefeed;
  /** Bytes of the registry's `keyPrefix`, stripped from the keys of the stream's entries. */
  readonly prefixBytes: number;
  /** The registry's `timeoutMs`: how long past its `BLOCK` a silent `XREAD` may take. */
  readonly timeoutMs: number;
  isClosed(): boolean;
  /** Callbacks run when the registry closes (each waiting watch wakes to reject with `CLOSED`). */
  readonly closers: Set<() => void>;
  /** A command about the stream on the registry's shared connection, under its deadline. */
  read(args: readonly RedisArg[], signal: AbortSignal | undefined): Promise<unknown>;
  /** A connection of the watch's own to the server holding the stream. */
  dedicated(): Promise<DedicatedConnection>;
  /** Maps a client error to a `RegistryError`. */
  mapError(error: unknown): Error;
}

/** Entries one `XREAD` takes at most: the changes a watch holds ahead of its consumer. */
export const READ_COUNT = 128;

const ID = /^(0|[1-9][0-9]{0,19})-(0|[1-9][0-9]{0,19})$/;

/** A stream ID as `[ms, seq]`, or `undefined` when `id` is not one. */
function parseId(id: unknown): [bigint, bigint] | undefined {
  const match = typeof id === 'string' ? ID.exec(id) : null;
  return match === null ? undefined : [BigInt(match[1] as string), BigInt(match[2] as string)];
}

/** `-1`, `0` or `1` as stream ID `a` is before, equal to or after `b`. */
function compareIds(a: [bigint, bigint], b: [bigint, bigint]): number {
  if (a[0] !== b[0]) return a[0] < b[0] ? -1 : 1;
  return a[1] === b[1] ? 0 : a[1] < b[1] ? -1 : 1;
}

/** One entry of the stream, decoded (see changefeed-lua.ts). */
type Entry =
  | { readonly kind: 'epoch'; readonly follows: string }
  | { readonly kind: 'set'; readonly redisKey: Buffer; readonly record: Buffer }
  | { readonly kind: 'removed'; readonly redisKey: Buffer; readonly version: number; readonly reason: RemovalReason };

function decode(fields: readonly Buffer[]): Entry {
  const get = (name: string): Buffer | undefined => {
    for (let i = 0; i + 1 < fields.length; i += 2) if (String(fields[i]) === name) return fields[i + 1];
    return undefined;
  };
  const follows = get('epoch');
  if (follows !== undefined) return { kind: 'epoch', follows: String(follows) };
  const redisKey = get('k') ?? Buffer.alloc(0);
  const record = get('r');
  if (record !== undefined) return { kind: 'set', redisKey, record };
  return { kind: 'removed', redisKey, version: Number(String(get('v'))), reason: String(get('d')) as RemovalReason };
}

/**
 * Whether the entry `id` comes right after `position` (no entry between them was lost): the
 * next ID of the same epoch, or an epoch marker that names `position` as what it follows.
 */
function follows(position: string, id: string, entry: Entry): boolean {
  if (entry.kind === 'epoch') return entry.follows === position;
  const at = parseId(position);
  const next = parseId(id);
  return at !== undefined && next !== undefined && at[0] === next[0] && next[1] === at[1] + 1n;
}

/** `[id, fields]` of each entry of an `XRANGE` reply. */
function entriesOf(reply: unknown): [string, Buffer[]][] {
  if (!Array.isArray(reply)) return [];
  return (reply as [Buffer, Buffer[]][]).map(([id, fields]) => [String(id), fields]);
}

/** `name` of a reply that is a map: a RESP3 map (an object or a `Map`), or a RESP2 flat array. */
function field(reply: unknown, name: string): unknown {
  if (reply instanceof Map) return reply.get(name) as unknown;
  if (Array.isArray(reply)) {
    for (let i = 0; i + 1 < reply.length; i += 2) if (String(reply[i]) === name) return reply[i + 1] as unknown;
    return undefined;
  }
  return typeof reply === 'object' && reply !== null ? (reply as Record<string, unknown>)[name] : undefined;
}

/** The entries of an `XREAD` reply for one stream: `[[stream, entries]]` (RESP2) or `{ stream: entries }`; null when none. */
function readEntries(reply: unknown): [string, Buffer[]][] {
  if (reply === null || typeof reply !== 'object') return [];
  if (Array.isArray(reply)) return entriesOf((reply as [unknown, unknown][])[0]?.[1]);
  const values = reply instanceof Map ? [...(reply.values() as Iterable<unknown>)] : Object.values(reply);
  return entriesOf(values[0]);
}

/** The stream's last generated ID (`0-0` when there is no stream yet), from `XINFO STREAM`. */
async function lastId(ctx: FeedContext, signal: AbortSignal | undefined): Promise<string | undefined> {
  let info: unknown;
  try {
    info = await ctx.read(['XINFO', 'STREAM', ctx.feed.streamKey], signal);
  } catch (error) {
    if (error instanceof RegistryError && /no such key/i.test(error.message)) return undefined;
    throw error;
  }
  const id = field(info, 'last-generated-id');
  if (!Buffer.isBuffer(id) && typeof id !== 'string') {
    throw RegistryError.unavailable('XINFO STREAM gave no last-generated-id');
  }
  return id.toString();
}

/** {@link Registry.cursor} of a Redis change feed: the ID of the stream's latest entry. */
export async function feedCursor(ctx: FeedContext, signal: AbortSignal | undefined): Promise<string> {
  return (await lastId(ctx, signal)) ?? '0-0';
}

/**
 * Checks that the stream still holds every entry after `after`: the first one after it follows
 * it, or there is none and `after` is the latest. `COMPACTED` when entries were trimmed or the
 * stream was lost since; `INVALID_OPTION` for an ID after the latest (never issued).
 */
async function checkResume(ctx: FeedContext, after: string, signal: AbortSignal | undefined): Promise<void> {
  const asked = parseId(after) as [bigint, bigint];
  // the two reads are not atomic: a latest entry past `after` that the range did not show was
  // written between them (a trimmed entry would leave a later one in range), so look again
  for (let look = 0; look < 3; look++) {
    const [next] = entriesOf(await ctx.read(['XRANGE', ctx.feed.streamKey, `(${after}`, '+', 'COUNT', '1'], signal));
    if (next !== undefined) {
      if (!follows(after, next[0], decode(next[1]))) throw RegistryError.compacted(after);
      return;
    }
    const last = await lastId(ctx, signal);
    if (last === undefined) {
      if (after !== '0-0') throw RegistryError.compacted(after);
      return;
    }
    const order = compareIds(asked, parseId(last) as [bigint, bigint]);
    if (order > 0) throw RegistryError.invalidOptionValue('after', 'a cursor this registry issued', after);
    if (order === 0) return;
  }
  throw RegistryError.compacted(after);
}

/**
 * The feed of {@link WatchOptions} on the registry's stream: `XREAD BLOCK` on a connection of
 * the watch's own, from the cursor on, filtered by `prefix` here (a cursor means the same in
 * every watch of the namespace).
 *
 * - Buffering: at most {@link READ_COUNT} changes are read ahead of the consumer; the rest wait
 *   in the stream. A consumer that falls `maxLength` changes behind finds the next one trimmed
 *   and gets `COMPACTED` (every entry's ID is checked to follow the previous one).
 * - Faults: no retry here. A lost connection rejects with `BACKEND_UNAVAILABLE`, and a server
 *   silent for {@link BLOCK_MS} + `timeoutMs` with `TIMEOUT`: resume with `after` the last
 *   cursor seen, which loses nothing while the stream still holds it.
 * - Ending: breaking out, aborting `signal` or closing the registry destroys the connection.
 */
export async function* watchRedis(ctx: FeedContext, options: WatchOptions): AsyncGenerator<RegistryChange> {
  const { prefix = '', after, signal } = options;
  checkOpen(ctx.isClosed(), signal);
  if (typeof prefix !== 'string') throw RegistryError.invalidOptionValue('prefix', 'a string', prefix);
  if (after !== undefined && parseId(after) === undefined) {
    throw RegistryError.invalidOptionValue('after', 'a cursor this registry issued', after);
  }
  let position = after ?? (await feedCursor(ctx, signal));
  if (after !== undefined) await checkResume(ctx, after, signal);
  const stream = ctx.feed.streamKey;
  let wake: (() => void) | undefined;
  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  // resolves `undefined` when woken (abort, close): the loop then rejects as checkOpen says
  const interruptible = <T>(work: Promise<T>): Promise<T | undefined> =>
    new Promise<T | undefined>((resolve, reject) => {
      const timer = setTimeout(() => {
        wake = undefined;
        reject(
          RegistryError.timeout(`Redis did not answer the change feed's XREAD within ${BLOCK_MS + ctx.timeoutMs} ms`),
        );
      }, BLOCK_MS + ctx.timeoutMs);
      wake = () => {
        clearTimeout(timer);
        resolve(undefined);
      };
      work.then(
        (value) => {
          clearTimeout(timer);
          wake = undefined;
          resolve(value);
        },
        (error: unknown) => {
          clearTimeout(timer);
          wake = undefined;
          reject(ctx.mapError(error));
        },
      );
    });
  signal?.addEventListener('abort', notify);
  ctx.closers.add(notify);
  let connection: DedicatedConnection | undefined;
  const connecting = ctx.dedicated();
  try {
    connection = await interruptible(connecting);
    for (;;) {
      checkOpen(ctx.isClosed(), signal);
      const command = ['XREAD', 'COUNT', String(READ_COUNT), 'BLOCK', String(BLOCK_MS), 'STREAMS', stream, position];
      const reply = await interruptible((connection as DedicatedConnection).send(command));
      checkOpen(ctx.isClosed(), signal);
      // null (or undefined when woken) when BLOCK passed without a change
      for (const [id, fields] of readEntries(reply)) {
        const entry = decode(fields);
        if (!follows(position, id, entry)) throw RegistryError.compacted(position);
        position = id;
        if (entry.kind === 'epoch') continue;
        const key = entry.redisKey.subarray(ctx.prefixBytes).toString('utf8');
        if (!key.startsWith(prefix)) continue;
        if (entry.kind === 'set') {
          if (!isRecord(entry.record)) continue;
          yield { type: 'set', record: readRecord(key, entry.record), cursor: id };
        } else yield { type: 'removed', key, version: entry.version, reason: entry.reason, cursor: id };
      }
    }
  } finally {
    signal?.removeEventListener('abort', notify);
    ctx.closers.delete(notify);
    // a connect still under way (the watch was woken or timed out first) is dropped once done
    if (connection === undefined) connecting.then((c) => c.destroy(), ignore);
    else connection.destroy();
  }
}

/** A feed whose first step rejects with `error`. */
export async function* rejectedFeed(error: unknown): AsyncGenerator<RegistryChange> {
  yield* [];
  throw error;
}

function ignore(): void {}
