import { CID } from 'multiformats/cid'
import test from 'ava'
import { base58btc } from 'multiformats/bases/base58'
import { createStreamTokenSigner, createStreamTokenVerifier, MAX_TOKEN_CHARS, TokenExpiredError, TokenInvalidError, TokenMissingError, TokenScopeError } from '../../../core/access/index.ts'
import { InvalidRequestError } from '../../../core/errors.ts'
import { craftToken, MEDIA, rootOf, T0, tokenSetup, USER } from './helpers.ts'
import type { StreamTokenSigner, StreamTokenVerifier } from '../../../core/access/index.ts'

const at = (seconds: number): { mediaId: string, now: number } => ({ mediaId: MEDIA, now: T0 + seconds * 1000 })

test('a signed token verifies and gives back its claims, frozen', async t => {
  const { keys, signer, verifier } = await tokenSetup(t)
  const roots = [await rootOf('720p'), await rootOf('360p')]
  const { token, expiresAt, claims } = signer.sign({ userId: USER, mediaId: MEDIA, roots }, { ttlSeconds: 600 })
  t.regex(token, /^[A-Za-z0-9_-]+$/, 'usable in a URL as it is')
  t.true(token.length < 300, `${token.length} characters`)
  t.is(expiresAt.getTime(), T0 + 600_000)
  const expected = { keyId: keys.current().id, userId: USER, mediaId: MEDIA, roots: roots.map(String), issuedAt: T0 / 1000, expiresAt: T0 / 1000 + 600 }
  t.deepEqual({ ...claims, roots: [...claims.roots] }, expected)
  const verified = verifier.verify(token, at(1))
  t.deepEqual({ ...verified, roots: [...verified.roots] }, expected)
  t.throws(() => { (verified as { mediaId: string }).mediaId = 'ffffffffffffffff' }, { instanceOf: TypeError })
  t.throws(() => { (verified.roots as string[]).push('x') }, { instanceOf: TypeError })
  t.is(verifier.verify(token, at(2)).mediaId, MEDIA)
})

test('a token with any byte or any character changed is refused as invalid', async t => {
  const { signer, verifier } = await tokenSetup(t)
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA, roots: [await rootOf('720p')] }, { ttlSeconds: 600 })
  const bytes = Buffer.from(token, 'base64url')
  const changed = new Set<string>()
  for (let i = 0; i < bytes.length; i++) {
    for (const mask of [0x01, 0x80]) {
      const flipped = Buffer.from(bytes)
      flipped[i] ^= mask
      changed.add(flipped.toString('base64url'))
    }
  }
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  for (let i = 0; i < token.length; i++) {
    // the next letter of the alphabet, and one far away: a change of the last character may only touch its spare bits
    for (const step of [1, 32]) changed.add(token.slice(0, i) + alphabet[(alphabet.indexOf(token[i]) + step) % 64] + token.slice(i + 1))
  }
  const accepted: number[] = []
  for (const candidate of changed) {
    const err = t.throws(() => verifier.verify(candidate, at(1)))
    if (!(err instanceof TokenInvalidError)) accepted.push([...changed].indexOf(candidate))
  }
  t.deepEqual(accepted, [], 'every change is a TokenInvalidError')
  t.true(changed.size > 4 * bytes.length)
  t.is(verifier.verify(token, at(1)).userId, USER, 'the original still verifies')
})

