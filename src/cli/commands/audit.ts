import { readFile } from 'node:fs/promises';
import { type AuditVerification, verifyAuditLog, type VerifyAuditOptions } from '../../registry/index.js';
import { type Command, EXIT, hexArg, printJson, stringFlag, UsageError } from '../command.js';

/** `--checkpoint SEQ:HEAD`: a checkpoint seen elsewhere (the DHT), or a {@link UsageError}. */
function checkpointFlag(raw: string | undefined): VerifyAuditOptions['checkpoint'] {
  if (raw === undefined) return undefined;
  const match = /^(\d{1,15}):([0-9a-fA-F]{64})$/.exec(raw);
  if (match === null || Number(match[1]) < 1) {
    throw new UsageError(
      `--checkpoint must be SEQ:HEAD, a seq from 1 and 64 hex digits (got ${JSON.stringify(raw.slice(0, 100))})`,
    );
  }
  return { seq: Number(match[1]), head: (match[2] as string).toLowerCase() };
}

/** The human report of a verification that found no tampering. */
function okReport(file: string, result: AuditVerification, keyGiven: boolean): string {
  const { entries, checkpoints, signedThrough, head } = result;
  const lines = [`ok: ${file}: ${entries} entries, chained from seq 1 to ${head.seq} (head ${head.hash})`];
  if (checkpoints === 0) lines.push('no signed checkpoint: nothing proves the log was not rewritten whole');
  else {
    const by = keyGiven ? 'by the given public key' : 'by the key each one names (give --public-key to pin it)';
    lines.push(`${checkpoints} checkpoints signed ${by}, the last at seq ${signedThrough}`);
    if (signedThrough < head.seq) lines.push(`entries after seq ${signedThrough} are chained but not yet signed`);
  }
  if (result.tornTail) {
    lines.push(
      `torn last line: the write of entry ${head.seq + 1} was cut short by a crash (never acknowledged; not tampering)`,
    );
  }
  return `${lines.join('\n')}\n`;
}

/** `nautilus audit verify`: checks an audit log file (no daemon needed). */
export const auditCommand: Command = {
  name: 'audit',
  summary: 'Verify a tamper-evident audit log file (audit verify <file>)',
  options: { 'public-key': { type: 'string' }, checkpoint: { type: 'string' }, json: { type: 'boolean' } },
  help: `Usage: nautilus audit verify <file> [--public-key K] [--checkpoint SEQ:HEAD] [--json]

Verifies a JSON-lines audit log written by an AuditedRegistry (FileAuditSink): every entry's
hash, the hash chain, seqs from 1 without gaps, and every signed checkpoint. Reports the first
entry that was edited, removed, reordered or inserted. A last line cut short by a crash (the
start of the next entry, without its newline) is reported as such, not as tampering: that
write was never acknowledged.

Options:
  --public-key K           The checkpoint signer's ed25519 public key (64 hex digits): every
                           checkpoint must be signed by it. Without it a checkpoint is checked
                           against the key it names, which does not catch a log rewritten whole
  --checkpoint SEQ:HEAD    A checkpoint seen elsewhere (read from the DHT: its seq and its v,
                           the 32-byte head, in hex): the log must hold it, unedited up to there
  --json                   Print the verification as JSON: { file, ok, entries, checkpoints,
                           signedThrough, head, tornTail, problem }

Exit codes: 0 no tampering found (a torn last line included), 1 tampered (the first problem on
stderr: edited, removed, reordered, inserted or bad-checkpoint), 2 usage (bad flags, or the
file cannot be read).

Examples:
  nautilus audit verify audit.jsonl
  nautilus audit verify audit.jsonl --public-key 3b6a27bcceb6a42d62a3a8d02a6f0d73653215771de243a63ac048a18b59da29
  nautilus audit verify audit.jsonl --checkpoint 1001:<head, 64 hex digits> --json
`,
  async run(args, io) {
    const [verb, file, ...extra] = args.positionals;
    if (verb !== 'verify') throw new UsageError(`audit needs verify (got ${JSON.stringify(verb ?? '')})`);
    if (file === undefined) throw new UsageError('missing <file>');
    if (extra.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(extra[0])}`);
    const key = stringFlag(args, 'public-key');
    const publicKey = key === undefined ? undefined : hexArg(key, '--public-key', 64);
    const checkpoint = checkpointFlag(stringFlag(args, 'checkpoint'));
    let text: string;
    try {
      text = await readFile(file, 'utf8');
    } catch (error) {
      throw new UsageError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? String(error)}`);
    }
    const result = verifyAuditLog(text, { publicKey, checkpoint });
    if (args.values['json'] === true) printJson(io, { file, ...result });
    else if (result.ok) io.out(okReport(file, result, publicKey !== undefined));
    if (result.problem !== undefined) {
      const { kind, message } = result.problem;
      io.err(`nautilus audit: ${file}: TAMPERED (${kind}): ${message}\n`);
      return EXIT.failed;
    }
    return EXIT.ok;
  },
};
