import type { Clock, Milliseconds, Timer } from '../../core/clock.js';
import { raceAbort } from '../../core/abort.js';
import { isKadError, KadError } from '../errors.js';
import type { PortMapper, PortMapperFactory, PortMappingMode, PortMappingProtocol } from './port-mapper.js';

/** Tuning of a node's port mapping (`KadNodeOptions.portMappingOptions`). */
export interface PortMappingOptions {
  /** Lease asked of the router, ms; renewed at half of what it granted. @default 3_600_000 (1 h) */
  readonly lifetimeMs?: Milliseconds;
  /** Deadline of one request to the router (map, renew or delete), ms. @default 5000 */
  readonly timeoutMs?: Milliseconds;
  /** After a failure (no router, a refusal, a lost mapping), when to try again, ms. @default 300_000 (5 min) */
  readonly retryMs?: Milliseconds;
}

/** Defaults of {@link PortMappingOptions}. */
export const DEFAULT_PORT_MAPPING_OPTIONS = Object.freeze({
  lifetimeMs: 3_600_000,
  timeoutMs: 5000,
  retryMs: 300_000,
});

/** Where a node's port mapping stands (`node.reachability().mapping`). */
export type PortMappingState =
  /** `portMapping: 'off'`. */
  | { readonly state: 'off' }
  /** A request to the router is in flight (the first one, or one after a failure). */
  | { readonly state: 'requesting'; readonly attempts: number }
  | {
      readonly state: 'mapped';
      readonly protocol: PortMappingProtocol;
      readonly internalPort: number;
      readonly externalPort: number;
      /** When the lease ends unless renewed (the node's clock), ms. */
      readonly expiresAt: Milliseconds;
      /** Renewals that succeeded since it was granted. */
      readonly renewals: number;
    }
  | {
      readonly state: 'failed';
      /** `PORT_MAPPING_FAILED` (absent or refusing router), `TIMEOUT` (no answer in `timeoutMs`), or `LOST` (a renewal failed). */
      readonly reason: 'PORT_MAPPING_FAILED' | 'TIMEOUT' | 'LOST';
      readonly message: string;
      /** When the next attempt is due, ms. */
      readonly retryAt: Milliseconds;
      readonly attempts: number;
    }
  | { readonly state: 'closed' };

/** What a {@link PortMappingKeeper} is built from. @internal */
export interface PortMappingInit {
  readonly mode: PortMappingMode;
  readonly internalPort: number;
  readonly clock: Clock;
  readonly factory: PortMapperFactory;
  readonly options: Required<PortMappingOptions>;
  /** Told of every change of {@link PortMappingKeeper.current}. */
  readonly onChange: (state: PortMappingState) => void;
}

/**
 * Keeps one UDP port mapped on the home router (UPnP-IGD and/or NAT-PMP): asks for it (the
 * protocols of `mode` in turn, each within `timeoutMs`), renews it at half its lease on the
 * node's clock, retries every `retryMs` after a failure, and deletes it on {@link close}. Every
 * request to the router is bounded, so an absent router yields `failed` within `timeoutMs` per
 * protocol and a router that stops answering yields `failed` (`LOST`) at the next renewal.
 * @internal
 */
export class PortMappingKeeper {
  readonly #init: PortMappingInit;
  readonly #mappers = new Map<PortMappingProtocol, PortMapper>();
  #state: PortMappingState;
  #timer: Timer | undefined;
  #attempts = 0;
  #inFlight: Promise<void> | undefined;
  readonly #abort = new AbortController();
  #internalPort: number;

  constructor(init: PortMappingInit) {
    this.#init = init;
    this.#internalPort = init.internalPort;
    this.#state = init.mode === 'off' ? { state: 'off' } : { state: 'requesting', attempts: 0 };
  }

  current(): PortMappingState {
    return this.#state;
  }

  /** The port to map, once the socket is bound (before {@link start}). */
  setInternalPort(port: number): void {
    this.#internalPort = port;
  }

