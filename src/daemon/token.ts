import { randomBytes, timingSafeEqual, createHash } from 'node:crypto';
import { chmod, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/** Name of the file in the state dir that holds the API token (mode 0600). */
export const TOKEN_FILE_NAME = 'api-token';

/** The token file of `stateDir`. */
export function tokenPath(stateDir: string): string {
  return join(stateDir, TOKEN_FILE_NAME);
}

/**
 * The API token of `stateDir`: read from its token file, or made (32 random bytes, hex) and
 * written there with mode 0600 on first start (the directory is made with mode 0700).
 */
export async function loadOrCreateToken(stateDir: string): Promise<string> {
  const path = tokenPath(stateDir);
  const existing = await readToken(path);
  if (existing !== undefined) return existing;
  await mkdir(stateDir, { recursive: true, mode: 0o700 });
  const token = randomBytes(32).toString('hex');
  try {
    // 'wx': of two daemons starting at once on one state dir, one writes and the other reads it
    await writeFile(path, `${token}\n`, { mode: 0o600, flag: 'wx' });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    return (await readToken(path)) ?? token;
  }
  await chmod(path, 0o600); // the umask may have taken bits off, never added any: this only asserts it
  return token;
}

/** The token in `path`, or `undefined` when the file does not exist or is empty. */
export async function readToken(path: string): Promise<string | undefined> {
  try {
    const text = (await readFile(path, 'utf8')).trim();
    return text === '' ? undefined : text;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw error;
  }
}

/**
 * Whether `given` is `expected`, in time that does not depend on where they differ: both are
 * hashed first, so their lengths leak nothing either.
 */
export function tokensMatch(given: string, expected: string): boolean {
  return tokenChecker(expected)(given);
}

/**
 * {@link tokensMatch} against a fixed `expected`, hashed once: the check the API runs on every
 * request then hashes only the token it was given.
 */
export function tokenChecker(expected: string): (given: string) => boolean {
  const b = createHash('sha256').update(expected).digest();
  return (given) => timingSafeEqual(createHash('sha256').update(given).digest(), b);
}
