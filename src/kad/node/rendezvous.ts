import type { Clock, Milliseconds } from '../../core/clock.js';
import { KadError } from '../errors.js';
import { idToHex, type NodeId } from '../id.js';
import { TokenBucket } from '../rpc/rate-limit.js';
import type { QuerySource } from '../serve/handlers.js';
import type { WriteTokens } from '../serve/tokens.js';
import type { AddressFamily, Contact, PeerAddress } from '../wire/compact.js';
import type { BencodeDict } from '../wire/bencode.js';
import {
  type IntroduceArgs,
  type IntroduceReply,
  PUNCH_METHOD,
  readIntroduceArgs,
  readPunchReplySymmetric,
  writeIntroduceReply,
  writePunchArgs,
} from '../wire/punch-args.js';
import { type RemoteInfo, sameEndpoint } from '../transport/transport.js';
import type { FamilyStack } from './family-stack.js';
import type { ResolvedHolePunchOptions } from './hole-punch-options.js';

/** Queriers the table does not hold (read-only, refused for subnet diversity, or at a new address); beyond it the oldest are forgotten. */
const MAX_HEARD = 256;
/** Rate-limit buckets kept per requester IP and per target; beyond it the least recent are forgotten. */
const MAX_BUCKETS = 1024;
/** Introductions waiting on a target's acknowledgement at once; one more is `busy`. */
const MAX_PENDING = 32;

/** Collaborators of a {@link Rendezvous}. @internal */
export interface RendezvousDeps {
  readonly id: NodeId;
  readonly clock: Clock;
  readonly tokens: WriteTokens;
  readonly options: ResolvedHolePunchOptions;
  readonly stackOf: (family: AddressFamily) => FamilyStack | undefined;
  readonly lifetime: AbortSignal;
}

interface Heard extends RemoteInfo {
  readonly id: NodeId;
  readonly at: Milliseconds;
}

/**
 * The rendezvous side of hole punching: answers `nautilus_introduce`. It introduces only a
 * requester that proves its source address (a write token issued to its IP, as `announce_peer`
 * does) to a target it already talks to: a contact of its routing table, or a node its table
 * does not hold as it is (read-only, BEP 43; one subnet too many in its bucket; known at an older
 * address) that queried it within
 * `recentMs`. For each introduction it sends the target one
 * `nautilus_punch` (a datagram the size of the requester's query), and answers the requester with
 * the target's external address; it never sends anything to an address a requester names.
 * Introductions are rate-limited per requester IP and per target, and at most 32 wait at once.
 * @internal
 */
export class Rendezvous {
  readonly #deps: RendezvousDeps;
  // created on first use: a node that never serves as a rendezvous holds none of them
  #heard: Map<string, Heard> | undefined;
  #requesters: Map<string, TokenBucket> | undefined;
  #targets: Map<string, TokenBucket> | undefined;
  #pending = 0;

  constructor(deps: RendezvousDeps) {
    this.#deps = deps;
  }

  /** Node `id`, which the routing table does not hold, queried this node from `from`. */
  heard(id: NodeId, from: RemoteInfo): void {
    const heard = (this.#heard ??= new Map<string, Heard>());
    const key = idToHex(id);
    heard.delete(key);
    heard.set(key, { id, host: from.host, port: from.port, family: from.family, at: this.#deps.clock.now() });
    if (heard.size > MAX_HEARD) heard.delete(heard.keys().next().value as string);
  }

  /** Serves `nautilus_introduce` from `from`: the reply's `r` without `id`. */
  async introduce(a: BencodeDict, from: QuerySource): Promise<BencodeDict> {
    const args = readIntroduceArgs(a);
    const { tokens, options } = this.#deps;
    const token = tokens.issue(from.host);
    const reply = (fields: Omit<IntroduceReply, 'token'>): BencodeDict => writeIntroduceReply({ ...fields, token });
    // a spoofed source never receives its token: the target is never told to punch toward a victim
    if (args.token === undefined || !tokens.verify(from.host, args.token)) return reply({ status: 'token' });
    const target = this.#find(args, from);
    if (target === undefined) return reply({ status: 'unknown' });
    const stack = this.#deps.stackOf(target.family);
    if (stack === undefined || target.family !== from.family) return reply({ status: 'unknown' });
    const rate = { ratePerSecond: options.introduceRatePerSecond, burst: options.introduceBurst };
    if (
      this.#pending >= MAX_PENDING ||
      !this.#take((this.#requesters ??= new Map<string, TokenBucket>()), from.host, rate)
    ) {
      return reply({ status: 'busy' });
    }
    if (!this.#take((this.#targets ??= new Map<string, TokenBucket>()), idToHex(target.id), rate))
      return reply({ status: 'busy' });
    this.#pending++;
    try {
      const addr: PeerAddress = { host: from.host, port: from.port };
      const { r } = await stack.probe(
        target,
        PUNCH_METHOD,
        writePunchArgs({ id: this.#deps.id, addr, peer: args.id }),
        {
          signal: this.#deps.lifetime,
          timeoutMs: options.notifyTimeoutMs / 2,
          retries: 1,
        },
      );
      const symmetric = readPunchReplySymmetric(r);
      return reply({
        status: 'introduced',
        addr: { host: target.host, port: target.port },
        target: target.id,
        symmetric,
      });
    } catch {
      if (this.#deps.lifetime.aborted) throw KadError.closed('node');
      return reply({ status: 'unreachable' });
    } finally {
      this.#pending--;
    }
  }

  /** The target named by id and/or address: an unheld querier heard within `recentMs`, or a table contact. */
  #find(args: IntroduceArgs, from: QuerySource): (Contact & { family: AddressFamily }) | undefined {
    const matches = (c: Contact): boolean =>
      (args.target === undefined || idToHex(c.id) === idToHex(args.target)) &&
      (args.addr === undefined || sameEndpoint(c, args.addr));
    const requester = (c: Contact): boolean => sameEndpoint(c, from) || idToHex(c.id) === idToHex(args.id);
    const now = this.#deps.clock.now();
    const heard = this.#heard;
    if (heard !== undefined) {
      const candidates = args.target === undefined ? heard.values() : [heard.get(idToHex(args.target))];
      for (const c of candidates) {
        if (c !== undefined && now - c.at < this.#deps.options.recentMs && matches(c) && !requester(c)) return c;
      }
    }
    const stack = this.#deps.stackOf(from.family);
    if (stack === undefined) return undefined;
    const contacts =
      args.target === undefined ? stack.closest(this.#deps.id, Number.MAX_SAFE_INTEGER) : stack.closest(args.target, 1);
    const found = contacts.find((c) => matches(c) && !requester(c));
    return found === undefined ? undefined : { ...found, family: from.family };
  }

  #take(buckets: Map<string, TokenBucket>, key: string, rate: { ratePerSecond: number; burst: number }): boolean {
    let bucket = buckets.get(key);
    if (bucket === undefined) {
      bucket = new TokenBucket(rate, { clock: this.#deps.clock });
      if (buckets.size >= MAX_BUCKETS) buckets.delete(buckets.keys().next().value as string);
    } else buckets.delete(key);
    buckets.set(key, bucket);
    return bucket.tryTake();
  }
}
