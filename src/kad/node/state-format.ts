import { createHash } from 'node:crypto';
import type { Milliseconds } from '../../core/clock.js';
import { idFromHex, idToHex, type NodeId } from '../id.js';
import { type AddressFamily, familyOf } from '../wire/compact.js';

// The saved state of a node, as bytes. JSON, because the file is small (a routing table is a few
// hundred contacts, ~100 bytes each), written once a minute, and meant to be read by a person
// when it is set aside as bad; ids are hex. A checksum over the body tells a damaged file from
// one that merely parses.

/** The `format` field: what this file is. */
export const STATE_FORMAT = 'nautilus-kad-state';
/** The `version` field of the files this code writes and reads. */
export const STATE_VERSION = 1;
/** Largest state file read, in bytes: anything larger is not one this code wrote. */
export const MAX_STATE_BYTES = 16 * 1024 * 1024;

/** A routing-table contact as saved: where it was and when it last answered. */
export interface SavedContact {
  readonly id: NodeId;
  readonly host: string;
  readonly port: number;
  /** Epoch ms. */
  readonly lastSeen: Milliseconds;
}

/** What a node saves and reads back at start. @internal */
export interface SavedState {
  readonly id: NodeId;
  /** When it was written, epoch ms on the node's clock. */
  readonly savedAt: Milliseconds;
  /** Routing-table contacts per family, least recently seen first. */
  readonly contacts: Readonly<Partial<Record<AddressFamily, readonly SavedContact[]>>>;
  /** What the node publishes, with its schedule: a JSON value of the publications' own format. */
  readonly publications?: unknown;
}

/** Why a state file was set aside: see the `state:discarded` event. */
export type StateDiscardReason =
  /** Not readable as a state file: truncated, damaged (checksum), not JSON, or fields out of shape. */
  | 'corrupt'
  /** A state file of another format version. */
  | 'version'
  /** Saved by a node with another id than the `id` option asks for. */
  | 'other-id'
  /** The store failed to read it (permissions, a directory in its place…). */
  | 'unreadable';

/** The outcome of {@link decodeState}. @internal */
export type DecodedState =
  | { readonly ok: true; readonly state: SavedState }
  | { readonly ok: false; readonly reason: StateDiscardReason; readonly detail: string };

interface Body {
  id: string;
  savedAt: number;
  contacts: Record<string, { id: string; host: string; port: number; lastSeen: number }[]>;
  publications?: unknown;
}

/** Encodes `state` as the bytes of a state file. @internal */
export function encodeState(state: SavedState): Uint8Array {
  const contacts: Body['contacts'] = {};
  for (const [family, list] of Object.entries(state.contacts)) {
    contacts[family] = (list ?? []).map((c) => ({
      id: idToHex(c.id),
      host: c.host,
      port: c.port,
      lastSeen: c.lastSeen,
    }));
  }
  const body: Body = { id: idToHex(state.id), savedAt: state.savedAt, contacts };
  if (state.publications !== undefined) body.publications = state.publications;
  const text = JSON.stringify(body);
  const file = `{"format":${JSON.stringify(STATE_FORMAT)},"version":${STATE_VERSION},"sha256":"${sha256(text)}","body":${text}}\n`;
  return new TextEncoder().encode(file);
}

/** Reads the bytes of a state file; never throws. @internal */
export function decodeState(bytes: Uint8Array): DecodedState {
  const fail = (reason: StateDiscardReason, detail: string): DecodedState => ({ ok: false, reason, detail });
  if (bytes.length > MAX_STATE_BYTES) return fail('corrupt', `${bytes.length} bytes, over ${MAX_STATE_BYTES}`);
  let file: unknown;
  try {
    file = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(bytes));
  } catch (error) {
    return fail('corrupt', `not JSON (truncated?): ${(error as Error).message}`);
  }
  if (!isRecord(file) || file['format'] !== STATE_FORMAT) return fail('corrupt', `no "format": "${STATE_FORMAT}"`);
  if (file['version'] !== STATE_VERSION) {
    return fail('version', `version ${JSON.stringify(file['version'])}, this node reads ${STATE_VERSION}`);
  }
  const body = file['body'];
  // JSON.stringify of the parsed body gives back the text that was hashed, whatever the spacing
  if (!isRecord(body) || file['sha256'] !== sha256(JSON.stringify(body))) return fail('corrupt', 'checksum mismatch');
  try {
    return { ok: true, state: readBody(body) };
  } catch (error) {
    return fail('corrupt', (error as Error).message);
  }
}

function readBody(body: Record<string, unknown>): SavedState {
  const id = hexId(body['id'], 'id');
  const savedAt = body['savedAt'];
  if (typeof savedAt !== 'number' || !Number.isFinite(savedAt)) throw new Error('savedAt is not a number');
  const lists = body['contacts'];
  if (!isRecord(lists)) throw new Error('contacts is not an object');
  const contacts: Partial<Record<AddressFamily, SavedContact[]>> = {};
  for (const [key, list] of Object.entries(lists)) {
    const family = key === '4' ? 4 : key === '6' ? 6 : undefined;
    if (family === undefined || !Array.isArray(list)) throw new Error(`contacts.${key} is not a family's list`);
    contacts[family] = list.map((c: unknown, i) => readContact(c, family, `contacts.${key}[${i}]`));
  }
  const publications = body['publications'];
  return { id, savedAt, contacts, ...(publications === undefined ? {} : { publications }) };
}

function readContact(value: unknown, family: AddressFamily, where: string): SavedContact {
  if (!isRecord(value)) throw new Error(`${where} is not an object`);
  const { host, port, lastSeen } = value;
  if (typeof host !== 'string' || familyOf(host) !== family) throw new Error(`${where}.host is not IPv${family}`);
  if (typeof port !== 'number' || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`${where}.port is not in 1..65535`);
  }
  if (typeof lastSeen !== 'number' || !Number.isFinite(lastSeen)) throw new Error(`${where}.lastSeen is not a number`);
  return { id: hexId(value['id'], `${where}.id`), host, port, lastSeen };
}

function hexId(value: unknown, where: string): NodeId {
  if (typeof value !== 'string' || !/^[0-9a-f]{40}$/i.test(value)) throw new Error(`${where} is not 40 hex digits`);
  return idFromHex(value);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function sha256(text: string): string {
  return createHash('sha256').update(text).digest('hex');
}
