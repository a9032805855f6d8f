import type { Milliseconds } from '../../core/clock.js';

/** The protocols a router may offer for mapping a port. */
export type PortMappingProtocol = 'upnp' | 'natpmp';

/**
 * What a node asks of port mapping (`KadNodeOptions.portMapping`): `'auto'` tries NAT-PMP, then
 * UPnP-IGD; `'upnp'` / `'natpmp'` only that one; `'off'` none.
 */
export type PortMappingMode = 'auto' | PortMappingProtocol | 'off';

/** One UDP mapping request. */
export interface PortMapRequest {
  /** The node's bound UDP port. */
  readonly internalPort: number;
  /** The external port asked for (the router may grant another under NAT-PMP). */
  readonly externalPort: number;
  /** Lease asked for, ms (routers count in whole seconds). */
  readonly lifetimeMs: Milliseconds;
  /** Shown in the router's table of mappings. */
  readonly description: string;
}

/** A mapping the router granted. */
export interface PortMapGrant {
  readonly externalPort: number;
  /** Lease granted, ms. */
  readonly lifetimeMs: Milliseconds;
}

/**
 * A client of one port-mapping protocol, as the node uses it. The node bounds every call with its
 * own deadline (`signal`), so an implementation need not; one that cannot stop a call in flight
 * must still settle (or be abandoned) without harm. Tests inject faulty ones through
 * `KadNodeOptions.portMapper`.
 */
export interface PortMapper {
  readonly protocol: PortMappingProtocol;
  /** Maps (or renews) a UDP port. @throws {KadError} `PORT_MAPPING_FAILED` when absent or refused. */
  map(request: PortMapRequest, signal: AbortSignal): Promise<PortMapGrant>;
  /** Deletes the mapping of `externalPort` → `internalPort`. */
  unmap(request: Pick<PortMapRequest, 'internalPort' | 'externalPort'>, signal: AbortSignal): Promise<void>;
  /** Releases sockets; the mapper is not used again. */
  close(): Promise<void>;
}

/** Makes the client of `protocol`. */
export type PortMapperFactory = (protocol: PortMappingProtocol) => PortMapper;
