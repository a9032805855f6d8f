/**
 * A writer process for the crash test of the audit log: writes through an AuditedRegistry with a
 * file sink as fast as it can (16 writes in flight) and prints `<key> <version>` for every write
 * once it is acknowledged, until it is killed. Usage: node audit-writer.js <log path> <fsync policy>
 */
import { AuditedRegistry } from '../../src/registry/audited/audited-registry.js';
import { FileAuditSink, type FsyncPolicy } from '../../src/registry/audited/file-sink.js';
import { MemoryRegistry } from '../../src/registry/index.js';

const [path, fsync] = process.argv.slice(2) as [string, FsyncPolicy];
const registry = new AuditedRegistry(new MemoryRegistry(), { sink: await FileAuditSink.open({ path, fsync }) });
const value = new TextEncoder().encode('x'.repeat(64));
let next = 0;

async function writer(): Promise<void> {
  for (;;) {
    const key = `k${next++ % 50}`;
    const record = await registry.set(key, value);
    // stdout to a pipe is synchronous on Linux: a printed write is acknowledged
    process.stdout.write(`${key} ${record.version}\n`);
  }
}

await Promise.all(Array.from({ length: 16 }, writer));
