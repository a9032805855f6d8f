import { createHash, type KeyObject } from 'node:crypto';
import { bencodeByteString, bep44SignatureBuffer } from '../../core/bep44-signature.js';
import { signEd25519, verifyEd25519 } from '../../core/ed25519.js';
import { RegistryError } from '../errors.js';

/** What an audit entry records. `checkpoint` entries sign the chain head. */
export type AuditOperation = 'set' | 'delete' | 'touch' | 'restore' | 'clear' | 'checkpoint';

/** One change as the audited registry saw it, before it is chained. */
export interface AuditEvent {
  /** When the change resolved, epoch ms (from the registry's clock). */
  readonly time: number;
  /** Who made it: the call's `actor`, else the registry's. */
  readonly actor: string;
  readonly op: AuditOperation;
  /** The key changed; `null` for `clear` and checkpoints. */
  readonly key: string | null;
  /** The version before the change (0: absent), `null` when not known. */
  readonly versionBefore: number | null;
  /** The version after it (0: removed), `null` when not known or the change failed. */
  readonly versionAfter: number | null;
  /** SHA-256 of the value written, lower-case hex (the value itself is not logged); `null` for removals. */
  readonly valueSha256: string | null;
  /** `ok`, or `error:<RegistryError code>` for a change the backend refused. */
  readonly outcome: string;
}

/** A checkpoint's signature: BEP 44 over salt = `logId`, seq = the entry's seq, v = the 32-byte head. */
export interface AuditCheckpoint {
  /** Names the log; the salt of the checkpoint as a DHT mutable item. */
  readonly logId: string;
  /** 32-byte ed25519 public key, hex. */
  readonly publicKey: string;
  /** 64-byte signature, hex. */
  readonly signature: string;
}

/**
 * An entry of the hash chain, one JSON line in a file: the event, its position `seq` (from 1),
 * `prev` (the hash of the entry before, 64 zeros for the first), and `hash`, the SHA-256 of the
 * line's own text up to the hash (see {@link entryLine}).
 */
export interface AuditEntry extends AuditEvent {
  readonly seq: number;
  readonly prev: string;
  readonly checkpoint?: AuditCheckpoint;
  readonly hash: string;
}

/** `prev` of the first entry. */
export const GENESIS_HASH = '0'.repeat(64);

const encoder = new TextEncoder();

/** The head of a chain: the last entry's seq (0 for none) and hash. */
export interface ChainHead {
  readonly seq: number;
  readonly hash: string;
}

/**
 * The line of an entry: its fields as JSON in a fixed order (`seq`, `time`, `actor`, `op`,
 * `key`, `versionBefore`, `versionAfter`, `valueSha256`, `outcome`, `prev`, then `checkpoint`
 * when it is one), with `"hash"` last: the SHA-256 of the text before `,"hash"` followed by `}`.
 */
export function entryLine(body: string, hash: string): string {
  return `${body.slice(0, -1)},"hash":"${hash}"}`;
}

function bodyOf(event: AuditEvent, seq: number, prev: string, checkpoint: AuditCheckpoint | undefined): string {
  const { time, actor, op, key, versionBefore, versionAfter, valueSha256, outcome } = event;
  const fields = { seq, time, actor, op, key, versionBefore, versionAfter, valueSha256, outcome, prev };
  return JSON.stringify(checkpoint === undefined ? fields : { ...fields, checkpoint });
}

/** SHA-256 of `text` (UTF-8), hex. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash('sha256').update(data).digest('hex');
}

/** What a checkpoint at `seq` of `logId` signs: the BEP 44 signature buffer of the head. */
export function checkpointMessage(logId: string, seq: number, head: string): Uint8Array {
  return bep44SignatureBuffer(bencodeByteString(Buffer.from(head, 'hex')), seq, encoder.encode(logId));
}

/** Whether a checkpoint entry's signature holds for `publicKey` (hex) over its seq and `prev`. */
export function checkpointHolds(entry: AuditEntry, publicKey: string): boolean {
  const { checkpoint } = entry;
  if (checkpoint === undefined || checkpoint.publicKey !== publicKey) return false;
  const message = checkpointMessage(checkpoint.logId, entry.seq, entry.prev);
  return verifyEd25519(Buffer.from(publicKey, 'hex'), message, Buffer.from(checkpoint.signature, 'hex'));
}

/** Who signs checkpoints, and how often. @internal */
export interface CheckpointSigner {
  readonly logId: string;
  readonly publicKey: Uint8Array;
  readonly privateKey: KeyObject;
  /** A checkpoint after every this many entries (0: only when asked). */
  readonly every: number;
}

/**
 * The running end of a hash chain: turns events into entries with the next seq and the hash of
 * the one before, and adds a signed checkpoint every `every` entries. Synchronous, so entries
 * chained in one turn of the event loop are in order.
 */
