import { sign as signBytes, verify as verifyBytes } from 'node:crypto'
import { CID } from 'multiformats/cid'
import { systemClock } from '../clock.ts'
import { InvalidConfigError, InvalidRequestError } from '../errors.ts'
import { decodeToken, encodePayload, joinToken, signedMessage } from './token-codec.ts'
import { TokenExpiredError, TokenInvalidError, TokenMissingError, TokenScopeError } from './errors.ts'
import type { Clock } from '../clock.ts'
import type { SigningKeyRing } from './signing-keys.ts'
import type { StreamKeyLookup } from './stream-keys.ts'
import type { StreamTokenClaims } from './token-codec.ts'

/*
 * Signed stream tokens: the main server signs one per (user, media) with its current Ed25519 key; the main
 * server and every CDN node verify it with public keys alone, without asking anyone. A token names its media (so
 * it covers every playlist and segment under that media's paths) and the rendition roots it covers under
 * `/ipfs`. Verifying an Ed25519 signature costs tens to hundreds of microseconds, and a player asks for a segment
 * every few seconds with the same token, so verified tokens are kept in a small LRU keyed by the token string:
 * a request then costs a map lookup plus the checks that depend on the request and the clock (key still
 * accepted, media, root, expiry), which run on every use. Error messages never quote the token.
 */

/** How far apart the main server's and a node's clocks may be. @default 60 */
export const DEFAULT_CLOCK_SKEW_SECONDS = 60
/** Verified tokens kept in memory. @default 10000 */
export const DEFAULT_TOKEN_CACHE_SIZE = 10_000
const MAX_CLOCK_SKEW_SECONDS = 3600

export interface StreamTokenSignerComponents {
  keys: Pick<SigningKeyRing, 'current' | 'retireAfterSeconds'>
  /** Issue times come from it. @default systemClock */
  clock?: Clock
}

/** Whom and what a token is for. */
export interface StreamTokenRequest {
  userId: string
  mediaId: string
  /** The rendition roots it covers under `/ipfs` (a CIDv0 is stored as its v1). @default [] */
  roots?: ReadonlyArray<CID | string>
}

export interface SignOptions {
  /** Seconds the token lives: a whole number from 1 to the key ring's `retireAfterSeconds`. */
  ttlSeconds: number
  /** Epoch milliseconds to sign at, instead of the signer's clock. */
  now?: number
}

/** A signed token, when it expires, and what it says. */
export interface SignedStreamToken {
  token: string
  expiresAt: Date
  claims: StreamTokenClaims
}

export interface StreamTokenSigner {
  /** Signs a token for `request` with the current key; InvalidRequestError for a bad TTL, id or root. */
  sign (request: StreamTokenRequest, options: SignOptions): SignedStreamToken
}

/** Creates the main server's token signer over its signing key ring. */
export function createStreamTokenSigner (components: StreamTokenSignerComponents): StreamTokenSigner {
  const { keys } = components
  const clock = components.clock ?? systemClock
  return {
    sign (request, options) {
      const { ttlSeconds } = options
      if (!Number.isInteger(ttlSeconds) || ttlSeconds < 1 || ttlSeconds > keys.retireAfterSeconds) {
        throw new InvalidRequestError(`ttl must be a whole number of seconds from 1 to ${keys.retireAfterSeconds}`)
      }
      const key = keys.current()
      const issuedAt = Math.floor((options.now ?? clock.now()) / 1000)
      const claims: StreamTokenClaims = {
        keyId: key.id,
        userId: request.userId,
        mediaId: request.mediaId,
        roots: (request.roots ?? []).map(rootString),
        issuedAt,
        expiresAt: issuedAt + ttlSeconds
      }
      const payload = encodePayload(claims)
      const token = joinToken(payload, signBytes(null, signedMessage(payload), key.privateKey))
      return { token, expiresAt: new Date(claims.expiresAt * 1000), claims: freeze(claims) }
    }
  }
}

export interface StreamTokenVerifierComponents {
  /** The public keys accepted: a node's KeyRing, or the main server's SigningKeyRing. */
  keys: StreamKeyLookup
  /** Expiry is judged by it, unless a call passes `now`. @default systemClock */
  clock?: Clock
}

export interface StreamTokenVerifierInit {
  /** Seconds a token is still accepted after its expiry, and before its issue time. @default 60 */
  clockSkewSeconds?: number
  /** Most verified tokens kept; 0 verifies every signature on every use. @default 10000 */
  cacheSize?: number
}

/** What a request asks a token for: a media (`/media/{id}/...`), a root (`/ipfs/{root}/...`), or both. */
export interface VerifyOptions {
  /** The media whose playlist or segment is asked for. */
  mediaId?: string
  /** For `/ipfs` requests: the rendition root asked for. */
  root?: CID | string
  /** Epoch milliseconds to check expiry at, instead of the verifier's clock. */
  now?: number
}

export interface TokenCacheStats {
  size: number
  hits: number
  misses: number
}

export interface StreamTokenVerifier {
  /**
   * The claims of `token` when it is well signed by an accepted key, covers `options.mediaId` (and `root`) and has
   * not expired; TokenMissingError, TokenInvalidError, TokenScopeError or TokenExpiredError otherwise.
   */
  verify (token: string | null | undefined, options: VerifyOptions): StreamTokenClaims
  stats (): TokenCacheStats
}

