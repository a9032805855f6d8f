import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type CliIo, main, version } from '../../../src/cli/main.js';

function capture(): CliIo & { stdout: string[]; stderr: string[] } {
  const stdout: string[] = [];
  const stderr: string[] = [];
  return { stdout, stderr, out: (t) => void stdout.push(t), err: (t) => void stderr.push(t) };
}

describe('nautilus CLI', () => {
  it('prints the package version for --version and for the version command', async () => {
    const io = capture();
    assert.equal(await main(['--version'], io), 0);
    assert.equal(await main(['version'], io), 0);
    assert.match(version(), /^\d+\.\d+\.\d+/);
    assert.deepEqual(io.stdout, [`${version()}\n`, `${version()}\n`]);
  });

  it('prints usage for --help and when run without a command', async () => {
    const io = capture();
    assert.equal(await main(['--help'], io), 0);
    assert.equal(await main([], io), 0);
    assert.match(io.stdout[0] ?? '', /Usage:\n {2}nautilus \[command\]/);
    assert.match(io.stdout[0] ?? '', /testnet/);
    assert.equal(io.stdout[0], io.stdout[1]);
  });

  it('exits 2 with usage on stderr for an unknown command or flag', async () => {
    const io = capture();
    assert.equal(await main(['launch'], io), 2);
    assert.equal(await main(['--frobnicate'], io), 2);
    assert.match(io.stderr[0] ?? '', /unknown command "launch"/);
    assert.match(io.stderr[1] ?? '', /frobnicate/);
    assert.deepEqual(io.stdout, []);
  });

  it('names the flag when a testnet flag is out of range', async () => {
    const io = capture();
    assert.equal(await main(['testnet', '--nodes', '1'], io), 2);
    assert.equal(await main(['testnet', '--duration-ms', '-5'], io), 2);
    assert.match(io.stderr[0] ?? '', /--nodes must be an integer from 2 to 500 \(got "1"\)/);
    assert.match(io.stderr[1] ?? '', /--duration-ms/);
  });

  it('refuses to bind a testnet anywhere but loopback', async () => {
    const io = capture();
    assert.equal(await main(['testnet', '--host', '0.0.0.0', '--duration-ms', '0'], io), 2);
    assert.match(io.stdout.join(''), /loopback only/);
  });
});
