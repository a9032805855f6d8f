import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULT_DAEMON_CONFIG, isDaemonError, resolveConfig } from '../../../src/daemon/index.js';
import { main } from '../../../src/cli/main.js';

const FILE = JSON.stringify({
  port: 7000,
  storage: 'redis://127.0.0.1:6379',
  logLevel: 'warn',
  bootstrap: ['127.0.0.1:1', '127.0.0.1:2'],
});
const readFile = (path: string): string => {
  if (path === 'n.json') return FILE;
  if (path === 'bad.json') return '{ nope';
  if (path === 'extra.json') return '{"prot": 1}';
  throw new Error(`ENOENT: ${path}`);
};

describe('daemon config', () => {
  it('takes each value from its flag, else its NAUTILUS_ variable, else the config file, else the default', () => {
    const { config, sources } = resolveConfig({
      flags: { config: 'n.json', port: '7100' },
      env: { NAUTILUS_PORT: '7200', NAUTILUS_LOG_LEVEL: 'debug', NAUTILUS_READ_ONLY: 'true', HOME: '/home/u' },
      readFile,
    });
    assert.equal(config.port, 7100);
    assert.equal(sources.port, 'flag');
    assert.equal(config.logLevel, 'debug');
    assert.equal(sources.logLevel, 'env');
    assert.equal(config.readOnly, true);
    assert.equal(config.storage, 'redis://127.0.0.1:6379');
    assert.equal(sources.storage, 'file');
    assert.equal(config.bootstrap, '127.0.0.1:1,127.0.0.1:2');
    assert.equal(config.http, DEFAULT_DAEMON_CONFIG.http);
    assert.equal(sources.http, 'default');
    assert.equal(config.stateDir, '/home/u/.local/state/nautilus');
  });

  it('reads the config file named by NAUTILUS_CONFIG and puts the state dir under XDG_STATE_HOME', () => {
    const { config, file } = resolveConfig({
      flags: {},
      env: { NAUTILUS_CONFIG: 'n.json', XDG_STATE_HOME: '/var/s' },
      readFile,
    });
    assert.equal(file, 'n.json');
    assert.equal(config.port, 7000);
    assert.equal(config.stateDir, '/var/s/nautilus');
  });

  it('names the flag, the variable or the file key that holds a bad value', () => {
    const fails = (inputs: Parameters<typeof resolveConfig>[0], pattern: RegExp): void => {
      assert.throws(
        () => resolveConfig({ readFile, ...inputs }),
        (error: unknown) => isDaemonError(error, 'INVALID_CONFIG') && pattern.test(error.message),
      );
    };
    fails({ flags: { port: '70000' }, env: {} }, /^--port must be a port from 0 to 65535 \(got "70000"\)/);
    fails({ flags: {}, env: { NAUTILUS_LOG_LEVEL: 'loud' } }, /^NAUTILUS_LOG_LEVEL must be one of trace, debug/);
    fails({ flags: {}, env: { NAUTILUS_READ_ONLY: 'yes' } }, /^NAUTILUS_READ_ONLY must be true or false/);
    fails({ flags: { config: 'bad.json' }, env: {} }, /^config file bad\.json is not JSON/);
    fails({ flags: { config: 'extra.json' }, env: {} }, /has an unknown key "prot"/);
    fails({ flags: { config: 'missing.json' }, env: {} }, /^config file missing\.json cannot be read/);
  });

  it('prints the effective config with each source, and as JSON that is a config file again', async () => {
    const out: string[] = [];
    const io = {
      out: (t: string) => void out.push(t),
      err: (t: string) => void out.push(t),
      env: { NAUTILUS_HTTP: '127.0.0.1:9000', HOME: '/h' },
    };
    assert.equal(await main(['config', '--port', '0', '--token', 'secret'], io), 0);
    const text = out.join('');
    assert.match(text, /^port +0 +\(--port\)$/m);
    assert.match(text, /^http +"127\.0\.0\.1:9000" +\(NAUTILUS_HTTP\)$/m);
    assert.match(text, /^storage +"memory" +\(default\)$/m);
    assert.match(text, /^token +"\(set\)"/m);
    assert.doesNotMatch(text, /secret/);
    out.length = 0;
    assert.equal(await main(['config', '--json', '--bootstrap', 'none'], io), 0);
    const json = JSON.parse(out.join('')) as Record<string, unknown>;
    assert.equal(json['bootstrap'], 'none');
    const again = resolveConfig({ flags: { config: 'x' }, env: {}, readFile: () => JSON.stringify(json) });
    assert.equal(again.config.bootstrap, 'none');
    assert.equal(again.config.http, '127.0.0.1:9000');
  });

  it('exits 2 with one line naming the flag for a bad config value', async () => {
    const err: string[] = [];
    const code = await main(['config', '--port', 'x'], { out: () => undefined, err: (t) => void err.push(t), env: {} });
    assert.equal(code, 2);
    assert.deepEqual(err, [
      'nautilus: config: --port must be a port from 0 to 65535 (got "x") (see nautilus config --help)\n',
    ]);
  });
});
