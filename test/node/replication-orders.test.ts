import { join } from 'node:path'
import anyTest from 'ava'
import { CID } from 'multiformats/cid'
import { fixture } from '../../fixtures/media.ts'
import { providerLookup } from '../../core/edge/index.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer, rememberedToken, TEST_ACCOUNTS } from '../helpers/auth.ts'
import { streamToken, withToken } from '../helpers/stream-url.ts'
import { registeredNode } from '../helpers/registered-node.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import { startOriginProxy } from './origin-proxy.ts'
import type { ReplicationView } from '../../core/replication/index.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { OriginProxy } from './origin-proxy.ts'
import type { ExecutionContext, TestFn } from 'ava'

/*
 * Replication end to end inside one process: a real main server (catalog, transcoder, content index, control
 * protocol) and real CDN nodes. Orders go out through the API, reach the node in a heartbeat reply (the server
 * nudges it: heartbeats here are 30 s apart, so a prompt pin proves the nudge), and come back as reports.
 */

interface Context {
  dir: string
  remove: () => Promise<void>
  running: Array<{ stop: () => Promise<void> }>
}

const test = anyTest as TestFn<Context>
/** Seconds between heartbeats the server asks for: longer than any wait here, so only a nudge is prompt. */
const SLOW_HEARTBEAT_SECONDS = 30

test.beforeEach(async t => {
  const dir = await tempDir('cidcast-replication-orders-')
  t.context = { dir: dir.path, remove: dir.remove, running: [] }
})

test.afterEach.always(async t => {
  for (const part of t.context.running.reverse()) await part.stop().catch(() => {})
  await t.context.remove()
})

