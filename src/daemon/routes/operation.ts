import type { Activity, ActivityStep } from '../activity.js';
import type { OperationName } from '../metrics.js';
import type { RouteContext } from './context.js';

/** What an operation reports when it ends. */
export interface OperationOutcome<T> {
  readonly result: T;
  /** Queries it sent. */
  readonly queried: number;
  readonly steps?: readonly ActivityStep[];
}

/**
 * Runs one DHT operation for the API: times it into the metrics, logs it, and adds it to the
 * activity log that `/api/events` streams; rethrows its error for the error handler.
 */
export async function runOperation<T>(
  context: RouteContext,
  operation: OperationName,
  target: string,
  run: () => Promise<OperationOutcome<T>>,
): Promise<T> {
  const startedAt = Date.now();
  const start = process.hrtime.bigint();
  const record = (outcome: string, queried: number, steps?: readonly ActivityStep[]): number => {
    const seconds = Number(process.hrtime.bigint() - start) / 1e9;
    const activity: Activity = {
      operation,
      target,
      startedAt,
      durationMs: Math.round(seconds * 1e4) / 10,
      outcome,
      queried,
      ...(steps === undefined ? {} : { steps }),
    };
    context.activity.add(activity);
    context.logger.info({ operation, target, outcome, queried, ms: activity.durationMs }, 'operation');
    return seconds;
  };
  try {
    const outcome = await run();
    const seconds = record('ok', outcome.queried, outcome.steps);
    context.metrics.observeOperation(operation, seconds, { requests: outcome.queried });
    return outcome.result;
  } catch (error) {
    const code = errorCode(error);
    const seconds = record(code, 0);
    context.metrics.observeOperation(operation, seconds, { code });
    throw error;
  }
}

/** The code of a typed error (KadError, RegistryError, DaemonError), else the error's name. */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  if (typeof code === 'string' && /^[A-Z_]+$/.test(code)) return code;
  return error instanceof Error ? error.name : 'ERROR';
}
