import { setMaxListeners } from 'node:events';
import type { Milliseconds, Timer } from '../../core/clock.js';
import { isKadError, KadError, withoutStackTrace } from '../errors.js';
import { bytesEqual, compareDistance, type NodeId } from '../id.js';
import { abortReason } from '../option-checks.js';
import { type EndpointId, endpointId, endpointKey } from '../transport/transport.js';
import type { AddressFamily, Contact, PeerAddress } from '../wire/compact.js';
import type { ResponseValues } from '../wire/krpc-args.js';
import { type Candidate, CandidateSet } from './candidates.js';
import type { LookupInit, LookupLatency } from './lookup-init.js';
import type { LookupDoneEvent, LookupEnd, LookupEvent, LookupResult } from './events.js';
import { routableContact, routableFamily } from './routable.js';
import { checkItem } from './values.js';

/** One path of one address family: its candidates and what it has in flight. */
interface Track {
  readonly path: number;
  readonly family: AddressFamily;
  readonly set: CandidateSet;
  requests: number;
  /** Weight (see `MEASURED_WEIGHT`) of the queries in flight whose soft deadline did not pass. */
  active: number;
  /** Queries in flight, stalled ones included. */
  outstanding: number;
  state: 'running' | 'converged' | 'limited';
}

interface Flight {
  readonly track: Track;
  readonly candidate: Candidate;
  readonly sentAt: Milliseconds;
  soft: Timer | undefined;
}

/**
 * What a query to a node whose round-trip time was measured counts against α (any other query
 * counts 1): its answer is due at a known time, so fewer queries beside it hedge against its loss
 * — at α 3, one instead of two.
 */
const MEASURED_WEIGHT = 2;

/** What a query to `candidate` counts against α while its soft deadline has not passed. */
function weightOf(candidate: Candidate): number {
  return candidate.measured ? MEASURED_WEIGHT : 1;
}

type Waiter = { resolve: (result: IteratorResult<LookupEvent>) => void; reject: (error: unknown) => void };

/**
 * An iterative Kademlia lookup toward `target` (§2.3), as an async iterator of
 * {@link LookupEvent}s ending with `done`. Candidates are ordered by XOR distance and each node
 * is asked at most once; `alpha` queries are in flight per path and family (with proximity
 * routing, one to a node whose round-trip time was measured counts twice), and a query whose
 * soft deadline passes lets the next candidate be asked (up to `maxAlpha` outstanding) while its
 * late answer is still used. A path converges when the k closest live candidates it knows have
 * answered; a `get` ends at the first immutable item that verifies. Bounded by `maxRequests`,
 * `maxCandidates` and `timeoutMs`; `signals` abort it, and so does leaving the iteration (`return`).
 *
 * The lookup starts on the first `next()`. It is single-use.
 */
