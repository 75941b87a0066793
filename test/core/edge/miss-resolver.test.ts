import { once } from 'node:events'
import { mkdir } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import anyTest from 'ava'
import { MemoryBlockstore } from 'blockstore-core'
import { importer } from 'ipfs-unixfs-importer'
import Koa from 'koa'
import { createCapacity, createMediaCache, createMissResolver, createNodeContent, createOriginClient } from '../../../core/edge/index.ts'
import { createContentReader, IMPORT_OPTIONS } from '../../../core/ipfs/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { errors } from '../../../gateway/middleware/errors.ts'
import { ipfsRoutes } from '../../../gateway/routes/ipfs.ts'
import { bytesOf } from '../../helpers/bytes.ts'
import { tempDir } from '../../helpers/tmp.ts'
import type { ContentNeed, MissResolver, MissResolverComponents, MissResolverInit } from '../../../core/edge/index.ts'
import type { TestFn } from 'ava'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import type { AddressInfo } from 'node:net'

/*
 * The CDN node's miss policy without daemons: a real in-memory blockstore for the node (and one for a peer that
 * bitswap would reach), the real content reader, media cache and capacity, and a real HTTP origin on 127.0.0.1
 * that serves `/media` with CID Etags, `/api/v1/media/{id}` and the main server's own `/ipfs` gateway.
 */

/** Generous: under a loaded machine the in-process origin answers slowly, and a timeout would change the path taken. */
const TEST_ORIGIN_TIMEOUT_MS = 30_000
const ID = '0123456789abcdef'
const PROFILE = '360p'
const MASTER = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000\n360p/index.m3u8\n'

interface Rendition {
  root: CID
  files: Map<string, { cid: CID, bytes: Buffer }>
}

interface World {
  resolver: MissResolver
  /** The node's own blocks. */
  local: MemoryBlockstore
  /** A connected peer's blocks: a `get` that is not offline reaches them, as bitswap would. */
  peer: MemoryBlockstore
  rendition: Rendition
  origin: { url: string, requests: string[], close: () => Promise<void> }
  /** Bytes the origin sends instead of a file's own, by path. */
  tampered: Map<string, Buffer>
  remove: () => Promise<void>
}

const test = anyTest as TestFn<World>

/** A rendition as the main server stores it: a flat UnixFS directory of its files, under the import profile. */
async function importRendition (blockstore: Blockstore): Promise<Rendition> {
  const contents: Array<[string, Buffer]> = [
    ['index.m3u8', Buffer.from('#EXTM3U\n#EXT-X-MAP:URI="init.mp4"\n#EXTINF:2,\n0.m4s\n#EXTINF:2,\n1.m4s\n#EXT-X-ENDLIST\n')],
    ['init.mp4', bytesOf(900, 'init')],
    ['0.m4s', bytesOf(200_000, 'segment 0')],
    // more than one 1 MiB block: verified by importing it again
    ['1.m4s', bytesOf(2 * 1024 * 1024 + 77, 'segment 1')]
  ]
  const files = new Map<string, { cid: CID, bytes: Buffer }>()
  let root: CID | undefined
  for await (const entry of importer(contents.map(([name, bytes]) => ({ path: `r/${name}`, content: bytes })), blockstore, { ...IMPORT_OPTIONS })) {
    if (entry.path === 'r') root = entry.cid
    const name = entry.path?.slice(2)
    const bytes = contents.find(([n]) => n === name)?.[1]
    if (name != null && bytes != null) files.set(name, { cid: entry.cid, bytes })
  }
  if (root == null) throw new Error('no rendition root')
  return { root, files }
}

async function copyBlocks (from: MemoryBlockstore, to: MemoryBlockstore): Promise<void> {
  for await (const { cid, bytes } of from.getAll()) {
    const chunks: Uint8Array[] = []
    for await (const chunk of bytes) chunks.push(chunk)
    await to.put(cid, Buffer.concat(chunks))
  }
}

