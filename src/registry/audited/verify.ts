import { readFile } from 'node:fs/promises';
import { checkpointHolds, endsWithHash, GENESIS_HASH, parseLine, type ParsedLine } from './chain.js';

/**
 * What is wrong with a log, at the first place it goes wrong:
 * - `edited`: an entry's text no longer matches its hash, it does not follow the entry before
 *   it, or a checkpoint no longer signs the chain before it (entries were rewritten);
 * - `removed`: entries are missing (a seq is skipped and never appears);
 * - `reordered`: a seq is skipped here and appears later;
 * - `inserted`: a seq appears twice;
 * - `bad-checkpoint`: a checkpoint not signed by the expected public key.
 */
export type AuditProblemKind = 'edited' | 'removed' | 'reordered' | 'inserted' | 'bad-checkpoint';

/** The first problem found. */
export interface AuditProblem {
  readonly kind: AuditProblemKind;
  /** Line number, from 1. */
  readonly line: number;
  /** The seq the log should have had there. */
  readonly expectedSeq: number;
  readonly message: string;
}

/** What {@link verifyAuditLog} found. */
export interface AuditVerification {
  /** No tampering found (a torn last line is not tampering). */
  readonly ok: boolean;
  /** Entries that verified, in order, before any problem (checkpoints included). */
  readonly entries: number;
  /** Checkpoints among them whose signature held (for `publicKey`, when given). */
  readonly checkpoints: number;
  /** The seq of the last of those checkpoints (0 for none): later entries are chained but not yet signed. */
  readonly signedThrough: number;
  /** The last verified entry's seq and hash (0 and 64 zeros for none). */
  readonly head: { readonly seq: number; readonly hash: string };
  /**
   * The file ends in a line without its newline that is the start of the next entry (or all of
   * it but the newline): a write cut short by a crash. That entry was never acknowledged (a
   * change is acknowledged only once its whole line is written). Any other unterminated last
   * line is reported as `edited`.
   */
  readonly tornTail: boolean;
  readonly problem: AuditProblem | undefined;
}

/** Options of {@link verifyAuditLog}. */
export interface VerifyAuditOptions {
  /**
   * The checkpoint signer's 32-byte public key (or its hex): every checkpoint must be signed by
   * it. Without it checkpoints are checked against the key they name, which proves nothing
   * against someone who rewrites the whole log.
   */
  readonly publicKey?: Uint8Array | string | undefined;
  /**
   * A checkpoint seen elsewhere (read from the DHT: its `seq` and its `v`, the 32-byte head, as
   * bytes or hex): the log must hold the checkpoint at `seq`, over that head. Proves the log
   * unedited up to there to anyone who saw the checkpoint, whoever holds the log.
   */
  readonly checkpoint?: { readonly seq: number; readonly head: Uint8Array | string } | undefined;
}

/**
 * Verifies a JSON-lines audit log: every entry's hash, the chain of `prev` hashes, consecutive
 * seqs from 1, and every checkpoint's signature. Reports the first entry that was edited,
 * removed, reordered or inserted, and tells a torn last line (a crash) apart from tampering.
 */
export function verifyAuditLog(text: string, options: VerifyAuditOptions = {}): AuditVerification {
  const publicKey =
    options.publicKey === undefined
      ? undefined
      : typeof options.publicKey === 'string'
        ? options.publicKey.toLowerCase()
        : Buffer.from(options.publicKey).toString('hex');
  const known = options.checkpoint;
  const knownHead =
    known === undefined
      ? undefined
      : typeof known.head === 'string'
        ? known.head.toLowerCase()
        : Buffer.from(known.head).toString('hex');
  const lines = text.split('\n');
  const last = lines.pop() ?? '';
  const tornTail = last !== '';
  const parsed: ParsedLine[] = lines.map(parseLine);
  const seen = new Map<number, number>();
  let head = { seq: 0, hash: GENESIS_HASH };
  let checkpoints = 0;
  let signedThrough = 0;
  const result = (problem: AuditProblem | undefined): AuditVerification => ({
    ok: problem === undefined,
    entries: head.seq,
    checkpoints,
    signedThrough,
    head,
    tornTail,
    problem,
  });
  // a torn tail is checked as an entry when it is whole but for the newline, else as its start
  const tail = tornTail && endsWithHash(last) ? parseLine(last) : undefined;
  const checked = tail === undefined ? parsed : [...parsed, tail];
  for (const [i, { entry, problem }] of checked.entries()) {
    const expectedSeq = head.seq + 1;
    const at = (kind: AuditProblemKind, message: string): AuditVerification =>
      result({ kind, line: i + 1, expectedSeq, message: `line ${i + 1}: ${message}` });
    if (entry === undefined || problem !== undefined) return at('edited', problem ?? 'unreadable');
    if (entry.seq < expectedSeq) {
      const first = seen.get(entry.seq);
      const where = first === undefined ? 'earlier' : `at line ${first}`;
      return at('inserted', `seq ${entry.seq} appears again (first ${where}): an entry was inserted`);
    }
    if (entry.seq > expectedSeq) {
      const later = parsed.slice(i + 1).some((p) => p.entry?.seq === expectedSeq);
      return later
        ? at('reordered', `seq ${entry.seq} where ${expectedSeq} belongs, which comes later: entries were reordered`)
        : at(
            'removed',
            `seq ${entry.seq} where ${expectedSeq} belongs: ${entry.seq - expectedSeq} entries were removed`,
          );
    }
    if (entry.prev !== head.hash) return at('edited', `seq ${entry.seq} does not follow the entry before it`);
    if (known !== undefined && entry.seq === known.seq && (entry.op !== 'checkpoint' || entry.prev !== knownHead)) {
      return at('edited', `the entries before seq ${entry.seq} are not those the published checkpoint signed`);
    }
    if (entry.op === 'checkpoint') {
      const signer = publicKey ?? entry.checkpoint?.publicKey ?? '';
      if (!checkpointHolds(entry, signer)) {
        return publicKey !== undefined && entry.checkpoint?.publicKey !== publicKey
          ? at('bad-checkpoint', `the checkpoint at seq ${entry.seq} is not signed by the expected public key`)
          : at(
              'edited',
              `the checkpoint at seq ${entry.seq} does not sign the chain before it: entries were rewritten`,
            );
      }
      if (i < parsed.length) {
        checkpoints++;
        signedThrough = entry.seq;
      }
    }
    if (i === parsed.length) break; // the torn tail holds, but was never acknowledged: not counted
    seen.set(entry.seq, i + 1);
    head = { seq: entry.seq, hash: entry.hash };
  }
  const start = `{"seq":${head.seq + 1},"time":`;
  if (tornTail && tail === undefined && !(last.startsWith(start) || start.startsWith(last))) {
    const line = parsed.length + 1;
    return result({
      kind: 'edited',
      line,
      expectedSeq: head.seq + 1,
      message: `line ${line}: the last line has no newline and is not the start of entry seq ${head.seq + 1}, as a write cut short by a crash would be`,
    });
  }
  if (known !== undefined && head.seq < known.seq) {
    const line = parsed.length + 1;
    return result({
      kind: 'removed',
      line,
      expectedSeq: head.seq + 1,
      message: `the log ends at seq ${head.seq}, before the published checkpoint at seq ${known.seq}`,
    });
  }
  return result(undefined);
}

/** {@link verifyAuditLog} of a file. */
export async function verifyAuditFile(path: string, options: VerifyAuditOptions = {}): Promise<AuditVerification> {
  return verifyAuditLog(await readFile(path, 'utf8'), options);
}
