import { getHeapStatistics } from 'node:v8';
import { parentPort, Worker, workerData } from 'node:worker_threads';
import { KadError, type KadErrorCode } from '../../kad/errors.js';
import type { SimulateOptions, SimulationProgress } from './options.js';
import { simulate, type SimulationResult } from './simulate.js';

/**
 * Young generation of the simulation's thread, MiB: semi-spaces of 64 MiB (V8's default is
 * 16 MiB on 64-bit; a young generation is three semi-spaces). A simulation allocates about
 * 14 KiB per datagram, nearly all of it short-lived: with the default, scavenges come so often
 * that objects still in use (queries in flight, lookups) are promoted and left to full GCs.
 * The report is unchanged; what it saves is measured in docs/simulation.md (*Cost*).
 */
const YOUNG_GENERATION_MB = 3 * 64;

/** Key of the options in a simulation thread's `workerData`: this module runs a simulation only there. */
const THREAD_MARK = 'nautilusSimulate';

/** The options a thread takes: data only (progress and abort go through messages). */
export type ThreadSimulateOptions = Omit<SimulateOptions, 'onProgress' | 'signal'>;

type ThreadMessage =
  | { readonly type: 'progress'; readonly progress: SimulationProgress }
  | { readonly type: 'done'; readonly result: SimulationResult }
  | { readonly type: 'error'; readonly code: string | undefined; readonly message: string; readonly stack?: string };

/**
 * Runs `simulate(options)` on a worker thread of its own, whose young generation is
 * {@link YOUNG_GENERATION_MB} (and whose heap limit is this thread's): the same report as a run
 * on this thread, in less time. `onProgress` gets the thread's progress; aborting `signal` stops
 * the run (rejecting with `signal.reason`) once its nodes are closed. Rejects with the run's
 * error: a `KadError` keeps its code, so an `INVALID_OPTION` still names the option.
 */
export function simulateOnThread(
  options: ThreadSimulateOptions,
  deps: { readonly onProgress?: (progress: SimulationProgress) => void; readonly signal?: AbortSignal } = {},
): Promise<SimulationResult> {
  const { onProgress, signal } = deps;
  if (signal?.aborted === true) return Promise.reject(signal.reason as Error);
  const worker = new Worker(new URL(import.meta.url), {
    workerData: { [THREAD_MARK]: options },
    resourceLimits: {
      maxYoungGenerationSizeMb: YOUNG_GENERATION_MB,
      maxOldGenerationSizeMb: Math.floor(getHeapStatistics().heap_size_limit / 2 ** 20),
    },
  });
  return new Promise<SimulationResult>((resolve, reject) => {
    const onAbort = (): void => worker.postMessage('abort');
    signal?.addEventListener('abort', onAbort, { once: true });
    const finish = (settle: () => void): void => {
      signal?.removeEventListener('abort', onAbort);
      worker.removeAllListeners();
      void worker.terminate();
      settle();
    };
    worker.on('message', (message: ThreadMessage) => {
      if (message.type === 'progress') onProgress?.(message.progress);
      else if (message.type === 'done') finish(() => resolve(message.result));
      else finish(() => reject(threadError(message, signal)));
    });
    worker.on('error', (error) => finish(() => reject(error)));
    worker.on('exit', (code) => finish(() => reject(new Error(`the simulation thread exited with code ${code}`))));
  });
}

/** The error a thread reported, as this thread's: the abort reason once aborted, a `KadError` by its code. */
function threadError(message: ThreadMessage & { type: 'error' }, signal: AbortSignal | undefined): Error {
  if (signal?.aborted === true) return signal.reason as Error;
  const error =
    message.code === undefined
      ? new Error(message.message)
      : new KadError(message.code as KadErrorCode, message.message);
  if (message.stack !== undefined) error.stack = message.stack;
  return error;
}

/** The thread's side: runs the simulation it was given and reports through its port. */
async function runThread(port: NonNullable<typeof parentPort>, options: ThreadSimulateOptions): Promise<void> {
  const controller = new AbortController();
  port.on('message', (message) => {
    if (message === 'abort') controller.abort(new Error('aborted'));
  });
  const post = (message: ThreadMessage): void => port.postMessage(message);
  try {
    const result = await simulate({
      ...options,
      onProgress: (progress) => post({ type: 'progress', progress }),
      signal: controller.signal,
    });
    post({ type: 'done', result });
  } catch (error) {
    const failure = error instanceof Error ? error : new Error(String(error));
    post({
      type: 'error',
      code: failure instanceof KadError ? failure.code : undefined,
      message: failure.message,
      ...(failure.stack === undefined ? {} : { stack: failure.stack }),
    });
  }
}

const given = (workerData as Record<string, unknown> | null)?.[THREAD_MARK];
if (parentPort !== null && given !== undefined) void runThread(parentPort, given as ThreadSimulateOptions);
