import { join } from 'node:path'
import anyTest from 'ava'
import { CID } from 'multiformats/cid'
import { fixture } from '../../fixtures/media.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { manualClock } from '../helpers/clock.ts'
import { streamToken, withToken } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import { startOriginProxy } from './origin-proxy.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { ExecutionContext, TestFn } from 'ava'

/** A complete rendition on the main server: its media, root, a stream token, and each file's CID and size. */
interface Rendition {
  id: string
  root: string
  token: string
  files: Map<string, { cid: string, bytes: number }>
  /** Its segment names, in order. */
  segments: string[]
}

interface Shared {
  server: RunningServer
  dir: string
  remove: () => Promise<void>
  swarmKey: string
  /** 10 s: five segments. */
  long: Rendition
  /** 6 s: three segments; pinned by the test that needs a pin. */
  short: Rendition
  running: Array<{ stop: () => Promise<void> }>
}

const test = anyTest as TestFn<Shared>

async function rendition (server: RunningServer, name: Parameters<typeof fixture>[0]): Promise<Rendition> {
  const media = await server.addMedia(await fixture(name))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  const root = (await server.library.get(media.id)).renditions.find(r => r.profile === '360p')?.root
  if (root == null) throw new Error(`the 360p rendition of ${name} did not complete`)
  const admin = bearer(await adminToken(server))
  const playlist = await (await fetch(`${server.url}/media/${media.id}/360p/index.m3u8`, { headers: admin })).text()
  const segments = playlist.split('\n').filter(l => l.endsWith('.m4s'))
  const files = new Map<string, { cid: string, bytes: number }>()
  for (const file of ['index.m3u8', 'init.mp4', ...segments]) {
    const res = await fetch(`${server.url}/media/${media.id}/360p/${file}`, { headers: admin })
    const bytes = (await res.arrayBuffer()).byteLength
    files.set(file, { cid: (res.headers.get('etag') ?? '').replace(/^(W\/)?"|"$/g, ''), bytes })
  }
  return { id: media.id, root, token: await streamToken(server, media.id), files, segments }
}

test.before(async t => {
  const dir = await tempDir('cidcast-node-cache-')
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  t.context = { server, dir: dir.path, remove: dir.remove, swarmKey: join(dir.path, 'server', 'swarm.key'), running: [] } as unknown as Shared
  t.context.long = await rendition(server, 'h264-aac-10s')
  t.context.short = await rendition(server, 'odd-854x480-6s')
  if (t.context.long.segments.length < 5) throw new Error(`the 10 s rendition has ${t.context.long.segments.length} segments`)
})

test.after.always(async t => {
  for (const part of t.context.running?.reverse() ?? []) await part.stop().catch(() => {})
  await t.context.server?.stop()
  await t.context.remove?.()
})

let nodes = 0

/** A node on loopback (a fresh data folder unless `dataDir` is given), talking to `server`. */
async function node (t: ExecutionContext<Shared>, server: string, options: StartNodeOptions = {}): Promise<RunningNode> {
  const running = await startNode({
    dataDir: join(t.context.dir, `node-${++nodes}`),
    swarmKeyFile: t.context.swarmKey,
    server,
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent',
    minBackoffMs: 100,
    maxBackoffMs: 500,
    name: `cache node ${nodes}`,
    ...options
  })
  t.context.running.push(running)
  // stream tokens are checked with the keys registration brings
  await waitFor(() => running.status().state === 'registered', 20_000, `registration (last error ${JSON.stringify(running.status().error)})`)
  return running
}

/** GETs a file of a rendition through a node; its status and source. */
async function get (cdn: RunningNode, r: Rendition, file: string, headers: Record<string, string> = {}): Promise<{ status: number, source: string | null }> {
  const res = await fetch(withToken(`${cdn.url}/media/${r.id}/360p/${file}`, r.token), { headers })
  await res.arrayBuffer()
  return { status: res.status, source: res.headers.get('x-cidcast-source') }
}

/** Whether the node holds a file (only-if-cached: nobody else is asked). */
async function holds (cdn: RunningNode, r: Rendition, file: string): Promise<boolean> {
  const { status } = await get(cdn, r, file, { 'Cache-Control': 'only-if-cached' })
  if (status !== 200 && status !== 412) throw new Error(`only-if-cached ${file} answered ${status}`)
  return status === 200
}

