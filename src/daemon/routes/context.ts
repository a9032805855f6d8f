import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { KadNode } from '../../kad/node/types.js';
import type { Registry } from '../../registry/registry.js';
import type { ActivityLog } from '../activity.js';
import type { DaemonMetrics } from '../metrics.js';

/** Options of `createApiServer`. */
export interface ApiServerOptions {
  /** Largest request body accepted, bytes (`PAYLOAD_TOO_LARGE` beyond). @default 65536 */
  readonly bodyLimit?: number;
  /** Interval of the `stats` events of `/api/events`, ms. @default 1000 */
  readonly eventIntervalMs?: number;
}

/** Defaults of {@link ApiServerOptions}. */
export const DEFAULT_API_SERVER_OPTIONS = Object.freeze({ bodyLimit: 64 * 1024, eventIntervalMs: 1000 });

/** What the API serves. */
export interface ApiServerDeps {
  readonly node: KadNode;
  /** Records of the `registry` verbs. */
  readonly records: Registry<Uint8Array>;
  readonly metrics: DaemonMetrics;
  readonly logger: Logger;
  /** The bearer token every request but `/healthz` and the dashboard's static files must carry. */
  readonly token: string;
  /** Facts about the daemon for `/api/stats` (storage kind, read-only…). */
  readonly info: Readonly<Record<string, unknown>>;
}

/** What every route module receives. */
export interface RouteContext extends ApiServerDeps {
  readonly activity: ActivityLog;
  readonly options: Required<ApiServerOptions>;
}

/**
 * An AbortSignal for one request: aborted when the client goes away before the answer is sent,
 * so a long lookup stops querying for nobody.
 */
export function requestSignal(request: FastifyRequest, reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  reply.raw.once('close', () => {
    if (!reply.raw.writableFinished) controller.abort(new DOMException('the client disconnected', 'AbortError'));
  });
  void request;
  return controller.signal;
}
