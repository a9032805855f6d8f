import type { Milliseconds } from '../../core/clock.js';
import { bytesEqual, compareDistance, type NodeId } from '../../kad/id.js';
import type { LookupEvent, LookupMethod } from '../../kad/lookup/events.js';
import type { Contact } from '../../kad/wire/compact.js';
import type { ManualClock } from '../manual-clock.js';
import { seededBytes } from '../seeded-random.js';
import type { HopTracer } from './hops.js';
import type { OperationKind, OperationRecord } from './metrics.js';
import type { ResolvedSimulateOptions } from './options.js';
import type { Population, SimNode } from './population.js';

/** Bytes of the value of each item put. */
const ITEM_BYTES = 64;

/** What a workload runs on. */
export interface WorkloadDeps {
  readonly clock: ManualClock;
  readonly population: Population;
  readonly tracer: HopTracer;
  /** The workload's own seeded randomness (targets, values, delays, arrivals). */
  readonly random: () => number;
  /** Bucket size of the nodes. */
  readonly k: number;
  /** Where a failure the simulation did not expect goes (the run then rejects with it). */
  readonly fail: (error: unknown) => void;
}

/** Counters of the writes behind the reads. */
export interface WriteCounts {
  /** Puts (or announces) started. */
  started: number;
  /** Those stored on at least one node. */
  stored: number;
}

/**
 * The workload phase: puts then gets of immutable items, `find_node` lookups of random targets,
 * announces then peer searches, arriving as Poisson processes at the configured rates per
 * virtual minute. Every read runs once per strategy, each from its own random honest source,
 * at the same virtual time. Reads whose source left meanwhile are dropped from the statistics.
 */
export class Workload {
  readonly records: OperationRecord[] = [];
  readonly puts: WriteCounts = { started: 0, stored: 0 };
  readonly announces: WriteCounts = { started: 0, stored: 0 };
  /** Reads not counted: their source left while they ran. */
  abandoned = 0;
  /** Operations running or scheduled (reads waiting for their delay included). */
  pending = 0;
  readonly #options: ResolvedSimulateOptions;
  readonly #deps: WorkloadDeps;
  #startedAt = 0;
  #endsAt = 0;

  constructor(options: ResolvedSimulateOptions, deps: WorkloadDeps) {
    this.#options = options;
    this.#deps = deps;
  }

  /** Reads finished. */
  get finished(): number {
    return this.records.length + this.abandoned;
  }

  /** Schedules the arrivals of every kind, from now for `durationMs`. */
  start(): void {
    const { clock } = this.#deps;
    this.#startedAt = clock.now();
    this.#endsAt = this.#startedAt + this.#options.durationMs;
    const { getsPerMinute, lookupsPerMinute, announcesPerMinute } = this.#options.workload;
    this.#arrivals(getsPerMinute, () => this.#putThenGet());
    this.#arrivals(lookupsPerMinute, () => this.#lookup());
    this.#arrivals(announcesPerMinute, () => this.#announceThenFind());
  }

  #arrivals(perMinute: number, run: () => void): void {
    if (perMinute === 0) return;
    const { clock, random } = this.#deps;
    const next = (): void => {
      const gap = (-Math.log(1 - random()) * 60_000) / perMinute;
      if (clock.now() + gap >= this.#endsAt) return;
      clock.setTimeout(() => {
        run();
        next();
      }, gap);
    };
    next();
  }