/** The node's blockstore as Helia's behaves: local blocks; a `get` that is not offline also asks the peer. */
function networked (local: MemoryBlockstore, peer: MemoryBlockstore): Pick<Blockstore, 'get' | 'put' | 'has'> {
  return {
    async * get (cid, options: { signal?: AbortSignal, offline?: boolean } = {}) {
      if (!await local.has(cid) && options.offline !== true && await peer.has(cid)) {
        for await (const chunk of peer.get(cid)) await local.put(cid, chunk)
      }
      yield * local.get(cid, options)
    },
    has: async (cid, options) => await local.has(cid, options),
    put: async (cid, bytes, options) => await local.put(cid, bytes, options)
  }
}

/** The main server as a node sees it over HTTP; every request is written down. */
async function startOrigin (blockstore: MemoryBlockstore, rendition: Rendition, tampered: Map<string, Buffer>): Promise<World['origin']> {
  const requests: string[] = []
  const gateway = ipfsRoutes({ blockstore, logger: silentLogger() }, { directFiles: false })
  const app = new Koa()
  app.use(errors(silentLogger()))
  app.use(async (ctx, next) => {
    requests.push(ctx.url)
    if (ctx.path === `/api/v1/media/${ID}`) {
      ctx.body = { id: ID, renditions: [{ profile: PROFILE, state: 'complete', root: rendition.root.toString() }] }
      return
    }
    if (ctx.path === `/media/${ID}/master.m3u8`) {
      ctx.type = 'application/vnd.apple.mpegurl'
      ctx.body = MASTER
      return
    }
    const file = rendition.files.get(ctx.path.slice(`/media/${ID}/${PROFILE}/`.length))
    if (ctx.path.startsWith(`/media/${ID}/${PROFILE}/`) && file != null) {
      ctx.set('Etag', `"${file.cid.toString()}"`)
      ctx.body = tampered.get(ctx.path) ?? file.bytes
      return
    }
    await next()
  })
  app.use(gateway.routes())
  const server = createServer(app.callback())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    close: async () => { server.closeAllConnections(); await new Promise(resolve => server.close(resolve)) }
  }
}

/** Starts a node's resolver over empty local blocks; the origin and the peer hold the rendition. */
async function world (init: MissResolverInit = {}, options: { quotaBytes?: number, held?: (rendition: Rendition) => MissResolverComponents['held'] } = {}): Promise<World> {
  const dir = await tempDir('cidcast-miss-')
  await mkdir(join(dir.path, 'blocks'))
  const logger = silentLogger()
  const originBlocks = new MemoryBlockstore()
  const rendition = await importRendition(originBlocks)
  const peer = new MemoryBlockstore()
  await copyBlocks(originBlocks, peer)
  const local = new MemoryBlockstore()
  const tampered = new Map<string, Buffer>()
  const origin = await startOrigin(originBlocks, rendition, tampered)
  const blockstore = networked(local, peer)
  const reader = createContentReader({ blockstore, logger }, { directFiles: false })
  const capacity = createCapacity({ blocksDir: join(dir.path, 'blocks'), dataDir: dir.path, quotaBytes: options.quotaBytes, reserveBytes: 0 })
  const content = createNodeContent({ reader, blockstore, capacity, logger })
  const cache = createMediaCache({ logger }, { dir: join(dir.path, 'media-cache') })
  const resolver = createMissResolver({ content, cache, origin: createOriginClient({}, { url: origin.url, timeoutMs: TEST_ORIGIN_TIMEOUT_MS }), logger, held: options.held?.(rendition) }, init)
  return {
    resolver,
    local,
    peer,
    rendition,
    origin,
    tampered,
    remove: async () => { await cache.flush(); await origin.close(); await dir.remove() }
  }
}

