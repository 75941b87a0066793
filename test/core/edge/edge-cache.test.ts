import test from 'ava'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createEdgeCache } from '../../../core/edge/edge-cache.ts'
import { silentLogger } from '../../../core/logger.ts'
import { manualClock } from '../../helpers/clock.ts'
import type { CapacityReport } from '../../../core/edge/capacity.ts'
import type { EdgeCache, EdgeCacheInit } from '../../../core/edge/edge-cache.ts'

const MIB = 1024 * 1024
const HOUR_MS = 3_600_000

interface Rig {
  cache: EdgeCache
  blocks: MemoryBlockstore
  datastore: MemoryDatastore
  pinned: Set<string>
  forgotten: string[]
  clock: ReturnType<typeof manualClock>
  /** Keeps a file of one raw block of `bytes` bytes under `name`; its CID. */
  keep: (name: string, bytes: number, as?: { readAhead?: boolean }) => Promise<CID>
  reopen: () => Promise<EdgeCache>
  space: { full: boolean }
}

/** A cache over memory stores: a quota of 100 MiB, a disk that is full only when the test says so. */
async function rig (init: EdgeCacheInit = {}, datastore = new MemoryDatastore(), blocks = new MemoryBlockstore()): Promise<Rig> {
  const pinned = new Set<string>()
  const forgotten: string[] = []
  const clock = manualClock()
  const space = { full: false }
  const report = (): CapacityReport => ({ quotaBytes: 100 * MIB, usedBytes: 0, freeBytes: space.full ? 0 : 50 * MIB, full: space.full })
  const make = async (): Promise<EdgeCache> => {
    const cache = createEdgeCache({
      datastore,
      pins: { isPinned: async (cid: CID) => pinned.has(cid.toString()) },
      remove: async cid => { await blocks.delete(cid) },
      // freeing a block of a full disk: the disk is no longer full
      capacity: { measure: async () => report(), last: report, record: bytes => { if (bytes < 0) space.full = false } },
      media: { forgetFile: async (id, profile, file) => { forgotten.push(`${id}/${profile}/${file}`) } },
      logger: silentLogger(),
      clock
    }, { minLifetimeMs: HOUR_MS, ...init })
    await cache.start()
    return cache
  }
  const cache = await make()
  const r: Rig = {
    cache,
    blocks,
    datastore,
    pinned,
    forgotten,
    clock,
    space,
    reopen: make,
    async keep (name, bytes, as = {}) {
      const data = new Uint8Array(bytes).fill(name.charCodeAt(0))
      const cid = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode(name)))
      await blocks.put(cid, data)
      await r.cache.add({ key: cid.toString(), blocks: [{ cid, bytes }], media: { id: '0123456789abcdef', profile: '360p', file: `${name}.m4s` }, readAhead: as.readAhead })
      return cid
    }
  }
  return r
}

test('past the budget the lowest value goes first: a file hit often stays, a file hit once goes', async t => {
  const r = await rig({ budgetBytes: 3 * MIB, minLifetimeMs: 0 })
  const hot = await r.keep('a', MIB)
  const cold = await r.keep('b', MIB)
  for (let i = 0; i < 5; i++) r.cache.hit(hot.toString())
  r.clock.advance(1000)
  const newer = await r.keep('c', MIB)
  t.is(r.cache.figures().cacheUsedBytes, 3 * MIB)
  await r.keep('d', MIB)
  t.true(await r.blocks.has(hot))
  t.false(await r.blocks.has(cold), 'the file hit once, kept earliest, went')
  t.true(await r.blocks.has(newer))
  t.deepEqual(r.forgotten, ['0123456789abcdef/360p/b.m4s'], 'its media-cache record went with it')
  t.is(r.cache.figures().cacheUsedBytes, 3 * MIB)
})

