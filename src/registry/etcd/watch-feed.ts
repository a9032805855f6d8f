import type { Clock, Milliseconds, Timer } from '../../core/clock.js';
import { RegistryError } from '../errors.js';
import { isRecord } from '../record-layout.js';
import type { RegistryChange, WatchOptions } from '../registry.js';
import { checkOpen } from '../validation.js';
import { rangeEnd, toRegistryError } from './calls.js';
import { type Marker, readMarker } from './kv.js';
import {
  cursorOf,
  decodeChange,
  MessageViews,
  parseCursor,
  QueuedChange,
  type Position,
  type Removed,
  removedOf,
} from './watch-changes.js';
import type { StreamEvent, StreamResponse, WatchStream } from './watch-stream.js';

/** A promise rejected with `error` as it is (an abort's reason need not be an `Error`). */
const rejectWith = async (error: unknown): Promise<never> => {
  throw error;
};

/** What an etcd watch needs from its registry. */
export interface WatchContext {
  readonly clock: Clock;
  /** The registry's namespace, as etcd bytes. */
  readonly keyPrefix: Buffer;
  readonly timeoutMs: Milliseconds;
  readonly watchBuffer: number;
  isClosed(): boolean;
  /** Callbacks run when the registry closes (each waiting watch wakes to reject with `CLOSED`). */
  readonly closers: Set<() => void>;
  /** etcd's current revision (a range request's header). */
  revision(signal: AbortSignal | undefined): Promise<number>;
  /** The member URLs watches connect to, one at a time, moving on when one stops answering. */
  readonly hosts: readonly string[];
  /** A new watch stream to member `hosts[i]` only (so that a watch knows, and can leave, its member). */
  openStream(i: number): WatchStream;
  /** Interval of the stream liveness check in ms (see {@link EtcdRegistryOptions.watchProgressMs}). */
  readonly progressMs: Milliseconds;
  /**
   * Resolves when member `hosts[i]` serves a linearizable read within `2 × progressMs` (it is
   * up, reachable, and has a leader); rejects otherwise.
   */
  probe(i: number): Promise<void>;
  /** Open watch streams → the member each is connected to. */
  readonly connected: Map<object, string>;
  /** The values keys had at given revisions (see `EtcdKv.valuesAt`): the records removals removed. */
  valuesAt(
    reads: readonly { readonly key: Buffer; readonly revision: number }[],
    signal: AbortSignal,
  ): Promise<(Buffer | undefined)[]>;
}

// keys whose last record a watch remembers (two numbers each), so that their removals need no read
const KNOWN_KEYS = 1024;

const RETRY_FIRST_MS = 50;
const RETRY_MAX_MS = 1000;

/**
 * A feed of {@link WatchOptions} on etcd's native watch: one gRPC watch stream over the whole
 * namespace from the cursor's revision, filtered by `prefix` here, so a cursor means the same in
 * every watch of the registry.
 *
 * - Removals: the stream is opened without etcd's `prev_kv`, for which etcd 3.4 reads every
 *   change's previous value on its own (a replay of 20 000 writes: 3 s of etcd CPU instead of
 *   0.03 s). A removal of one of the {@link KNOWN_KEYS} keys the feed saw put most recently
 *   reports that record; the others are read at the revision before, in linearizable
 *   transactions of ranges (see `EtcdKv.valuesAt`), once per response that has them; the
 *   changes after a removal wait in order until it is read. A removal whose previous revision
 *   etcd compacted meanwhile ends the feed with `COMPACTED` once the consumer reaches it (etcd no longer holds what it
 *   removed); a read that fails otherwise (each has `timeoutMs`; the client moves to another
 *   member) ends it with its typed error there (a watch from its last cursor resumes there).
 * - Reasons: etcd does not say why a key went, nor when. A caller's `delete` or `clear` puts a
 *   marker (the reason and the registry's time) first in its transaction, and the feed reads
 *   it with the removals of that revision: `expire` when the record's deadline had passed at
 *   that time, `delete` / `clear` otherwise. An unmarked removal is a lease running out or the
 *   registry removing a record it met past its deadline: `expire` (`delete` for a record with
 *   no deadline, which only another client can have removed). So a replay reports what
 *   happened then, not what the record's deadline says now.
 *
 * - Buffering: the stream is paused after the etcd message that brings the read-ahead to
 *   `watchBuffer` changes (so it can pass that mark by one message: one revision's changes when
 *   live, up to 1000 revisions' in a replay), and etcd holds the rest (its slow-watcher queue), so a slow consumer loses
 *   nothing while etcd still has the revisions, and gets `COMPACTED` once they are compacted.
 * - Faults: a stream that breaks (its member died, the connection dropped) or goes silent (a
 *   paused or cut-off member keeps the TCP connection up and errors nothing: after
 *   `progressMs` without a message the stream is asked for a progress report, after twice that
 *   it counts as broken) is opened again from the last change received, on the next member,
 *   with backoff; no change is skipped or repeated. Unreachable for `timeoutMs` (a stream
 *   that opens and breaks before it brings a change or a progress report counts as down), the
 *   loop rejects with `BACKEND_UNAVAILABLE`.
 * - Replays: etcd answers progress requests only once a watch has caught up with its history,
 *   and sends a replay as one response when it is ready (seconds for tens of thousands of
 *   changes). While the stream is behind the revision etcd had when it opened, a silent stream
 *   is judged by its member instead: asked for a linearizable read, a member that answers
 *   within `2 × progressMs` keeps it, one that does not is left (within about 4 × `progressMs`).
 */
