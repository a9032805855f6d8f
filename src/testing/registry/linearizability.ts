/**
 * A linearizability checker (Wing & Gong's search, with Lowe's memoization of visited states)
 * for the history of one registry key used as a versioned register: reads that saw a version,
 * and compare-and-set writes from a version to the next (`set(key, v, { ifVersion })`).
 */

/** One operation of a history; times are any monotonic clock's ms (`performance.now()`). */
export type VersionOperation =
  | {
      readonly kind: 'read';
      /** The version the read returned (0: the key was absent). */
      readonly version: number;
      readonly invokedAt: number;
      readonly returnedAt: number;
    }
  | {
      readonly kind: 'cas';
      /** The version the write was guarded by; if it took effect the key is then at `from + 1`. */
      readonly from: number;
      /**
       * `ok`: acknowledged; `conflict`: refused (`VERSION_CONFLICT`); `unknown`: failed otherwise
       * (timeout, lost connection), so it may or may not have taken effect, at any time after it
       * was invoked.
       */
      readonly outcome: 'ok' | 'conflict' | 'unknown';
      readonly invokedAt: number;
      /** Ignored for `unknown` outcomes (they may take effect later). */
      readonly returnedAt: number;
    };

/** The verdict of {@link checkVersionHistory}. */
export interface LinearizabilityVerdict {
  /** Whether some order of the operations, each taking effect between its invocation and return, explains every result. */
  readonly linearizable: boolean;
  /** States the search visited (a state: the operations placed so far and the register's version). */
  readonly explored: number;
  /**
   * When not linearizable: the most operations placed in any order tried, and the operations
   * none of the orders could place next after that prefix (the likely culprits).
   */
  readonly longestPrefix?: number;
  readonly stuckAt?: readonly VersionOperation[];
}

/** Options of {@link checkVersionHistory}. */
export interface VersionHistoryOptions {
  /** The register's version before the history. @default 0 */
  readonly initialVersion?: number;
  /** Most states the search visits before it gives up (it then throws). @default 5_000_000 */
  readonly maxStates?: number;
}

/**
 * Whether `history` is linearizable for a versioned register: a read returns the current
 * version; an acknowledged compare-and-set from `v` found the version at `v` and left it at
 * `v + 1`; a refused one found another version; an `unknown` one either never took effect or
 * took effect (from `v` to `v + 1`) at some moment after its invocation. A lost acknowledged
 * write, a write applied twice, or a stale read makes the history not linearizable.
 * @throws {RangeError} when the search would visit more than `maxStates` states.
 */
export function checkVersionHistory(
  history: readonly VersionOperation[],
  options: VersionHistoryOptions = {},
): LinearizabilityVerdict {
  const { initialVersion = 0, maxStates = 5_000_000 } = options;
  const ops = [...history].sort((a, b) => a.invokedAt - b.invokedAt);
  const n = ops.length;
  const returns = ops.map((op) => (op.kind === 'cas' && op.outcome === 'unknown' ? Infinity : op.returnedAt));
  // operations that must be placed: all but the unknown writes, which may never have happened
  const required = returns.filter((r) => r !== Infinity).length;
  const unknown = ops.flatMap((_, i) => (returns[i] === Infinity ? [i] : []));
  const done = new Uint8Array(n);
  const visited = new Set<string>();
  let placedRequired = 0;
  let longest = -1;
  let stuck: VersionOperation[] = [];

  // `first`: the first required operation not placed yet (every unplaced one with a return is at
  // or after it). The earliest return among them bounds what may go next: an operation invoked
  // after another one returned cannot take effect before it.
  const boundOf = (first: number): number => {
    let min = Infinity;
    for (let i = first; i < n && ops[i]!.invokedAt < min; i++) {
      if (done[i] === 0 && returns[i]! < min) min = returns[i]!;
    }
    return min;
  };
  const candidatesOf = (first: number, bound: number): number[] => {
    const next: number[] = [];
    for (const i of unknown) if (i < first && done[i] === 0) next.push(i);
    for (let i = first; i < n && ops[i]!.invokedAt < bound; i++) if (done[i] === 0) next.push(i);
    return next;
  };
  // a state: the register's version and the operations placed (all those before `first` but
  // unplaced unknown writes, and the placed ones of the window after it)
  const keyOf = (state: number, first: number, bound: number): string => {
    let key = `${state}|${first}|`;
    for (const i of unknown) if (i < first && done[i] === 1) key += `${i},`;
    key += '|';
    for (let i = first; i < n && ops[i]!.invokedAt < bound; i++) if (done[i] === 1) key += `${i},`;
    return key;
  };
  const firstFrom = (from: number): number => {
    let first = from;
    while (first < n && (done[first] === 1 || returns[first] === Infinity)) first++;
    return first;
  };
  const apply = (op: VersionOperation, state: number): number | undefined => {
    if (op.kind === 'read') return op.version === state ? state : undefined;
    if (op.outcome === 'conflict') return op.from !== state ? state : undefined;
    return op.from === state ? state + 1 : undefined;
  };

  // depth-first over the operations that may take effect next; each level keeps its state, its
  // candidates and how many of them it tried, and the operation it placed
  type Level = { state: number; first: number; candidates: number[]; tried: number; placed: number };
  const levelOf = (state: number, first: number, placed: number): Level => ({
    state,
    first,
    candidates: candidatesOf(first, boundOf(first)),
    tried: 0,
    placed,
  });
  const stack: Level[] = [levelOf(initialVersion, firstFrom(0), -1)];
  visited.add(keyOf(initialVersion, stack[0]!.first, boundOf(stack[0]!.first)));
  while (stack.length > 0) {
    if (placedRequired === required) return { linearizable: true, explored: visited.size };
    const level = stack[stack.length - 1]!;
    let pushed = false;
    while (level.tried < level.candidates.length && !pushed) {
      const i = level.candidates[level.tried++]!;
      const after = apply(ops[i]!, level.state);
      if (after === undefined) continue;
      done[i] = 1;
      const first = i === level.first ? firstFrom(level.first) : level.first;
      const key = keyOf(after, first, boundOf(first));
      if (visited.has(key)) {
        done[i] = 0;
        continue;
      }
      if (visited.size >= maxStates) throw new RangeError(`linearizability search passed ${maxStates} states`);
      visited.add(key);
      if (returns[i] !== Infinity) placedRequired++;
      stack.push(levelOf(after, first, i));
      pushed = true;
    }
    if (pushed) continue;
    // nothing fits here: note how far this order got, then undo its last operation
    if (placedRequired > longest) {
      longest = placedRequired;
      stuck = level.candidates.filter((i) => returns[i] !== Infinity).map((i) => ops[i]!);
    }
    stack.pop();
    if (level.placed >= 0) {
      done[level.placed] = 0;
      if (returns[level.placed] !== Infinity) placedRequired--;
    }
  }
  return { linearizable: false, explored: visited.size, longestPrefix: longest, stuckAt: stuck };
}