async function metric (cdn: RunningNode, name: string): Promise<number> {
  const values = (await cdn.metrics.registry.getSingleMetric(name)?.get())?.values ?? []
  return values.reduce((n, v) => n + v.value, 0)
}

/** The rendition's segments from largest to smallest. */
function bySize (r: Rendition): string[] {
  return [...r.segments].sort((a, b) => (r.files.get(b)?.bytes ?? 0) - (r.files.get(a)?.bytes ?? 0))
}

function size (r: Rendition, ...files: string[]): number {
  return files.reduce((n, f) => n + (r.files.get(f)?.bytes ?? 0), 0)
}

test('past a tiny budget the lowest-value file goes first; evicted, it comes back by fallback and is kept again', async t => {
  const { long } = t.context
  const [cold, middle, newer] = bySize(long)
  const hot = long.segments.find(s => ![cold, middle, newer].includes(s)) ?? ''
  // room for hot, cold and newer together less one byte: keeping newer evicts exactly one file
  const cdn = await node(t, t.context.server.url, { cacheBytes: size(long, hot, cold, newer) - 1, cacheMinLifetimeSeconds: 0, readAheadSegments: 0 })
  t.is((await get(cdn, long, hot)).source, 'origin')
  for (let i = 0; i < 8; i++) t.is((await get(cdn, long, hot)).source, 'local')
  t.is((await get(cdn, long, cold)).source, 'origin')
  t.is((await get(cdn, long, newer)).source, 'origin')

  // the cold file (one hit, the most bytes) had the lowest value: hits per byte
  t.false(await holds(cdn, long, cold))
  t.true(await holds(cdn, long, hot))
  t.true(await holds(cdn, long, newer))
  t.is(await metric(cdn, 'cidcast_node_cache_evictions_total'), 1)
  t.true(await metric(cdn, 'cidcast_node_cache_hits_total') >= 8)
  const health = await (await fetch(`${cdn.url}/healthz`)).json() as { capacity: { cacheBytes: number, cacheUsedBytes: number } }
  t.is(health.capacity.cacheBytes, size(long, hot, cold, newer) - 1)
  t.is(health.capacity.cacheUsedBytes, size(long, hot, newer))
  t.is(await metric(cdn, 'cidcast_node_cache_bytes'), size(long, hot, newer))
  // heartbeats carry them to the main server, which lists them with the node
  const admin = bearer(await adminToken(t.context.server))
  await waitFor(async () => {
    const listed = await (await fetch(`${t.context.server.url}/api/v1/nodes`, { headers: admin })).json() as { items: Array<{ peerId: string, capacity: { cacheBytes?: number, cacheUsedBytes?: number } }> }
    const row = listed.items.find(n => n.peerId === cdn.peer.libp2p.peerId.toString())
    return row?.capacity.cacheBytes === size(long, hot, cold, newer) - 1 && row.capacity.cacheUsedBytes === size(long, hot, newer)
  }, 10_000, 'the node\'s cache figures in the node list')

  // asked again, it comes by fallback and is kept again (something else gives way)
  t.is((await get(cdn, long, cold)).source, 'origin')
  t.is((await get(cdn, long, cold)).source, 'local')
})

test('the blocks of a pinned rendition are never evicted, also those first kept from a fallback answer', async t => {
  const { long, short } = t.context
  const largest = Math.max(...[...long.files.values(), ...short.files.values()].map(f => f.bytes))
  const cdn = await node(t, t.context.server.url, { cacheBytes: largest, cacheMinLifetimeSeconds: 0, readAheadSegments: 0 })
  const [first] = short.segments
  t.is((await get(cdn, short, first)).source, 'origin')
  t.true(cdn.cache.files().some(f => f.key === short.files.get(first)?.cid))
  await cdn.pin(CID.parse(short.root))

  // each fallback file leaves room for nothing else: every other kept file is a candidate
  for (const segment of long.segments) t.is((await get(cdn, long, segment)).source, 'origin', segment)
  t.true(await metric(cdn, 'cidcast_node_cache_evictions_total') >= long.segments.length - 1)
  t.false(cdn.cache.files().some(f => f.key === short.files.get(first)?.cid), 'the pin holds it, not the cache')
  for (const file of short.files.keys()) {
    const res = await get(cdn, short, file, { 'Cache-Control': 'only-if-cached' })
    t.is(res.status, 200, file)
    t.is(res.source, 'local', file)
  }
})