async function server (t: ExecutionContext<Context>): Promise<{ server: RunningServer, id: string, root: string, files: string[] }> {
  const started = await startServer({ dataDir: join(t.context.dir, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: SLOW_HEARTBEAT_SECONDS, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  t.context.running.push(started)
  // remembered by its URL, for `api()`; the playlist is read as the admin too (a stream token would be carried into it)
  const token = await adminToken(started)
  const media = await started.addMedia(await fixture('odd-854x480-6s'))
  await started.transcoder.complete(await started.library.job(media.id, '360p'))
  const root = (await started.library.get(media.id)).renditions.find(r => r.profile === '360p')?.root
  if (root == null) throw new Error('the 360p rendition did not complete')
  const playlist = await (await fetch(`${started.url}/media/${media.id}/360p/index.m3u8`, { headers: bearer(token) })).text()
  return { server: started, id: media.id, root, files: ['index.m3u8', 'init.mp4', ...playlist.split('\n').filter(l => l.endsWith('.m4s'))] }
}

async function node (t: ExecutionContext<Context>, name: string, serverUrl: string, options: StartNodeOptions = {}): Promise<RunningNode> {
  return await registeredNode(t.context, serverUrl, name, options)
}

async function proxy (t: ExecutionContext<Context>, target: string): Promise<OriginProxy> {
  const started = await startOriginProxy(target)
  t.context.running.push(started)
  return started
}

/** A call to the main server at `base` as its admin (replication orders are theirs). */
async function api<T> (base: string, method: string, path: string, body?: unknown): Promise<{ status: number, body: T }> {
  const token = rememberedToken(base)
  if (token == null) throw new Error(`no admin token for ${base}`)
  const res = await fetch(base + path, { method, headers: { ...bearer(token), ...body === undefined ? {} : { 'Content-Type': 'application/json' } }, body: body === undefined ? undefined : JSON.stringify(body) })
  return { status: res.status, body: await res.json() as T }
}

async function row (base: string, node: string, cid: string): Promise<ReplicationView | undefined> {
  const { body } = await api<{ items: ReplicationView[] }>(base, 'GET', `/api/v1/replications?node=${node}&cid=${cid}`)
  return body.items[0]
}

async function nodeUsedBytes (base: string, name: string): Promise<number> {
  const { body } = await api<{ items: Array<{ name: string, capacity: { usedBytes: number } }> }>(base, 'GET', '/api/v1/nodes')
  return body.items.find(n => n.name === name)?.capacity.usedBytes ?? -1
}

test('a rendition ordered to a node through the API is pinned there at once, located, and plays from the node without the main server', async t => {
  const { server: main, id, root, files } = await server(t)
  const origin = await proxy(t, main.url)
  const alpha = await node(t, 'alpha', origin.url)

  const started = Date.now()
  const ordered = await api<{ items: ReplicationView[] }>(main.url, 'POST', '/api/v1/replications', { media: id, profile: '360p', node: 'alpha' })
  t.is(ordered.status, 202)
  const pinned = await waitFor(async () => { const r = await row(main.url, 'alpha', root); return r?.state === 'pinned' && r }, 20_000, 'alpha to pin the rendition')
  // a behaviour, not a speed: the nudge delivered the order; waiting for the next beat would take up to 30 s
  t.true(Date.now() - started < SLOW_HEARTBEAT_SECONDS * 1000 / 2, 'the order did not wait for a heartbeat')
  t.is(pinned.progress.percent, 100)
  t.is(pinned.progress.blocksDone, pinned.progress.blocksTotal ?? -1)
  t.is(pinned.reason, null)

  const locations = await api<{ renditions: Array<{ profile: string, locations: ReplicationView[] }> }>(main.url, 'GET', `/api/v1/media/${id}/locations`)
  t.deepEqual(locations.body.renditions.find(r => r.profile === '360p')?.locations.map(l => [l.node.name, l.state]), [['alpha', 'pinned']])

  t.true(origin.requests.some(p => /^\/ipfs\/[a-z0-9]+\?format=raw$/.test(p)), 'the blocks came through the main server\'s trustless gateway')

  // the master playlist comes once from the main server; every rendition file after that is local
  const token = await streamToken(main, id)
  t.is((await fetch(withToken(`${alpha.url}/media/${id}/master.m3u8`, token))).status, 200)
  origin.requests.length = 0
  for (const file of files) {
    const res = await fetch(withToken(`${alpha.url}/media/${id}/360p/${file}`, token))
    t.is(res.headers.get('x-cidcast-source'), 'local', file)
    t.true(Buffer.from(await res.arrayBuffer()).equals(Buffer.from(await (await fetch(withToken(`${main.url}/media/${id}/360p/${file}`, token))).arrayBuffer())), file)
  }
  t.deepEqual(origin.requests.filter(p => /^\/(media|ipfs|api\/v1\/media)\//.test(p)), [], 'no content request reached the main server')
})

test('with the main server stopped, a node pins the root from another node it learned of through the routing API', async t => {
  const { server: main, id, root } = await server(t)
  const alpha = await node(t, 'alpha', main.url)
  const beta = await node(t, 'beta', main.url)
  await api(main.url, 'POST', '/api/v1/replications', { media: id, profile: '360p', node: 'alpha' })
  await waitFor(async () => (await row(main.url, 'alpha', root))?.state === 'pinned', 20_000, 'alpha to pin')

  const routing = await (await fetch(`${main.url}/routing/v1/providers/${root}`)).json() as { Providers: Array<{ ID: string, Addrs: string[], Protocols: string[] }> }
  const named = routing.Providers.find(p => p.ID === alpha.peer.libp2p.peerId.toString())
  t.truthy(named, 'the routing API names alpha')
  t.deepEqual(named?.Protocols, ['transport-bitswap', 'transport-ipfs-gateway-http'])
  t.true(named?.Addrs.includes(`/ip4/127.0.0.1/tcp/${new URL(alpha.url).port}/http`), 'with its gateway as an /http multiaddr')
  // the node's own lookup reads that answer into providers with a gateway
  const providers = await providerLookup(main.url)(CID.parse(root), { signal: AbortSignal.timeout(5000) })
  t.is(providers.find(p => p.peerId === named?.ID)?.gateway, alpha.url.replace(/\/?$/, ''))

  const token = await streamToken(main, id)
  await main.stop()
  await waitFor(() => beta.peer.libp2p.getConnections(main.peer.libp2p.peerId).length === 0, 10_000, 'the main server to be gone')
  const fetched = await beta.pinner.pin(CID.parse(root), { providers })
  t.is(fetched.blocksDone, fetched.blocksTotal ?? -1)
  t.is(fetched.bytesFetched, fetched.bytesDone, 'every block came over the network, from alpha')
  t.is(fetched.bytesFromGateways, fetched.bytesFetched, 'through alpha\'s gateway, which took beta\'s node credential')
  // the media's playlists need the main server; the rendition's own files are all on beta now
  const res = await fetch(withToken(`${beta.url}/ipfs/${root}/init.mp4`, token), { headers: { 'Cache-Control': 'only-if-cached' } })
  t.is(res.status, 200)
  t.is(res.headers.get('x-cidcast-source'), 'local')
})

test('an unpin through the API removes the blocks from the node and the next heartbeat reports the space', async t => {
  const { server: main, id, root } = await server(t)
  const alpha = await node(t, 'alpha', main.url, { heartbeatSeconds: 1 })
  await api(main.url, 'POST', '/api/v1/replications', { media: id, profile: '360p', node: 'alpha' })
  const pinned = await waitFor(async () => { const r = await row(main.url, 'alpha', root); return r?.state === 'pinned' && r }, 20_000, 'alpha to pin')
  const held = await waitFor(async () => { const used = await nodeUsedBytes(main.url, 'alpha'); return used >= (pinned.progress.bytesTotal ?? 0) && used }, 20_000, 'the space to be reported')

  const removed = await api(main.url, 'DELETE', `/api/v1/replications?cid=${root}&node=alpha`)
  t.is(removed.status, 202)
  await waitFor(async () => { const r = await row(main.url, 'alpha', root); return r == null }, 20_000, 'the unpin to finish')
  t.false(await alpha.peer.blockstore.has(CID.parse(root)), 'the root block is gone')
  const freed = await waitFor(async () => { const used = await nodeUsedBytes(main.url, 'alpha'); return used < held && held - used }, 20_000, 'the freed space to be reported')
  t.true(freed >= (pinned.progress.bytesTotal ?? 0) - 4096, `${freed} bytes freed for a DAG of ${pinned.progress.bytesTotal ?? '?'}`)
})
