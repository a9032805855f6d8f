import type { Clock, Milliseconds } from '../../core/clock.js';
import { isKadError, KadError, WireError } from '../errors.js';
import { assertNodeId, idToHex, type NodeId } from '../id.js';
import { abortReason, optionError } from '../option-checks.js';
import { TokenBucket } from '../rpc/rate-limit.js';
import type { ExtensionHandler } from '../serve/handlers.js';
import type { WriteTokens } from '../serve/tokens.js';
import type { BencodeDict } from '../wire/bencode.js';
import { type AddressFamily, type Contact, familyOf } from '../wire/compact.js';
import { writePingArgs } from '../wire/krpc-args.js';
import {
  INTRODUCE_METHOD,
  type IntroduceReply,
  PUNCH_METHOD,
  readIntroduceReply,
  readPunchArgs,
  writeIntroduceArgs,
} from '../wire/punch-args.js';
import { type Endpoint, endpointKey } from '../transport/transport.js';
import { type FamilyStack, stackFor } from './family-stack.js';
import {
  checkPunchOptions,
  type PunchFailureReason,
  type PunchOptions,
  type PunchResult,
  type PunchTarget,
  type ResolvedHolePunchOptions,
} from './hole-punch-options.js';
import { checkEndpoint } from './options.js';
import { Rendezvous } from './rendezvous.js';

/** Rendezvous tokens and punched paths remembered; beyond it the oldest are forgotten. */
const MAX_REMEMBERED = 256;
/** A rendezvous token is used this long (tokens are accepted for 5 to 10 min). */
const TOKEN_REUSE_MS = 4 * 60_000;

/** A value kept under `key` with when it was last confirmed. */
type Remembered<V, K extends string> = Record<K, V> & { at: Milliseconds };

/** Collaborators of {@link HolePunch}. @internal */
export interface HolePunchDeps {
  readonly id: NodeId;
  readonly clock: Clock;
  readonly stacks: readonly FamilyStack[];
  readonly tokens: WriteTokens;
  readonly lifetime: AbortSignal;
  readonly options: ResolvedHolePunchOptions;
  /** Whether this node sent `host` a query within 2 min (the firewall watch's memory). */
  readonly sentRecently: (host: string) => boolean;
}

/**
 * Hole punching (a Nautilus KRPC extension): the requester's `punch()`, the target's answer to
 * `nautilus_punch`, the rendezvous (see {@link Rendezvous}), and the paths punched so far.
 * @see docs/protocol.md "Hole punching"
 * @internal
 */
export class HolePunch {
  readonly #deps: HolePunchDeps;
  readonly #rendezvous: Rendezvous;
  // created on first use: a node that never punches nor is punched to holds none of them
  #accepts: TokenBucket | undefined;
  /** Rendezvous endpoint → the token it issued and when. */
  #tokens: Map<string, Remembered<Uint8Array, 'token'>> | undefined;
  /** Target endpoint (as named, and as found) → the punched contact and when it last answered. */
  #paths: Map<string, Remembered<Contact, 'contact'>> | undefined;

  constructor(deps: HolePunchDeps) {
    this.#deps = deps;
    this.#rendezvous = new Rendezvous({ ...deps, stackOf: (family) => this.#stackOf(family) });
  }

