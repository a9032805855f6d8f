import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { generateEd25519KeyPair } from '../../../../src/core/ed25519.js';
import { AuditedRegistry } from '../../../../src/registry/audited/audited-registry.js';
import { readRegistryAuditLog, RegistryAuditSink } from '../../../../src/registry/audited/registry-sink.js';
import { verifyAuditLog } from '../../../../src/registry/audited/verify.js';
import { MemoryRegistry } from '../../../../src/registry/index.js';

const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const signer = generateEd25519KeyPair();

describe('RegistryAuditSink', () => {
  it('keeps one unbroken chain for two writers sharing the log registry', async () => {
    const log = new MemoryRegistry();
    const checkpoint = { keyPair: signer, logId: 'shared', every: 5 };
    const writers = await Promise.all(
      ['one', 'two'].map(
        async (actor) =>
          new AuditedRegistry(new MemoryRegistry(), {
            sink: await RegistryAuditSink.open({ registry: log, checkpoint }),
            actor,
          }),
      ),
    );
    await Promise.all(
      writers.flatMap((writer, w) => Array.from({ length: 20 }, (_, i) => writer.set(`k${w}-${i}`, bytes('v')))),
    );
    const text = await readRegistryAuditLog(log);
    const result = verifyAuditLog(text, { publicKey: signer.publicKey });
    assert.equal(result.problem, undefined);
    const entries = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { op: string; actor: string });
    assert.equal(entries.filter((e) => e.op === 'set').length, 40);
    assert.deepEqual(new Set(entries.filter((e) => e.op === 'set').map((e) => e.actor)), new Set(['one', 'two']));
    assert.ok(result.checkpoints >= 1);
  });

  it('continues the chain of a log it reopens, and shows a removed entry as removed', async () => {
    const log = new MemoryRegistry();
    const first = new AuditedRegistry(new MemoryRegistry(), { sink: await RegistryAuditSink.open({ registry: log }) });
    await first.set('a', bytes('1'));
    await first.set('b', bytes('2'));
    const again = new AuditedRegistry(new MemoryRegistry(), { sink: await RegistryAuditSink.open({ registry: log }) });
    await again.set('c', bytes('3'));
    assert.equal(verifyAuditLog(await readRegistryAuditLog(log)).entries, 3);
    await log.delete('audit:0000000000000002');
    assert.equal(verifyAuditLog(await readRegistryAuditLog(log)).problem?.kind, 'removed');
  });
});