async function read (resolver: MissResolver, answer: Awaited<ReturnType<MissResolver['mediaFile']>>): Promise<Buffer> {
  if (answer.source === 'redirect') throw new Error('redirected')
  const entry = 'kind' in answer.file ? answer.file : await answer.reader.stat(answer.file)
  const chunks: Buffer[] = []
  for await (const chunk of answer.reader.content(entry, 0, entry.size)) chunks.push(chunk)
  return Buffer.concat(chunks)
}

function segmentRequests (w: World): string[] {
  return w.origin.requests.filter(r => r.startsWith('/media/') || r.startsWith('/ipfs/'))
}

test.afterEach.always(async t => { await t.context.remove?.() })

test('a file whose blocks are all here is served locally and the origin is not asked for it', async t => {
  t.context = await world()
  const w = t.context
  await copyBlocks(w.peer, w.local)
  const answer = await w.resolver.mediaFile({ id: ID, profile: PROFILE, file: '1.m4s' })
  t.is(answer.source, 'local')
  t.deepEqual(await read(w.resolver, answer), w.rendition.files.get('1.m4s')?.bytes)
  t.deepEqual(segmentRequests(w), [], 'only the rendition roots were asked for')
})

test('a miss is fetched from the origin once for concurrent requests, checked against its Etag, kept, and then local', async t => {
  t.context = await world()
  const w = t.context
  const answers = await Promise.all([1, 2, 3].map(async () => await w.resolver.mediaFile({ id: ID, profile: PROFILE, file: '1.m4s' })))
  t.deepEqual(answers.map(a => a.source), ['origin', 'origin', 'origin'])
  t.deepEqual(segmentRequests(w), [`/media/${ID}/${PROFILE}/1.m4s`], 'one fetch for three viewers')
  t.deepEqual(await read(w.resolver, answers[0]), w.rendition.files.get('1.m4s')?.bytes)
  t.true(await w.local.has(w.rendition.files.get('1.m4s')?.cid as CID), 'kept in the blockstore')

  const again = await w.resolver.mediaFile({ id: ID, profile: PROFILE, file: '1.m4s' })
  t.is(again.source, 'local')
  t.is(segmentRequests(w).length, 1)
})

test('bytes from the origin that do not hash to its Etag are refused and nothing is kept', async t => {
  t.context = await world()
  const w = t.context
  w.tampered.set(`/media/${ID}/${PROFILE}/0.m4s`, bytesOf(200_000, 'not segment 0'))
  const error = await t.throwsAsync(w.resolver.mediaFile({ id: ID, profile: PROFILE, file: '0.m4s' }))
  t.is(error?.name, 'UnverifiedContentError')
  t.false(await w.local.has(w.rendition.files.get('0.m4s')?.cid as CID))
})

test('with fallback peer a miss comes from a connected peer and the origin is not asked for the bytes', async t => {
  t.context = await world({ fallback: 'peer', peerTimeoutMs: 2000 })
  const w = t.context
  const answer = await w.resolver.mediaFile({ id: ID, profile: PROFILE, file: '0.m4s' })
  t.is(answer.source, 'peer')
  t.deepEqual(await read(w.resolver, answer), w.rendition.files.get('0.m4s')?.bytes)
  t.deepEqual(segmentRequests(w), [])
})

test('with fallback redirect a miss sends the client to the same path on the origin', async t => {
  t.context = await world({ fallback: 'redirect' })
  const w = t.context
  const answer = await w.resolver.mediaFile({ id: ID, profile: PROFILE, file: 'init.mp4' })
  t.deepEqual(answer, { source: 'redirect', location: `${w.origin.url}/media/${ID}/${PROFILE}/init.mp4` })
  t.deepEqual(segmentRequests(w), [])
})

test('only-if-cached stops at the local blocks: a miss is NotCachedError, and the origin is not asked at all', async t => {
  t.context = await world()
  const w = t.context
  const error = await t.throwsAsync(w.resolver.mediaFile({ id: ID, profile: PROFILE, file: '0.m4s' }, { onlyIfCached: true }))
  t.is(error?.name, 'NotCachedError')
  const playlist = await t.throwsAsync(w.resolver.playlist({ id: ID }, { onlyIfCached: true }))
  t.is(playlist?.name, 'NotCachedError')
  t.deepEqual(w.origin.requests, [])
})

