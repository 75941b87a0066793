import { sign as signBytes, verify as verifyBytes } from 'node:crypto'
import { systemClock } from '../clock.ts'
import { InvalidConfigError, InvalidRequestError } from '../errors.ts'
import { encodeHead, joinToken, openSigned, signedMessage } from './token-codec.ts'
import { TokenExpiredError, TokenInvalidError } from './errors.ts'
import { DEFAULT_CLOCK_SKEW_SECONDS } from './stream-token.ts'
import type { Clock } from '../clock.ts'
import type { SigningKeyRing } from './signing-keys.ts'
import type { StreamKeyLookup } from './stream-keys.ts'

/*
 * A node's credential (issue 11, item 5): what a CDN node shows when it fetches from another node's gateway (pin
 * fetches, `/ipfs/{block}?format=raw`) or from the main server (misses: `/media`, `/ipfs` CARs). The main server
 * signs one for each registered node with its stream signing key and hands it over the control protocol in every
 * register and heartbeat reply; whoever serves verifies it with the public keys it already holds for stream
 * tokens, offline. It names the node's peer ID and lives minutes, so a revoked node, whose heartbeats are refused,
 * loses its access within one TTL.
 *
 * Why this and not a signature by the node's libp2p key per request: a serving node would then need the list of
 * registered peers (sent, stored and kept current on every node) and one Ed25519 verification per block, since
 * every request signs another path; a credential needs nothing but the keys a node has anyway, and being the same
 * string for minutes, it is verified once and then found in a small cache.
 *
 * Layout: the head of a stream token (version 1, key id, issued-at, expiry; token-codec.ts), the peer ID (length,
 * 1-128 ASCII bytes), the signature over NODE_CONTEXT and the payload. The context differs from a stream token's,
 * so neither kind of signature can ever pass for the other.
 */

/** The request header a node's credential travels in (never in a URL: it opens every CID). */
export const NODE_CREDENTIAL_HEADER = 'X-Cidcast-Node'
/** How long a credential lives by default; nodes get a fresh one in every heartbeat reply. */
export const NODE_CREDENTIAL_TTL_SECONDS = 600

const NODE_CONTEXT = new TextEncoder().encode('cidcast node credential\n')
const MAX_PEER_ID_BYTES = 128
const MAX_CREDENTIAL_CHARS = Math.ceil((17 + 1 + MAX_PEER_ID_BYTES + 64) * 4 / 3)
const PEER_ID = /^[1-9A-HJ-NP-Za-km-z]+$|^b[a-z2-7]+$/
/** Verified credentials kept: one or two per node of the network. */
const CACHE_SIZE = 1024

/** A node's credential and when it ends. */
export interface NodeCredential {
  credential: string
  expiresAt: Date
}

/** What a verified credential says. */
export interface NodeCredentialClaims {
  keyId: string
  peerId: string
  issuedAt: number
  expiresAt: number
}

export interface NodeCredentialIssuer {
  /** A credential for `peerId`: the one issued before while it has more than half its life left, else a new one. */
  issue (peerId: string): NodeCredential
}

export interface NodeCredentialIssuerInit {
  /** @default 600 */
  ttlSeconds?: number
}

/** Creates the main server's issuer of node credentials over its signing key ring. */
export function createNodeCredentialIssuer (components: { keys: Pick<SigningKeyRing, 'current'>, clock?: Clock }, init: NodeCredentialIssuerInit = {}): NodeCredentialIssuer {
  const clock = components.clock ?? systemClock
  const ttlSeconds = init.ttlSeconds ?? NODE_CREDENTIAL_TTL_SECONDS
  if (!Number.isInteger(ttlSeconds) || ttlSeconds < 2 || ttlSeconds > 86_400) throw new InvalidConfigError('a node credential lives from 2 s to a day')
  const issued = new Map<string, { keyId: string, credential: NodeCredential }>()
  return {
    issue (peerId) {
      if (typeof peerId !== 'string' || !PEER_ID.test(peerId) || peerId.length > MAX_PEER_ID_BYTES) throw new InvalidRequestError('a node credential names a peer ID')
      const key = components.keys.current()
      const nowMs = clock.now()
      const known = issued.get(peerId)
      // the same string for as long as it may be: serving nodes verify it once and then find it in their cache
      if (known != null && known.keyId === key.id && known.credential.expiresAt.getTime() - nowMs > ttlSeconds * 500) return known.credential
      const issuedAt = Math.floor(nowMs / 1000)
      const head = encodeHead(key.id, issuedAt, issuedAt + ttlSeconds)
      const id = Buffer.from(peerId, 'ascii')
      const payload = Buffer.concat([head, Buffer.from([id.length]), id])
      const credential = { credential: joinToken(payload, signBytes(null, signedMessage(payload, NODE_CONTEXT), key.privateKey)), expiresAt: new Date((issuedAt + ttlSeconds) * 1000) }
      issued.set(peerId, { keyId: key.id, credential })
      return credential
    }
  }
}

