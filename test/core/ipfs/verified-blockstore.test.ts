import { createHash, randomBytes } from 'node:crypto'
import { readdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import anyTest from 'ava'
import { FsBlockstore } from 'blockstore-fs'
import { NextToLast } from 'blockstore-fs/sharding'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import * as Digest from 'multiformats/hashes/digest'
import { identity } from 'multiformats/hashes/identity'
import { sha256, sha512 } from 'multiformats/hashes/sha2'
import {
  createBlockReader, createBlockRepairer, createScrubber, createVerifiedBlockstore, findVerifiedBlockstore, IMPORT_OPTIONS
} from '../../../core/ipfs/index.ts'
import { createLogger } from '../../../core/logger.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import type { VerifiedBlockstore } from '../../../core/ipfs/index.ts'
import type { Logger } from '../../../core/logger.ts'
import type { TestFn } from 'ava'

/*
 * core/ipfs/verified-blockstore.ts over a real blockstore-fs folder: blocks are hashed on their first read only, a
 * damaged file reads as missing and is moved aside, caches are told, and the scrub finds damage a read would not.
 */

interface Context {
  dir: string
  remove: () => Promise<void>
  fs: FsBlockstore
  lines: Array<{ level: number, msg: string, cid?: string }>
  logger: Logger
  store: VerifiedBlockstore
}

const test = anyTest as TestFn<Context>

test.beforeEach(async t => {
  const dir = await tempDir('cidcast-verified-')
  const fs = new FsBlockstore(join(dir.path, 'blocks'))
  await fs.open()
  const lines: Context['lines'] = []
  const logger = createLogger({ level: 'debug', destination: new Writable({ write (chunk, _enc, done) { lines.push(JSON.parse(String(chunk))); done() } }) })
  const store = createVerifiedBlockstore({ store: fs, logger }, { quarantineDir: join(dir.path, 'quarantine') })
  t.context = { dir: dir.path, remove: dir.remove, fs, lines, logger, store }
})

test.afterEach.always(async t => { await t.context.remove() })

async function rawBlock (store: { put: VerifiedBlockstore['put'] }, size = 200_000): Promise<{ cid: CID, bytes: Buffer }> {
  const bytes = randomBytes(size)
  const cid = CID.createV1(raw.code, await sha256.digest(bytes))
  await store.put(cid, bytes)
  return { cid, bytes }
}

async function flipOnDisk (dir: string, cid: CID): Promise<void> {
  const { dir: sub, file } = new NextToLast().encode(cid)
  const path = join(dir, 'blocks', sub, file)
  const bytes = await readFile(path)
  bytes[7] ^= 0x01
  await writeFile(path, bytes)
}

test('a block is hashed on its first read only; later reads are remembered as verified', async t => {
  const { store } = t.context
  const { cid, bytes } = await rawBlock(store)
  t.false(store.isVerified(cid))
  t.true((await store.read(cid))?.equals(bytes))
  t.true((await store.read(cid))?.equals(bytes))
  t.like(store.stats(), { hashedBlocks: 1, hashedBytes: bytes.byteLength, damagedBlocks: 0, rememberedBlocks: 1 })
  t.true(store.isVerified(cid))
  // a check hashes again whatever was verified
  t.is((await store.check(cid)).state, 'ok')
  t.is(store.stats().hashedBlocks, 2)
})

test('a block its maker adds to the block reader is served from memory: its file is neither read nor hashed', async t => {
  const { store, dir } = t.context
  const { cid, bytes } = await rawBlock(store)
  const reader = createBlockReader({ blockstore: store, logger: t.context.logger })
  reader.add(cid, bytes)
  // the file no longer holds the block: only the bytes in memory can answer
  await flipOnDisk(dir, cid)
  t.true((await reader.get(cid)).equals(bytes))
  t.true(await reader.ready(cid))
  t.like(reader.stats(), { blocks: 1, hits: 1, misses: 0 })
  t.is(store.stats().hashedBlocks, 0)
})

test('a damaged block file reads as missing, is moved to quarantine, is logged once at warn, and leaves the block reader\'s cache', async t => {
  const { store, dir, lines } = t.context
  const { cid, bytes } = await rawBlock(store)
  const reader = createBlockReader({ blockstore: store, logger: t.context.logger })
  t.true((await reader.get(cid)).equals(bytes))
  t.is(reader.stats().blocks, 1)
  const changes: string[] = []
  store.onChange((changed, why) => { changes.push(`${why} ${changed.toString()}`) })
  await flipOnDisk(dir, cid)

  // a later process has verified nothing yet: its first read finds the damage
  const later = createVerifiedBlockstore({ store: t.context.fs, logger: t.context.logger }, { quarantineDir: join(dir, 'quarantine') })
  t.is(await later.read(cid), undefined)
  t.false(await t.context.fs.has(cid))
  t.deepEqual(await readdir(join(dir, 'quarantine')), [new NextToLast().encode(cid).file])
  t.is((await later.check(cid)).state, 'damaged', 'still known damaged until a good copy is put')
  t.true(later.isDamaged(cid))
  t.is(lines.filter(l => l.level === 40 && l.cid === cid.toString()).length, 1)
  t.is(later.stats().damagedBlocks, 1)

  // in this process the block reader held a (good) copy; a check that finds the file damaged drops it from memory
  const bad = Buffer.from(bytes)
  bad[0] ^= 0xff
  await t.context.fs.put(cid, bad)
  t.is((await store.check(cid)).state, 'damaged')
  t.deepEqual(changes, [`damaged ${cid.toString()}`])
  t.is(reader.stats().blocks, 0)
  await t.throwsAsync(reader.get(cid), { name: 'ContentNotFoundError' })
  await store.put(cid, bytes)
  t.false(store.isDamaged(cid))
  t.true((await reader.get(cid)).equals(bytes))
})

test('through Helia a damaged block is a NotFoundError and then absent; readers built on any store verify too', async t => {
  const { fs, dir } = t.context
  const helia = createHeliaLight({ blockstore: t.context.store })
  await helia.start()
  t.teardown(async () => { await helia.stop() })
  const { cid } = await rawBlock(helia.blockstore)
  t.is(findVerifiedBlockstore(helia.blockstore), t.context.store)
  await flipOnDisk(dir, cid)
  await t.throwsAsync(async () => { for await (const chunk of helia.blockstore.get(cid, { offline: true })) void chunk }, { name: 'NotFoundError' })
  t.false(await helia.blockstore.has(cid))

  // a Helia made without the verified layer: a reader wraps the store at its bottom in one of its own
  const bare = createHeliaLight({ blockstore: fs })
  await bare.start()
  t.teardown(async () => { await bare.stop() })
  const other = await rawBlock(bare.blockstore)
  await flipOnDisk(dir, other.cid)
  await t.throwsAsync(createBlockReader({ blockstore: bare.blockstore, logger: t.context.logger }).get(other.cid), { name: 'ContentNotFoundError' })
})

test('identity and sha2-512 blocks verify; a block whose hash is not checked here is never served', async t => {
  const { store } = t.context
  const small = Buffer.from('inside the CID')
  t.true((await store.read(CID.createV1(raw.code, identity.digest(small))))?.equals(small))
  const bytes = randomBytes(100_000)
  const long = CID.createV1(raw.code, await sha512.digest(bytes))
  await store.put(long, bytes)
  t.true((await store.read(long))?.equals(bytes))
  // blake2b-256 (0xb220): kept, but not served as if it had been checked
  const blake = CID.createV1(raw.code, Digest.create(0xb220, createHash('sha256').update(bytes).digest()))
  await store.put(blake, bytes)
  t.is(await store.read(blake), undefined)
  t.is((await store.check(blake)).state, 'unchecked')
  t.true(await store.has(blake))
})

test('the scrub hashes again a block verified before, finds it damaged by itself, and reports what it could not repair', async t => {
  const { store, dir, logger } = t.context
  const helia = createHeliaLight({ blockstore: store })
  await helia.start()
  t.teardown(async () => { await helia.stop() })
  const root = await unixfs(helia).addBytes(randomBytes(3 * 1024 * 1024), IMPORT_OPTIONS)
  for await (const pinned of helia.pins.add(root)) void pinned
  const leaf = (await rawLeaves(store, root))[1]
  t.truthy(await store.read(leaf))
  await flipOnDisk(dir, leaf)
  t.truthy(await store.read(leaf), 'verified before: a read does not look again')

  // Helia light has no block broker: the repair finds no copy at once
  const scrub = createScrubber({ store, repairer: createBlockRepairer({ blockstore: helia.blockstore, logger }), pins: helia.pins, getCodec: helia.getCodec, logger }, { intervalMs: 50, bytesPerSecond: 1024 * 1024 * 1024 })
  scrub.start()
  t.teardown(async () => { await scrub.stop() })
  const status = await waitFor(() => { const s = scrub.status(); return s.passes >= 1 && s }, 10_000, 'a scrub pass')
  t.like(status.last, { roots: 1, blocks: 4, broken: 1, repaired: 0 })
  t.is(status.totals.broken, 1)
  t.is(await store.read(leaf), undefined)
  t.true(store.isDamaged(leaf))
})

async function rawLeaves (store: VerifiedBlockstore, root: CID): Promise<CID[]> {
  const node = dagPb.decode((await store.read(root)) as Uint8Array)
  return node.Links.map(l => l.Hash)
}
