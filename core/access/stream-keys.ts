import { createHash, createPublicKey } from 'node:crypto'
import { KEY_ID_BYTES } from './token-codec.ts'
import { InvalidStreamKeyError } from './errors.ts'
import type { KeyObject } from 'node:crypto'

/*
 * What the main server's signing keys and a node's copy of their public halves share: the public key record,
 * key ids, and the one question a verifier asks of either.
 */

/** One public stream key as the main server hands it to nodes and a node keeps it on disk. */
export interface StreamPublicKey {
  /** 16 hex digits: the first 8 bytes of sha256 of the raw public key. */
  id: string
  /** The raw 32-byte Ed25519 public key, base64url. */
  publicKey: string
  /** When a rotated-out key stops being accepted (ISO 8601); absent while the key still signs. */
  expiresAt?: string
}

/** What a verifier needs of a key ring. */
export interface StreamKeyLookup {
  /** The verification key `id` names, or undefined when it is unknown or no longer accepted at `nowMs`. */
  key (id: string, nowMs: number): KeyObject | undefined
}

const RAW_KEY_BYTES = 32
const KEY_ID = new RegExp(`^[0-9a-f]{${KEY_ID_BYTES * 2}}$`)

/** The id of a raw Ed25519 public key: the first 8 bytes of its sha256, as hex. */
export function keyIdOf (rawPublicKey: Uint8Array): string {
  return createHash('sha256').update(rawPublicKey).digest().subarray(0, KEY_ID_BYTES).toString('hex')
}

/** A node:crypto public key from its raw 32 bytes in base64url. */
export function publicKeyObject (publicKey: string): KeyObject {
  return createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: publicKey }, format: 'jwk' })
}

/** Checks one public key record field by field (its id must be its key's); InvalidStreamKeyError says what is wrong. */
export function checkPublicKey (value: unknown): StreamPublicKey {
  const record = value as Partial<Record<keyof StreamPublicKey, unknown>> | null
  if (record == null || typeof record !== 'object') throw new InvalidStreamKeyError('a stream key must be an object')
  const { id, publicKey, expiresAt } = record
  if (typeof id !== 'string' || !KEY_ID.test(id)) throw new InvalidStreamKeyError(`a stream key id must be ${KEY_ID_BYTES * 2} lower-case hex digits`)
  if (typeof publicKey !== 'string') throw new InvalidStreamKeyError(`stream key ${id} has no public key`)
  const raw = Buffer.from(publicKey, 'base64url')
  if (raw.length !== RAW_KEY_BYTES || raw.toString('base64url') !== publicKey) throw new InvalidStreamKeyError(`stream key ${id} is not ${RAW_KEY_BYTES} bytes of base64url`)
  if (keyIdOf(raw) !== id) throw new InvalidStreamKeyError(`stream key ${id} does not match its id`)
  if (expiresAt !== undefined && (typeof expiresAt !== 'string' || Number.isNaN(Date.parse(expiresAt)))) {
    throw new InvalidStreamKeyError(`stream key ${id} has an expiry that is not a date`)
  }
  return expiresAt === undefined ? { id, publicKey } : { id, publicKey, expiresAt }
}

/** A public key ready for verification: its record, its node:crypto object and its expiry in epoch ms. */
export interface LoadedKey {
  record: StreamPublicKey
  object: KeyObject
  /** Infinity while the key still signs. */
  expiresAtMs: number
}

/** Prepares a checked record for verification (parsing its key and expiry once, not per request). */
export function loadKey (record: StreamPublicKey): LoadedKey {
  return { record, object: publicKeyObject(record.publicKey), expiresAtMs: record.expiresAt === undefined ? Infinity : Date.parse(record.expiresAt) }
}

/** The lookup over a map of loaded keys: a key past its expiry is as good as unknown. */
export function lookupKey (keys: ReadonlyMap<string, LoadedKey>, id: string, nowMs: number): KeyObject | undefined {
  const key = keys.get(id)
  return key != null && key.expiresAtMs > nowMs ? key.object : undefined
}
