import { DEFAULT_DAEMON_CONFIG, type DaemonConfig } from '../../src/daemon/index.js';

/** A daemon config for tests: loopback UDP and HTTP on free ports, a silent log, `stateDir`. */
export function testDaemonConfig(stateDir: string, overrides: Partial<DaemonConfig> = {}): DaemonConfig {
  return {
    ...DEFAULT_DAEMON_CONFIG,
    host: '127.0.0.1',
    port: 0,
    http: '127.0.0.1:0',
    stateDir,
    logLevel: 'silent',
    ...overrides,
  };
}
