import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after } from 'node:test';
import { AuditedRegistry } from '../../../src/registry/audited/audited-registry.js';
import { FileAuditSink } from '../../../src/registry/audited/file-sink.js';
import { RegistryAuditSink } from '../../../src/registry/audited/registry-sink.js';
import { MemoryRegistry } from '../../../src/registry/index.js';
import { registryConformanceSuite } from '../../../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nautilus-audit-contract-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

registryConformanceSuite('AuditedRegistry over MemoryRegistry (file sink)', {
  create: async ({ clock, limits }) =>
    new AuditedRegistry(new MemoryRegistry(limits, { clock }), {
      sink: await FileAuditSink.open({ path: join(dir, `log-${files++}.jsonl`), fsync: 'never', clock }),
      clock,
    }),
});

registryConformanceSuite('AuditedRegistry over MemoryRegistry (registry sink)', {
  create: async ({ clock, limits }) =>
    new AuditedRegistry(new MemoryRegistry(limits, { clock }), {
      sink: await RegistryAuditSink.open({ registry: new MemoryRegistry({}, { clock }) }),
      clock,
    }),
});
