// The daemon: a node, its storage, the HTTP API, metrics and dashboard, and their config.
export type { ConfigInputs, ConfigSource, DaemonConfig, LogLevel, ResolvedConfig } from './config.js';
export {
  CONFIG_FIELDS,
  DEFAULT_DAEMON_CONFIG,
  defaultStateDir,
  envName,
  LOG_LEVELS,
  redactConfig,
  resolveConfig,
} from './config.js';
export type { Daemon, DaemonDeps } from './daemon.js';
export { bootstrapEntries, isLoopbackHost, listen, startDaemon } from './daemon.js';
export type { DaemonErrorCode } from './errors.js';
export { DaemonError, isDaemonError } from './errors.js';
export type { ErrorBody, HttpError } from './http-errors.js';
export { toHttpError } from './http-errors.js';
export { createLogger } from './log.js';
export { meteredRegistry } from './metered-registry.js';
export type { MetricsSources, OperationName } from './metrics.js';
export { DaemonMetrics } from './metrics.js';
export type { ApiServerDeps, ApiServerOptions } from './server.js';
export { createApiServer, DEFAULT_API_SERVER_OPTIONS } from './server.js';
export type { DaemonStorage } from './storage.js';
export { DEFAULT_RECORDS_LIMITS, openStorage, REDIS_KEY_PREFIXES } from './storage.js';
export type { FamilyTable, TableBucket } from './table.js';
export { routingTables } from './table.js';
export { loadOrCreateToken, readToken, TOKEN_FILE_NAME, tokenPath, tokensMatch } from './token.js';
export { endpointText, parseHostPort } from './values.js';
