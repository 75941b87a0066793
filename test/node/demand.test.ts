import { join } from 'node:path'
import anyTest from 'ava'
import Database from 'better-sqlite3'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { fixture } from '../../fixtures/media.ts'
import { startNode } from '../../node/cdn-node.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { rootToken, streamToken, withToken } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { ServedReport } from '../../core/control/index.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { ExecutionContext, TestFn } from 'ava'

/*
 * Demand signals (issue #13, item 1) between real processes' parts: a main server and CDN nodes in this process,
 * real HTTP, libp2p and sqlite. The server's `onServed` hook shows what each heartbeat brought after validation. A
 * heartbeat is made to fail by holding the catalog's write lock (as another process would): the server answers it
 * with an error after its short busy wait, and the node registers again once the lock is gone.
 */

interface Beat {
  peerId: string
  reports: ServedReport[]
  at: number
}

interface Shared {
  server: RunningServer
  dir: string
  remove: () => Promise<void>
  id: string
  root: string
  /** `index.m3u8`, `init.mp4` and every `{n}.m4s` of the 360p rendition. */
  files: string[]
  beats: Beat[]
  running: RunningNode[]
}

const test = anyTest as TestFn<Shared>
/**
 * The catalog's busy wait: well under the nodes' heartbeat deadline (a beat, 3 s), so a refused beat is never taken
 * late; and long enough that writes queued behind each other on a loaded machine (the whole suite runs beside) are not
 * refused as busy, which kept a node from any answered beat for 10 s at 150 ms.
 */
const BUSY_WAIT_MS = 1000

test.before(async t => {
  const dir = await tempDir('cidcast-demand-')
  const beats: Beat[] = []
  const server = await startServer({
    dataDir: join(dir.path, 'server'),
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    dnsListen: '127.0.0.1:0',
    heartbeatSeconds: 3,
    logLevel: 'silent',
    accounts: TEST_ACCOUNTS,
    catalog: { busyWaitMs: BUSY_WAIT_MS },
    onServed: (peerId, reports, at) => { beats.push({ peerId, reports, at }) }
  })
  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  const root = (await server.library.get(media.id)).renditions.find(r => r.profile === '360p')?.root
  if (root == null) throw new Error('the 360p rendition did not complete')
  const playlist = await (await fetch(`${server.url}/media/${media.id}/360p/index.m3u8`, { headers: bearer(await adminToken(server)) })).text()
  const files = ['index.m3u8', 'init.mp4', ...playlist.split('\n').filter(l => l.endsWith('.m4s'))]
  t.context = { server, dir: dir.path, remove: dir.remove, id: media.id, root, files, beats, running: [] }
})

test.after.always(async t => {
  for (const part of t.context.running?.reverse() ?? []) await part.stop().catch(() => {})
  await t.context.server?.stop()
  await t.context.remove?.()
})

let nodes = 0

/** A registered node on loopback with a fresh data folder. */
async function node (t: ExecutionContext<Shared>, options: StartNodeOptions = {}): Promise<RunningNode> {
  const running = await startNode({
    dataDir: join(t.context.dir, `node-${++nodes}`),
    swarmKeyFile: join(t.context.dir, 'server', 'swarm.key'),
    server: t.context.server.url,
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent',
    minBackoffMs: 100,
    maxBackoffMs: 300,
    name: `demand node ${nodes}`,
    ...options
  })
  t.context.running.push(running)
  await waitFor(() => running.status().state === 'registered', 20_000, 'registration')
  return running
}

async function get (url: string, token: string, headers: Record<string, string> = {}): Promise<{ status: number, source: string | null, body: Buffer }> {
  const res = await fetch(withToken(url, token), { headers, redirect: 'manual' })
  return { status: res.status, source: res.headers.get('x-cidcast-source'), body: Buffer.from(await res.arrayBuffer()) }
}

/** The beats of one node that carried served reports. */
function beatsOf (t: ExecutionContext<Shared>, cdn: RunningNode): Beat[] {
  const peerId = cdn.peer.libp2p.peerId.toString()
  return t.context.beats.filter(b => b.peerId === peerId)
}