test('a token for another media, or for a root it does not cover, is out of scope', async t => {
  const { signer, verifier } = await tokenSetup(t)
  const covered = await rootOf('720p')
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA, roots: [covered] }, { ttlSeconds: 600 })
  t.throws(() => verifier.verify(token, { ...at(1), mediaId: 'fedcba9876543210' }), { instanceOf: TokenScopeError, message: /another media/ })
  const other = await rootOf('1080p')
  t.throws(() => verifier.verify(token, { ...at(1), root: other }), { instanceOf: TokenScopeError })
  t.throws(() => verifier.verify(token, { ...at(1), root: 'not-a-cid' }), { instanceOf: TokenScopeError })
  const v0 = CID.createV0(covered.multihash)
  for (const root of [covered, covered.toString(), v0, v0.toString(), covered.toString(base58btc)]) {
    t.is(verifier.verify(token, { ...at(1), root }).mediaId, MEDIA, `covered: ${String(root)}`)
  }
  const { token: noRoots } = signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 })
  t.is(verifier.verify(noRoots, at(1)).roots.length, 0, 'media paths need no root')
  t.throws(() => verifier.verify(noRoots, { ...at(1), root: covered }), { instanceOf: TokenScopeError })
})

test('expiry and issue time each allow 60 s of clock skew, and no more', async t => {
  const { signer, verifier } = await tokenSetup(t)
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600, now: T0 })
  // the node's clock 60 s ahead of the main server's: still good at expiry + 60 s
  t.is(verifier.verify(token, at(660)).userId, USER)
  const expired = t.throws(() => verifier.verify(token, at(661)), { instanceOf: TokenExpiredError })
  t.is(expired?.name, 'TokenExpiredError')
  t.regex(expired?.message ?? '', /expired/)
  // the node's clock 60 s behind: a token issued "in the future" by up to 60 s is good
  t.is(verifier.verify(token, at(-60)).userId, USER)
  t.throws(() => verifier.verify(token, at(-61)), { instanceOf: TokenInvalidError, message: /future/ })

  // with no skew allowed, the expiry is exact
  const strict = await tokenSetup(t, { verifier: { clockSkewSeconds: 0 } })
  const { token: short } = strict.signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 60, now: T0 })
  t.is(strict.verifier.verify(short, at(60)).userId, USER)
  t.throws(() => strict.verifier.verify(short, at(61)), { instanceOf: TokenExpiredError })
})

test('a cached token is checked again on every use: expiry, media and root', async t => {
  const { signer, verifier } = await tokenSetup(t)
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA, roots: [await rootOf('720p')] }, { ttlSeconds: 600 })
  verifier.verify(token, at(1))
  t.deepEqual(verifier.stats(), { size: 1, hits: 0, misses: 1 })
  verifier.verify(token, at(2))
  t.deepEqual(verifier.stats(), { size: 1, hits: 1, misses: 1 })
  t.throws(() => verifier.verify(token, at(700)), { instanceOf: TokenExpiredError })
  t.throws(() => verifier.verify(token, { ...at(3), mediaId: 'fedcba9876543210' }), { instanceOf: TokenScopeError })
  const other = await rootOf('1080p')
  t.throws(() => verifier.verify(token, { ...at(3), root: other }), { instanceOf: TokenScopeError })
  t.deepEqual(verifier.stats(), { size: 1, hits: 4, misses: 1 }, 'each refusal above came from the cache')
})

test('the cache holds at most cacheSize tokens and drops the least recently used', async t => {
  const { signer, verifier } = await tokenSetup(t, { verifier: { cacheSize: 2 } })
  const [a, b, c] = ['a', 'b', 'c'].map(userId => signer.sign({ userId, mediaId: MEDIA }, { ttlSeconds: 600 }).token)
  for (const token of [a, b, a, c]) verifier.verify(token, at(1))
  t.deepEqual(verifier.stats(), { size: 2, hits: 1, misses: 3 })
  verifier.verify(a, at(1))
  t.is(verifier.stats().hits, 2, 'a was used last before c came, so b made room')
  verifier.verify(b, at(1))
  t.is(verifier.stats().misses, 4)

  const { keys } = await tokenSetup(t)
  const uncached = createStreamTokenVerifier({ keys }, { cacheSize: 0 })
  const { token } = createStreamTokenSigner({ keys }).sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600, now: T0 })
  uncached.verify(token, at(1))
  uncached.verify(token, at(1))
  t.deepEqual(uncached.stats(), { size: 0, hits: 0, misses: 2 })
})

