import type { BencodeDict } from '../wire/bencode.js';
import { type AddressFamily, type Contact, familyOf } from '../wire/compact.js';
import { KadError } from '../errors.js';
import { assertNodeId, type NodeId } from '../id.js';
import type { MutableItem, Seq } from '../items.js';
import { checkItem } from '../lookup/values.js';
import {
  type ResponseValues,
  type Want,
  writeAnnouncePeerArgs,
  writeFindNodeArgs,
  writeGetArgs,
  writeGetPeersArgs,
  writePingArgs,
  writePutArgs,
} from '../wire/krpc-args.js';
import { type Endpoint, endpointKey, type RemoteInfo } from '../transport/transport.js';
import type { FamilyStack } from './family-stack.js';
import type { HolePunch } from './hole-punch.js';
import { checkEndpoint } from './options.js';
import type { CallOptions, FindNodeResult, GetItemResult, GetPeersResult, ImmutableItem } from './types.js';

/** What {@link DirectQueries} sends with. @internal */
export interface DirectQueriesInit {
  readonly id: NodeId;
  /** The node's stacks, one per family. */
  readonly stackOf: (family: AddressFamily | undefined) => FamilyStack | undefined;
  readonly holePunch: HolePunch;
  readonly isClosed: () => boolean;
}

/**
 * The node's single queries to one given node (`ping`, `findNode`, `getPeers`, `announcePeer`,
 * `getItem`, `putItem`; see {@link KadNode}): arguments checked and written, sent over the stack
 * of the destination's family, through a punched path when the caller names a rendezvous.
 * @internal
 */
export class DirectQueries {
  readonly #init: DirectQueriesInit;

  constructor(init: DirectQueriesInit) {
    this.#init = init;
  }

  async ping(to: Endpoint, options: CallOptions = {}): Promise<Contact> {
    const { values, from } = await this.#query(to, 'ping', writePingArgs({ id: this.#init.id }), options);
    return { id: values.id, host: from.host, port: from.port };
  }

  async findNode(to: Endpoint, target: NodeId, options: CallOptions & { want?: Want[] } = {}): Promise<FindNodeResult> {
    assertNodeId(target, 'target');
    const args = writeFindNodeArgs({
      id: this.#init.id,
      target,
      ...(options.want === undefined ? {} : { want: options.want }),
    });
    const { values } = await this.#query(to, 'find_node', args, options);
    return { id: values.id, nodes: values.nodes ?? [], nodes6: values.nodes6 ?? [] };
  }

  async getPeers(
    to: Endpoint,
    infoHash: NodeId,
    options: CallOptions & { want?: Want[] } = {},
  ): Promise<GetPeersResult> {
    assertNodeId(infoHash, 'infoHash');
    const args = writeGetPeersArgs({
      id: this.#init.id,
      infoHash,
      ...(options.want === undefined ? {} : { want: options.want }),
    });
    const { values } = await this.#query(to, 'get_peers', args, options);
    return {
      id: values.id,
      token: values.token,
      values: values.values ?? [],
      nodes: values.nodes ?? [],
      nodes6: values.nodes6 ?? [],
    };
  }
  async announcePeer(
    to: Endpoint,
    infoHash: NodeId,
    port: number,
    token: Uint8Array,
    options: CallOptions & { impliedPort?: boolean } = {},
  ): Promise<void> {
    assertNodeId(infoHash, 'infoHash');
    const impliedPort = options.impliedPort ?? false;
    if (!impliedPort && !(Number.isInteger(port) && port >= 1 && port <= 65535)) {
      throw KadError.invalidAddress(`port must be an integer in [1, 65535] (got ${String(port)})`);
    }
    const args = writeAnnouncePeerArgs({ id: this.#init.id, infoHash, port, token, impliedPort, seed: false });
    await this.#query(to, 'announce_peer', args, options);
  }

  async getItem(
    to: Endpoint,
    target: NodeId,
    options: CallOptions & { seq?: Seq; salt?: Uint8Array; want?: Want[] } = {},
  ): Promise<GetItemResult> {
    assertNodeId(target, 'target');
    const args = writeGetArgs({
      id: this.#init.id,
      target,
      ...(options.seq === undefined ? {} : { seq: options.seq }),
      ...(options.want === undefined ? {} : { want: options.want }),
    });
    const { values } = await this.#query(to, 'get', args, options);
    return {
      id: values.id,
      token: values.token,
      nodes: values.nodes ?? [],
      nodes6: values.nodes6 ?? [],
      item: checkedItem(values, target, options.salt),
      seq: values.seq,
    };
  }

  async putItem(
    to: Endpoint,
    item: ImmutableItem | MutableItem,
    token: Uint8Array,
    options: CallOptions & { cas?: Seq } = {},
  ): Promise<void> {
    const base = { id: this.#init.id, token, v: item.v };
    const args =
      'k' in item
        ? writePutArgs({
            kind: 'mutable',
            ...base,
            k: item.k,
            sig: item.sig,
            seq: item.seq,
            ...(item.salt === undefined || item.salt.length === 0 ? {} : { salt: item.salt }),
            ...(options.cas === undefined ? {} : { cas: options.cas }),
          })
        : writePutArgs({ kind: 'immutable', ...base });
    await this.#query(to, 'put', args, options);
  }

  /** Sends over the stack of `to`'s family (BEP 32: one RPC layer per family). */
  async #query(
    to: Endpoint,
    method: string,
    args: BencodeDict,
    options: CallOptions,
  ): Promise<{ values: ResponseValues; from: RemoteInfo }> {
    if (this.#init.isClosed()) throw KadError.closed('node');
    const endpoint = checkEndpoint(to, 'to', 'address');
    const family = familyOf(endpoint.host);
    const stack = this.#init.stackOf(family);
    if (stack === undefined) {
      throw KadError.invalidAddress(
        `${endpointKey(endpoint)} is IPv${String(family)}, and this node does not run that family`,
      );
    }
    if (options.rendezvous === undefined) {
      // close() rejects pending calls through the RPC layer, so only the caller's signal is needed
      return stack.query(endpoint, method, args, options.signal);
    }
    // behind a NAT: punch a path through the rendezvous (or reuse one), then the call goes that way
    const rendezvous = checkEndpoint(options.rendezvous, 'rendezvous');
    const id = 'id' in to && to.id instanceof Uint8Array ? { id: to.id } : {};
    const path = await this.#init.holePunch.pathTo({ ...endpoint, ...id }, rendezvous, options.signal);
    const answer = await stack.query(path, method, args, options.signal);
    this.#init.holePunch.used(endpoint);
    return answer;
  }
}

/** The item of a `get` response if it matches `target` (and, when mutable, its signature); else undefined. */
function checkedItem(
  values: ResponseValues,
  target: NodeId,
  salt: Uint8Array | undefined,
): ImmutableItem | MutableItem | undefined {
  const item = checkItem(values, target, salt);
  return item === 'invalid' ? undefined : item;
}
