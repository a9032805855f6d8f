import NatAPI from '@silentbot1/nat-api';
import { raceAbort } from '../../core/abort.js';
import { KadError } from '../errors.js';
import type { PortMapGrant, PortMapper, PortMapRequest, PortMappingProtocol } from './port-mapper.js';

/**
 * A {@link PortMapper} over `@silentbot1/nat-api` (pinned 0.4.9: the one npm client whose NAT-PMP
 * and UPnP-IGD map and delete both work against miniupnpd, see docs/nat.md), one instance per
 * protocol so the node knows which one granted the mapping. Its own refresh timers are off (the
 * node renews on its injected clock); a per-call `ttl` passes its 1200 s minimum. It does not
 * report the external port NAT-PMP granted: the node asks for its own port and verifies the
 * mapping from outside before trusting it.
 */
export function createNatApiMapper(protocol: PortMappingProtocol): PortMapper {
  let client: NatAPI | undefined;
  const api = (): NatAPI =>
    (client ??= new NatAPI({
      autoUpdate: false,
      enablePMP: protocol === 'natpmp',
      enableUPNP: protocol === 'upnp',
      description: 'nautilus',
    }));
  return {
    protocol,
    async map(request: PortMapRequest, signal: AbortSignal): Promise<PortMapGrant> {
      const ttl = Math.max(1, Math.round(request.lifetimeMs / 1000));
      const ok = await raceAbort(
        api().map({
          publicPort: request.externalPort,
          privatePort: request.internalPort,
          protocol: 'UDP',
          description: request.description,
          ttl,
        }),
        signal,
      );
      if (!ok) throw KadError.portMappingFailed(`no ${protocol} router answered or it refused the mapping`);
      return { externalPort: request.externalPort, lifetimeMs: ttl * 1000 };
    },
    async unmap(request, signal): Promise<void> {
      const ok = await raceAbort(
        api().unmap({ publicPort: request.externalPort, privatePort: request.internalPort, protocol: 'UDP' }),
        signal,
      );
      if (!ok) throw KadError.portMappingFailed(`the ${protocol} router did not delete the mapping`);
    },
    async close(): Promise<void> {
      const open = client;
      client = undefined;
      // destroy() first deletes what it still lists; the node deleted its mapping already
      await open?.destroy().catch(() => undefined);
    },
  };
}
