import { peerIdFromCID, peerIdFromString } from '@libp2p/peer-id'
import { createIPNSRecord, marshalIPNSRecord, multihashToIPNSRoutingKey, unmarshalIPNSRecord } from 'ipns'
import { ipnsSelector } from 'ipns/selector'
import { ipnsValidator } from 'ipns/validator'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import {
  InvalidIpnsNameError, InvalidIpnsRecordError, IpnsRecordExpiredError, IpnsRecordTooLargeError
} from '../errors.ts'
import type { PeerId, PrivateKey, PublicKey } from '@libp2p/interface'

/** The media type of a marshalled IPNS record (protobuf), for `/routing/v1/ipns` and gateways. */
export const IPNS_RECORD_CONTENT_TYPE = 'application/vnd.ipfs.ipns-record'
/** Largest record accepted: the IPNS spec's limit (10 KiB), which the `ipns` validator enforces too. */
export const MAX_IPNS_RECORD_BYTES = 10 * 1024
/** How long a signed record stays valid: long enough to ride out a node's two-day absence. */
export const DEFAULT_RECORD_LIFETIME_MS = 48 * 60 * 60 * 1000
/** How long resolvers may cache a record (the spec's suggested 5 minutes). */
export const DEFAULT_RECORD_TTL_MS = 5 * 60 * 1000

/** The `libp2p-key` multicodec: an IPNS name is a CIDv1 of this codec over the key's multihash. */
const LIBP2P_KEY_CODEC = 0x72
const IDENTITY_HASH = 0x00
const SHA2_256_HASH = 0x12
const NS_PER_MS = 1_000_000n

/** An IPNS name, parsed: one canonical spelling and the routing key records are signed for. */
export interface IpnsName {
  /** Canonical spelling: base36 CIDv1 (`k51...` for Ed25519 keys). */
  name: string
  /** The peer ID whose key signs the name's records. */
  peerId: PeerId
  /** `/ipns/` + the key's multihash, as the IPNS spec's validators expect. */
  routingKey: Uint8Array
}

/** A record that passed validation, with the fields the server and clients care about. */
export interface IpnsRecordView {
  /** Canonical name (`k51...`). */
  name: string
  /** What the name points at, for example `/ipfs/<cid>`. */
  value: string
  sequence: bigint
  /** When the record stops being valid. */
  expires: Date
  /** How long resolvers may cache it, in ms. */
  ttlMs: number
  /** The marshalled record, exactly as signed and received. */
  bytes: Uint8Array
}

export interface SignIpnsRecordOptions {
  /** Validity from now, in ms (negative gives an already expired record, for tests). @default 48 h */
  lifetimeMs?: number
  /** Cache TTL written into the record, in ms. @default 5 min */
  ttlMs?: number
}

/** The IPNS name (`k51...`) of a peer or public key. */
export function ipnsNameOf (key: PeerId | PublicKey): string {
  return key.toCID().toString(base36)
}

/**
 * Parses an IPNS name as the routing API receives it: a CIDv1 with the `libp2p-key` codec in any multibase
 * (`k51...`, `bafz...`), or a base58 peer ID (`12D3Koo...`). Throws InvalidIpnsNameError otherwise.
 */
export function parseIpnsName (text: string): IpnsName {
  if (typeof text !== 'string' || text.length === 0 || text.length > 200) {
    throw new InvalidIpnsNameError('an IPNS name must be a CIDv1 with the libp2p-key codec')
  }
  let peerId: PeerId
  try {
    if (/^[1Q]/.test(text)) {
      peerId = peerIdFromString(text)
    } else {
      const cid = CID.parse(text, text.startsWith('k') ? base36 : undefined)
      if (cid.version !== 1 || cid.code !== LIBP2P_KEY_CODEC) throw new Error('not a libp2p-key CIDv1')
      peerId = peerIdFromCID(cid)
    }
  } catch {
    throw new InvalidIpnsNameError(`${text.slice(0, 80)} is not an IPNS name (a CIDv1 with the libp2p-key codec)`)
  }
  const digest = peerId.toMultihash()
  if (digest.code !== IDENTITY_HASH && digest.code !== SHA2_256_HASH) {
    throw new InvalidIpnsNameError('an IPNS name must hash its key with identity or sha2-256')
  }
  return {
    name: ipnsNameOf(peerId),
    peerId,
    routingKey: multihashToIPNSRoutingKey(digest as typeof digest & { code: 0x00 | 0x12 })
  }
}

