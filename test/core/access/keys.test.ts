import { chmod, readFile, readdir, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import test from 'ava'
import {
  createStreamTokenVerifier, InvalidStreamKeyError, openKeyRing, openSigningKeyRing, PUBLIC_KEYS_FILE, TokenExpiredError, TokenInvalidError
} from '../../../core/access/index.ts'
import { keyIdOf } from '../../../core/access/stream-keys.ts'
import { silentLogger } from '../../../core/logger.ts'
import { manualClock } from '../../helpers/clock.ts'
import { capturingLogger, MEDIA, T0, tokenSetup, USER } from './helpers.ts'
import type { StreamPublicKey } from '../../../core/access/index.ts'

const HOUR_MS = 3600_000
const modeOf = async (path: string): Promise<string> => ((await stat(path)).mode & 0o777).toString(8)

test('a new signing key ring makes one key in a 0600 file and lists only its public half', async t => {
  const { keys, keysPath } = await tokenSetup(t)
  t.is(await modeOf(keysPath), '600')
  const listed = keys.publicKeys()
  t.is(listed.length, 1)
  t.deepEqual(Object.keys(listed[0]).sort(), ['id', 'publicKey'])
  t.is(listed[0].id, keys.current().id)
  t.is(keyIdOf(Buffer.from(listed[0].publicKey, 'base64url')), listed[0].id)
  t.regex(listed[0].id, /^[0-9a-f]{16}$/)
})

test('the signing keys survive a restart: a token signed before verifies after', async t => {
  const { keys, keysPath, signer, clock } = await tokenSetup(t)
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 })
  const reopened = await openSigningKeyRing({ logger: silentLogger(), clock }, { path: keysPath, retireAfterSeconds: 3600 })
  t.is(reopened.current().id, keys.current().id)
  t.deepEqual(reopened.publicKeys(), keys.publicKeys())
  t.is(createStreamTokenVerifier({ keys: reopened }).verify(token, { mediaId: MEDIA, now: T0 + 1000 }).userId, USER)
})

test('after a rotation the old key verifies its tokens until it retires, then is refused and dropped', async t => {
  const { keys, keysPath, signer, verifier, clock } = await tokenSetup(t, { retireAfterSeconds: 3600 })
  const old = keys.current().id
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 3600 })
  clock.advance(HOUR_MS / 2)
  const fresh = await keys.rotate()
  t.not(fresh.id, old)
  t.is(keys.current().id, fresh.id)
  t.deepEqual(keys.publicKeys().map(k => k.id), [fresh.id, old], 'current first')
  const retired = keys.publicKeys()[1]
  t.is(retired.expiresAt, new Date(clock.now() + HOUR_MS).toISOString(), 'accepted for the longest TTL after its retirement')
  t.is(signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 60 }).claims.keyId, fresh.id, 'new tokens use the new key')

  // a node holds the same list and judges alike, offline
  const node = await openKeyRing({ logger: silentLogger() }, { path: join(keysPath, '..', PUBLIC_KEYS_FILE) })
  await node.replace(keys.publicKeys())
  const onNode = createStreamTokenVerifier({ keys: node })
  for (const judge of [verifier, onNode]) {
    t.is(judge.verify(token, { mediaId: MEDIA, now: T0 + HOUR_MS - 1000 }).keyId, old, 'still good before its own expiry')
    t.throws(() => judge.verify(token, { mediaId: MEDIA, now: T0 + HOUR_MS + 61_000 }), { instanceOf: TokenExpiredError }, 'expired but its key still held')
    // the key's end (retired at T0 + 30 min, plus one hour, plus the 60 s skew) is passed: the key is gone, whatever the token says
    t.throws(() => judge.verify(token, { mediaId: MEDIA, now: T0 + 1.5 * HOUR_MS + 61_000 }), { instanceOf: TokenInvalidError, message: /key/ })
  }

  clock.advance(HOUR_MS + 1)
  t.deepEqual(keys.publicKeys().map(k => k.id), [fresh.id], 'no longer handed to nodes')
  const reopened = await openSigningKeyRing({ logger: silentLogger(), clock }, { path: keysPath, retireAfterSeconds: 3600 })
  t.deepEqual(reopened.publicKeys().map(k => k.id), [fresh.id])
  const saved = JSON.parse(await readFile(keysPath, 'utf8')) as { keys: Array<{ id: string }> }
  t.deepEqual(saved.keys.map(k => k.id), [fresh.id], 'dropped from the file too')
})

test('rotations asked for at once each retire the key before them', async t => {
  const { keys, clock } = await tokenSetup(t)
  const first = keys.current().id
  clock.advance(1000)
  const [a, b] = await Promise.all([keys.rotate(), keys.rotate()])
  t.is(keys.current().id, b.id)
  t.deepEqual(keys.publicKeys().map(k => k.id).sort(), [first, a.id, b.id].sort())
  t.is(keys.publicKeys().filter(k => k.expiresAt === undefined).length, 1, 'one current key')
})