test('a token signed by a key the verifier does not know is refused as invalid', async t => {
  const ours = await tokenSetup(t)
  const theirs = await tokenSetup(t)
  const { token } = theirs.signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 })
  t.throws(() => ours.verifier.verify(token, at(1)), { instanceOf: TokenInvalidError, message: /key this server does not accept/ })
  // the same key id with another key's signature: the id is not enough
  const forged = Buffer.from(token, 'base64url')
  const ownSignature = Buffer.from(ours.signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 }).token, 'base64url').subarray(-64)
  ownSignature.copy(forged, forged.length - 64)
  t.throws(() => theirs.verifier.verify(forged.toString('base64url'), at(1)), { instanceOf: TokenInvalidError, message: /signature/ })
})

test('malformed tokens are refused as invalid and never crash the verifier', async t => {
  const { keys, signer, verifier } = await tokenSetup(t)
  const good = signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 }).token
  const keyId = keys.current().id
  const root = (await rootOf('720p')).bytes
  const bad: Record<string, unknown> = {
    empty: '',
    'one character': 'A',
    huge: 'A'.repeat(1_000_000),
    'just over the longest': 'A'.repeat(MAX_TOKEN_CHARS + 1),
    'not base64': '!!!!'.repeat(40),
    'base64 with padding': good + '==',
    'standard base64 alphabet': standardAlphabet(signer),
    'spaces inside': good.slice(0, 10) + ' ' + good.slice(10),
    'cut short': good.slice(0, -8),
    'a number': 12345,
    'an object': { token: good },
    'wrong version': craftToken(keys, { keyId, version: 2 }),
    'version 0': craftToken(keys, { keyId, version: 0 }),
    'payload cut inside the media id': craftToken(keys, { keyId, cut: 25 }),
    'a byte after the last field': craftToken(keys, { keyId, extra: Buffer.from([0]) }),
    'empty user id': craftToken(keys, { keyId, user: new Uint8Array(0) }),
    'user id not UTF-8': craftToken(keys, { keyId, user: Buffer.from([0xff, 0xfe]) }),
    'expiry before issue': craftToken(keys, { keyId, issuedAt: T0 / 1000, expiresAt: T0 / 1000 - 1 }),
    'expiry at issue': craftToken(keys, { keyId, issuedAt: T0 / 1000, expiresAt: T0 / 1000 }),
    'expiry 0 (the epoch)': craftToken(keys, { keyId, issuedAt: 0, expiresAt: 0 }),
    'expiry all ones (a negative number as int32)': craftToken(keys, { keyId, issuedAt: 0, expiresAt: 0xffff_ffff }),
    'a life of 30 days and a second': craftToken(keys, { keyId, issuedAt: T0 / 1000, expiresAt: T0 / 1000 + 30 * 86_400 + 1 }),
    'more roots than allowed': craftToken(keys, { keyId, roots: Array.from({ length: 17 }, () => root) }),
    'a root count with no roots': craftToken(keys, { keyId, rootCount: 3 }),
    'a root that is not a CID': craftToken(keys, { keyId, roots: [Buffer.from('hello')] }),
    'a CIDv0 root': craftToken(keys, { keyId, roots: [CID.createV0((await rootOf('720p')).multihash).bytes] })
  }
  for (const [what, token] of Object.entries(bad)) {
    t.throws(() => verifier.verify(token as string, at(1)), { instanceOf: TokenInvalidError }, what)
  }
  t.is(verifier.stats().size, 0, 'nothing malformed was cached')
  // the crafted layout itself is sound: the same builder with nothing bent verifies
  t.is(verifier.verify(craftToken(keys, { keyId, roots: [root] }), at(1)).roots.length, 1)
  for (const missing of [undefined, null]) {
    t.throws(() => verifier.verify(missing, at(1)), { instanceOf: TokenMissingError })
  }
})