/**
 * Signs a record (V1+V2 signatures, as the `ipns` package and Kubo make them) naming `value` under `privateKey`'s
 * name, and returns it marshalled.
 */
export async function signIpnsRecord (privateKey: PrivateKey, value: string | CID, sequence: bigint | number, options: SignIpnsRecordOptions = {}): Promise<Uint8Array> {
  const lifetimeMs = options.lifetimeMs ?? DEFAULT_RECORD_LIFETIME_MS
  const ttlNs = BigInt(Math.max(0, Math.round(options.ttlMs ?? DEFAULT_RECORD_TTL_MS))) * NS_PER_MS
  // passing options replaces the package's defaults, so say v1Compatible again (Kubo still reads V1 fields)
  const record = await createIPNSRecord(privateKey, value, sequence, lifetimeMs, { v1Compatible: true, ttlNs })
  return marshalIPNSRecord(record)
}

/**
 * Checks a received record for `name`: size, structure, the V2 signature against the key the name inlines (or the
 * key embedded in the record, which must hash to the name), V1/V2 field agreement and expiry. Throws
 * IpnsRecordTooLargeError, IpnsRecordExpiredError or InvalidIpnsRecordError.
 */
export async function validateIpnsRecord (name: string | IpnsName, bytes: Uint8Array): Promise<IpnsRecordView> {
  const parsed = typeof name === 'string' ? parseIpnsName(name) : name
  if (bytes.byteLength > MAX_IPNS_RECORD_BYTES) {
    throw new IpnsRecordTooLargeError(`an IPNS record may have at most ${MAX_IPNS_RECORD_BYTES} bytes, got ${bytes.byteLength}`)
  }
  try {
    await ipnsValidator(parsed.routingKey, bytes)
  } catch (err: any) {
    if (err?.name === 'RecordExpiredError') throw new IpnsRecordExpiredError(`the IPNS record for ${parsed.name} has expired`)
    if (err?.name === 'RecordTooLargeError') throw new IpnsRecordTooLargeError(`the IPNS record for ${parsed.name} is too large`)
    throw new InvalidIpnsRecordError(`the IPNS record for ${parsed.name} is not valid: ${describe(err)}`)
  }
  return view(parsed.name, bytes)
}

/** The fields of a marshalled record already known to be valid (for example one read back from the store). */
export function viewIpnsRecord (name: string, bytes: Uint8Array): IpnsRecordView {
  try {
    return view(name, bytes)
  } catch (err) {
    throw new InvalidIpnsRecordError(`the IPNS record for ${name} cannot be read: ${describe(err)}`)
  }
}

/**
 * Whether `candidate` should replace `current` ("keep the better record"): a higher sequence wins; at equal
 * sequence the longer validity wins; a tie keeps `current`.
 */
export function isBetterIpnsRecord (candidate: IpnsRecordView, current: IpnsRecordView): boolean {
  // the stock selector sorts stably, so on a tie it answers index 0: the record already kept
  return ipnsSelector(new Uint8Array(0), [current.bytes, candidate.bytes]) === 1
}

function view (name: string, bytes: Uint8Array): IpnsRecordView {
  const record = unmarshalIPNSRecord(bytes)
  return {
    name,
    value: record.value,
    sequence: record.sequence,
    expires: parseValidity(record.validity),
    ttlMs: Number((record.ttl ?? 0n) / NS_PER_MS),
    bytes
  }
}

/** RFC 3339 with nanoseconds (`2026-01-01T00:00:00.123456789Z`): Date keeps milliseconds. */
function parseValidity (validity: string): Date {
  const date = new Date(validity.replace(/(\.\d{3})\d+/, '$1'))
  if (Number.isNaN(date.getTime())) throw new Error(`bad validity ${validity}`)
  return date
}

function describe (err: unknown): string {
  const message = (err as Error)?.message
  return typeof message === 'string' && message.length > 0 ? message.slice(0, 200) : 'malformed record'
}