test('a damaged signing key file stops the start with a message naming the file and is left as it is', async t => {
  const { keysPath, clock } = await tokenSetup(t)
  const good = await readFile(keysPath, 'utf8')
  const saved = JSON.parse(good) as { version: number, keys: Array<Record<string, string>> }
  const other = JSON.parse(await readFile((await tokenSetup(t)).keysPath, 'utf8')) as typeof saved
  const cases: Record<string, string> = {
    'not JSON': good.slice(0, good.length / 2),
    'no keys': JSON.stringify({ version: 1, keys: [] }),
    'another version': JSON.stringify({ ...saved, version: 2 }),
    'private key of another pair': JSON.stringify({ version: 1, keys: [{ ...saved.keys[0], privateKey: other.keys[0].privateKey }] }),
    'two current keys': JSON.stringify({ version: 1, keys: [saved.keys[0], other.keys[0]] }),
    'id of another key': JSON.stringify({ version: 1, keys: [{ ...saved.keys[0], id: other.keys[0].id }] })
  }
  for (const [what, text] of Object.entries(cases)) {
    await writeFile(keysPath, text, { mode: 0o600 })
    const err = await t.throwsAsync(openSigningKeyRing({ logger: silentLogger(), clock }, { path: keysPath }), { name: 'InvalidConfigError' }, what)
    t.true(err?.message.includes(keysPath), what)
    for (const key of [...saved.keys, ...other.keys]) t.false(err?.message.includes(key.privateKey), `${what}: no private key in the message`)
    t.is(await readFile(keysPath, 'utf8'), text, `${what}: not replaced`)
  }
  await t.throwsAsync(openSigningKeyRing({ logger: silentLogger() }, { path: keysPath, retireAfterSeconds: 59 }), { name: 'InvalidConfigError', message: /retireAfterSeconds/ })
})

test('a signing key file readable by others is closed to 0600 when opened', async t => {
  const { keysPath, keys } = await tokenSetup(t)
  await chmod(keysPath, 0o644)
  const { logger, text } = capturingLogger()
  const reopened = await openSigningKeyRing({ logger, clock: manualClock(T0) }, { path: keysPath })
  t.is(reopened.current().id, keys.current().id)
  t.is(await modeOf(keysPath), '600')
  t.regex(text(), /readable by others/)
})

test('a node keeps the public keys on disk (0600) and verifies after a restart with no main server', async t => {
  const { keys, signer, dir } = await tokenSetup(t)
  const path = join(dir, PUBLIC_KEYS_FILE)
  const first = await openKeyRing({ logger: silentLogger() }, { path })
  t.deepEqual(first.list(), [], 'a node that never registered holds no keys')
  await first.replace(keys.publicKeys())
  t.is(await modeOf(path), '600')
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 })
  // a restart: a new process reads the file; nothing here can reach the main server's ring
  const restarted = await openKeyRing({ logger: silentLogger() }, { path })
  t.deepEqual(restarted.list(), keys.publicKeys())
  t.is(createStreamTokenVerifier({ keys: restarted }).verify(token, { mediaId: MEDIA, now: T0 + 1000 }).userId, USER)
})

test('a torn write (a temporary file left behind) is ignored by both rings', async t => {
  const { keys, keysPath, dir, clock } = await tokenSetup(t)
  const nodePath = join(dir, PUBLIC_KEYS_FILE)
  const node = await openKeyRing({ logger: silentLogger() }, { path: nodePath })
  await node.replace(keys.publicKeys())
  // what a crash halfway through the next write of each leaves: the temporary file, half written, never renamed
  const nextSigning = (await readFile(keysPath, 'utf8')).replace(/"version": 1/, '"version": 1, "keys": [')
  await writeFile(`${keysPath}.4242.deadbeef.tmp`, nextSigning.slice(0, 80), { mode: 0o600 })
  await writeFile(`${nodePath}.4242.deadbeef.tmp`, '{"version":1,"keys":[{"id":"00', { mode: 0o600 })

  const signing = await openSigningKeyRing({ logger: silentLogger(), clock }, { path: keysPath })
  t.is(signing.current().id, keys.current().id)
  const reopened = await openKeyRing({ logger: silentLogger() }, { path: nodePath })
  t.deepEqual(reopened.list(), keys.publicKeys())
  // and a later write goes through beside it
  await reopened.replace([])
  t.deepEqual((await openKeyRing({ logger: silentLogger() }, { path: nodePath })).list(), [])
  t.true((await readdir(dir)).some(name => name.endsWith('.deadbeef.tmp')))
})

