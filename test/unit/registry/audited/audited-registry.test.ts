import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateEd25519KeyPair } from '../../../../src/core/ed25519.js';
import { verifyMutable } from '../../../../src/kad/items.js';
import { AuditedRegistry } from '../../../../src/registry/audited/audited-registry.js';
import { checkpointItem } from '../../../../src/registry/audited/chain.js';
import { FileAuditSink } from '../../../../src/registry/audited/file-sink.js';
import type { AuditSink } from '../../../../src/registry/audited/sink.js';
import { verifyAuditLog } from '../../../../src/registry/audited/verify.js';
import { MemoryRegistry, RegistryError, type RegistryErrorCode } from '../../../../src/registry/index.js';
import { ManualClock } from '../../../../src/testing/index.js';

const dir = mkdtempSync(join(tmpdir(), 'nautilus-audit-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const bytes = (text: string): Uint8Array => new TextEncoder().encode(text);
const signer = generateEd25519KeyPair();
const publicKey = Buffer.from(signer.publicKey).toString('hex');

async function rejectsWith(promise: Promise<unknown>, code: RegistryErrorCode): Promise<void> {
  await assert.rejects(promise, (error: unknown) => error instanceof RegistryError && error.code === code);
}

/** A log file of `writes` sets (keys k0, k1, …) and a delete of k0, checkpointed every 3 entries. */
async function writtenLog(writes = 6): Promise<{ path: string; lines: string[] }> {
  const path = join(dir, `log-${files++}.jsonl`);
  const clock = new ManualClock(1_700_000_000_000);
  const sink = await FileAuditSink.open({ path, clock, checkpoint: { keyPair: signer, logId: 'test-log', every: 3 } });
  const registry = new AuditedRegistry(new MemoryRegistry({}, { clock }), { sink, clock, actor: 'tests' });
  for (let i = 0; i < writes; i++) await registry.set(`k${i}`, bytes(`value ${i}`));
  await registry.delete('k0', { actor: 'admin' });
  await registry.close();
  return { path, lines: readFileSync(path, 'utf8').trimEnd().split('\n') };
}

const join_ = (lines: string[]): string => `${lines.join('\n')}\n`;

/** The line the writer of `lines` would append next (a set of key "next"). */
async function nextEntryLine(lines: string[]): Promise<string> {
  const path = join(dir, `next-${files++}.jsonl`);
  writeFileSync(path, join_(lines));
  const clock = new ManualClock(1_700_000_000_000);
  const sink = await FileAuditSink.open({ path, clock, fsync: 'never' });
  const registry = new AuditedRegistry(new MemoryRegistry({}, { clock }), { sink, clock, actor: 'tests' });
  await registry.set('next', bytes('next value'));
  await registry.close();
  return readFileSync(path, 'utf8').trimEnd().split('\n').at(-1) ?? '';
}

describe('AuditedRegistry', () => {
  it('logs each change with seq, time, actor, op, key, versions, value hash and outcome, chained', async () => {
    const { lines } = await writtenLog(2);
    const entries = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    assert.deepEqual(
      entries.map((e) => [e['seq'], e['op'], e['key'], e['actor'], e['versionBefore'], e['versionAfter']]),
      [
        [1, 'set', 'k0', 'tests', 0, 1],
        [2, 'set', 'k1', 'tests', 0, 1],
        [3, 'delete', 'k0', 'admin', 1, 0],
        [4, 'checkpoint', null, 'checkpoint', null, null],
      ],
    );
    assert.equal(entries[0]?.['valueSha256'], createHash('sha256').update('value 0').digest('hex'));
    assert.equal(entries[0]?.['time'], 1_700_000_000_000);
    assert.equal(entries[1]?.['prev'], entries[0]?.['hash']);
    assert.equal(JSON.stringify(entries).includes('value 0'), false);
    assert.deepEqual(verifyAuditLog(join_(lines), { publicKey }).problem, undefined);
  });

  it('verifies an untouched log with its checkpoints signed by the expected key', async () => {
    const { lines } = await writtenLog();
    const result = verifyAuditLog(join_(lines), { publicKey });
    assert.equal(result.ok, true);
    assert.equal(result.checkpoints, 2);
    assert.equal(result.entries, lines.length);
    assert.equal(result.tornTail, false);
  });

  it('reports the first edited entry', async () => {
    const { lines } = await writtenLog();
    lines[2] = (lines[2] ?? '').replace('"tests"', '"mallory"');
    const { ok, problem } = verifyAuditLog(join_(lines));
    assert.equal(ok, false);
    assert.deepEqual([problem?.kind, problem?.line], ['edited', 3]);
  });

  it('reports removed, reordered and inserted entries as such', async () => {
    const { lines } = await writtenLog();
    const removed = lines.filter((_, i) => i !== 1);
    assert.deepEqual(
      [verifyAuditLog(join_(removed)).problem?.kind, verifyAuditLog(join_(removed)).problem?.line],
      ['removed', 2],
    );
    const reordered = [lines[0], lines[2], lines[1], ...lines.slice(3)] as string[];
    assert.deepEqual(verifyAuditLog(join_(reordered)).problem?.kind, 'reordered');
    const inserted = [...lines.slice(0, 3), lines[1], ...lines.slice(3)] as string[];
    assert.deepEqual(
      [verifyAuditLog(join_(inserted)).problem?.kind, verifyAuditLog(join_(inserted)).problem?.line],
      ['inserted', 4],
    );
  });

  it('catches a log rewritten with fresh hashes by its checkpoint signature', async () => {
    const { path, lines } = await writtenLog();
    // rewrite from the second entry on: a forger can redo the hashes, not the checkpoint signatures
    const forged = join(dir, 'forged.jsonl');
    writeFileSync(forged, `${lines[0]}\n`);
    const sink = await FileAuditSink.open({ path: forged, fsync: 'never' });
    const [checkpointLine] = lines.filter((l) => l.includes('"checkpoint"'));
    await sink.append([
      {
        time: 1,
        actor: 'mallory',
        op: 'set',
        key: 'k1',
        versionBefore: 0,
        versionAfter: 1,
        valueSha256: null,
        outcome: 'ok',
      },
      {
        time: 1,
        actor: 'mallory',
        op: 'set',
        key: 'k2',
        versionBefore: 0,
        versionAfter: 1,
        valueSha256: null,
        outcome: 'ok',
      },
    ]);
    await sink.close();
    const rewritten = readFileSync(forged, 'utf8') + `${checkpointLine}\n`;
    assert.equal(verifyAuditLog(readFileSync(path, 'utf8'), { publicKey }).ok, true);
    const { problem } = verifyAuditLog(rewritten, { publicKey });
    assert.deepEqual([problem?.kind, problem?.line], ['edited', 4]);
  });

  it('tells a torn last line apart from tampering, and continues the chain after it', async () => {
    const { path, lines } = await writtenLog(2);
    const next = await nextEntryLine(lines);
    // cut short anywhere: in the seq, mid-field, mid-hash, or just before the newline
    for (const cut of [5, 30, next.length - 10, next.length]) {
      const result = verifyAuditLog(`${join_(lines)}${next.slice(0, cut)}`, { publicKey });
      assert.deepEqual([result.ok, result.tornTail, result.entries, cut], [true, true, 4, cut]);
    }
    const torn = `${join_(lines)}${next.slice(0, 30)}`;
    writeFileSync(path, torn);
    const sink = await FileAuditSink.open({ path, fsync: 'never' });
    const registry = new AuditedRegistry(new MemoryRegistry(), { sink });
    await registry.set('after', bytes('crash'));
    await registry.close();
    const after_ = verifyAuditLog(readFileSync(path, 'utf8'));
    assert.deepEqual([after_.ok, after_.tornTail, after_.entries], [true, false, 5]);
  });

  it('reports an unterminated last line that no crash could have written as edited', async () => {
    const { lines } = await writtenLog(2);
    const next = await nextEntryLine(lines);
    const cases = [
      (lines[0] ?? '').slice(0, 30), // the start of an entry already there, not of the next one
      next.replace('"tests"', '"mallory"'), // the next entry whole but for the newline, edited
      `${lines.at(-1)?.replace('"actor":"checkpoint"', '"actor":"mallory"')}`, // the last entry edited, no newline
    ];
    const found = cases.map((tail) => {
      const text = tail.startsWith('{"seq":4') ? `${join_(lines.slice(0, -1))}${tail}` : `${join_(lines)}${tail}`;
      const { ok, problem, tornTail } = verifyAuditLog(text, { publicKey });
      return [ok, tornTail, problem?.kind, problem?.line];
    });
    assert.deepEqual(found, [
      [false, true, 'edited', 5],
      [false, true, 'edited', 5],
      [false, true, 'edited', 4],
    ]);
  });

  it('gives checkpoints that are BEP 44 items of the signer, salt = the log id', async () => {
    const { lines } = await writtenLog();
    const line = lines.find((l) => l.includes('"checkpoint"'));
    assert.ok(line);
    const item = checkpointItem(JSON.parse(line) as Parameters<typeof checkpointItem>[0]);
    assert.equal(verifyMutable(item), true);
    assert.deepEqual(item.k, signer.publicKey);
    assert.deepEqual(item.salt, bytes('test-log'));
  });

  it('holds a log to a checkpoint published elsewhere, even one rewritten whole under a new key', async () => {
    const { lines } = await writtenLog();
    const line = lines.find((l) => l.includes('"checkpoint"'));
    assert.ok(line);
    const published = checkpointItem(JSON.parse(line) as Parameters<typeof checkpointItem>[0]);
    const seen = { seq: published.seq, head: published.v };
    assert.equal(verifyAuditLog(join_(lines), { checkpoint: seen }).ok, true);
    // a forger re-chains every entry after an edit and signs its own checkpoints
    const forged = join(dir, `forged-${files++}.jsonl`);
    const mallory = generateEd25519KeyPair();
    const sink = await FileAuditSink.open({
      path: forged,
      fsync: 'never',
      checkpoint: { keyPair: mallory, logId: 'test-log', every: 3 },
    });
    const entries = lines.map((l) => JSON.parse(l) as { op: string; actor: string } & Record<string, unknown>);
    const events = entries
      .filter((e) => e.op !== 'checkpoint')
      .map((e, i) => ({
        ...(e as never as Parameters<AuditSink['append']>[0][0]),
        actor: i === 0 ? 'mallory' : e.actor,
      }));
    for (const event of events) await sink.append([event]);
    await sink.close();
    const text = readFileSync(forged, 'utf8');
    assert.equal(verifyAuditLog(text).ok, true);
    assert.equal(verifyAuditLog(text, { checkpoint: seen }).problem?.kind, 'edited');
    assert.equal(verifyAuditLog(join_(lines.slice(0, 2)), { checkpoint: seen }).problem?.kind, 'removed');
  });

  it('reports a checkpoint by another key as bad-checkpoint', async () => {
    const { lines } = await writtenLog();
    const other = Buffer.from(generateEd25519KeyPair().publicKey).toString('hex');
    assert.equal(verifyAuditLog(join_(lines), { publicKey: other }).problem?.kind, 'bad-checkpoint');
  });

  it('rejects a write AUDIT_FAILED on a full disk, and every later change before it reaches the backend', async () => {
    const backend = new MemoryRegistry();
    const registry = new AuditedRegistry(backend, { sink: await FileAuditSink.open({ path: '/dev/full' }) });
    await rejectsWith(registry.set('a', bytes('1')), 'AUDIT_FAILED');
    await rejectsWith(registry.set('b', bytes('2')), 'AUDIT_FAILED');
    await rejectsWith(registry.delete('a'), 'AUDIT_FAILED');
    assert.equal(await backend.has('b'), false);
    assert.equal(await backend.has('a'), true);
    await registry.close().catch(() => undefined);
  });

  it('does not acknowledge a change its sink fails to record', async () => {
    const failing: AuditSink = {
      failure: undefined,
      append: () => Promise.reject(RegistryError.auditFailed('sink down')),
      checkpoint: () => Promise.resolve(),
      close: () => Promise.resolve(),
    };
    const registry = new AuditedRegistry(new MemoryRegistry(), { sink: failing });
    await rejectsWith(registry.set('a', bytes('1')), 'AUDIT_FAILED');
    await rejectsWith(registry.setMany([{ key: 'b', value: bytes('2') }]), 'AUDIT_FAILED');
  });

  it('logs a refused compare-and-set with its outcome', async () => {
    const path = join(dir, `log-${files++}.jsonl`);
    const registry = new AuditedRegistry(new MemoryRegistry(), {
      sink: await FileAuditSink.open({ path, fsync: 'never' }),
    });
    await registry.set('a', bytes('1'));
    await rejectsWith(registry.set('a', bytes('2'), { ifVersion: 5 }), 'VERSION_CONFLICT');
    await registry.close();
    const entries = readFileSync(path, 'utf8')
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as { outcome: string });
    assert.deepEqual(
      entries.map((e) => e.outcome),
      ['ok', 'error:VERSION_CONFLICT'],
    );
  });
});
