/**
 * A lock holder in its own process, so that a test can pause it (SIGSTOP) past its lease:
 * `node etcd-lock-holder.js <hosts,…> <lock> <ttlMs>` takes the lock, prints its fence as one
 * JSON line, then for every line read on stdin writes key `guarded` with that fence and prints
 * `written` or the RegistryError code.
 */
import { createInterface } from 'node:readline';
import { EtcdRegistry } from '../../src/registry/etcd/index.js';
import { isRegistryError } from '../../src/registry/index.js';

const [hosts = '', name = 'lock', ttl = '2000'] = process.argv.slice(2);
const registry = new EtcdRegistry({ hosts: hosts.split(','), keyPrefix: 'locks-test:' });
const handle = await registry.lock(name, { ttlMs: Number(ttl) });
process.stdout.write(`${JSON.stringify(handle.fence)}\n`);
for await (const _ of createInterface({ input: process.stdin })) {
  try {
    await registry.set('guarded', Buffer.from('from the paused holder'), { fence: handle.fence });
    process.stdout.write('written\n');
  } catch (error) {
    process.stdout.write(`${isRegistryError(error) ? error.code : String(error)}\n`);
  }
}
await registry.close();