  /** The extension queries this node serves, per its options. */
  extensions(): Map<string, ExtensionHandler> {
    const handlers = new Map<string, ExtensionHandler>();
    if (this.#deps.options.rendezvous)
      handlers.set(INTRODUCE_METHOD, (q, from) => this.#rendezvous.introduce(q.a, from));
    if (this.#deps.options.accept) handlers.set(PUNCH_METHOD, (q, from) => this.#acceptPunch(q.a, from));
    return handlers;
  }

  /** A node the routing table does not hold queried this node (a target a rendezvous may introduce). */
  unheldQuerier(id: NodeId, from: { host: string; port: number; family: AddressFamily }): void {
    if (this.#deps.options.rendezvous) this.#rendezvous.heard(id, from);
  }

  /** See `KadNode.punch`. */
  async punch(target: PunchTarget, options: PunchOptions = {}): Promise<PunchResult> {
    const { signal } = options;
    if (signal?.aborted === true) throw abortReason(signal);
    if (this.#deps.lifetime.aborted) throw KadError.closed('node');
    const { attempts, intervalMs, deadlineMs } = checkPunchOptions(options, this.#deps.options);
    if (typeof target !== 'object' || target === null)
      throw optionError('target', '{ rendezvous, id | address }', target);
    const rendezvous = checkEndpoint(target.rendezvous, 'rendezvous');
    const id = target.id === undefined ? undefined : assertNodeId(target.id, 'id');
    const address = target.address === undefined ? undefined : checkEndpoint(target.address, 'address');
    if (id === undefined && address === undefined) throw optionError('target', 'an id or an address', target);
    const stack = this.#stackOf(familyOf(rendezvous.host));
    if (stack === undefined)
      throw KadError.invalidAddress(`this node does not run the family of ${endpointKey(rendezvous)}`);
    const { clock, lifetime } = this.#deps;
    const started = clock.now();
    const deadline = new AbortController();
    const timer = clock.setTimeout(() => deadline.abort(KadError.timeout('punch deadline')), deadlineMs);
    const combined = AbortSignal.any(
      signal === undefined ? [deadline.signal, lifetime] : [deadline.signal, lifetime, signal],
    );
    const fail = (reason: PunchFailureReason, message: string, sent = 0): PunchResult => ({
      ok: false,
      reason,
      message,
      durationMs: clock.now() - started,
      sent,
    });
    const rethrowAbort = (): void => {
      if (signal?.aborted === true) throw abortReason(signal);
      if (lifetime.aborted) throw KadError.closed('node');
    };
    try {
      let reply: IntroduceReply;
      try {
        reply = await this.#introduce(stack, rendezvous, { id, address }, started + deadlineMs, combined);
      } catch (error) {
        rethrowAbort();
        if (deadline.signal.aborted || isKadError(error, 'TIMEOUT')) {
          return fail('rendezvous-unreachable', `${endpointKey(rendezvous)} did not answer ${INTRODUCE_METHOD}`);
        }
        const code = isKadError(error, 'REMOTE_ERROR') ? error.wireCode : undefined;
        return fail(
          'unsupported',
          code === WireError.MethodUnknown
            ? `${endpointKey(rendezvous)} does not know ${INTRODUCE_METHOD} (204)`
            : `${endpointKey(rendezvous)} failed the introduction: ${error instanceof Error ? error.message : String(error)}`,
        );
      }
      const statusReason: Partial<Record<IntroduceReply['status'], PunchFailureReason>> = {
        unknown: 'unknown-peer',
        unreachable: 'peer-unreachable',
        busy: 'busy',
        token: 'unsupported',
      };
      const refused = statusReason[reply.status];
      if (refused !== undefined || reply.addr === undefined || reply.target === undefined) {
        return fail(refused ?? 'unsupported', `${endpointKey(rendezvous)} answered ${reply.status}`);
      }
      const peer = { ...reply.addr, id: reply.target };
      const ours = stack.mapping.behaviour() === 'address-dependent';
      if (ours && reply.symmetric === true) {
        return fail('symmetric', 'both NATs map a new port per destination: no punch can meet');
      }
      const { contact, rttMs, sent } = await this.#burst(
        stack,
        peer,
        attempts,
        intervalMs,
        started + deadlineMs,
        combined,
      );
      if (contact !== undefined) {
        const at = clock.now();
        const paths = (this.#paths ??= new Map<string, Remembered<Contact, 'contact'>>());
        this.#remember(paths, endpointKey(peer), { contact, at });
        if (address !== undefined) this.#remember(paths, endpointKey(address), { contact, at });
        return { ok: true, contact, rttMs, durationMs: at - started, sent };
      }
      rethrowAbort();
      if (ours || reply.symmetric === true) {
        const whose = ours ? "this node's" : "the target's";
        return fail('symmetric', `no direct answer: ${whose} NAT maps a new port per destination`, sent);
      }
      return fail('timeout', `no direct answer from ${endpointKey(peer)} within ${deadlineMs} ms`, sent);
    } finally {
      timer.cancel();
    }
  }

  /**
   * The endpoint to reach `to` at, behind a NAT, through `rendezvous`: a path punched within
   * `pathTtlMs`, or a new punch. @throws {KadError} `PUNCH_FAILED` (its `cause` is the result).
   */
  async pathTo(
    to: Endpoint & { id?: NodeId },
    rendezvous: Endpoint,
    signal: AbortSignal | undefined,
  ): Promise<Endpoint> {
    const known = this.#paths?.get(endpointKey(to));
    if (known !== undefined && this.#deps.clock.now() - known.at < this.#deps.options.pathTtlMs) return known.contact;
    // by id when known: the rendezvous knows better than the caller where a NAT shows the target
    const target =
      to.id === undefined ? { rendezvous, address: { host: to.host, port: to.port } } : { rendezvous, id: to.id };
    const result = await this.punch(target, signal === undefined ? {} : { signal });
    if (!result.ok) throw KadError.punchFailed(result.reason, result.message, result);
    return result.contact;
  }

  /** A punched path to `to` carried an answer: it stays usable for another `pathTtlMs`. */
  used(to: Endpoint): void {
    const known = this.#paths?.get(endpointKey(to));
    if (known !== undefined) known.at = this.#deps.clock.now();
  }

  /** Asks the rendezvous, with its token (fetching a fresh one when it has none or it expired). */
  async #introduce(
    stack: FamilyStack,
    rendezvous: Endpoint,
    target: { id: NodeId | undefined; address: Endpoint | undefined },
    deadlineAt: Milliseconds,
    signal: AbortSignal,
  ): Promise<IntroduceReply> {
    const key = endpointKey(rendezvous);
    const cached = this.#tokens?.get(key);
    let token = cached !== undefined && this.#deps.clock.now() - cached.at < TOKEN_REUSE_MS ? cached.token : undefined;
    for (let round = 0; ; round++) {
      const args = writeIntroduceArgs({
        id: this.#deps.id,
        ...(target.id === undefined ? {} : { target: target.id }),
        ...(target.address === undefined ? {} : { addr: target.address }),
        ...(token === undefined ? {} : { token }),
      });
      // the rendezvous answers once the target acknowledged (up to notifyTimeoutMs, 2 s by
      // default): wait up to half of what is left, twice
      const timeoutMs = Math.max(1, (deadlineAt - this.#deps.clock.now()) / 2);
      const { r } = await stack.probe(rendezvous, INTRODUCE_METHOD, args, {
        signal,
        timeoutMs,
        retries: 1,
        vote: true,
      });
      const reply = readIntroduceReply(r);
      if (reply.token !== undefined)
        this.#remember((this.#tokens ??= new Map<string, Remembered<Uint8Array, 'token'>>()), key, {
          token: reply.token,
          at: this.#deps.clock.now(),
        });
      // one round to fetch a token, one more if the cached one had expired
      if (reply.status !== 'token' || reply.token === undefined || round >= 1) return reply;
      token = reply.token;
    }
  }

  /**
   * Sends up to `attempts` pings to `peer`, `intervalMs` apart, until one is answered by the
   * peer's id or the deadline passes.
   */
  #burst(
    stack: FamilyStack,
    peer: Contact,
    attempts: number,
    intervalMs: Milliseconds,
    deadlineAt: Milliseconds,
    signal: AbortSignal,
  ): Promise<{ contact: Contact | undefined; rttMs: Milliseconds; sent: number }> {
    const { clock } = this.#deps;
    const stop = new AbortController();
    const scoped = AbortSignal.any([signal, stop.signal]);
    const args = writePingArgs({ id: this.#deps.id });
    const wanted = idToHex(peer.id);
    return new Promise((resolve) => {
      let sent = 0;
      let open = 0;
      let done = false;
      const finish = (contact: Contact | undefined, rttMs: Milliseconds): void => {
        if (done) return;
        done = true;
        stop.abort();
        scoped.removeEventListener('abort', onAbort);
        resolve({ contact, rttMs, sent });
      };
      const onAbort = (): void => finish(undefined, 0);
      scoped.addEventListener('abort', onAbort, { once: true });
      const fire = (): void => {
        if (done) return;
        sent++;
        open++;
        const timeoutMs = Math.max(1, deadlineAt - clock.now());
        stack.probe(peer, 'ping', args, { signal: scoped, timeoutMs, retries: 0 }).then(
          ({ values, from, rttMs }) => {
            open--;
            if (idToHex(values.id) === wanted) finish({ id: values.id, host: from.host, port: from.port }, rttMs);
            else if (open === 0 && sent >= attempts) finish(undefined, 0);
          },
          () => {
            open--;
            if (open === 0 && sent >= attempts) finish(undefined, 0);
          },
        );
        if (sent < attempts) clock.setTimeout(fire, intervalMs);
      };
      fire();
    });
  }

  /**
   * Serves `nautilus_punch`: a node this one talks to (its rendezvous) says `peer` at `addr` wants
   * to reach it. Sends up to `attempts` pings toward `addr`, `intervalMs` apart (until one is
   * answered), which open this side's NAT for the peer's own; answers with whether this node's NAT
   * maps a port per destination.
   */
  #acceptPunch(a: BencodeDict, from: { host: string; port: number; family: AddressFamily }): BencodeDict {
    const args = readPunchArgs(a);
    // only a rendezvous this node chose to talk to may make it send: else any host could aim it at a victim
    if (!this.#deps.sentRecently(from.host)) {
      throw new KadError('INVALID_ADDRESS', 'not introduced by a node this one talks to', {
        wireCode: WireError.Generic,
      });
    }
    const stack = this.#stackOf(from.family);
    if (stack === undefined || familyOf(args.addr.host) !== from.family) {
      throw KadError.invalidMessage(`${PUNCH_METHOD}: "addr" is not of the family of the query`);
    }
    const { acceptRatePerSecond, acceptBurst } = this.#deps.options;
    this.#accepts ??= new TokenBucket(
      { ratePerSecond: acceptRatePerSecond, burst: acceptBurst },
      { clock: this.#deps.clock },
    );
    if (!this.#accepts.tryTake()) throw KadError.overloaded('too many introductions');
    const { attempts, intervalMs } = this.#deps.options;
    const { lifetime, clock } = this.#deps;
    const ping = writePingArgs({ id: this.#deps.id });
    let sent = 0;
    let answered = false;
    const fire = (): void => {
      if (lifetime.aborted || answered) return;
      sent++;
      // the requester waits for its own direct answer; the first one here ends this side's burst
      stack
        .probe(args.addr, 'ping', ping, { signal: lifetime, timeoutMs: intervalMs * attempts + 1000, retries: 0 })
        .then(
          () => {
            answered = true;
          },
          () => undefined,
        );
      if (sent < attempts) clock.setTimeout(fire, intervalMs);
    };
    fire();
    const r: BencodeDict = Object.create(null) as BencodeDict;
    if (stack.mapping.behaviour() === 'address-dependent') r['nat'] = 1;
    return r;
  }

  #stackOf(family: AddressFamily | undefined): FamilyStack | undefined {
    return stackFor(this.#deps.stacks, family);
  }

  #remember<V>(map: Map<string, V>, key: string, value: V): void {
    map.delete(key);
    map.set(key, value);
    if (map.size > MAX_REMEMBERED) map.delete(map.keys().next().value as string);
  }
}