export interface NodeCredentialVerifier {
  /** The claims of a well-signed, unexpired credential; TokenInvalidError or TokenExpiredError otherwise (never quoting it). */
  verify (credential: string): NodeCredentialClaims
}

/** Creates a verifier of node credentials over a node's key ring or the main server's own; clocks may differ by `clockSkewSeconds`. */
export function createNodeCredentialVerifier (components: { keys: StreamKeyLookup, clock?: Clock }, init: { clockSkewSeconds?: number } = {}): NodeCredentialVerifier {
  const clock = components.clock ?? systemClock
  const skewMs = (init.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS) * 1000
  const verified = new Map<string, NodeCredentialClaims>()
  return {
    verify (credential) {
      const nowMs = clock.now()
      let claims = verified.get(credential)
      if (claims == null) {
        claims = decodeAndCheck(credential, components.keys, nowMs - skewMs)
        if (verified.size >= CACHE_SIZE) verified.delete(verified.keys().next().value as string)
        verified.set(credential, claims)
      }
      // checked on every use, cached or not: a key withdrawn ends its credentials at once
      if (components.keys.key(claims.keyId, nowMs - skewMs) === undefined) throw new TokenInvalidError('the node credential is signed by a key this server does not accept')
      if (nowMs > claims.expiresAt * 1000 + skewMs) throw new TokenExpiredError('the node credential expired; the node gets a new one with its next heartbeat')
      if (nowMs < claims.issuedAt * 1000 - skewMs) throw new TokenInvalidError('the node credential is issued in the future')
      return claims
    }
  }
}

function decodeAndCheck (credential: string, keys: StreamKeyLookup, atMs: number): NodeCredentialClaims {
  const { reader, keyId, issuedAt, expiresAt } = openSigned(credential, { what: 'node credential', maxChars: MAX_CREDENTIAL_CHARS, minFieldBytes: 2 })
  const length = reader.uint8('peer ID')
  const peerId = reader.take(length, 'peer ID').toString('latin1')
  if (length === 0 || !PEER_ID.test(peerId)) throw new TokenInvalidError('the node credential is malformed: the peer ID is not one')
  if (reader.at !== reader.end) throw new TokenInvalidError('the node credential is malformed: bytes follow the last field')
  const key = keys.key(keyId, atMs)
  if (key === undefined) throw new TokenInvalidError('the node credential is signed by a key this server does not accept')
  if (!verifyBytes(null, signedMessage(reader.payload(), NODE_CONTEXT), key, reader.signature())) throw new TokenInvalidError('the node credential\'s signature does not verify')
  return Object.freeze({ keyId, peerId, issuedAt, expiresAt })
}

/**
 * Who may take a peer's blocks over its own libp2p protocols (the block stream, core/ipfs): the rule of its gateway
 * for nodes (gateway/access/stream-access.ts), with the asker's peer ID proven by the connection: anyone of the
 * private network when media are public, else a peer showing a credential that names it. Returns why not, or
 * undefined when it may.
 */
export function credentialedPeers (components: { nodes: Pick<NodeCredentialVerifier, 'verify'>, publicMedia: () => boolean }): (peer: { toString: () => string }, credential: string | undefined) => string | undefined {
  return (peer, credential) => {
    if (components.publicMedia()) return undefined
    if (credential == null) return 'media are not public here: a node credential is needed'
    let claims: NodeCredentialClaims
    try {
      claims = components.nodes.verify(credential)
    } catch (err) {
      return (err as Error).message
    }
    return claims.peerId === peer.toString() ? undefined : 'the node credential names another peer'
  }
}
