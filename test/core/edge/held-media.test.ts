import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import anyTest from 'ava'
import { MemoryBlockstore } from 'blockstore-core'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createHeldMedia } from '../../../core/edge/index.ts'
import { masterPlaylist, masterProfiles } from '../../../core/hls/index.ts'
import { createContentReader } from '../../../core/ipfs/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { writeDirectory } from '../../../core/media/rendition-dag.ts'
import { tempDir } from '../../helpers/tmp.ts'
import type { HeldMedia, HeldMediaComponents } from '../../../core/edge/index.ts'
import type { PlaylistVariant } from '../../../core/hls/index.ts'
import type { TestFn } from 'ava'
import type { Blockstore } from 'interface-blockstore'

/*
 * The record of media held by a CDN node (core/edge/held-media.ts) without daemons: media directories made as the
 * main server makes them (a flat UnixFS directory of the rendition roots and `master.m3u8`) in a real blockstore, a
 * real content reader, a real file in a temporary folder.
 */

interface World {
  dir: string
  blocks: MemoryBlockstore
  remove: () => Promise<void>
}

const test = anyTest as TestFn<World>
const ID = '0123456789abcdef'
const LADDER: PlaylistVariant[] = [
  { profile: { name: '720p' }, width: 1280, height: 720, bandwidth: 3_500_000, codecs: 'avc1.64001f,mp4a.40.2' },
  { profile: { name: '360p' }, width: 640, height: 360, bandwidth: 800_000, codecs: 'avc1.64001e,mp4a.40.2' }
]

test.beforeEach(async t => {
  const dir = await tempDir('cidcast-held-media-')
  t.context = { dir: dir.path, blocks: new MemoryBlockstore(), remove: dir.remove }
})
test.afterEach.always(async t => { await t.context.remove() })

/** A block standing for a rendition's root. */
async function rendition (blocks: MemoryBlockstore, name: string): Promise<CID> {
  const bytes = new TextEncoder().encode(`rendition ${name}`)
  const cid = CID.createV1(raw.code, await sha256.digest(bytes))
  await blocks.put(cid, bytes)
  return cid
}

/** A media directory over `renditions` (profile -> root), its master listing them in ladder order. */
async function mediaDirectory (blocks: MemoryBlockstore, renditions: Record<string, CID>): Promise<CID> {
  const master = new TextEncoder().encode(masterPlaylist(LADDER.filter(v => renditions[v.profile.name] != null)))
  const masterCid = CID.createV1(raw.code, await sha256.digest(master))
  await blocks.put(masterCid, master)
  const links = Object.entries(renditions).map(([name, cid]) => ({ name, cid, size: 20 }))
  return await writeDirectory(blocks, [...links, { name: 'master.m3u8', cid: masterCid, size: master.byteLength }])
}

function held (t: { context: World }, components: Partial<HeldMediaComponents> = {}, timeoutMs?: number): HeldMedia {
  const reader = createContentReader({ blockstore: t.context.blocks, logger: silentLogger() }, { cacheBytes: 0, directFiles: false })
  return createHeldMedia({ logger: silentLogger(), reader, ...components }, { path: join(t.context.dir, 'held-media.json'), timeoutMs })
}

test('a pinned rendition is recorded with its media directory\'s master playlist, and the record survives a restart', async t => {
  const hd = await rendition(t.context.blocks, '720p')
  const sd = await rendition(t.context.blocks, '360p')
  const root = await mediaDirectory(t.context.blocks, { '720p': hd, '360p': sd })
  const record = held(t)
  await record.start()
  t.is(record.master(ID), undefined, 'nothing held yet')
  await record.hold({ id: ID, profile: '360p', root: root.toString() }, sd)
  t.deepEqual(record.rendition(ID, '360p'), sd)
  t.is(record.rendition(ID, '720p'), undefined)
  t.is(record.master(ID), masterPlaylist([LADDER[1]]), 'the master lists only what is held')
  await record.hold({ id: ID, profile: '720p', root: root.toString() }, hd)
  t.is(record.master(ID), masterPlaylist(LADDER), 'both held: the directory\'s own master')

  // a new process: the file alone, and no block of the directory is needed any more
  const again = held({ context: { ...t.context, blocks: new MemoryBlockstore() } })
  await again.start()
  t.deepEqual(again.get(ID), { root: root.toString(), master: masterPlaylist(LADDER), renditions: { '360p': sd.toString(), '720p': hd.toString() } })
})