test('no refusal quotes the token in its message or stack', async t => {
  const { signer, verifier } = await tokenSetup(t)
  const other = await tokenSetup(t)
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA, roots: [await rootOf('720p')] }, { ttlSeconds: 600 })
  const flipped = Buffer.from(token, 'base64url')
  flipped[40] ^= 1
  const refusals: Array<[string, () => unknown]> = [
    ['expired', () => verifier.verify(token, at(10_000))],
    ['other media', () => verifier.verify(token, { ...at(1), mediaId: 'fedcba9876543210' })],
    ['other root', () => verifier.verify(token, { ...at(1), root: CID.parse('bafkqaaa') })],
    ['future', () => verifier.verify(token, at(-1000))],
    ['unknown key', () => other.verifier.verify(token, at(1))],
    ['flipped', () => verifier.verify(flipped.toString('base64url'), at(1))],
    ['cut', () => verifier.verify(token.slice(0, 100), at(1))]
  ]
  for (const [what, refuse] of refusals) {
    const err = t.throws(refuse, undefined, what) as Error
    for (const text of [err.message, err.stack ?? '', JSON.stringify(err)]) {
      t.false(text.includes(token.slice(0, 24)) || text.includes(token.slice(-24)), `${what}: ${err.message}`)
    }
  }
})

test('the signer refuses a TTL, an id or a root it cannot put in a token', async t => {
  const { signer } = await tokenSetup(t, { retireAfterSeconds: 3600 })
  for (const ttlSeconds of [Number.NaN, -1, 0, 1.5, Infinity, 3601, '60' as unknown as number]) {
    t.throws(() => signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds }), { instanceOf: InvalidRequestError, message: /ttl/ }, String(ttlSeconds))
  }
  t.notThrows(() => signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 3600 }))
  const root = await rootOf('720p')
  const requests = {
    'empty user': { userId: '', mediaId: MEDIA },
    'control character': { userId: 'ali\nce', mediaId: MEDIA },
    'long media id': { userId: USER, mediaId: 'é'.repeat(33) },
    'not a CID': { userId: USER, mediaId: MEDIA, roots: ['nope'] },
    'too many roots': { userId: USER, mediaId: MEDIA, roots: Array.from({ length: 17 }, () => root) }
  }
  for (const [what, request] of Object.entries(requests)) {
    t.throws(() => signer.sign(request, { ttlSeconds: 60 }), { instanceOf: InvalidRequestError }, what)
  }
  t.is(signer.sign({ userId: 'é'.repeat(32), mediaId: MEDIA, roots: Array.from({ length: 16 }, () => root) }, { ttlSeconds: 60 }).claims.roots.length, 16, 'the limits themselves are allowed')
})

test('a verifier refuses settings out of range', t => {
  const keys = { key: () => undefined }
  for (const init of [{ clockSkewSeconds: -1 }, { clockSkewSeconds: 1.5 }, { clockSkewSeconds: 3601 }, { cacheSize: -1 }, { cacheSize: Number.NaN }]) {
    t.throws(() => createStreamTokenVerifier({ keys }, init), { name: 'InvalidConfigError' }, JSON.stringify(init))
  }
  const verifier: StreamTokenVerifier = createStreamTokenVerifier({ keys })
  t.throws(() => verifier.verify('AAAA', { mediaId: MEDIA }), { instanceOf: TokenInvalidError })
})

/**
 * A good token written in the standard base64 alphabet. A token with neither `-` nor `_` would read the same in both
 * (about 1 in 60 short ones), so users are tried until one differs.
 */
function standardAlphabet (signer: StreamTokenSigner): string {
  for (let i = 0; ; i++) {
    const { token } = signer.sign({ userId: `${USER}${i}`, mediaId: MEDIA }, { ttlSeconds: 600 })
    const standard = Buffer.from(token, 'base64url').toString('base64')
    if (standard !== token) return standard
  }
}
