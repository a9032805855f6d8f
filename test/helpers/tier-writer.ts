/**
 * The other process of the two-process tier test: writes one value through its own
 * TieredRegistry (memory over the shared Redis) and prints the version written.
 * Usage: node tier-writer.js <redis url> <key prefix> <key> <value> [changefeed]
 * (`changefeed`: with the Redis change feed on, as every client of a watched namespace must be).
 */
import { RedisRegistry } from '../../src/registry/redis/index.js';
import { TieredRegistry } from '../../src/registry/tiered/tiered-registry.js';

const [url, keyPrefix, key, value, feed] = process.argv.slice(2) as [string, string, string, string, string?];
const far = await RedisRegistry.connect({ url, keyPrefix, ...(feed === 'changefeed' ? { changefeed: {} } : {}) });
const tiered = new TieredRegistry({ far });
const record = await tiered.set(key, new TextEncoder().encode(value));
process.stdout.write(`${record.version}\n`);
await tiered.close();