test('a file younger than the minimum lifetime is not evicted: the miss is served from memory until it ages', async t => {
  const { long } = t.context
  const [a, b, c] = long.segments
  const clock = manualClock(Date.now())
  const cdn = await node(t, t.context.server.url, { cacheBytes: size(long, a, b), cacheMinLifetimeSeconds: 600, readAheadSegments: 0, cacheClock: clock })
  t.is((await get(cdn, long, a)).source, 'origin')
  t.is((await get(cdn, long, b)).source, 'origin')
  const served = await get(cdn, long, c)
  t.is(served.status, 200)
  t.is(served.source, 'origin')
  t.false(await holds(cdn, long, c), 'served from memory, not kept')
  t.true(await holds(cdn, long, a))
  t.true(await holds(cdn, long, b))
  t.is(await metric(cdn, 'cidcast_node_cache_evictions_total'), 0)

  clock.advance(600_000)
  t.is((await get(cdn, long, c)).source, 'origin')
  t.true(await holds(cdn, long, c), 'kept now that older files may go')
  t.true(await metric(cdn, 'cidcast_node_cache_evictions_total') >= 1)
})

test('the cache index survives a restart: files kept before it are counted and evicted after it', async t => {
  const { long } = t.context
  const [cold, , newer] = bySize(long)
  const hot = long.segments.find(s => s !== cold && s !== newer) ?? ''
  const dataDir = join(t.context.dir, `node-${++nodes}`)
  const settings = { dataDir, cacheMinLifetimeSeconds: 0, readAheadSegments: 0 }
  const before = await node(t, t.context.server.url, { ...settings, cacheBytes: size(long, hot, cold) })
  t.is((await get(before, long, hot)).source, 'origin')
  for (let i = 0; i < 5; i++) t.is((await get(before, long, hot)).source, 'local')
  t.is((await get(before, long, cold)).source, 'origin')
  await before.stop()

  const after = await node(t, t.context.server.url, { ...settings, cacheBytes: size(long, hot, cold, newer) - 1 })
  const health = await (await fetch(`${after.url}/healthz`)).json() as { capacity: { cacheUsedBytes: number } }
  t.is(health.capacity.cacheUsedBytes, size(long, hot, cold))
  // six hits (the keep and five), decayed by the seconds since (half-life 6 h)
  t.true((after.cache.files().find(f => f.key === long.files.get(hot)?.cid)?.frequency ?? 0) > 5.99, 'hits were kept too')
  t.is((await get(after, long, newer)).source, 'origin')
  t.false(await holds(after, long, cold), 'the cold file kept before the restart was evicted')
  t.true(await holds(after, long, hot))
})

test('a segment got by fallback makes the next three local soon after, and read-ahead stops at the rendition\'s end', async t => {
  const { long } = t.context
  const origin = await startOriginProxy(t.context.server.url)
  t.context.running.push(origin)
  const cdn = await node(t, origin.url)
  const kept = (file: string): boolean => cdn.cache.files().some(f => f.key === long.files.get(file)?.cid)
  // as a player: the playlists first, then the first segment
  t.is((await fetch(withToken(`${cdn.url}/media/${long.id}/master.m3u8`, long.token))).status, 200)
  t.is((await get(cdn, long, 'index.m3u8')).status, 200)
  t.is((await get(cdn, long, long.segments[0])).source, 'origin')
  await waitFor(() => long.segments.slice(1, 4).every(kept), 20_000, 'segments 1-3 read ahead')
  await cdn.readAheadSettled()
  t.false(kept(long.segments[4]), 'three ahead, no more')
  t.true(await metric(cdn, 'cidcast_node_read_ahead_bytes_total') >= size(long, ...long.segments.slice(1, 4)))

  // the player goes on: local now, and each read-ahead hit keeps read-ahead going, up to the last segment
  for (const segment of long.segments.slice(1)) {
    await waitFor(async () => kept(segment), 20_000, `${segment} read ahead`)
    t.is((await get(cdn, long, segment)).source, 'local', segment)
  }
  await cdn.readAheadSettled()
  t.true(await metric(cdn, 'cidcast_node_read_ahead_hits_total') >= 4)
  const past = `/media/${long.id}/360p/${long.segments.length}.m4s`
  t.false(origin.requests.some(p => p.startsWith(past)), `nothing asked past the end: ${origin.requests.join(' ')}`)
})