  /** Gives up mapping before it started (a loopback-bound node has nothing to map): `off`. */
  disable(): void {
    if (this.#state.state === 'requesting' && this.#attempts === 0) this.#set({ state: 'off' });
  }

  /** Makes the first request (in the background). */
  start(): void {
    if (this.#state.state !== 'requesting') return;
    this.#run(() => this.#request());
  }

  /** Cancels timers, deletes a held mapping (within `timeoutMs`), closes the clients. Never rejects. */
  async close(): Promise<void> {
    if (this.#state.state === 'closed') return;
    const held = this.#state;
    this.#timer?.cancel();
    this.#abort.abort(KadError.closed('port mapping'));
    await this.#inFlight?.catch(() => undefined);
    this.#set({ state: 'closed' });
    if (held.state === 'mapped') {
      const mapper = this.#mapper(held.protocol);
      await this.#bounded((signal) =>
        mapper.unmap({ internalPort: held.internalPort, externalPort: held.externalPort }, signal),
      ).catch(() => undefined);
    }
    await Promise.all([...this.#mappers.values()].map((m) => m.close().catch(() => undefined)));
  }

  #run(work: () => Promise<void>): void {
    const done = work().finally(() => {
      if (this.#inFlight === done) this.#inFlight = undefined;
    });
    this.#inFlight = done;
  }

  #protocols(): PortMappingProtocol[] {
    const { mode } = this.#init;
    return mode === 'auto' ? ['natpmp', 'upnp'] : mode === 'off' ? [] : [mode];
  }

  async #request(): Promise<void> {
    this.#attempts++;
    if (this.#state.state !== 'requesting') this.#set({ state: 'requesting', attempts: this.#attempts });
    const { options } = this.#init;
    const internalPort = this.#internalPort;
    let last: unknown;
    for (const protocol of this.#protocols()) {
      if (this.#abort.signal.aborted) return;
      const mapper = this.#mapper(protocol);
      try {
        const grant = await this.#bounded((signal) =>
          mapper.map(
            { internalPort, externalPort: internalPort, lifetimeMs: options.lifetimeMs, description: 'nautilus DHT' },
            signal,
          ),
        );
        if (this.#abort.signal.aborted) return;
        this.#granted(protocol, grant.externalPort, grant.lifetimeMs, 0);
        return;
      } catch (error) {
        last = error;
      }
    }
    if (this.#abort.signal.aborted) return;
    this.#fail(isKadError(last, 'TIMEOUT') ? 'TIMEOUT' : 'PORT_MAPPING_FAILED', last);
  }

  async #renew(protocol: PortMappingProtocol, externalPort: number, renewals: number): Promise<void> {
    const { options } = this.#init;
    const internalPort = this.#internalPort;
    try {
      const grant = await this.#bounded((signal) =>
        this.#mapper(protocol).map(
          { internalPort, externalPort, lifetimeMs: options.lifetimeMs, description: 'nautilus DHT' },
          signal,
        ),
      );
      if (this.#abort.signal.aborted) return;
      this.#granted(protocol, grant.externalPort, grant.lifetimeMs, renewals + 1);
    } catch (error) {
      if (this.#abort.signal.aborted) return;
      this.#fail('LOST', error);
    }
  }

  #granted(protocol: PortMappingProtocol, externalPort: number, lifetimeMs: Milliseconds, renewals: number): void {
    const { clock } = this.#init;
    const internalPort = this.#internalPort;
    const now = clock.now();
    this.#set({ state: 'mapped', protocol, internalPort, externalPort, expiresAt: now + lifetimeMs, renewals });
    // renew at half the lease: a lost renewal still leaves time for one more before it ends
    this.#timer = clock.setTimeout(
      () => this.#run(() => this.#renew(protocol, externalPort, renewals)),
      Math.max(1000, lifetimeMs / 2),
    );
  }

  #fail(reason: 'PORT_MAPPING_FAILED' | 'TIMEOUT' | 'LOST', error: unknown): void {
    const { clock, options } = this.#init;
    const retryAt = clock.now() + options.retryMs;
    const message = error instanceof Error ? error.message : String(error);
    this.#set({ state: 'failed', reason, message, retryAt, attempts: this.#attempts });
    this.#timer = clock.setTimeout(() => this.#run(() => this.#request()), options.retryMs);
  }

  #mapper(protocol: PortMappingProtocol): PortMapper {
    let mapper = this.#mappers.get(protocol);
    if (mapper === undefined) {
      mapper = this.#init.factory(protocol);
      this.#mappers.set(protocol, mapper);
    }
    return mapper;
  }

  /** Runs `call` with a signal that fires after `timeoutMs` on the node's clock (or on close). */
  async #bounded<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    const { clock, options } = this.#init;
    const deadline = new AbortController();
    const timer = clock.setTimeout(
      () => deadline.abort(KadError.timeout(`the router did not answer within ${options.timeoutMs} ms`)),
      options.timeoutMs,
    );
    const signal = AbortSignal.any([deadline.signal, this.#abort.signal]);
    try {
      return await raceAbort(call(signal), signal);
    } finally {
      timer.cancel();
    }
  }

  #set(state: PortMappingState): void {
    this.#state = state;
    this.#init.onChange(state);
  }
}
