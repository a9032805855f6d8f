import { RegistryError } from '../errors.js';

/*
 * A sharded change-feed cursor: every shard's own cursor, by shard name, in one string.
 *
 *   S1;<name>=<cursor>;<name>=<cursor>…
 *
 * Names and cursors are percent-encoded (`encodeURIComponent`, so neither `;` nor `=` appears
 * inside one) and sorted by name, so equal positions give equal strings. Over memory shards a
 * position costs its name plus a decimal sequence number: "S1;a=120;b=98;c=131".
 */

const PREFIX = 'S1;';
/** Longest cursor accepted as input, in UTF-16 units: far above what 1000 shards need. */
const MAX_CURSOR_LENGTH = 65_536;

/** Every shard's position, by shard name. */
export type ShardPositions = ReadonlyMap<string, string>;

/** One shard's part of a cursor: its name's part (`feedNamePart`) and its position. */
export function feedPart(namePart: string, position: string): string {
  return namePart + encodeURIComponent(position);
}

/** The constant start of a shard's part: its encoded name and `=`. */
export function feedNamePart(name: string): string {
  return `${encodeURIComponent(name)}=`;
}

/** The cursor of parts (`feedPart`) already sorted by shard name. */
export function joinFeedParts(parts: readonly string[]): string {
  return PREFIX + parts.join(';');
}

/** The cursor string of `positions`. */
export function encodeFeedCursor(positions: ShardPositions): string {
  const names = [...positions.keys()].sort();
  return joinFeedParts(names.map((name) => feedPart(feedNamePart(name), positions.get(name) as string)));
}

/**
 * The positions `cursor` carries. Anything this module did not encode rejects with
 * `INVALID_OPTION` naming `after`: not a string, a wrong prefix, a part without exactly one
 * `=`, an empty or badly escaped name or position, a name given twice, or over 64 Ki long.
 */
export function decodeFeedCursor(cursor: unknown): Map<string, string> {
  const invalid = (): RegistryError =>
    RegistryError.invalidOptionValue('after', 'a cursor this sharded registry issued', cursor);
  if (typeof cursor !== 'string' || !cursor.startsWith(PREFIX) || cursor.length > MAX_CURSOR_LENGTH) throw invalid();
  const positions = new Map<string, string>();
  const body = cursor.slice(PREFIX.length);
  if (body === '') return positions;
  for (const part of body.split(';')) {
    const fields = part.split('=');
    if (fields.length !== 2) throw invalid();
    const [name, position] = fields.map((field) => {
      try {
        return decodeURIComponent(field);
      } catch {
        throw invalid();
      }
    }) as [string, string];
    if (name === '' || position === '' || positions.has(name)) throw invalid();
    positions.set(name, position);
  }
  return positions;
}