/** Creates a verifier that checks tokens offline against `keys`, caching those whose signature verified. */
export function createStreamTokenVerifier (components: StreamTokenVerifierComponents, init: StreamTokenVerifierInit = {}): StreamTokenVerifier {
  return new CachingVerifier(components.keys, components.clock ?? systemClock, init)
}

/** A token whose signature verified, with what every use checks prepared once. */
interface Verified {
  claims: StreamTokenClaims
  roots: ReadonlySet<string>
  issuedAtMs: number
  expiresAtMs: number
}

class CachingVerifier implements StreamTokenVerifier {
  private readonly skewMs: number
  private readonly cacheSize: number
  /** Insertion order is recency order: a hit moves the entry to the end, eviction takes from the front. */
  private readonly cache = new Map<string, Verified>()
  private hits = 0
  private misses = 0

  constructor (private readonly keys: StreamKeyLookup, private readonly clock: Clock, init: StreamTokenVerifierInit) {
    const skew = init.clockSkewSeconds ?? DEFAULT_CLOCK_SKEW_SECONDS
    if (!Number.isInteger(skew) || skew < 0 || skew > MAX_CLOCK_SKEW_SECONDS) throw new InvalidConfigError(`clockSkewSeconds must be a whole number from 0 to ${MAX_CLOCK_SKEW_SECONDS}`)
    const size = init.cacheSize ?? DEFAULT_TOKEN_CACHE_SIZE
    if (!Number.isInteger(size) || size < 0) throw new InvalidConfigError('cacheSize must be a whole number, 0 or more')
    this.skewMs = skew * 1000
    this.cacheSize = size
  }

  verify (token: string | null | undefined, options: VerifyOptions): StreamTokenClaims {
    if (token == null) throw new TokenMissingError('this media needs a stream token; ask for a play URL')
    // a request that names neither would pass any token: a caller's mistake, never a grant
    if (options.mediaId === undefined && options.root === undefined) throw new TypeError('verify needs a mediaId or a root')
    const nowMs = options.now ?? this.clock.now()
    let entry = this.cache.get(token)
    if (entry === undefined) {
      this.misses++
      entry = this.verifySignature(token, nowMs)
      this.remember(token, entry)
    } else {
      this.hits++
      this.cache.delete(token)
      this.cache.set(token, entry)
    }
    // a cached token is only as good as its key: one rotated out long enough, or withdrawn, ends it
    if (this.keys.key(entry.claims.keyId, nowMs - this.skewMs) === undefined) throw unknownKey()
    if (options.mediaId !== undefined && entry.claims.mediaId !== options.mediaId) throw new TokenScopeError('the stream token is for another media')
    if (options.root !== undefined && !covers(entry.roots, options.root)) throw new TokenScopeError('the stream token does not cover this root')
    if (nowMs > entry.expiresAtMs + this.skewMs) throw new TokenExpiredError(`the stream token expired at ${new Date(entry.expiresAtMs).toISOString()}; ask for a new play URL`)
    if (nowMs < entry.issuedAtMs - this.skewMs) throw new TokenInvalidError('the stream token is issued in the future')
    return entry.claims
  }

  stats (): TokenCacheStats {
    return { size: this.cache.size, hits: this.hits, misses: this.misses }
  }

  private verifySignature (token: string, nowMs: number): Verified {
    const { claims, message, signature } = decodeToken(token)
    const key = this.keys.key(claims.keyId, nowMs - this.skewMs)
    if (key === undefined) throw unknownKey()
    if (!verifyBytes(null, message, key, signature)) throw new TokenInvalidError('the stream token\'s signature does not verify')
    return { claims: freeze(claims), roots: new Set(claims.roots), issuedAtMs: claims.issuedAt * 1000, expiresAtMs: claims.expiresAt * 1000 }
  }

  private remember (token: string, entry: Verified): void {
    if (this.cacheSize === 0) return
    if (this.cache.size >= this.cacheSize) {
      const oldest = this.cache.keys().next()
      if (oldest.done !== true) this.cache.delete(oldest.value)
    }
    this.cache.set(token, entry)
  }
}

function unknownKey (): TokenInvalidError {
  return new TokenInvalidError('the stream token is signed by a key this server does not accept')
}

function covers (roots: ReadonlySet<string>, root: CID | string): boolean {
  if (typeof root !== 'string') return roots.has(root.version === 1 ? root.toString() : root.toV1().toString())
  if (roots.has(root)) return true
  // another spelling of a covered CID (v0, another base) is still that CID
  try {
    return roots.has(CID.parse(root).toV1().toString())
  } catch {
    return false
  }
}

/** A root as the token stores it: the CIDv1 string; InvalidRequestError when it is not a CID. */
function rootString (root: CID | string): string {
  try {
    return (typeof root === 'string' ? CID.parse(root) : root).toV1().toString()
  } catch {
    throw new InvalidRequestError('a root is not a CID')
  }
}

/** Claims handed out are frozen: a caller changing them would change the cached token for everyone. */
function freeze (claims: StreamTokenClaims): StreamTokenClaims {
  return Object.freeze({ ...claims, roots: Object.freeze([...claims.roots]) })
}
