/**
 * `nautilus audit verify` as a process, on real log files written by an AuditedRegistry with a
 * FileAuditSink: a good log, each kind of tampering, a torn last line, the wrong key.
 */
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { generateEd25519KeyPair } from '../../src/core/ed25519.js';
import { AuditedRegistry, FileAuditSink, MemoryRegistry } from '../../src/registry/index.js';
import { runCli } from '../helpers/cli-process.js';

const signer = generateEd25519KeyPair();
const publicKey = Buffer.from(signer.publicKey).toString('hex');
const otherKey = Buffer.from(generateEd25519KeyPair().publicKey).toString('hex');

/** Writes `sets` sets and a delete through an audited registry to `path`, a checkpoint every 4 entries. */
async function writeLog(path: string, sets: number): Promise<void> {
  const sink = await FileAuditSink.open({
    path,
    fsync: 'never',
    checkpoint: { keyPair: signer, logId: 'e2e', every: 4 },
  });
  const registry = new AuditedRegistry(new MemoryRegistry(), { sink, actor: 'e2e' });
  for (let i = 0; i < sets; i++) await registry.set(`k${i}`, new TextEncoder().encode(`value ${i}`));
  await registry.delete('k0', { actor: 'admin' });
  await registry.close();
}

describe('nautilus audit verify, as a process on real log files', () => {
  let dir: string;
  let good: string;
  let lines: string[];
  let n = 0;

  /** A log file holding `text`. */
  const file = async (text: string): Promise<string> => {
    const path = join(dir, `log-${n++}.jsonl`);
    await writeFile(path, text);
    return path;
  };
  const join_ = (ls: readonly string[]): string => `${ls.join('\n')}\n`;
  const verify = (...args: string[]) => runCli(['audit', 'verify', ...args]);

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'nautilus-audit-verify-'));
    good = join(dir, 'good.jsonl');
    await writeLog(good, 9); // 9 sets, 1 delete, checkpoints at seqs 5, 10: 12 entries
    lines = (await readFile(good, 'utf8')).trimEnd().split('\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('exits 0 on an untouched log and reports its entries and signed checkpoints', async () => {
    const result = await verify(good, '--public-key', publicKey);
    assert.deepEqual([result.code, result.stderr], [0, '']);
    assert.match(result.stdout, /^ok: .*good\.jsonl: 12 entries, chained from seq 1 to 12 \(head [0-9a-f]{64}\)\n/);
    assert.match(result.stdout, /\n2 checkpoints signed by the given public key, the last at seq 10\n/);
    assert.match(result.stdout, /\nentries after seq 10 are chained but not yet signed\n$/);
  });

  it('prints the verification as JSON with --json', async () => {
    const result = await verify(good, '--public-key', publicKey, '--json');
    assert.equal(result.code, 0, result.stderr);
    const json = JSON.parse(result.stdout) as Record<string, unknown>;
    const last = JSON.parse(lines.at(-1) as string) as { hash: string };
    assert.deepEqual(json, {
      file: good,
      ok: true,
      entries: 12,
      checkpoints: 2,
      signedThrough: 10,
      head: { seq: 12, hash: last.hash },
      tornTail: false,
    });
  });

  const tampered: [string, () => string[], string, number][] = [
    ['an edited entry', () => lines.map((l, i) => (i === 2 ? l.replace('"e2e"', '"mallory"') : l)), 'edited', 3],
    ['a removed entry', () => lines.filter((_, i) => i !== 6), 'removed', 7],
    [
      'reordered entries',
      () => [...lines.slice(0, 3), lines[4], lines[3], ...lines.slice(5)] as string[],
      'reordered',
      4,
    ],
    ['an inserted entry', () => [...lines.slice(0, 8), lines[2], ...lines.slice(8)] as string[], 'inserted', 9],
  ];
  for (const [what, make, kind, line] of tampered) {
    it(`exits 1 and names the first entry for ${what} (${kind}, line ${line})`, async () => {
      const result = await verify(await file(join_(make())), '--public-key', publicKey);
      assert.equal(result.code, 1, result.stdout);
      assert.equal(result.stdout, '');
      assert.match(result.stderr, new RegExp(`^nautilus audit: .*: TAMPERED \\(${kind}\\): line ${line}: .+\\n$`));
      const json = await verify(await file(join_(make())), '--json');
      assert.equal(json.code, 1);
      const { ok, problem } = JSON.parse(json.stdout) as { ok: boolean; problem: { kind: string; line: number } };
      assert.deepEqual([ok, problem.kind, problem.line], [false, kind, line]);
    });
  }

  it('exits 0 on a last line cut short by a crash and says it is not tampering', async () => {
    // the writer's next entry, as it would have been written, cut mid-line
    const longer = join(dir, 'longer.jsonl');
    await writeFile(longer, join_(lines));
    const sink = await FileAuditSink.open({ path: longer, fsync: 'never' });
    const registry = new AuditedRegistry(new MemoryRegistry(), { sink, actor: 'e2e' });
    await registry.set('k-next', new TextEncoder().encode('next'));
    await registry.close();
    const next = (await readFile(longer, 'utf8')).trimEnd().split('\n').at(-1) as string;
    const torn = await file(`${join_(lines)}${next.slice(0, 40)}`);
    const result = await verify(torn, '--public-key', publicKey);
    assert.equal(result.code, 0, result.stderr);
    assert.match(
      result.stdout,
      /\ntorn last line: the write of entry 13 was cut short by a crash \(never acknowledged; not tampering\)\n$/,
    );
    const json = JSON.parse((await verify(torn, '--json')).stdout) as { tornTail: boolean; entries: number };
    assert.deepEqual([json.tornTail, json.entries], [true, 12]);
  });

  it('exits 1 on an unterminated last line that is not the start of the next entry', async () => {
    const result = await verify(await file(`${join_(lines)}{"seq":3,"time":1`));
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /TAMPERED \(edited\): line 13: the last line has no newline and is not the start of entry seq 13/,
    );
  });

  it('exits 1 (bad-checkpoint) when the checkpoints are not signed by the given key', async () => {
    const result = await verify(good, '--public-key', otherKey);
    assert.equal(result.code, 1);
    assert.match(
      result.stderr,
      /TAMPERED \(bad-checkpoint\): line 5: the checkpoint at seq 5 is not signed by the expected public key\n$/,
    );
  });

  it('holds the log to a checkpoint seen elsewhere: its seq and head, and the log must reach it', async () => {
    const checkpoint = JSON.parse(lines[9] as string) as { seq: number; prev: string };
    const flag = `${checkpoint.seq}:${checkpoint.prev}`;
    assert.equal((await verify(good, '--checkpoint', flag)).code, 0);
    const cut = await verify(await file(join_(lines.slice(0, 7))), '--checkpoint', flag);
    assert.equal(cut.code, 1);
    assert.match(
      cut.stderr,
      /TAMPERED \(removed\): the log ends at seq 7, before the published checkpoint at seq 10\n$/,
    );
    const wrongHead = await verify(good, '--checkpoint', `10:${'ab'.repeat(32)}`);
    assert.match(
      wrongHead.stderr,
      /TAMPERED \(edited\): line 10: the entries before seq 10 are not those the published checkpoint signed/,
    );
  });

  it('exits 2 with one line for a usage error: no verb, no file, an unreadable file, a bad key', async () => {
    const cases = [
      ['audit'],
      ['audit', 'check', good],
      ['audit', 'verify'],
      ['audit', 'verify', join(dir, 'absent.jsonl')],
      ['audit', 'verify', good, '--public-key', 'abc'],
      ['audit', 'verify', good, '--checkpoint', '10'],
      ['audit', 'verify', good, 'extra'],
    ];
    const results = await Promise.all(cases.map((args) => runCli(args)));
    assert.deepEqual(
      results.map((r) => r.code),
      cases.map(() => 2),
    );
    const messages = results.map((r) => r.stderr);
    for (const m of messages) assert.match(m, /^nautilus: audit: .+ \(see nautilus audit --help\)\n$/);
    assert.match(messages[1] as string, /audit needs verify \(got "check"\)/);
    assert.match(messages[3] as string, /cannot read .*absent\.jsonl: ENOENT/);
    assert.match(messages[4] as string, /--public-key must be 64 hex digits/);
    assert.match(messages[5] as string, /--checkpoint must be SEQ:HEAD/);
  });

  it('prints usage, exit codes and examples for --help', async () => {
    const result = await runCli(['audit', '--help']);
    assert.equal(result.code, 0);
    assert.match(result.stdout, /^Usage: nautilus audit verify <file> \[--public-key K\]/);
    assert.match(result.stdout, /Exit codes: 0 no tampering found/);
    assert.match(result.stdout, /Examples:\n {2}nautilus audit verify audit\.jsonl\n/);
  });
});
