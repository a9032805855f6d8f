import { setMaxListeners } from 'node:events';
import { boolean, integerInRange, optionError, seqOption } from '../option-checks.js';
import { KadError, WireError } from '../errors.js';
import { assertNodeId, type NodeId } from '../id.js';
import {
  assertMutableSignature,
  assertSalt,
  createMutableItem,
  encodeValue,
  immutableTarget,
  type ItemKeyPair,
  mutableTarget,
  nextSeq,
  type Seq,
  verifyMutable,
} from '../items.js';
import type { LookupDoneEvent } from '../lookup/events.js';
import { endpointKey } from '../transport/transport.js';
import type { BencodeDict, BencodeValue } from '../wire/bencode.js';
import { type Contact, familyOf } from '../wire/compact.js';
import { writeAnnouncePeerArgs, writePutArgs } from '../wire/krpc-args.js';
import { type DhtContext, noContacts } from './dht-context.js';
import { stackFor } from './family-stack.js';
import type {
  AnnounceOptions,
  AnnounceResult,
  DhtCallOptions,
  PutItem,
  PutMutableOptions,
  PutOptions,
  PutResult,
  StoreFailure,
} from './operation-types.js';

/** A lookup run for a store: the summary, the write token of every responder, the highest verified `seq`. */
export type CollectTokens = (
  target: NodeId,
  method: 'get' | 'get_peers',
  call: DhtCallOptions,
  salt: Uint8Array | undefined,
) => Promise<{ done: LookupDoneEvent; tokens: Map<string, Uint8Array>; highestSeq: Seq | undefined }>;

/**
 * The storing half of the DHT operations: a lookup for the target, then a `put` or
 * `announce_peer` to each of the k closest nodes that answered it (per family), with the
 * token each one gave. @internal
 */
export class DhtStore {
  readonly #ctx: DhtContext;
  readonly #collect: CollectTokens;

  constructor(ctx: DhtContext, collect: CollectTokens) {
    this.#ctx = ctx;
    this.#collect = collect;
  }

  /** `SHA-1(publicKey ‖ salt)`, the arguments checked. @throws {KadError} `INVALID_KEY`, `SALT_TOO_BIG`, `INVALID_OPTION`. */
  mutableTargetOf(publicKey: Uint8Array, salt: Uint8Array | undefined): NodeId {
    if (salt !== undefined && !(salt instanceof Uint8Array)) throw optionError('salt', 'a Uint8Array', salt);
    return mutableTarget(publicKey, salt);
  }

  async put(item: PutItem, options: PutOptions): Promise<PutResult> {
    const startedAt = this.#ctx.clock.now();
    if (typeof item !== 'object' || item === null || !('v' in item)) {
      throw optionError('item', '{ v } or a signed MutableItem', item);
    }
    const cas = checkCas(options.cas);
    let target: NodeId;
    if ('k' in item) {
      assertSalt(item.salt);
      assertMutableSignature(item);
      target = mutableTarget(item.k, item.salt);
    } else {
      if (cas !== undefined) throw optionError('cas', 'absent for an immutable item');
      target = immutableTarget(item.v);
    }
    const { done, tokens } = await this.#collect(target, 'get', options, 'k' in item ? item.salt : undefined);
    return this.#putAll(target, item, cas, done, tokens, startedAt, options.signal);
  }

  async putMutable(keyPair: ItemKeyPair, v: BencodeValue, options: PutMutableOptions): Promise<PutResult> {
    const startedAt = this.#ctx.clock.now();
    if (typeof keyPair !== 'object' || keyPair === null) throw KadError.invalidKey('keyPair must be an ItemKeyPair');
    const target = this.mutableTargetOf(keyPair.publicKey, options.salt);
    const cas = checkCas(options.cas);
    const { seq } = options;
    seqOption('seq', seq);
    encodeValue(v);
    // sign once before the network (a bad key fails here), then again with the chosen seq
    if (!verifyMutable(createMutableItem(keyPair, v, seq ?? 0, options.salt))) {
      throw KadError.invalidKey('keyPair.publicKey is not the public key of keyPair.secretKey');
    }
    const { done, tokens, highestSeq } = await this.#collect(target, 'get', options, options.salt);
    const item = createMutableItem(
      keyPair,
      v,
      seq ?? (highestSeq === undefined ? 1 : nextSeq(highestSeq)),
      options.salt,
    );
    return this.#putAll(target, item, cas, done, tokens, startedAt, options.signal);
  }

