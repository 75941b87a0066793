import { join } from 'node:path'
import test from 'ava'
import { createNodeCredentialIssuer, createNodeCredentialVerifier, openKeyRing } from '../../../core/access/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { MEDIA, T0, tokenSetup, USER } from './helpers.ts'

const PEER = '12D3KooWGzxzKZYveHXtpG6AsrUJBcWxHBFS2HsEoGTxrMLvKXtf'
const OTHER = '12D3KooWLRPJAA5o6Z6QDqn5FbMXTpk4MBQFBYS6g4E2T6bPGb1d'

test('a node credential verifies offline and names its peer; one changed byte is refused', async t => {
  const { keys, clock } = await tokenSetup(t)
  const issued = createNodeCredentialIssuer({ keys, clock }).issue(PEER)
  const verifier = createNodeCredentialVerifier({ keys, clock })
  t.like(verifier.verify(issued.credential), { peerId: PEER, keyId: keys.current().id })
  t.is(issued.expiresAt.getTime(), T0 + 600_000)
  const bytes = Buffer.from(issued.credential, 'base64url')
  for (const at of [0, 5, 12, 20, bytes.length - 1]) {
    const bent = Buffer.from(bytes)
    bent[at] ^= 1
    t.throws(() => verifier.verify(bent.toString('base64url')), { name: 'TokenInvalidError' }, `byte ${at}`)
  }
  t.throws(() => verifier.verify('x'), { name: 'TokenInvalidError' })
})

test('a node credential is not a stream token and a stream token is not a node credential', async t => {
  const { keys, clock, signer, verifier } = await tokenSetup(t)
  const credential = createNodeCredentialIssuer({ keys, clock }).issue(PEER).credential
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 })
  t.throws(() => verifier.verify(credential, { mediaId: MEDIA }), { name: 'TokenInvalidError' })
  t.throws(() => createNodeCredentialVerifier({ keys, clock }).verify(token), { name: 'TokenInvalidError' })
})

test('a credential expires after its TTL and the clock skew, and is handed out again while it has half its life', async t => {
  const { keys, clock } = await tokenSetup(t)
  const issuer = createNodeCredentialIssuer({ keys, clock }, { ttlSeconds: 600 })
  const verifier = createNodeCredentialVerifier({ keys, clock })
  const first = issuer.issue(PEER)
  clock.advance(200_000)
  t.is(issuer.issue(PEER).credential, first.credential, 'the same string while more than half its life is left')
  t.not(issuer.issue(OTHER).credential, first.credential, 'each peer its own')
  clock.advance(150_000)
  const second = issuer.issue(PEER)
  t.not(second.credential, first.credential)
  clock.advance(250_000 + 60_000)
  t.notThrows(() => verifier.verify(first.credential), 'within the 60 s of skew')
  clock.advance(1000)
  const err = t.throws(() => verifier.verify(first.credential), { name: 'TokenExpiredError' })
  t.regex(err?.message ?? '', /expired/)
  t.is(verifier.verify(second.credential).peerId, PEER)
})

test('after a rotation the issuer signs with the new key; a node that drops the old key refuses its credentials', async t => {
  const { keys, clock, dir } = await tokenSetup(t)
  const issuer = createNodeCredentialIssuer({ keys, clock })
  const before = issuer.issue(PEER)
  await keys.rotate()
  const after = issuer.issue(PEER)
  t.not(after.credential, before.credential)
  const ring = await openKeyRing({ logger: silentLogger() }, { path: join(dir, 'node-keys.json') })
  await ring.replace(keys.publicKeys())
  const verifier = createNodeCredentialVerifier({ keys: ring, clock })
  t.is(verifier.verify(before.credential).peerId, PEER, 'the old key still verifies what it signed')
  t.is(verifier.verify(after.credential).peerId, PEER)
  await ring.replace(keys.publicKeys().slice(0, 1))
  t.throws(() => verifier.verify(before.credential), { name: 'TokenInvalidError' }, 'cached or not')
})

test('the issuer refuses what is not a peer ID', async t => {
  const { keys, clock } = await tokenSetup(t)
  const issuer = createNodeCredentialIssuer({ keys, clock })
  for (const bad of ['', 'not a peer!', 'x'.repeat(200)]) t.throws(() => issuer.issue(bad), { name: 'InvalidRequestError' }, bad)
})