test('unpinning a rendition leaves it out of the master playlist; unpinning the last one forgets the media, on disk too', async t => {
  const hd = await rendition(t.context.blocks, '720p')
  const sd = await rendition(t.context.blocks, '360p')
  const root = (await mediaDirectory(t.context.blocks, { '720p': hd, '360p': sd })).toString()
  const record = held(t)
  await record.start()
  await record.hold({ id: ID, profile: '720p', root }, hd)
  await record.hold({ id: ID, profile: '360p', root }, sd)
  await record.release(hd)
  t.deepEqual(masterProfiles(record.master(ID) ?? ''), ['360p'])
  await record.release(sd)
  t.is(record.get(ID), undefined)
  t.is(record.master(ID), undefined)
  t.deepEqual(JSON.parse(await readFile(join(t.context.dir, 'held-media.json'), 'utf8')), { version: 1, media: {} })
})

test('a media directory that grew is taken from the next order, and an older one that comes after it does not replace it', async t => {
  const hd = await rendition(t.context.blocks, '720p')
  const sd = await rendition(t.context.blocks, '360p')
  const older = (await mediaDirectory(t.context.blocks, { '360p': sd })).toString()
  const newer = (await mediaDirectory(t.context.blocks, { '720p': hd, '360p': sd })).toString()
  const record = held(t)
  await record.start()
  await record.hold({ id: ID, profile: '360p', root: older }, sd)
  t.is(record.get(ID)?.root, older)
  await record.hold({ id: ID, profile: '720p', root: newer }, hd)
  t.is(record.get(ID)?.root, newer, 'the next order brings the directory as it is now')
  t.deepEqual(masterProfiles(record.master(ID) ?? ''), ['720p', '360p'])
  // the two orders' replies crossed: the older directory arrives last
  await record.hold({ id: ID, profile: '360p', root: older }, sd)
  t.is(record.get(ID)?.root, newer)
  t.deepEqual(masterProfiles(record.master(ID) ?? ''), ['720p', '360p'])
})

test('a media directory that does not arrive in time fails as PinStalledError and nothing is recorded', async t => {
  const sd = await rendition(t.context.blocks, '360p')
  // the directory is on no peer this node reaches: the reader asks the network, and waits
  const root = (await mediaDirectory(new MemoryBlockstore(), { '360p': sd })).toString()
  const nobodyHasIt: Pick<Blockstore, 'get' | 'has'> = {
    async * get (_cid, options) {
      await new Promise((resolve, reject) => { options?.signal?.addEventListener('abort', () => { reject(options.signal?.reason) }) })
    },
    has: async () => false
  }
  const waiting = createContentReader({ blockstore: nobodyHasIt, logger: silentLogger() }, { cacheBytes: 0, directFiles: false, offline: false })
  const record = held(t, { reader: waiting }, 200)
  await record.start()
  // AbortSignal.timeout does not keep a process alive, and nothing else here does while the reader waits
  const alive = setInterval(() => {}, 1000)
  t.teardown(() => { clearInterval(alive) })
  const error = await t.throwsAsync(record.hold({ id: ID, profile: '360p', root }, sd))
  t.is(error?.name, 'PinStalledError')
  t.regex(error?.message ?? '', new RegExp(`master playlist of media ${ID}`))
  t.is(record.get(ID), undefined)
})

test('at start, renditions no longer pinned are forgotten; a damaged record is set aside, not fatal', async t => {
  const hd = await rendition(t.context.blocks, '720p')
  const sd = await rendition(t.context.blocks, '360p')
  const root = (await mediaDirectory(t.context.blocks, { '720p': hd, '360p': sd })).toString()
  const first = held(t)
  await first.start()
  await first.hold({ id: ID, profile: '720p', root }, hd)
  await first.hold({ id: ID, profile: '360p', root }, sd)
  // the run stopped between the unpin of 720p and its record
  const next = held(t, { isPinned: async cid => !cid.equals(hd) })
  await next.start()
  t.deepEqual(Object.keys(next.get(ID)?.renditions ?? {}), ['360p'])

  await writeFile(join(t.context.dir, 'held-media.json'), '{"version":1,"media":{"0123')
  const damaged = held(t)
  await damaged.start()
  t.is(damaged.get(ID), undefined)
})
