/**
 * `npm run bench`: every benchmark, each printing its anchor (measured in the same run) beside
 * Nautilus and the ratio. Pass names to run a subset: `npm run bench -- registry-memory`.
 */
import { benchDaemonApi } from './daemon-api.js';
import { printTable, type Row } from './harness.js';
import { benchKadLookup } from './kad-lookup.js';
import { benchKadMaintenance } from './kad-maintenance.js';
import { benchKadMemory } from './kad-memory.js';
import { benchKadNat } from './kad-nat.js';
import { benchKadQueries } from './kad-queries.js';
import { benchRegistryEtcd } from './registry-etcd.js';
import { benchRegistryMemory } from './registry-memory.js';
import { benchRegistryRedis } from './registry-redis.js';
import { benchRegistrySharded } from './registry-sharded.js';
import { benchRegistryWrappers } from './registry-wrappers.js';
import { benchSimulate } from './simulate.js';

const suites: Record<string, { title: string; run: () => Promise<Row[]> }> = {
  'registry-memory': { title: 'Memory registry vs lru-cache', run: benchRegistryMemory },
  'registry-redis': { title: 'Redis registry vs the raw @redis/client', run: benchRegistryRedis },
  'registry-etcd': {
    title: "etcd registry vs the raw etcd3 client; the memory change feed's cost on writes",
    run: benchRegistryEtcd,
  },
  'registry-sharded': {
    title: 'Sharded registry: HRW vs ketama ring; 3 memory shards vs one',
    run: benchRegistrySharded,
  },
  'registry-wrappers': {
    title: 'Registry wrappers: tiered (memory over Redis), signed, audited',
    run: benchRegistryWrappers,
  },
  'kad-queries': { title: 'KAD queries answered per second vs bittorrent-dht', run: benchKadQueries },
  'kad-lookup': { title: 'DHT lookups on 127.0.0.1 vs bittorrent-dht, same workload', run: benchKadLookup },
  'kad-memory': {
    title: 'Heap per idle KAD node vs bittorrent-dht; MemoryRegistry vs lru-cache',
    run: benchKadMemory,
  },
  simulate: { title: 'Simulation cost per datagram: simulate() vs the bare MemoryNetwork', run: () => benchSimulate() },
  'daemon-api': { title: 'Daemon HTTP API overhead: get through the API vs the library', run: benchDaemonApi },
  'kad-nat': {
    title: 'NAT traversal in network namespaces: start to mapped (verified) vs a bare nat-api map',
    run: benchKadNat,
  },
  'kad-maintenance': {
    title: 'KAD maintenance: restart to ready, idle traffic vs bittorrent-dht; republish and replication under churn',
    run: benchKadMaintenance,
  },
};

const wanted = process.argv.slice(2);
const unknown = wanted.filter((name) => !(name in suites));
if (unknown.length > 0) {
  console.error(`unknown benchmark(s): ${unknown.join(', ')}; known: ${Object.keys(suites).join(', ')}`);
  process.exit(2);
}
console.log(`# Nautilus benchmarks — node ${process.version}, ${new Date().toISOString()}`);
for (const [name, suite] of Object.entries(suites)) {
  if (wanted.length > 0 && !wanted.includes(name)) continue;
  printTable(suite.title, await suite.run());
}
