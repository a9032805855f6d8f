import type { Listener } from '../../core/emitter.js';
import type { RecordRemovedEvent } from '../events.js';
import type { ShardedCore } from './core.js';
import type { ShardedFeed } from './feed.js';
import type { Shard } from './shard.js';

/**
 * The shards a sharded registry is attached to (members, and shards a migration still drains):
 * their backends' removal events forwarded to the registry, and its change feed told of each
 * shard that comes or goes.
 */
export class Attachments {
  readonly #core: ShardedCore;
  readonly #listeners = new Map<Shard, Listener<RecordRemovedEvent>>();
  /** The registry's change feed, when it has one (set once, after the first shards are attached). */
  feed: ShardedFeed | undefined;

  constructor(core: ShardedCore) {
    this.#core = core;
  }

  /** The attached shards, in attach order. */
  get shards(): Shard[] {
    return [...this.#listeners.keys()];
  }

  /** Starts forwarding the shard's removal events; the feed starts reading it. */
  attach(shard: Shard): void {
    const listener: Listener<RecordRemovedEvent> = (event) => this.#core.forward(shard, event);
    this.#listeners.set(shard, listener);
    shard.registry.on('record:removed', listener);
    this.feed?.membershipChanged(shard, true);
  }

  /** Stops the shard's probes and event forwarding; the feed stops reading it. */
  detach(shard: Shard): void {
    shard.detach();
    const listener = this.#listeners.get(shard);
    if (listener === undefined) return;
    shard.registry.off('record:removed', listener);
    this.#listeners.delete(shard);
    this.feed?.membershipChanged(shard, false);
  }
}