/** Every report of `key` (a root, or `media/profile`) a node sent so far, and their sum. */
function totals (t: ExecutionContext<Shared>, cdn: RunningNode, key: string): { reports: ServedReport[], sum: Omit<ServedReport, 'root' | 'media' | 'profile' | 'firstAt' | 'lastAt'> } {
  const reports = beatsOf(t, cdn).flatMap(b => b.reports).filter(r => (r.root ?? `${r.media ?? ''}/${r.profile ?? ''}`) === key)
  const sum = { requests: 0, bytes: 0, local: 0, peer: 0, origin: 0, redirects: 0, viewers: 0 }
  for (const r of reports) {
    for (const field of Object.keys(sum) as Array<keyof typeof sum>) sum[field] += r[field]
  }
  return { reports, sum }
}

/** Resolves after the node's next `count` heartbeats have been answered. */
async function heartbeats (cdn: RunningNode, count: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    const last = cdn.status().lastHeartbeatAt
    await waitFor(() => cdn.status().state === 'registered' && cdn.status().lastHeartbeatAt !== last, 10_000, 'a heartbeat')
  }
}

/** Holds the write lock of the main server's catalog, as another process would; returns its release. */
async function lockCatalog (t: ExecutionContext<Shared>): Promise<() => void> {
  const db = new Database(join(t.context.dir, 'server', 'catalog.sqlite'), { timeout: 0 })
  // the server may be inside a transaction right now: try again on timers, never block its event loop
  await waitFor(() => {
    try {
      db.exec('BEGIN EXCLUSIVE')
      return true
    } catch {
      return false
    }
  }, 10_000, 'the catalog\'s write lock')
  return () => {
    db.exec('ROLLBACK')
    db.close()
  }
}

test.serial('a node reports what it served per root: local, origin fallback and redirect answers with their bytes, once', async t => {
  const { id, root, files, server } = t.context
  const viewerA = await streamToken(server, id, { userId: 'viewer-a' })
  const viewerB = await streamToken(server, id, { userId: 'viewer-b' })
  const origin = await node(t)
  const redirecting = await node(t, { fallback: 'redirect' })

  const master = await get(`${origin.url}/media/${id}/master.m3u8`, viewerA)
  t.is(master.source, 'origin')
  const miss = await get(`${origin.url}/media/${id}/360p/${files[2]}`, viewerA)
  t.is(miss.source, 'origin')
  await origin.pin(CID.parse(root))
  const init = await get(`${origin.url}/media/${id}/360p/init.mp4`, viewerB)
  const segment = await get(`${origin.url}/media/${id}/360p/${files[3]}`, viewerB)
  const range = await get(`${origin.url}/media/${id}/360p/${files[3]}`, viewerB, { Range: 'bytes=0-99' })
  t.deepEqual([init.source, segment.source, range.source, range.status, range.body.byteLength], ['local', 'local', 'local', 206, 100])
  const redirect = await get(`${redirecting.url}/media/${id}/360p/${files[4]}`, viewerA)
  t.is(redirect.status, 302)

  await waitFor(() => totals(t, origin, root).sum.requests >= 4 && totals(t, redirecting, root).sum.requests >= 1 && totals(t, origin, `${id}/`).sum.requests >= 1, 20_000, 'the served reports')
  const local = init.body.byteLength + segment.body.byteLength + 100
  t.like(totals(t, origin, root).sum, { requests: 4, local, origin: miss.body.byteLength, peer: 0, bytes: local + miss.body.byteLength, redirects: 0 })
  t.like(totals(t, origin, `${id}/`).sum, { requests: 1, origin: master.body.byteLength, bytes: master.body.byteLength }, 'the master playlist counts under the media')
  t.like(totals(t, redirecting, root).sum, { requests: 1, redirects: 1, bytes: 0 })
  for (const report of totals(t, origin, root).reports) t.true(report.viewers >= 1 && report.viewers <= 2)

  // reported once: the next beats carry nothing of it
  const before = beatsOf(t, origin).length
  await heartbeats(origin, 2)
  t.is(beatsOf(t, origin).length, before, 'nothing served since, nothing reported')
  t.like(totals(t, origin, root).sum, { requests: 4, bytes: local + miss.body.byteLength })

  const metrics = await (await fetch(`${origin.url}/metrics`)).text()
  t.regex(metrics, /cidcast_node_served_requests_total\{source="local"\} 3/)
  t.regex(metrics, new RegExp(`cidcast_node_served_bytes_total\\{source="local"\\} ${local}\\b`))
})