test('a playlist is kept: fresh it is served from the disk cache, stale and with the origin down it is still served', async t => {
  t.context = await world({ playlistTtlMs: 60_000 })
  const w = t.context
  t.deepEqual(await w.resolver.playlist({ id: ID }), { source: 'origin', text: MASTER })
  t.deepEqual(await w.resolver.playlist({ id: ID }), { source: 'local', text: MASTER })
  t.is(w.origin.requests.filter(r => r.endsWith('master.m3u8')).length, 1)

  const stale = await world({ playlistTtlMs: 0 })
  t.teardown(stale.remove)
  await stale.resolver.playlist({ id: ID })
  await stale.origin.close()
  t.deepEqual(await stale.resolver.playlist({ id: ID }), { source: 'local', text: MASTER })
})

test('a media whose rendition is pinned here needs no origin for its files; with the origin down its master is the one pinned with it', async t => {
  // as core/edge/held-media.ts answers for a media with this one rendition pinned
  const held = '#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=800000,NAME="360p"\n360p/index.m3u8\n'
  t.context = await world({ playlistTtlMs: 0 }, { held: rendition => ({ rendition: (id, profile) => id === ID && profile === PROFILE ? rendition.root : undefined, master: id => id === ID ? held : undefined }) })
  const w = t.context
  await copyBlocks(w.peer, w.local)
  t.is((await w.resolver.mediaFile({ id: ID, profile: PROFILE, file: '0.m4s' })).source, 'local')
  t.like(await w.resolver.playlist({ id: ID, profile: PROFILE }), { source: 'local' })
  t.deepEqual(w.origin.requests, [], 'not even the rendition roots were asked for')
  t.deepEqual(await w.resolver.playlist({ id: ID }), { source: 'origin', text: MASTER }, 'with the origin up, its master')
  await w.origin.close()
  t.deepEqual(await w.resolver.playlist({ id: ID }), { source: 'local', text: held }, 'the origin down: the held master, before the cached one')
})

test('a complete rendition\'s playlist held here is served as a file by its CID', async t => {
  t.context = await world()
  const w = t.context
  await copyBlocks(w.peer, w.local)
  const answer = await w.resolver.playlist({ id: ID, profile: PROFILE })
  t.true('file' in answer && answer.file.cid.equals(w.rendition.files.get('index.m3u8')?.cid as CID))
  t.false(w.origin.requests.some(r => r.endsWith('index.m3u8')))
})

test('with the data folder full, verified origin bytes are served from memory and not stored', async t => {
  t.context = await world({}, { quotaBytes: 0 })
  const w = t.context
  const answer = await w.resolver.mediaFile({ id: ID, profile: PROFILE, file: '1.m4s' })
  t.is(answer.source, 'origin')
  t.deepEqual(await read(w.resolver, answer), w.rendition.files.get('1.m4s')?.bytes)
  t.false(await w.local.has(w.rendition.files.get('1.m4s')?.cid as CID))
})

test('an /ipfs answer missing here is brought by a trustless CAR of the origin; held here, it is local', async t => {
  t.context = await world()
  const w = t.context
  const file = w.rendition.files.get('1.m4s')
  const path = `/ipfs/${w.rendition.root.toString()}/1.m4s`
  const need: ContentNeed = { root: w.rendition.root, segments: ['1.m4s'], format: 'deserialized', path, url: path }
  const first = await w.resolver.content(need)
  t.is(first.source, 'origin')
  t.deepEqual(segmentRequests(w), [`${path}?format=car&dag-scope=entity`])
  t.true(await w.local.has(file?.cid as CID), 'the CAR\'s blocks are kept')

  const second = await w.resolver.content(need)
  t.is(second.source, 'local')
  t.is(segmentRequests(w).length, 1)
})
