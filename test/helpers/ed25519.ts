/**
 * ed25519 through node:crypto in the shapes bittorrent-dht wants: it signs and verifies BEP 44
 * signature buffers with functions it is given, and has none of its own.
 */
import { createPrivateKey, createPublicKey, sign, verify } from 'node:crypto';

/** bittorrent-dht's `verify` option: (signature, message, publicKey) → valid. */
export function ed25519Verify(signature: Buffer, message: Buffer, publicKey: Buffer): boolean {
  const key = createPublicKey({
    key: { kty: 'OKP', crv: 'Ed25519', x: publicKey.toString('base64url') },
    format: 'jwk',
  });
  return verify(null, message, key, signature);
}

/** bittorrent-dht's `sign` option of a mutable put, from a 32-byte seed and its public key. */
export function ed25519Signer(seed: Uint8Array, publicKey: Uint8Array): (message: Buffer) => Buffer {
  const key = createPrivateKey({
    key: {
      kty: 'OKP',
      crv: 'Ed25519',
      d: Buffer.from(seed).toString('base64url'),
      x: Buffer.from(publicKey).toString('base64url'),
    },
    format: 'jwk',
  });
  return (message) => sign(null, message, key);
}
