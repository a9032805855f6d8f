import { readFileSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { describe } from '../core/describe.js';
import type { PortMappingMode } from '../kad/index.js';
import { DaemonError } from './errors.js';

/** Levels of the daemon's JSON log (pino's), quietest last. */
export const LOG_LEVELS = Object.freeze(['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const);
/** One of {@link LOG_LEVELS}. */
export type LogLevel = (typeof LOG_LEVELS)[number];

/** The effective configuration of `nautilus start`; `nautilus config` prints it. */
export interface DaemonConfig {
  /** Address of the DHT's UDP socket (IPv4 or IPv6). @default "0.0.0.0" */
  readonly host: string;
  /** UDP port of the DHT; 0 picks a free one. @default 6881 */
  readonly port: number;
  /** Address of a second, IPv6 socket (BEP 32 dual stack); `null` for none. @default null */
  readonly host6: string | null;
  /** UDP port of the IPv6 socket; `null` for the same as `port`. @default null */
  readonly port6: number | null;
  /** `mainline` (the public routers), `none` (a private network) or `host:port,…`. @default "mainline" */
  readonly bootstrap: string;
  /** Where the node's state (routing table, publications) and the API token live. @default "$XDG_STATE_HOME/nautilus" */
  readonly stateDir: string;
  /** `host:port` of the HTTP API and dashboard. @default "127.0.0.1:7401" */
  readonly http: string;
  /** Where stored items and peers live: `memory`, `redis://…` or `redis-cluster://host:port,…`. @default "memory" */
  readonly storage: string;
  /** BEP 43 read-only node: queries others, answers nobody (else read-only only while firewalled). @default false */
  readonly readOnly: boolean;
  /** Map the UDP port on the home router: `auto` (NAT-PMP, then UPnP-IGD), `upnp`, `natpmp` or `off`. @default "auto" */
  readonly portMapping: PortMappingMode;
  /** Level of the JSON log on stdout. @default "info" */
  readonly logLevel: LogLevel;
  /** Bearer token of the API; `null` reads (or makes) `<stateDir>/api-token`. Required for a non-loopback `http`. @default null */
  readonly token: string | null;
}

/** Where a value of the effective config came from. */
export type ConfigSource = 'flag' | 'env' | 'file' | 'default';

/** The config and the source of each value. */
export interface ResolvedConfig {
  readonly config: DaemonConfig;
  readonly sources: Readonly<Record<keyof DaemonConfig, ConfigSource>>;
  /** The config file read, if any. */
  readonly file: string | undefined;
}

/** What {@link resolveConfig} reads: flags (as parsed, by flag name), environment, file reader. */
export interface ConfigInputs {
  /** Flag values by flag name without dashes (`state-dir`), `undefined` when absent; `config` names the file. */
  readonly flags: Readonly<Record<string, string | boolean | undefined>>;
  /** Environment (`NAUTILUS_*` variables; `XDG_STATE_HOME` and `HOME` for the default state dir). */
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Reads the config file. @default fs.readFileSync as UTF-8 */
  readonly readFile?: (path: string) => string;
}

type Kind = 'string' | 'port' | 'boolean' | 'level' | 'mapping' | 'nullable-string' | 'nullable-port';

const PORT_MAPPING_MODES: readonly PortMappingMode[] = ['auto', 'upnp', 'natpmp', 'off'];

interface Field {
  readonly key: keyof DaemonConfig;
  readonly flag: string;
  readonly kind: Kind;
}

/** Each config key with its flag (`--flag`) and variable (`NAUTILUS_FLAG`), in `nautilus config` order. */
export const CONFIG_FIELDS: readonly Field[] = Object.freeze([
  { key: 'host', flag: 'host', kind: 'string' },
  { key: 'port', flag: 'port', kind: 'port' },
  { key: 'host6', flag: 'host6', kind: 'nullable-string' },
  { key: 'port6', flag: 'port6', kind: 'nullable-port' },
  { key: 'bootstrap', flag: 'bootstrap', kind: 'string' },
  { key: 'stateDir', flag: 'state-dir', kind: 'string' },
  { key: 'http', flag: 'http', kind: 'string' },
  { key: 'storage', flag: 'storage', kind: 'string' },
  { key: 'readOnly', flag: 'read-only', kind: 'boolean' },
  { key: 'portMapping', flag: 'port-mapping', kind: 'mapping' },
  { key: 'logLevel', flag: 'log-level', kind: 'level' },
  { key: 'token', flag: 'token', kind: 'nullable-string' },
]);

/** The environment variable of a flag: `state-dir` → `NAUTILUS_STATE_DIR`. */
export function envName(flag: string): string {
  return `NAUTILUS_${flag.toUpperCase().replaceAll('-', '_')}`;
}

/** Defaults of {@link DaemonConfig} (the state dir depends on the environment: see {@link defaultStateDir}). */
export const DEFAULT_DAEMON_CONFIG = Object.freeze({
  host: '0.0.0.0',
  port: 6881,
  host6: null,
  port6: null,
  bootstrap: 'mainline',
  http: '127.0.0.1:7401',
  storage: 'memory',
  readOnly: false,
  portMapping: 'auto',
  logLevel: 'info',
  token: null,
} satisfies Omit<DaemonConfig, 'stateDir'>);

/** `$XDG_STATE_HOME/nautilus`, else `~/.local/state/nautilus`. */
export function defaultStateDir(env: Readonly<Record<string, string | undefined>>): string {
  const base = env['XDG_STATE_HOME'] ?? join(env['HOME'] ?? homedir(), '.local', 'state');
  return join(base, 'nautilus');
}

/**
 * The effective config: each value from its flag, else its `NAUTILUS_*` variable, else the
 * JSON config file (`--config` or `NAUTILUS_CONFIG`, keys as in {@link DaemonConfig}), else
 * its default. Throws `INVALID_CONFIG` naming the flag, variable or key that is wrong.
 */
export function resolveConfig(inputs: ConfigInputs): ResolvedConfig {
  const { flags, env } = inputs;
  const fileFlag = flags['config'];
  const file = typeof fileFlag === 'string' ? fileFlag : env[envName('config')];
  const fromFile = file === undefined ? {} : readConfigFile(file, inputs.readFile);
  const config: Record<string, unknown> = { ...DEFAULT_DAEMON_CONFIG, stateDir: defaultStateDir(env) };
  const sources = {} as Record<keyof DaemonConfig, ConfigSource>;
  for (const field of CONFIG_FIELDS) {
    const flag = flags[field.flag];
    const variable = env[envName(field.flag)];
    sources[field.key] = 'default';
    if (flag !== undefined) {
      config[field.key] = parseText(field, typeof flag === 'boolean' ? String(flag) : flag, `--${field.flag}`);
      sources[field.key] = 'flag';
    } else if (variable !== undefined && variable !== '') {
      config[field.key] = parseText(field, variable, envName(field.flag));
      sources[field.key] = 'env';
    } else if (field.key in fromFile) {
      config[field.key] = parseJson(field, fromFile[field.key], `${field.key} in ${file ?? ''}`);
      sources[field.key] = 'file';
    }
  }
  return { config: config as unknown as DaemonConfig, sources, file };
}

function readConfigFile(path: string, read = (p: string) => readFileSync(p, 'utf8')): Record<string, unknown> {
  let text: string;
  try {
    text = read(path);
  } catch (error) {
    throw DaemonError.invalidConfig(`config file ${path}`, `cannot be read: ${(error as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (error) {
    throw DaemonError.invalidConfig(`config file ${path}`, `is not JSON: ${(error as Error).message}`);
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw DaemonError.invalidConfig(`config file ${path}`, `must hold a JSON object (got ${describe(parsed)})`);
  }
  const known = new Set<string>(CONFIG_FIELDS.map((f) => f.key));
  for (const key of Object.keys(parsed)) {
    if (!known.has(key)) throw DaemonError.invalidConfig(`config file ${path}`, `has an unknown key "${key}"`);
  }
  return parsed as Record<string, unknown>;
}

/** A value given as text (a flag or a variable). */
function parseText(field: Field, text: string, name: string): unknown {
  switch (field.kind) {
    case 'port':
    case 'nullable-port': {
      const port = Number(text);
      if (!/^\d+$/.test(text) || port > 65535)
        throw DaemonError.invalidConfig(name, `must be a port from 0 to 65535 (got ${JSON.stringify(text)})`);
      return port;
    }
    case 'boolean':
      if (text === 'true' || text === '1') return true;
      if (text === 'false' || text === '0') return false;
      throw DaemonError.invalidConfig(name, `must be true or false (got ${JSON.stringify(text)})`);
    default:
      return parseJson(field, text, name);
  }
}

/** A value from the config file (or text already read as a string). */
function parseJson(field: Field, value: unknown, name: string): unknown {
  const nullable = field.kind === 'nullable-port' || field.kind === 'nullable-string';
  if (value === null && nullable) return null;
  switch (field.kind) {
    case 'port':
    case 'nullable-port':
      if (!Number.isSafeInteger(value) || (value as number) < 0 || (value as number) > 65535) {
        throw DaemonError.invalidConfig(name, `must be a port from 0 to 65535 (got ${describe(value)})`);
      }
      return value;
    case 'boolean':
      if (typeof value !== 'boolean')
        throw DaemonError.invalidConfig(name, `must be true or false (got ${describe(value)})`);
      return value;
    case 'mapping':
      if (!PORT_MAPPING_MODES.includes(value as PortMappingMode)) {
        throw DaemonError.invalidConfig(
          name,
          `must be one of ${PORT_MAPPING_MODES.join(', ')} (got ${describe(value)})`,
        );
      }
      return value;
    case 'level':
      if (!LOG_LEVELS.includes(value as LogLevel)) {
        throw DaemonError.invalidConfig(name, `must be one of ${LOG_LEVELS.join(', ')} (got ${describe(value)})`);
      }
      return value;
    default:
      if (field.key === 'bootstrap' && Array.isArray(value) && value.every((v) => typeof v === 'string')) {
        return value.join(',');
      }
      if (typeof value !== 'string' || value === '') {
        throw DaemonError.invalidConfig(name, `must be a non-empty string (got ${describe(value)})`);
      }
      return value;
  }
}

/** `config` as `nautilus config` shows it: the token masked. */
export function redactConfig(config: DaemonConfig): DaemonConfig {
  return config.token === null ? config : { ...config, token: '(set)' };
}