export function watchEtcd(ctx: WatchContext, options: WatchOptions): AsyncIterableIterator<RegistryChange> {
  const { prefix = '', after, signal } = options;
  let asked: Position | undefined;
  // after event `index` of revision `revision` (`Infinity`: all of it): where the feed stands
  let atRevision = 0;
  let atIndex = Number.POSITIVE_INFINITY;
  const queue: QueuedChange[] = [];
  // reads of removed records in flight, cancelled when the feed ends
  const reads = new AbortController();
  let head = 0;
  let failure: Error | undefined;
  let wake: (() => void) | undefined;
  let stream: WatchStream | undefined;
  let paused = false;
  let ended = false;
  let retryTimer: Timer | undefined;
  let retryDelay = RETRY_FIRST_MS;
  let downSince: number | undefined;
  let first = true;
  // the member the stream uses: a random one first (spreading watches), then the next in turn
  let host = Math.floor(Math.random() * ctx.hosts.length);
  let heardAt = ctx.clock.now();
  let liveness: Timer | undefined;
  // event index within the revision being received (one transaction: several events)
  let seenRevision = -1;
  let seenIndex = -1;
  // etcd's revision when the stream opened, and the newest it reported since (an event or a
  // progress answer): below it, etcd is still replaying history (see the liveness check)
  let openedRevision = 0;
  let reportedRevision = 0;
  let probing = false;

  const notify = (): void => {
    const w = wake;
    wake = undefined;
    w?.();
  };
  const fail = (error: Error): void => {
    failure ??= error;
    notify();
  };

  // set by start(), once `prefix` is known to be a string
  let prefixBytes = Buffer.alloc(0);
  const keyStart = ctx.keyPrefix.length;

  const readRemoved = (pending: readonly QueuedChange[]): void => {
    const asked = pending.map((p) => ({ key: p.etcdKey, revision: p.revision - 1 }));
    ctx.valuesAt(asked, reads.signal).then(
      (values) => {
        pending.forEach((p, i) => {
          p.removed = removedOf(values[i]);
        });
        notify();
      },
      (error: unknown) => {
        if (ended) return;
        // what the first removal removed is gone from etcd: the feed holds up to the change before it
        const first = pending[0] as QueuedChange;
        const before = first.index > 0 ? `${first.revision}.${first.index - 1}` : `${first.revision - 1}`;
        fail(
          error instanceof RegistryError && error.code === 'COMPACTED'
            ? RegistryError.compacted(before, error)
            : toRegistryError(error, 'watch read'),
        );
      },
    );
  };

  // the removals of the response being received, read together once it is
  let removals: QueuedChange[] = [];
  // the removal marker of the revision being received (see `EtcdKv.marker`)
  let markRevision = -1;
  let marker: Marker | undefined;
  // the header of the last record seen put under each key of the prefix, most recent
  // {@link KNOWN_KEYS} keys: a removal of one of them needs no read (a replay of writes and
  // deletes, a live watch that saw the write)
  const known = new Map<string, Removed>();
  const views = new MessageViews();

  const onEvent = (event: StreamEvent): void => {
    const revision = event.kv.mod_revision;
    if (revision !== seenRevision) {
      seenRevision = revision;
      seenIndex = 0;
    } else seenIndex++;
    const etcdKey = event.kv.key;
    if (etcdKey.length === keyStart) {
      // the namespace key: the marker of the removals that follow in this revision, read even
      // where the feed resumes after it (a cursor within the revision)
      const read = event.type === 'Put' ? readMarker(event.kv.value) : undefined;
      if (read !== undefined) {
        markRevision = revision;
        marker = read;
      }
    }
    // an event at or before the feed's position comes again after a reopen: only remembered
    const delivered = revision < atRevision || (revision === atRevision && seenIndex <= atIndex);
    if (!delivered) {
      atRevision = revision;
      atIndex = seenIndex;
    }
    if (
      etcdKey.length === keyStart ||
      (prefixBytes.length > 0 &&
        (etcdKey.length < keyStart + prefixBytes.length ||
          prefixBytes.compare(etcdKey, keyStart, keyStart + prefixBytes.length) !== 0))
    ) {
      return;
    }
    const id = etcdKey.toString('latin1');
    const value = event.kv.value;
    if (event.type === 'Put') {
      known.delete(id);
      if (!isRecord(value)) return;
      known.set(id, removedOf(value));
      if (known.size > KNOWN_KEYS) known.delete(known.keys().next().value as string);
      if (!delivered)
        queue.push(new QueuedChange(views.slice(etcdKey), views.slice(value), revision, seenIndex, undefined));
      return;
    }
    const removed = known.get(id);
    known.delete(id);
    if (delivered) return;
    const removal = new QueuedChange(
      views.slice(etcdKey),
      undefined,
      revision,
      seenIndex,
      markRevision === revision ? marker : undefined,
    );
    // a record the feed saw put needs no read
    if (removed === undefined) removals.push(removal);
    else removal.removed = removed;
    queue.push(removal);
  };

  const onData = (response: StreamResponse): void => {
    heardAt = ctx.clock.now();
    if (response.canceled) {
      fail(
        response.compact_revision > 0
          ? RegistryError.compacted(cursorOf({ revision: atRevision, index: atIndex }))
          : RegistryError.unavailable(`etcd cancelled the watch: ${response.cancel_reason}`),
      );
      return;
    }
    if (response.created) {
      // a member that opens the watch and cuts it before it delivers anything is still down:
      // the backoff and the deadline reset once the stream brings changes or a progress report
      if (first && asked !== undefined && asked.revision > response.header.revision) {
        fail(RegistryError.invalidOptionValue('after', 'a cursor this registry issued', after));
      }
      first = false;
      openedRevision = response.header.revision;
      return;
    }
    downSince = undefined;
    retryDelay = RETRY_FIRST_MS;
    if (response.events.length === 0) reportedRevision = response.header.revision;
    for (const event of response.events) onEvent(event);
    if (removals.length > 0) {
      readRemoved(removals);
      removals = [];
    }
    if (queue.length - head >= ctx.watchBuffer && stream !== undefined && !paused) {
      paused = true;
      stream.pause();
    }
    notify();
  };

  const open = (): void => {
    seenRevision = -1;
    seenIndex = -1;
    openedRevision = 0;
    reportedRevision = 0;
    const start = atIndex === Number.POSITIVE_INFINITY ? atRevision + 1 : atRevision;
    const opened = ctx.openStream(host);
    stream = opened;
    ctx.connected.set(opened, ctx.hosts[host] as string);
    heardAt = ctx.clock.now();
    paused = false;
    opened.on('data', onData);
    opened.on('error', (error) => broken(opened, error));
    opened.on('end', () => broken(opened, new Error('the watch stream ended')));
    opened.write({
      create_request: {
        key: ctx.keyPrefix,
        range_end: rangeEnd(ctx.keyPrefix),
        start_revision: Math.max(1, start),
        // etcd sends a replay as one response unless asked to split it; the client refuses a
        // message over 4 MiB (gRPC's default), so history beyond that could never be replayed
        fragment: true,
      },
    });
  };

  const broken = (which: typeof stream, error: unknown): void => {
    if (which !== stream || ended) return;
    if (which !== undefined) {
      ctx.connected.delete(which);
      which.on('error', () => {});
      which.cancel();
    }
    stream = undefined;
    host = (host + 1) % ctx.hosts.length;
    const now = ctx.clock.now();
    downSince ??= now;
    if (now - downSince >= ctx.timeoutMs) {
      fail(RegistryError.unavailable(`etcd watch: no member reachable for ${ctx.timeoutMs} ms`, error));
      return;
    }
    retryTimer = ctx.clock.setTimeout(() => {
      retryTimer = undefined;
      if (ended) return;
      try {
        open();
      } catch (e) {
        broken(undefined, e);
      }
    }, retryDelay);
    retryDelay = Math.min(RETRY_MAX_MS, retryDelay * 2);
  };

  // a replaying stream is as alive as its member: a member that serves a read keeps it
  const probe = (current: NonNullable<typeof stream>): void => {
    probing = true;
    ctx.probe(host).then(
      () => {
        probing = false;
        if (current === stream) heardAt = ctx.clock.now();
      },
      (error: unknown) => {
        probing = false;
        broken(current, new Error('the member of a replaying watch did not answer a read', { cause: error }));
      },
    );
  };

  const check = (): void => {
    liveness = ctx.clock.setTimeout(check, ctx.progressMs);
    const current = stream;
    if (current === undefined) return;
    // a paused stream is silent by our choice, not its member's
    if (paused) heardAt = ctx.clock.now();
    const silentMs = ctx.clock.now() - heardAt;
    if (silentMs < ctx.progressMs) return;
    if (openedRevision > Math.max(seenRevision, reportedRevision)) {
      // behind the revision etcd had when the stream opened: etcd ignores progress requests
      // until the replay is sent, and sends it as one response when it is ready
      if (!probing) probe(current);
    } else if (silentMs >= 2 * ctx.progressMs) {
      broken(current, new Error(`the watch stream was silent for ${silentMs} ms`));
    } else {
      current.write({ progress_request: {} });
    }
  };

  // the feed as an iterator written out (an async generator costs a few promise turns per
  // change): a change already read ahead is handed over in one resolved promise
  let state: 'new' | 'starting' | 'open' | 'done' = 'new';
  let waiting: Promise<IteratorResult<RegistryChange>> | undefined;

  const finish = (): void => {
    if (state === 'done') return;
    state = 'done';
    ended = true;
    reads.abort();
    views.clear();
    retryTimer?.cancel();
    liveness?.cancel();
    if (stream !== undefined) ctx.connected.delete(stream);
    signal?.removeEventListener('abort', notify);
    ctx.closers.delete(notify);
    stream?.cancel();
    stream = undefined;
  };

  const start = async (): Promise<void> => {
    checkOpen(ctx.isClosed(), signal);
    if (typeof prefix !== 'string') throw RegistryError.invalidOptionValue('prefix', 'a string', prefix);
    prefixBytes = Buffer.from(prefix);
    asked = after === undefined ? undefined : parseCursor(after);
    signal?.addEventListener('abort', notify);
    ctx.closers.add(notify);
    liveness = ctx.clock.setTimeout(check, ctx.progressMs);
    atRevision = asked?.revision ?? (await ctx.revision(signal));
    atIndex = asked?.index ?? Number.POSITIVE_INFINITY;
    if (ended) return;
    try {
      open();
    } catch (error) {
      throw toRegistryError(error, 'watch');
    }
  };

  // the next change if one is ready; undefined when the feed must wait for one
  const take = (): IteratorResult<RegistryChange> | undefined => {
    checkOpen(ctx.isClosed(), signal);
    const next = queue[head];
    if (next?.ready === true) {
      const change = decodeChange(next, keyStart);
      queue[head++] = undefined as unknown as QueuedChange;
      if (head > 1024 && head * 2 > queue.length) {
        queue.splice(0, head);
        head = 0;
      }
      if (paused && queue.length - head < ctx.watchBuffer / 2 && stream !== undefined) {
        paused = false;
        stream.resume();
      }
      return { value: change, done: false };
    }
    if (failure !== undefined) throw failure;
    return undefined;
  };

  const wait = async (): Promise<IteratorResult<RegistryChange>> => {
    try {
      if (state === 'new') {
        state = 'starting';
        await start();
        if (state !== 'starting') return { value: undefined, done: true };
        state = 'open';
      }
      for (;;) {
        const taken = take();
        if (taken !== undefined) return taken;
        await new Promise<void>((resolve) => {
          wake = resolve;
        });
        if (state === 'done') return { value: undefined, done: true };
      }
    } catch (error) {
      finish();
      throw error;
    }
  };

  const next = (): Promise<IteratorResult<RegistryChange>> => {
    if (state === 'done') return Promise.resolve({ value: undefined, done: true });
    if (waiting !== undefined) return waiting.then(next);
    if (state === 'open') {
      try {
        const taken = take();
        if (taken !== undefined) return Promise.resolve(taken);
      } catch (error) {
        finish();
        return rejectWith(error);
      }
    }
    const waited = wait();
    const settled = (): void => {
      if (waiting === waited) waiting = undefined;
    };
    waiting = waited;
    waited.then(settled, settled);
    return waited;
  };

  return {
    next,
    return(): Promise<IteratorResult<RegistryChange>> {
      finish();
      notify();
      return Promise.resolve({ value: undefined, done: true });
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}
