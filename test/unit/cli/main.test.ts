import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { main, version } from '../../../src/cli/main.js';

describe('nautilus CLI', () => {
  it('prints the package version for --version and for the version command', () => {
    const out: string[] = [];
    assert.equal(main(['--version'], (t) => out.push(t)), 0);
    assert.equal(main(['version'], (t) => out.push(t)), 0);
    assert.match(version(), /^\d+\.\d+\.\d+/);
    assert.deepEqual(out, [`${version()}\n`, `${version()}\n`]);
  });

  it('prints usage for --help and when run without a command', () => {
    const out: string[] = [];
    assert.equal(main(['--help'], (t) => out.push(t)), 0);
    assert.equal(main([], (t) => out.push(t)), 0);
    assert.match(out[0] ?? '', /Usage:\n {2}nautilus \[command\]/);
    assert.equal(out[0], out[1]);
  });
});
