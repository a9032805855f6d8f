import { Emitter } from '../../core/emitter.js';
import type { NodeId } from '../../kad/id.js';
import type {
  Endpoint,
  InboundDatagram,
  RemoteInfo,
  Transport,
  TransportEvents,
  TransportStats,
} from '../../kad/transport/transport.js';
import type { Contact } from '../../kad/wire/compact.js';
import { decodeMessage, encodeMessage, type KrpcQuery } from '../../kad/wire/krpc.js';
import { type ResponseValues, writeResponse } from '../../kad/wire/krpc-args.js';
import type { HostileBehaviour } from './options.js';

/** Queries a hostile node answers its own way; everything else (pings above all) reaches the real node. */
const LOOKUP_QUERIES = new Set(['find_node', 'get_peers', 'get']);

/** What a hostile transport needs from the simulation. */
export interface HostileDeps {
  /** The id of the node the transport belongs to (it answers as that node). */
  readonly id: NodeId;
  /** What it does to lookups. */
  readonly behaviour: HostileBehaviour;
  /** Up to `count` contacts of other hostile nodes (colluders), chosen from `random`. */
  readonly colluders: (count: number, random: () => number) => Contact[];
  /** The node's own seeded randomness. */
  readonly random: () => number;
}

/**
 * The transport of a hostile node: a real Nautilus node runs on it (it joins, answers pings and
 * stays in routing tables), but the lookup queries it receives (`find_node`, `get_peers`, `get`)
 * never reach that node. Instead, by `behaviour`:
 * - `drop`: no answer;
 * - `junk`: a response whose `nodes` is not compact node info (the querier counts an error);
 * - `far`: k contacts of other hostile nodes, with a token, and never a value, to draw the
 *   lookup away from the target;
 * - `wrong-value`: the same contacts, plus for `get` a value that does not hash to the target and
 *   for `get_peers` a peer that does not exist.
 */
export class HostileTransport extends Emitter<TransportEvents> implements Transport {
  readonly #inner: Transport;
  readonly #deps: HostileDeps;
  /** Lookup queries answered (or dropped) the hostile way. */
  misled = 0;

  constructor(inner: Transport, deps: HostileDeps) {
    super();
    this.#inner = inner;
    this.#deps = deps;
    inner.on('message', (datagram) => this.#receive(datagram));
    inner.on('error', (event) => this.emit('error', event));
    inner.on('close', () => this.emit('close', undefined));
  }

  get closed(): boolean {
    return this.#inner.closed;
  }

  send(datagram: Uint8Array, to: Endpoint): void {
    this.#inner.send(datagram, to);
  }

  address(): RemoteInfo {
    return this.#inner.address();
  }

  stats(): TransportStats {
    return this.#inner.stats();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  #receive(datagram: InboundDatagram): void {
    let query: KrpcQuery | undefined;
    try {
      const message = decodeMessage(datagram.data);
      if (message.y === 'q' && LOOKUP_QUERIES.has(message.q)) query = message;
    } catch {
      // malformed: the real node deals with it
    }
    if (query === undefined) {
      this.emit('message', datagram);
      return;
    }
    this.misled++;
    const { behaviour, id, random } = this.#deps;
    if (behaviour === 'drop') return;
    let r: Record<string, unknown>;
    if (behaviour === 'junk') {
      r = { ...writeResponse({ id }), nodes: Uint8Array.from({ length: 25 }, () => Math.floor(random() * 256)) };
    } else {
      const values: ResponseValues = { id, nodes: this.#deps.colluders(8, random) };
      if (query.q !== 'find_node') values.token = Uint8Array.of(0x68, 0x6f, 0x73, 0x74);
      if (behaviour === 'wrong-value' && query.q === 'get') values.v = Uint8Array.of(0x77, 0x72, 0x6f, 0x6e, 0x67);
      if (behaviour === 'wrong-value' && query.q === 'get_peers') values.values = [{ host: '10.255.255.254', port: 1 }];
      r = writeResponse(values);
    }
    const reply = encodeMessage({ y: 'r', t: query.t, r: r as ReturnType<typeof writeResponse> });
    this.#inner.send(reply, datagram.from);
  }
}