test('at equal hits the larger file has the lower value and goes first', async t => {
  const r = await rig({ budgetBytes: 4 * MIB, minLifetimeMs: 0 })
  const small = await r.keep('s', MIB / 2)
  const large = await r.keep('l', 2 * MIB)
  await r.keep('m', MIB)
  await r.keep('n', MIB)
  t.false(await r.blocks.has(large))
  t.true(await r.blocks.has(small))
})

test('a file with a pinned block is never evicted: it leaves the index and keeps its blocks', async t => {
  const r = await rig({ budgetBytes: 2 * MIB, minLifetimeMs: 0 })
  const pinned = await r.keep('p', MIB)
  r.pinned.add(pinned.toString())
  await r.keep('q', MIB)
  await r.keep('r', MIB)
  t.true(await r.blocks.has(pinned))
  t.false(r.cache.files().some(f => f.key === pinned.toString()))
  t.is(r.cache.figures().cacheUsedBytes, 2 * MIB, 'the pin holds its bytes, the cache only its own')
})

test('a file younger than the minimum lifetime stays past the budget, and goes once old enough', async t => {
  const r = await rig({ budgetBytes: 2 * MIB })
  const first = await r.keep('a', MIB)
  await r.keep('b', MIB)
  t.false(await r.cache.admit(MIB), 'a cache full of young content takes nothing more: served from memory')
  t.true(await r.blocks.has(first))
  r.clock.advance(HOUR_MS)
  t.true(await r.cache.admit(MIB))
  t.false(await r.blocks.has(first))
})

test('a full disk evicts young files too', async t => {
  const r = await rig({ budgetBytes: 10 * MIB })
  const young = await r.keep('a', MIB)
  r.space.full = true
  t.true(await r.cache.admit(MIB))
  t.false(await r.blocks.has(young))
})

test('a block two kept files share goes only with the last of them', async t => {
  const r = await rig({ budgetBytes: 2 * MIB, minLifetimeMs: 0 })
  const shared = CID.createV1(raw.code, await sha256.digest(new TextEncoder().encode('shared')))
  await r.blocks.put(shared, new Uint8Array(MIB))
  await r.cache.add({ key: 'one', blocks: [{ cid: shared, bytes: MIB }] })
  await r.cache.add({ key: 'two', blocks: [{ cid: shared, bytes: MIB }] })
  for (let i = 0; i < 3; i++) r.cache.hit('two')
  t.is(r.cache.figures().cacheUsedBytes, MIB, 'a shared block counts once')
  await r.keep('x', MIB)
  await r.keep('y', MIB)
  t.deepEqual(r.cache.files().map(f => f.key).includes('one'), false)
  t.true(await r.blocks.has(shared), 'still used by the other file')
})

test('the index, its hits and the clock survive a restart', async t => {
  const r = await rig({ budgetBytes: 2 * MIB, minLifetimeMs: 0, flushMs: 1 })
  const hot = await r.keep('a', MIB)
  const cold = await r.keep('b', MIB)
  for (let i = 0; i < 5; i++) r.cache.hit(hot.toString())
  await r.cache.stop()
  const again = await r.reopen()
  t.deepEqual(again.files().map(f => f.key).sort(), [hot.toString(), cold.toString()].sort())
  t.is(again.figures().cacheUsedBytes, 2 * MIB)
  t.is(again.files().find(f => f.key === hot.toString())?.frequency, 6)
  r.cache = again
  await r.keep('c', MIB)
  t.true(await r.blocks.has(hot))
  t.false(await r.blocks.has(cold))
})

test('a read-ahead file counts its bytes and its first hit once', async t => {
  const r = await rig({ budgetBytes: 10 * MIB })
  const cid = await r.keep('a', MIB, { readAhead: true })
  t.true(r.cache.hit(cid.toString()))
  t.false(r.cache.hit(cid.toString()))
  t.false(r.cache.hit('not kept'))
})

test('the budget defaults to half the quota and never exceeds it', async t => {
  t.is((await rig()).cache.figures().cacheBytes, 50 * MIB)
  t.is((await rig({ budgetBytes: 500 * MIB })).cache.figures().cacheBytes, 100 * MIB)
})
