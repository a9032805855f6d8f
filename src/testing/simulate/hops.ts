import { decodeMessage } from '../../kad/wire/krpc.js';
import { readResponse } from '../../kad/wire/krpc-args.js';
import type { Contact } from '../../kad/wire/compact.js';
import type { Packet } from '../memory-network.js';

/** The discovery depths seen by one source node: contact endpoint → hops from the source. */
type Depths = Map<string, number>;

/**
 * Hop counts of lookups, from outside the node: while a source node has traced lookups running,
 * every response sent to it is decoded, and each contact it names that the source did not know
 * gets the responder's depth + 1 (the seeds, the source's own closest contacts, are depth 1).
 * The hops of a lookup are then the depth of the node that gave the value, or of the closest
 * node found. Concurrent lookups of one source share its depths (rare: sources are random).
 */
export class HopTracer {
  readonly #traced = new Map<string, { depths: Depths; users: number }>();

  /** Starts tracing lookups of the node at `host`, seeded with the contacts it starts from. */
  begin(host: string, seeds: readonly Contact[]): void {
    let entry = this.#traced.get(host);
    if (entry === undefined) {
      entry = { depths: new Map(), users: 0 };
      this.#traced.set(host, entry);
    }
    entry.users++;
    for (const seed of seeds) entry.depths.set(key(seed.host, seed.port), 1);
  }

  /** The hops from `host` to `contact`, if it was seen. */
  depth(host: string, contact: Contact | undefined): number | undefined {
    if (contact === undefined) return undefined;
    return this.#traced.get(host)?.depths.get(key(contact.host, contact.port));
  }

  /** Ends one traced lookup of `host`. */
  end(host: string): void {
    const entry = this.#traced.get(host);
    if (entry !== undefined && --entry.users === 0) this.#traced.delete(host);
  }

  /** The network observer: sees every datagram as it is sent. */
  readonly observe = (packet: Packet): void => {
    const entry = this.#traced.get(packet.to.host);
    if (entry === undefined) return;
    let nodes: Contact[] | undefined;
    try {
      const message = decodeMessage(packet.data);
      if (message.y !== 'r') return;
      nodes = readResponse(message.r).nodes;
    } catch {
      return; // junk from a hostile node: it introduces nobody
    }
    if (nodes === undefined) return;
    const depths = entry.depths;
    const parent = depths.get(key(packet.from.host, packet.from.port)) ?? 1;
    for (const contact of nodes) {
      const k = key(contact.host, contact.port);
      if (!depths.has(k)) depths.set(k, parent + 1);
    }
  };
}

function key(host: string, port: number): string {
  return `${host}:${port}`;
}