  #readDelay(): Milliseconds {
    const { readDelayMinMs, readDelayMaxMs } = this.#options;
    return readDelayMinMs + this.#deps.random() * (readDelayMaxMs - readDelayMinMs);
  }

  #putThenGet(): void {
    const writer = this.#source(undefined);
    if (writer?.node === undefined) return;
    const v = seededBytes(this.#deps.random, ITEM_BYTES);
    const delay = this.#readDelay();
    this.puts.started++;
    this.#track(
      writer.node.put({ v }).then((result) => {
        if (result.storedOn.length > 0) this.puts.stored++;
        this.#later(delay, () => {
          this.#readAll('get', writer, result.target, (event) => {
            return event.type === 'value' && event.item.v instanceof Uint8Array && bytesEqual(event.item.v, v);
          });
        });
      }, notStored),
    );
  }

  #announceThenFind(): void {
    const writer = this.#source(undefined);
    if (writer?.node === undefined) return;
    const infoHash = seededBytes(this.#deps.random, 20);
    const port = 1024 + Math.floor(this.#deps.random() * 60_000);
    const delay = this.#readDelay();
    this.announces.started++;
    this.#track(
      writer.node.announce(infoHash, { port }).then((result) => {
        if (result.storedOn.length > 0) this.announces.stored++;
        this.#later(delay, () => {
          this.#readAll('peers', writer, infoHash, (event) => {
            return event.type === 'peers' && event.peers.some((p) => p.host === writer.host && p.port === port);
          });
        });
      }, notStored),
    );
  }

  #lookup(): void {
    const target = seededBytes(this.#deps.random, 20);
    // the right answer: the closest honest node online when the lookup starts
    let best: SimNode | undefined;
    for (const sim of this.#deps.population.online) {
      if (sim.hostile !== undefined) continue;
      if (best === undefined || compareDistance(target, sim.id, best.id) < 0) best = sim;
    }
    if (best === undefined) return;
    const closestId = best.id;
    this.#readAll('lookup', undefined, target, (event) => {
      return event.type === 'done' && event.closest.some((c) => bytesEqual(c.id, closestId));
    });
  }

  /** One read per strategy, each from its own random honest source other than `writer`. */
  #readAll(
    kind: OperationKind,
    writer: SimNode | undefined,
    target: NodeId,
    hit: (event: LookupEvent) => boolean,
  ): void {
    this.#options.strategies.forEach((_, strategy) => {
      const source = this.#source(writer);
      if (source !== undefined) this.#track(this.#read(kind, strategy, source, target, hit));
    });
  }

  async #read(
    kind: OperationKind,
    strategy: number,
    source: SimNode,
    target: NodeId,
    hit: (event: LookupEvent) => boolean,
  ): Promise<void> {
    const node = source.node;
    if (node === undefined) return;
    const { clock, tracer, k } = this.#deps;
    const { lookup, disjointPaths } = this.#options.strategies[strategy] as ResolvedSimulateOptions['strategies'][0];
    const method: LookupMethod = kind === 'get' ? 'get' : kind === 'peers' ? 'get_peers' : 'find_node';
    const startedAt = clock.now();
    tracer.begin(source.host, node.contacts(target, k * Math.max(2, disjointPaths)));
    let ok = false;
    let from: Contact | undefined;
    let messages = 0;
    let hops: number | undefined;
    try {
      for await (const event of node.query(target, { method, lookup, disjointPaths })) {
        if (!ok && hit(event)) {
          ok = true;
          if (event.type === 'done') from = event.closest[0];
          else if (event.type === 'value' || event.type === 'peers') from = event.from;
        }
        if (event.type === 'done') messages = event.queried;
      }
    } catch (error) {
      if (source.online) throw error;
    } finally {
      hops = ok ? tracer.depth(source.host, from) : undefined;
      tracer.end(source.host);
    }
    if (!source.online) {
      this.abandoned++;
      return;
    }
    this.records.push({
      kind,
      strategy,
      at: startedAt - this.#startedAt,
      ok,
      latencyMs: clock.now() - startedAt,
      messages,
      hops,
    });
  }

  /** Runs `work` after `delayMs`, counted as pending meanwhile (the drain phase waits for it). */
  #later(delayMs: Milliseconds, work: () => void): void {
    this.pending++;
    this.#deps.clock.setTimeout(() => {
      this.pending--;
      work();
    }, delayMs);
  }

  /** A random honest online node other than `not`. */
  #source(not: SimNode | undefined): SimNode | undefined {
    return this.#deps.population.pick((n) => n !== not && n.hostile === undefined && n.node !== undefined);
  }

  #track(work: Promise<void>): void {
    this.pending++;
    work
      .catch((error: unknown) => {
        // a write whose node left meanwhile is not a failure of the simulation
        if (!isClosed(error)) this.#deps.fail(error);
      })
      .finally(() => {
        this.pending--;
      });
  }
}

/**
 * A write that no node accepted (`NOT_STORED`: with hostile nodes, the closest answered with
 * tokens of theirs that the real nodes refuse) is counted as started and not stored, and read by
 * no strategy: there is nothing to find. Anything else goes on to the run's failure handling.
 */
function notStored(error: unknown): void {
  if ((error as { code?: unknown } | null)?.code !== 'NOT_STORED') throw error;
}

function isClosed(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'CLOSED' || code === 'ABORTED' || code === 'NO_CONTACTS' || code === 'TIMEOUT';
}
