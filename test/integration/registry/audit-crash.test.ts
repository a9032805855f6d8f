/**
 * No acknowledged write is missing from the audit log after the writer is killed with SIGKILL
 * under load (real files, a real child process), whatever the fsync policy: what a process
 * wrote survives its death in the kernel; fsync is about the machine's.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, describe, it } from 'node:test';
import { verifyAuditLog } from '../../../src/registry/audited/verify.js';

const WRITER = fileURLToPath(new URL('../../helpers/audit-writer.js', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'nautilus-audit-crash-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Runs the writer until it has acknowledged `acks` writes, kills it with SIGKILL, returns what it acknowledged. */
async function killUnderLoad(path: string, fsync: string, acks: number): Promise<string[]> {
  const child = spawn(process.execPath, [WRITER, path, fsync], { stdio: ['ignore', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  let text = '';
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the writer did not acknowledge enough writes in 20 s')), 20_000);
    child.stdout.on('data', (chunk: Buffer) => {
      text += chunk.toString('utf8');
      if (text.split('\n').length > acks) {
        clearTimeout(timer);
        child.kill('SIGKILL');
        resolve();
      }
    });
    child.on('exit', () => reject(new Error('the writer exited on its own')));
  });
  await exited;
  // read what was still in the pipe: all of it was acknowledged before the kill
  const lines = text.split('\n');
  lines.pop(); // a line cut short in the pipe
  return lines;
}

describe('audit log after kill -9 of a writer under load', () => {
  for (const fsync of ['always', 'never']) {
    it(`holds every acknowledged write, chained and unedited (fsync ${fsync})`, async () => {
      const path = join(dir, `log-${fsync}.jsonl`);
      const acknowledged = await killUnderLoad(path, fsync, 400);
      const text = readFileSync(path, 'utf8');
      const result = verifyAuditLog(text);
      assert.equal(result.problem, undefined);
      assert.ok(result.entries >= acknowledged.length);
      const logged = new Set(
        text
          .split('\n')
          .slice(0, result.entries)
          .map((line) => JSON.parse(line) as { key: string; versionAfter: number; outcome: string })
          .filter((e) => e.outcome === 'ok')
          .map((e) => `${e.key} ${e.versionAfter}`),
      );
      const missing = acknowledged.filter((ack) => !logged.has(ack));
      assert.deepEqual(missing, []);
    });
  }
});