test('a bad key list is refused whole and the ring keeps the keys it had', async t => {
  const { keys, dir } = await tokenSetup(t)
  const path = join(dir, PUBLIC_KEYS_FILE)
  const node = await openKeyRing({ logger: silentLogger() }, { path })
  await node.replace(keys.publicKeys())
  const before = await readFile(path, 'utf8')
  const [good] = keys.publicKeys()
  const raw = Buffer.from(good.publicKey, 'base64url')
  const bad: Record<string, unknown> = {
    'not a list': { keys: [good] },
    'not an object': [good, 'key'],
    'id of another key': [good, { ...good, id: '0011223344556677' }],
    'upper-case id': [{ ...good, id: good.id.toUpperCase() }],
    'short key': [{ id: keyIdOf(raw.subarray(0, 31)), publicKey: raw.subarray(0, 31).toString('base64url') }],
    'padded base64': [{ ...good, publicKey: raw.toString('base64') }],
    'expiry not a date': [{ ...good, expiresAt: 'soon' }]
  }
  for (const [what, list] of Object.entries(bad)) {
    await t.throwsAsync(node.replace(list as StreamPublicKey[]), { instanceOf: InvalidStreamKeyError }, what)
  }
  t.deepEqual(node.list(), keys.publicKeys())
  t.is(await readFile(path, 'utf8'), before)
})

test('a damaged node key file leaves the ring empty, says why, and the next list replaces it', async t => {
  const { keys, dir } = await tokenSetup(t)
  const path = join(dir, PUBLIC_KEYS_FILE)
  await writeFile(path, '{"version":1,"keys":[{"id":"nothex"}]}')
  const { logger, text } = capturingLogger()
  const node = await openKeyRing({ logger }, { path })
  t.deepEqual(node.list(), [])
  t.regex(text(), /damaged/)
  await node.replace(keys.publicKeys())
  t.deepEqual((await openKeyRing({ logger: silentLogger() }, { path })).list(), keys.publicKeys())
})

test('a key withdrawn from a node ends the tokens it signed at once, cached or not', async t => {
  const { keys, signer, dir } = await tokenSetup(t)
  const node = await openKeyRing({ logger: silentLogger() }, { path: join(dir, PUBLIC_KEYS_FILE) })
  await node.replace(keys.publicKeys())
  const verifier = createStreamTokenVerifier({ keys: node })
  const { token } = signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 })
  t.is(verifier.verify(token, { mediaId: MEDIA, now: T0 }).userId, USER)
  await node.replace([])
  t.throws(() => verifier.verify(token, { mediaId: MEDIA, now: T0 }), { instanceOf: TokenInvalidError })
  t.is(verifier.stats().hits, 1, 'the refusal came from the cache')
})

test('no private key and no token reaches a log line', async t => {
  const { logger, text } = capturingLogger()
  const { keys, keysPath, signer, verifier, dir, clock } = await tokenSetup(t, { logger })
  const tokens = [signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 }).token]
  clock.advance(1000)
  await keys.rotate()
  tokens.push(signer.sign({ userId: USER, mediaId: MEDIA }, { ttlSeconds: 600 }).token)
  await chmod(keysPath, 0o640)
  await openSigningKeyRing({ logger, clock }, { path: keysPath })
  const node = await openKeyRing({ logger }, { path: join(dir, PUBLIC_KEYS_FILE) })
  await node.replace(keys.publicKeys())
  for (const token of tokens) verifier.verify(token, { mediaId: MEDIA, now: clock.now() })
  const saved = JSON.parse(await readFile(keysPath, 'utf8')) as { keys: Array<{ privateKey: string }> }
  const log = text()
  t.regex(log, /rotated the stream signing key/, 'the capture works')
  for (const key of saved.keys) t.false(log.includes(key.privateKey))
  for (const token of tokens) t.false(log.includes(token.slice(0, 24)))
})

test('a node keeps the main server\'s publicMedia beside its keys and rewrites the file only when something changed', async t => {
  const { keys, dir } = await tokenSetup(t)
  const path = join(dir, PUBLIC_KEYS_FILE)
  const ring = await openKeyRing({ logger: silentLogger() }, { path })
  t.false(ring.publicMedia(), 'closed until the main server says otherwise')
  await ring.replace(keys.publicKeys(), { publicMedia: true })
  t.true(ring.publicMedia())
  t.true((await openKeyRing({ logger: silentLogger() }, { path })).publicMedia(), 'kept across a restart')
  const written = (await stat(path)).ino
  // the same list again (every heartbeat brings it): the file is not replaced (a replacement is a new inode)
  await ring.replace(keys.publicKeys(), { publicMedia: true })
  t.is((await stat(path)).ino, written)
  await ring.replace(keys.publicKeys(), { publicMedia: false })
  t.false(ring.publicMedia())
  t.false(JSON.parse(await readFile(path, 'utf8')).publicMedia)
})