  async announce(infoHash: NodeId, options: AnnounceOptions): Promise<AnnounceResult> {
    const startedAt = this.#ctx.clock.now();
    assertNodeId(infoHash, 'infoHash');
    const impliedPort = boolean('impliedPort', options.impliedPort, false);
    // with impliedPort the nodes take the UDP source port: `port` is then only a placeholder
    if (!impliedPort && options.port === undefined) throw optionError('port', 'given unless impliedPort', undefined);
    const port = integerInRange('port', options.port, 0, impliedPort ? 0 : 1, 65535);
    const { done, tokens } = await this.#collect(infoHash, 'get_peers', options, undefined);
    const { storedOn, failed } = await this.#storeOn(
      done,
      tokens,
      'announce_peer',
      (token) => writeAnnouncePeerArgs({ id: this.#ctx.id, infoHash, port, token, impliedPort, seed: false }),
      options.signal,
    );
    const durationMs = this.#ctx.clock.now() - startedAt;
    return { infoHash, storedOn, failed, queried: done.queried, durationMs };
  }

  async #putAll(
    target: NodeId,
    item: PutItem,
    cas: Seq | undefined,
    done: LookupDoneEvent,
    tokens: Map<string, Uint8Array>,
    startedAt: number,
    signal: AbortSignal | undefined,
  ): Promise<PutResult> {
    const id = this.#ctx.id;
    const args = (token: Uint8Array): BencodeDict =>
      'k' in item
        ? writePutArgs({
            kind: 'mutable',
            id,
            token,
            v: item.v,
            k: item.k,
            sig: item.sig,
            seq: item.seq,
            ...(item.salt === undefined || item.salt.length === 0 ? {} : { salt: item.salt }),
            ...(cas === undefined ? {} : { cas }),
          })
        : writePutArgs({ kind: 'immutable', id, token, v: item.v });
    const { storedOn, failed } = await this.#storeOn(done, tokens, 'put', args, signal);
    const seq = 'k' in item ? item.seq : undefined;
    const durationMs = this.#ctx.clock.now() - startedAt;
    return { target, item, seq, storedOn, failed, queried: done.queried, durationMs };
  }

  /** Sends `method` with `args(token)` to each of the closest responders that gave a token. */
  async #storeOn(
    done: LookupDoneEvent,
    tokens: Map<string, Uint8Array>,
    method: 'put' | 'announce_peer',
    args: (token: Uint8Array) => BencodeDict,
    signal: AbortSignal | undefined,
  ): Promise<{ storedOn: Contact[]; failed: StoreFailure[] }> {
    const targets = done.closest.flatMap((contact) => {
      const token = tokens.get(endpointKey(contact));
      return token === undefined ? [] : [{ contact, token }];
    });
    if (targets.length === 0) throw noContacts(done);
    const lifetime = this.#ctx.lifetime;
    const combined = signal === undefined ? lifetime : AbortSignal.any([signal, lifetime]);
    // one listener per store request (and its queue slots) at once
    if (combined !== lifetime) setMaxListeners(4 * targets.length + 8, combined);
    const outcomes = await Promise.allSettled(
      targets.map(({ contact, token }) => {
        const stack = stackFor(this.#ctx.stacks, familyOf(contact.host));
        if (stack === undefined) return Promise.reject(KadError.invalidAddress('no stack for this family'));
        return stack.query(contact, method, args(token), combined);
      }),
    );
    signal?.throwIfAborted();
    lifetime.throwIfAborted();
    const storedOn: Contact[] = [];
    const failed: StoreFailure[] = [];
    outcomes.forEach((outcome, i) => {
      const { contact } = targets[i] as { contact: Contact };
      if (outcome.status === 'fulfilled') storedOn.push(contact);
      else failed.push({ contact, error: asKadError(outcome.reason) });
    });
    if (storedOn.length === 0) throw notStored(method, failed);
    return { storedOn, failed };
  }
}

/** Why a store succeeded nowhere: the BEP 44 refusal most nodes gave, or `NOT_STORED`. */
function notStored(method: string, failed: readonly StoreFailure[]): KadError {
  const count = (code: number): number => failed.filter((f) => f.error.wireCode === code).length;
  const cause = failed[0]?.error;
  const cas = count(WireError.CasMismatch);
  const seq = count(WireError.SeqTooLow);
  if (cas > 0 && cas >= seq) {
    return new KadError('CAS_MISMATCH', 'the nodes refused the put: cas does not match their seq', { cause });
  }
  if (seq > 0) {
    return new KadError('SEQ_TOO_LOW', 'the nodes refused the put: they hold a higher seq', { cause });
  }
  return KadError.notStored(`no node accepted the ${method} (${failed.length} tried)`, cause);
}

function asKadError(error: unknown): KadError {
  return error instanceof KadError ? error : KadError.notStored('store failed', error);
}

function checkCas(cas: Seq | undefined): Seq | undefined {
  return seqOption('cas', cas);
}