export class AuditChain {
  #head: ChainHead;
  readonly #signer: CheckpointSigner | undefined;
  #sinceCheckpoint = 0;

  constructor(head: ChainHead, signer?: CheckpointSigner) {
    this.#head = head;
    this.#signer = signer;
  }

  get head(): ChainHead {
    return this.#head;
  }

  /** Moves the end of the chain (a shared log another writer extended). */
  reset(head: ChainHead): void {
    this.#head = head;
  }

  /** The entries (lines) that record `events`, plus any checkpoint that falls due. */
  append(events: readonly AuditEvent[]): string[] {
    const lines: string[] = [];
    for (const event of events) {
      lines.push(this.#link(event, undefined));
      this.#sinceCheckpoint++;
      const signer = this.#signer;
      if (signer !== undefined && signer.every > 0 && this.#sinceCheckpoint >= signer.every) {
        lines.push(this.checkpoint(event.time));
      }
    }
    return lines;
  }

  /** A signed checkpoint of the current head, as a line. @throws {RegistryError} `INVALID_OPTION` without a checkpoint key. */
  checkpoint(time: number): string {
    const signer = this.#signer;
    if (signer === undefined) throw RegistryError.invalidOption('checkpoint needs the checkpoint option (a key pair)');
    const seq = this.#head.seq + 1;
    const signature = signEd25519(signer.privateKey, checkpointMessage(signer.logId, seq, this.#head.hash));
    this.#sinceCheckpoint = 0;
    const event: AuditEvent = {
      time,
      actor: 'checkpoint',
      op: 'checkpoint',
      key: null,
      versionBefore: null,
      versionAfter: null,
      valueSha256: null,
      outcome: 'ok',
    };
    return this.#link(event, {
      logId: signer.logId,
      publicKey: Buffer.from(signer.publicKey).toString('hex'),
      signature: Buffer.from(signature).toString('hex'),
    });
  }

  #link(event: AuditEvent, checkpoint: AuditCheckpoint | undefined): string {
    const seq = this.#head.seq + 1;
    const body = bodyOf(event, seq, this.#head.hash, checkpoint);
    const hash = sha256Hex(body);
    this.#head = { seq, hash };
    return entryLine(body, hash);
  }
}

const HASH_SUFFIX = /,"hash":"([0-9a-f]{64})"\}$/;

/** A line read back: the entry, and whether its hash matches its text. */
export interface ParsedLine {
  readonly entry: AuditEntry | undefined;
  /** Why the line is not a well-formed entry whose hash matches its text, if it is not. */
  readonly problem: string | undefined;
}

/** Whether `line` ends as an entry does, in its `"hash"` (a whole line, not one cut short). */
export function endsWithHash(line: string): boolean {
  return HASH_SUFFIX.test(line);
}

/** Parses one line and checks its own hash (not its place in the chain). */
export function parseLine(line: string): ParsedLine {
  const match = HASH_SUFFIX.exec(line);
  if (match === null) return { entry: undefined, problem: 'not an audit entry (no hash at the end)' };
  let entry: AuditEntry;
  try {
    entry = JSON.parse(line) as AuditEntry;
  } catch {
    return { entry: undefined, problem: 'not valid JSON' };
  }
  if (
    typeof entry !== 'object' ||
    entry === null ||
    !Number.isSafeInteger(entry.seq) ||
    typeof entry.prev !== 'string'
  ) {
    return { entry: undefined, problem: 'not an audit entry (no seq or prev)' };
  }
  const body = `${line.slice(0, match.index)}}`;
  if (sha256Hex(body) !== match[1]) return { entry, problem: 'its hash does not match its content' };
  return { entry, problem: undefined };
}

/**
 * A checkpoint entry as a BEP 44 mutable item: `v` = the 32-byte head it signs, `seq` = its
 * seq, `salt` = the log id, `k` and `sig` its signer's. Publish it with `node.put(item)`; anyone
 * who reads it from the DHT can then check a copy of the log up to that seq.
 * @throws {RegistryError} `INVALID_OPTION` for an entry that is not a checkpoint.
 */
export function checkpointItem(entry: AuditEntry): {
  v: Uint8Array;
  k: Uint8Array;
  sig: Uint8Array;
  seq: number;
  salt: Uint8Array;
} {
  const { checkpoint } = entry;
  if (checkpoint === undefined) throw RegistryError.invalidOptionValue('entry', 'a checkpoint entry', entry.op);
  return {
    v: new Uint8Array(Buffer.from(entry.prev, 'hex')),
    k: new Uint8Array(Buffer.from(checkpoint.publicKey, 'hex')),
    sig: new Uint8Array(Buffer.from(checkpoint.signature, 'hex')),
    seq: entry.seq,
    salt: encoder.encode(checkpoint.logId),
  };
}