export class Lookup implements AsyncIterableIterator<LookupEvent> {
  readonly #init: LookupInit;
  readonly #tracks: Track[] = [];
  /** Ids (per family) and endpoints admitted so far, across every path: each node is a candidate once. */
  readonly #seen = new Set<string | EndpointId>();
  readonly #flights = new Set<Flight>();
  readonly #controller = new AbortController();
  readonly #queue: LookupEvent[] = [];
  readonly #waiters: Waiter[] = [];
  readonly #onAbort = (): void => {
    const aborted = this.#init.signals?.find((signal) => signal.aborted);
    if (aborted !== undefined) this.#fail(abortReason(aborted));
  };
  #startedAt = 0;
  #deadline: Timer | undefined;
  #started = false;
  #finished = false;
  #error: { reason: unknown } | undefined;
  #queried = 0;
  #responded = 0;
  #timedOut = 0;
  #invalidValues = 0;
  /** Contacts offered by {@link addSeeds} before the lookup started. */
  /** Seeds dealt so far per family, for the round-robin over paths. */
  readonly #dealt = new Map<AddressFamily, number>();
  #paths = 1;
  #latency: LookupLatency | undefined;
  #early: { seeds: readonly Contact[]; responded: readonly Contact[] }[] = [];

  constructor(init: LookupInit) {
    this.#init = init;
  }

  /** The lookup itself: it is its own, single-use, iterator. */
  [Symbol.asyncIterator](): this {
    return this;
  }

  /**
   * The next event (starting the lookup on the first call); `done` after the `done` event.
   * Rejects with the abort reason of `signals` (once), then is done.
   */
  next(): Promise<IteratorResult<LookupEvent>> {
    if (!this.#started) this.#start();
    const event = this.#queue.shift();
    if (event !== undefined) return Promise.resolve({ value: event, done: false });
    if (this.#error !== undefined) {
      const { reason } = this.#error;
      this.#error = undefined; // reported once; the iterator is then done
      return Promise.reject(reason instanceof Error ? reason : KadError.aborted(reason));
    }
    if (this.#finished) return Promise.resolve({ value: undefined, done: true });
    return new Promise((resolve, reject) => this.#waiters.push({ resolve, reject }));
  }

  /**
   * Offers more contacts to a lookup under way: `seeds` to ask, `responded` that already answered
   * this very query (a bootstrap node whose answer came after the lookup started). They are
   * admitted as at the start (unusable and known ones dropped) and asked if close enough. Says
   * whether the lookup could still take them: `false` once it ended.
   */
  addSeeds(seeds: readonly Contact[], responded: readonly Contact[] = []): boolean {
    if (this.#finished || this.#error !== undefined) return false;
    if (!this.#started) {
      this.#early.push({ seeds, responded });
      return true;
    }
    this.#admitAll(seeds, responded);
    this.#pump();
    return true;
  }

  /** Ends the lookup early (a `break` out of `for await`): queries in flight are aborted. */
  return(): Promise<IteratorResult<LookupEvent>> {
    this.#started = true;
    this.#queue.length = 0;
    this.#error = undefined;
    this.#stop();
    for (const waiter of this.#waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
    return Promise.resolve({ value: undefined, done: true });
  }

  #start(): void {
    this.#started = true;
    const init = this.#init;
    const { clock, options } = init;
    const signals = init.signals ?? [];
    this.#startedAt = clock.now();
    if (signals.some((signal) => signal.aborted)) {
      this.#onAbort();
      return;
    }
    for (const signal of signals) signal.addEventListener('abort', this.#onAbort, { once: true });
    this.#deadline = clock.setTimeout(() => this.#finish('deadline'), options.timeoutMs);
    const paths = Math.max(1, init.disjointPaths ?? 1);
    this.#paths = paths;
    const latency = options.proximity ? init.latency : undefined;
    this.#latency = latency;
    // a hop gains about log2(k) + 1 leading bits (the best of the k contacts of the bucket asked)
    const msPerBit = latency === undefined ? 0 : latency.typicalMs / (Math.log2(init.k) + 1);
    // each query in flight listens (its RPC request and the queue slots it may wait for)
    setMaxListeners(4 * options.maxAlpha * paths * init.families.length + 8, this.#controller.signal);
    for (let path = 0; path < paths; path++) {
      for (const family of init.families) {
        const set = new CandidateSet(init.target, init.k, Math.max(options.maxCandidates, options.maxAlpha), msPerBit);
        this.#tracks.push({ path, family, set, requests: 0, active: 0, outstanding: 0, state: 'running' });
      }
    }
    for (const endpoint of init.selfEndpoints ?? []) this.#seen.add(endpointId(endpoint));
    this.#admitAll(init.seeds, init.responded ?? []);
    for (const { seeds, responded } of this.#early) this.#admitAll(seeds, responded);
    this.#early = [];
    this.#pump();
  }

  /** Admits `responded` as answered, then `seeds` closest first, dealt round-robin over the paths of their family (S/Kademlia). */
  #admitAll(seeds: readonly Contact[], responded: readonly Contact[]): void {
    const { target } = this.#init;
    for (const contact of responded) this.#admit(contact, 0, 'answered');
    const sorted = [...seeds].sort((a, b) => compareDistance(target, a.id, b.id));
    for (const seed of sorted) {
      const family = routableContact(seed);
      if (family === undefined) continue;
      const n = this.#dealt.get(family) ?? 0;
      if (this.#admit(seed, n % this.#paths, 'fresh')) this.#dealt.set(family, n + 1);
    }
  }

  /** Admits `contact` to the path's set of its family unless it is unusable or already known. */
  #admit(contact: Contact, path: number, state: 'fresh' | 'answered'): boolean {
    const family = routableContact(contact);
    if (family === undefined || bytesEqual(contact.id, this.#init.self)) return false;
    // a dual-stack node has the same id in both families: ids are unique per family
    const idKey = idKeyOf(family, contact.id);
    const endpoint = endpointId(contact);
    if (this.#seen.has(idKey) || this.#seen.has(endpoint)) return false;
    const track = this.#tracks.find((t) => t.path === path && t.family === family);
    if (track === undefined) return false;
    this.#seen.add(idKey);
    this.#seen.add(endpoint);
    const copy: Contact = { id: contact.id, host: contact.host, port: contact.port };
    const latency = this.#latency;
    const measured = latency?.of(copy);
    const rttMs = latency === undefined ? 0 : (measured ?? latency.typicalMs);
    return track.set.add(copy, state, rttMs, measured !== undefined) !== undefined;
  }

  /** Asks what each track may ask now, then ends tracks, and the lookup, that are done. */
  #pump(): void {
    if (this.#finished) return;
    const { alpha, maxAlpha, maxRequests } = this.#init.options;
    let running = 0;
    for (const track of this.#tracks) {
      if (track.state === 'limited') continue;
      // a converged track reopens when a late answer brought closer candidates
      if (track.state === 'converged' && track.set.converged()) continue;
      track.state = 'running';
      while (track.active < alpha && track.outstanding < maxAlpha && track.requests < maxRequests) {
        const candidate = track.set.nextToAsk();
        if (candidate === undefined) break;
        this.#launch(track, candidate);
        if (this.#finished) return;
      }
      if (track.set.converged()) track.state = 'converged';
      else if (track.requests >= maxRequests && track.active === 0) track.state = 'limited';
      else running++;
    }
    if (running > 0) return;
    this.#finish(this.#tracks.some((t) => t.state === 'limited') ? 'request-limit' : 'converged');
  }

  #launch(track: Track, candidate: Candidate): void {
    const init = this.#init;
    const to = candidate.contact;
    candidate.state = 'pending';
    track.requests++;
    track.active += weightOf(candidate);
    track.outstanding++;
    this.#queried++;
    const flight: Flight = { track, candidate, sentAt: init.clock.now(), soft: undefined };
    this.#flights.add(flight);
    this.#emit({ type: 'query', to, method: init.method, path: track.path });
    flight.soft = init.clock.setTimeout(() => this.#onSoftDeadline(flight), init.softDeadline(to));
    let reply: Promise<ResponseValues>;
    try {
      reply = init.query(to, this.#controller.signal);
    } catch (error) {
      reply = Promise.reject(error instanceof Error ? error : new Error(String(error)));
    }
    reply.then(
      (values) => this.#onReply(flight, values),
      (error: unknown) => this.#onFailure(flight, error),
    );
  }

  #onSoftDeadline(flight: Flight): void {
    flight.soft = undefined;
    if (this.#finished || flight.candidate.state !== 'pending') return;
    flight.candidate.state = 'stalled';
    flight.track.active -= weightOf(flight.candidate);
    this.#emit({ type: 'timeout', to: flight.candidate.contact, final: false, path: flight.track.path });
    this.#pump();
  }

  /** Takes `flight` out of the in-flight counts. */
  #land(flight: Flight): void {
    this.#flights.delete(flight);
    flight.soft?.cancel();
    flight.soft = undefined;
    if (flight.candidate.state === 'pending') flight.track.active -= weightOf(flight.candidate);
    flight.track.outstanding--;
  }

  #onReply(flight: Flight, values: ResponseValues): void {
    if (this.#finished) return;
    this.#land(flight);
    const { candidate, track } = flight;
    const from = candidate.contact;
    const init = this.#init;
    if (!bytesEqual(values.id, from.id)) {
      // an endpoint that answers with another id than the one it was advertised with: not that node
      candidate.state = 'failed';
      const error = KadError.invalidMessage(`${endpointKey(from)} answered with another node id`);
      this.#emit({ type: 'error', to: from, error, path: track.path });
      this.#pump();
      return;
    }
    candidate.state = 'answered';
    this.#responded++;
    let newContacts = 0;
    for (const list of [values.nodes, values.nodes6]) {
      for (const contact of list ?? []) if (this.#admit(contact, track.path, 'fresh')) newContacts++;
    }
    const rttMs = init.clock.now() - flight.sentAt;
    const { token, seq } = values;
    this.#emit({ type: 'response', from, rttMs, newContacts, token, seq, path: track.path });
    if (init.method === 'get_peers' && values.values !== undefined) {
      const peers = values.values.filter((peer: PeerAddress) => routableFamily(peer) !== undefined);
      if (peers.length > 0) this.#emit({ type: 'peers', from, peers, path: track.path });
    }
    if (init.method === 'get') {
      const item = checkItem(values, init.target, init.salt);
      if (item === 'invalid') this.#invalidValues++;
      else if (item !== undefined) {
        const mutable = 'k' in item;
        this.#emit({ type: 'value', from, item, seq: mutable ? item.seq : undefined, path: track.path });
        if (!mutable && init.stopAtValue !== false) {
          this.#finish('found');
          return;
        }
      }
    }
    this.#pump();
  }

  #onFailure(flight: Flight, error: unknown): void {
    if (this.#finished) return;
    this.#land(flight);
    const { candidate, track } = flight;
    candidate.state = 'failed';
    if (isKadError(error, 'TIMEOUT')) {
      this.#timedOut++;
      this.#emit({ type: 'timeout', to: candidate.contact, final: true, path: track.path });
    } else {
      const kadError =
        error instanceof KadError
          ? error
          : KadError.invalidMessage('query failed', error instanceof Error ? error : undefined);
      this.#emit({ type: 'error', to: candidate.contact, error: kadError, path: track.path });
    }
    this.#pump();
  }

  #emit(event: LookupEvent): void {
    const waiter = this.#waiters.shift();
    if (waiter !== undefined) waiter.resolve({ value: event, done: false });
    else this.#queue.push(event);
  }

  #finish(ended: LookupEnd): void {
    if (this.#finished) return;
    const result = this.#result();
    this.#stop();
    const done: LookupDoneEvent = { type: 'done', ...result, ended, invalidValues: this.#invalidValues };
    this.#emit(done);
    for (const waiter of this.#waiters.splice(0)) waiter.resolve({ value: undefined, done: true });
  }

  #fail(reason: unknown): void {
    if (this.#finished) return;
    this.#stop();
    this.#queue.length = 0;
    const waiters = this.#waiters.splice(0);
    const error = reason instanceof Error ? reason : KadError.aborted(reason);
    if (waiters.length === 0) this.#error = { reason: error };
    for (const waiter of waiters) waiter.reject(error);
  }

  /** Ends everything in flight and every timer. */
  #stop(): void {
    this.#finished = true;
    this.#deadline?.cancel();
    for (const signal of this.#init.signals ?? []) signal.removeEventListener('abort', this.#onAbort);
    for (const flight of this.#flights) flight.soft?.cancel();
    this.#flights.clear();
    // the reason the queries still in flight are dropped with: every lookup ends, no stack trace
    this.#controller.abort(withoutStackTrace(() => KadError.aborted('lookup ended')));
  }

  #result(): LookupResult {
    const { target, k } = this.#init;
    const closest: Contact[] = [];
    for (const family of this.#init.families) {
      const answered = this.#tracks.filter((t) => t.family === family).flatMap((t) => t.set.answered(k));
      answered.sort((a, b) => compareDistance(target, a.id, b.id));
      closest.push(...answered.slice(0, k));
    }
    closest.sort((a, b) => compareDistance(target, a.id, b.id));
    return {
      closest,
      queried: this.#queried,
      responded: this.#responded,
      timedOut: this.#timedOut,
      durationMs: this.#init.clock.now() - this.#startedAt,
    };
  }
}

/**
 * Runs `events` to the end and returns its `done` event, calling `onEvent` on each event first.
 * Rejects as the iteration does (with `signal.reason` when aborted).
 */
export async function drainLookup(
  events: AsyncIterable<LookupEvent>,
  onEvent?: (event: LookupEvent) => void,
): Promise<LookupDoneEvent> {
  for await (const event of events) {
    onEvent?.(event);
    if (event.type === 'done') return event;
  }
  throw KadError.aborted('the lookup ended without a result');
}

/**
 * The key of a node id in a lookup's seen set: the family number (char 4 or 6) then the id's 20
 * bytes as chars (one string, no buffer). It never equals an {@link EndpointId}: those are
 * numbers (IPv4), or host text, which never starts with a control char.
 */
function idKeyOf(family: AddressFamily, id: NodeId): string {
  return String.fromCharCode(
    family,
    id[0] ?? 0,
    id[1] ?? 0,
    id[2] ?? 0,
    id[3] ?? 0,
    id[4] ?? 0,
    id[5] ?? 0,
    id[6] ?? 0,
    id[7] ?? 0,
    id[8] ?? 0,
    id[9] ?? 0,
    id[10] ?? 0,
    id[11] ?? 0,
    id[12] ?? 0,
    id[13] ?? 0,
    id[14] ?? 0,
    id[15] ?? 0,
    id[16] ?? 0,
    id[17] ?? 0,
    id[18] ?? 0,
    id[19] ?? 0,
  );
}