test.serial('a segment a node fetched by fallback and kept, asked again, is a local hit at the server too', async t => {
  const { id, root, files, server } = t.context
  const viewer = await streamToken(server, id, { userId: 'viewer-kept' })
  const cdn = await node(t, { readAheadSegments: 0 })
  const miss = await get(`${cdn.url}/media/${id}/360p/${files[1]}`, viewer)
  t.is(miss.source, 'origin')
  await waitFor(() => totals(t, cdn, root).sum.origin > 0, 20_000, 'the miss reported')
  const again = await get(`${cdn.url}/media/${id}/360p/${files[1]}`, viewer)
  t.is(again.source, 'local', 'kept from the miss')
  await waitFor(() => totals(t, cdn, root).sum.requests >= 2, 20_000, 'the hit reported')
  t.like(totals(t, cdn, root).sum, { local: again.body.byteLength, origin: miss.body.byteLength }, 'not pinned, but fetched by it: its local bytes count')
})

test.serial('a failed heartbeat keeps its counts: the same batch goes again and is counted once, what came since follows', async t => {
  const { id, root, files, server } = t.context
  const cdn = await node(t)
  await cdn.pin(CID.parse(root))
  const viewerA = await streamToken(server, id, { userId: 'viewer-a' })
  const viewerB = await streamToken(server, id, { userId: 'viewer-b' })

  // right after a beat, so the next one (a beat later) is the one that takes these counts
  await heartbeats(cdn, 1)
  const first = await get(`${cdn.url}/media/${id}/360p/${files[2]}`, viewerA)
  const second = await get(`${cdn.url}/media/${id}/360p/${files[3]}`, viewerA)
  const release = await lockCatalog(t)
  try {
    await waitFor(() => cdn.status().state === 'retrying', 10_000, 'a refused heartbeat')
    t.is(totals(t, cdn, root).reports.length, 0, 'the server took nothing of them')
    const third = await get(`${cdn.url}/media/${id}/360p/${files[4]}`, viewerB)
    t.is(third.source, 'local')
    release()
    const bytes = first.body.byteLength + second.body.byteLength + third.body.byteLength
    await waitFor(() => totals(t, cdn, root).sum.requests >= 3, 20_000, 'the counts after the failure')
    const { reports, sum } = totals(t, cdn, root)
    t.like(sum, { requests: 3, local: bytes, bytes }, 'each answer counted once, even when the server took a beat the node never heard back from')
    t.true(reports.length <= 2, 'the batch the server did not acknowledge, then what came since')
  } finally {
    try { release() } catch {}
  }
})

test.serial('600 roots served between two beats are reported over two beats: the 512 largest, then the rest', async t => {
  const { server } = t.context
  const cdn = await node(t)
  const blocks = await Promise.all(Array.from({ length: 600 }, async (_, i) => {
    const bytes = Buffer.alloc(100 + i, i % 251)
    bytes.writeUInt32BE(i)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await cdn.peer.blockstore.put(cid, bytes)
    return { cid: cid.toString(), size: bytes.byteLength }
  }))
  // a stream token covers at most 16 roots
  const tokens = new Map<string, string>()
  for (let i = 0; i < blocks.length; i += 16) {
    const group = blocks.slice(i, i + 16).map(b => b.cid)
    const token = rootToken(server, group)
    for (const cid of group) tokens.set(cid, token)
  }

  const release = await lockCatalog(t)
  try {
    await waitFor(() => cdn.status().state === 'retrying', 10_000, 'a refused heartbeat')
    for (let i = 0; i < blocks.length; i += 20) {
      await Promise.all(blocks.slice(i, i + 20).map(async ({ cid }) => {
        const res = await get(`${cdn.url}/ipfs/${cid}?format=raw`, tokens.get(cid) ?? '')
        if (res.status !== 200 || res.source !== 'local') throw new Error(`/ipfs/${cid} answered ${res.status} from ${res.source}`)
      }))
    }
  } finally {
    release()
  }
  await waitFor(() => beatsOf(t, cdn).length >= 2, 20_000, 'two beats with served reports')
  const [first, second] = beatsOf(t, cdn)
  t.is(first.reports.length, 512)
  t.is(second.reports.length, 88)
  const bySize = [...blocks].sort((a, b) => b.size - a.size).map(b => b.cid)
  t.deepEqual(first.reports.map(r => r.root).sort(), bySize.slice(0, 512).sort(), 'the largest by bytes first')
  t.deepEqual(second.reports.map(r => r.root).sort(), bySize.slice(512).sort())
  t.true([...first.reports, ...second.reports].every(r => r.requests === 1 && r.local === 0), 'local bytes of roots not pinned here count as 0 at the server')
})
