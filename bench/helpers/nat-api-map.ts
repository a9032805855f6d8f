import { performance } from 'node:perf_hooks';
import NatAPI from '@silentbot1/nat-api';

/**
 * The anchor of `kad-nat`: one bare `@silentbot1/nat-api` map of a UDP port, timed from the
 * client's construction to its answer (no verification), then deleted. Run inside a lab home
 * namespace: `node nat-api-map.js <upnp|natpmp> <port>`; prints `{"event":"mapped","ms":…}` or
 * `{"event":"failed","ms":…}`.
 */
const [protocol = 'upnp', portText = '6881'] = process.argv.slice(2);
const port = Number(portText);
const started = performance.now();
const client = new NatAPI({
  autoUpdate: false,
  enablePMP: protocol === 'natpmp',
  enableUPNP: protocol === 'upnp',
  description: 'nautilus bench',
});
const ok = await client.map({ publicPort: port, privatePort: port, protocol: 'UDP', ttl: 60 });
const ms = performance.now() - started;
process.stdout.write(`${JSON.stringify({ event: ok ? 'mapped' : 'failed', ms })}\n`);
await client.unmap({ publicPort: port, privatePort: port, protocol: 'UDP' });
await client.destroy();
