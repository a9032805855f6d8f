import { readFile, writeFile } from 'node:fs/promises';
import { generateKeyPair, keyPairFromSeed, type ItemKeyPair } from '../kad/items.js';
import { FailureError } from './command.js';

/** A key file as `nautilus keygen` writes it: the ed25519 seed and public key, hex. */
export interface KeyFile {
  readonly type: 'ed25519';
  readonly publicKey: string;
  readonly seed: string;
}

/** A new key pair as a key file. */
export function newKeyFile(): KeyFile {
  const keys = generateKeyPair();
  return { type: 'ed25519', publicKey: hex(keys.publicKey), seed: hex(keys.secretKey) };
}

/** Writes `key` to `path` with mode 0600, refusing to overwrite an existing file. */
export async function writeKeyFile(path: string, key: KeyFile): Promise<void> {
  try {
    await writeFile(path, `${JSON.stringify(key, null, 2)}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    throw new FailureError(
      code === 'EEXIST' ? `${path} exists: not overwriting a key` : `cannot write ${path}: ${code ?? String(error)}`,
    );
  }
}

/** The key pair in the key file at `path`; {@link FailureError} naming what is wrong. */
export async function readKeyFile(path: string): Promise<ItemKeyPair> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(path, 'utf8'));
  } catch (error) {
    throw new FailureError(`cannot read key file ${path}: ${(error as Error).message}`);
  }
  const seed = (parsed as { seed?: unknown } | null)?.seed;
  if (typeof seed !== 'string' || !/^[0-9a-fA-F]{64}$/.test(seed)) {
    throw new FailureError(`key file ${path} has no "seed" of 64 hex digits (make one with nautilus keygen)`);
  }
  return keyPairFromSeed(new Uint8Array(Buffer.from(seed, 'hex')));
}

/** Bytes as hex. */
export function hex(bytes: Uint8Array): string {
  return Buffer.from(bytes).toString('hex');
}
