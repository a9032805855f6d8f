import type { KeyObject } from 'node:crypto';
import type { Seq } from '../../core/bep44-signature.js';
import {
  type Ed25519KeyPair,
  isSecretKey,
  isStrongPublicKey,
  privateKeyObject,
  publicKeyOfSeed,
} from '../../core/ed25519.js';
import { RegistryError } from '../errors.js';
import type { SetOptions } from '../registry.js';
import { booleanOption, checkOptionsObject, integerOption, rejectUnknownOptions } from '../validation.js';
import { hex } from './envelope.js';

/** Options of a `SignedRegistry`. */
export interface SignedRegistryOptions {
  /**
   * The writer: every write without its own `keyPair` is signed with this one. Without it the
   * registry reads (and verifies) but every write must name its key pair.
   */
  readonly keyPair?: Ed25519KeyPair | undefined;
  /**
   * Hold every record to what a BEP 44 item can carry, so that any record can be published to
   * the DHT: keys of at most 64 UTF-8 bytes (the salt; else `INVALID_KEY`) and values whose
   * bencoding is at most 1000 bytes (else `VALUE_TOO_LARGE`). `false` signs any size the
   * backend takes, in the same format (such records simply cannot go to the DHT).
   * @default true
   */
  readonly bep44Limits?: boolean | undefined;
  /**
   * How many times a write reads the stored record again when another write of the same key
   * came between its read and its compare-and-set (the ownership and `seq` checks need both in
   * one step). Past it the write rejects `VERSION_CONFLICT`.
   * @default 8
   */
  readonly maxWriteRetries?: number | undefined;
}

/** The defaults of {@link SignedRegistryOptions}. */
export const DEFAULT_SIGNED_REGISTRY_OPTIONS = Object.freeze({
  bep44Limits: true,
  maxWriteRetries: 8,
});

/** Options of `SignedRegistry.set` and `setMany`'s call. */
export interface SignedSetOptions extends SetOptions {
  /** Sign with this key pair instead of the registry's. */
  readonly keyPair?: Ed25519KeyPair | undefined;
  /**
   * The BEP 44 sequence number to sign; it must be above the stored one (else
   * `SEQUENCE_TOO_LOW`). Useful to follow a `seq` already used on the DHT.
   * @default one above the stored record's, or 1 for a new key
   */
  readonly seq?: Seq | undefined;
}

/** A key pair checked once, with its node:crypto key ready to sign. @internal */
export interface Signer {
  readonly publicKey: Uint8Array;
  readonly publicHex: string;
  readonly privateKey: KeyObject;
}

/** Resolved options. @internal */
export interface ResolvedSignedOptions {
  readonly signer: Signer | undefined;
  readonly bep44Limits: boolean;
  readonly maxWriteRetries: number;
}

const signers = new WeakMap<Ed25519KeyPair, Signer>();

/**
 * `keyPair` checked (a 32-byte seed whose public key is `publicKey`, a key that is not of small
 * order) and ready to sign; cached per key-pair object.
 * @throws {RegistryError} `INVALID_OPTION` naming `name`.
 */
export function signerOf(name: string, keyPair: unknown): Signer {
  if (typeof keyPair === 'object' && keyPair !== null) {
    const cached = signers.get(keyPair as Ed25519KeyPair);
    if (cached !== undefined) return cached;
  }
  const { publicKey, secretKey } = (keyPair ?? {}) as Partial<Ed25519KeyPair>;
  if (!isSecretKey(secretKey)) {
    throw RegistryError.invalidOptionValue(`${name}.secretKey`, 'a 32-byte ed25519 seed', secretKey);
  }
  if (!isStrongPublicKey(publicKey) || hex(publicKeyOfSeed(secretKey)) !== hex(publicKey)) {
    throw RegistryError.invalidOption(`${name}.publicKey must be the ed25519 public key of ${name}.secretKey`);
  }
  const signer = {
    publicKey: new Uint8Array(publicKey),
    publicHex: hex(publicKey),
    privateKey: privateKeyObject(secretKey),
  };
  signers.set(keyPair as Ed25519KeyPair, signer);
  return signer;
}

/** Validates the options of a `SignedRegistry` once. @throws {RegistryError} `INVALID_OPTION`. */
export function resolveSignedOptions(options: SignedRegistryOptions): ResolvedSignedOptions {
  checkOptionsObject('SignedRegistry', options);
  rejectUnknownOptions('SignedRegistry', options, ['keyPair', 'bep44Limits', 'maxWriteRetries']);
  const defaults = DEFAULT_SIGNED_REGISTRY_OPTIONS;
  return {
    signer: options.keyPair === undefined ? undefined : signerOf('keyPair', options.keyPair),
    bep44Limits: booleanOption('bep44Limits', options.bep44Limits, defaults.bep44Limits),
    maxWriteRetries: integerOption('maxWriteRetries', options.maxWriteRetries, defaults.maxWriteRetries, { min: 0 }),
  };
}
