import { randomBytes } from 'node:crypto'
import { readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import anyTest from 'ava'
import { MemoryBlockstore } from 'blockstore-core'
import { CID } from 'multiformats/cid'
import { fixture } from '../../fixtures/media.ts'
import { verifyFileBytes } from '../../core/edge/index.ts'
import { IMPORT_OPTIONS } from '../../core/ipfs/index.ts'
import { generateSwarmKey } from '../../core/config/index.ts'
import { startNode } from '../../node/cdn-node.ts'
import { NODE_CONFIG_FILE } from '../../core/config/index.ts'
import { startServer } from '../../node/server.ts'
import { adminToken, bearer, TEST_ACCOUNTS, viewerToken } from '../helpers/auth.ts'
import { streamToken, withToken } from '../helpers/stream-url.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import { startOriginProxy } from './origin-proxy.ts'
import type { AgentStatus } from '../../core/edge/index.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { RunningServer } from '../../node/server.ts'
import type { OriginProxy } from './origin-proxy.ts'
import type { ExecutionContext, TestFn } from 'ava'

interface Shared {
  server: RunningServer
  dir: string
  remove: () => Promise<void>
  swarmKey: string
  id: string
  /** The 360p rendition, complete and pinned on the main server. */
  root: string
  /** `index.m3u8`, `init.mp4` and every `{n}.m4s` of it. */
  files: string[]
  /** A stream token for the media (and its 360p root), which nodes ask of every `/media` and `/ipfs` request. */
  token: string
  running: Array<{ stop: () => Promise<void> }>
}

const test = anyTest as TestFn<Shared>

test.before(async t => {
  const dir = await tempDir('cidcast-cdn-node-')
  const server = await startServer({ dataDir: join(dir.path, 'server'), listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], dnsListen: '127.0.0.1:0', heartbeatSeconds: 1, logLevel: 'silent', accounts: TEST_ACCOUNTS })
  const media = await server.addMedia(await fixture('odd-854x480-6s'))
  await server.transcoder.complete(await server.library.job(media.id, '360p'))
  const view = await server.library.get(media.id)
  const root = view.renditions.find(r => r.profile === '360p')?.root
  if (root == null) throw new Error('the 360p rendition did not complete')
  // read as the admin: a playlist read under a stream token would carry the token into its segment names
  const playlist = await (await fetch(`${server.url}/media/${media.id}/360p/index.m3u8`, { headers: bearer(await adminToken(server)) })).text()
  const files = ['index.m3u8', 'init.mp4', ...playlist.split('\n').filter(l => l.endsWith('.m4s'))]
  t.context = { server, dir: dir.path, remove: dir.remove, swarmKey: join(dir.path, 'server', 'swarm.key'), id: media.id, root, files, token: await streamToken(server, media.id), running: [] }
})

test.after.always(async t => {
  for (const part of t.context.running?.reverse() ?? []) await part.stop().catch(() => {})
  await t.context.server?.stop()
  await t.context.remove?.()
})

let nodes = 0

/** A node on loopback with a fresh data folder, talking to `server` (the main server or a proxy in front of it). */
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
    name: `test node ${nodes}`,
    ...options
  })
  t.context.running.push(running)
  return running
}

/** Waits for registration (a first attempt may meet the server's per-host connection rate limit: all tests share 127.0.0.1). */
async function registered (cdn: RunningNode): Promise<AgentStatus> {
  return await waitFor(() => cdn.status().state === 'registered' && cdn.status(), 20_000, `registration (last error ${JSON.stringify(cdn.status().error)})`)
}

async function proxy (t: ExecutionContext<Shared>): Promise<OriginProxy> {
  const started = await startOriginProxy(t.context.server.url)
  t.context.running.push(started)
  return started
}

/** Requests for content or media details (not the control plane: server address, IPNS publishing). */
function contentRequests (origin: OriginProxy): string[] {
  return origin.requests.filter(p => /^\/(media|ipfs|api\/v1\/media)\//.test(p))
}

async function get (url: string, headers: Record<string, string> = {}): Promise<{ status: number, source: string | null, etag: string | null, body: Buffer, location: string | null }> {
  const res = await fetch(url, { headers, redirect: 'manual' })
  return { status: res.status, source: res.headers.get('x-cidcast-source'), etag: res.headers.get('etag'), location: res.headers.get('location'), body: Buffer.from(await res.arrayBuffer()) }
}

/** GETs a node's `/media` or `/ipfs` URL with the media's stream token. */
async function getSigned (t: ExecutionContext<Shared>, url: string, headers: Record<string, string> = {}): ReturnType<typeof get> {
  const res = await fetch(withToken(url, t.context.token), { headers, redirect: 'manual' })
  return { status: res.status, source: res.headers.get('x-cidcast-source'), etag: res.headers.get('etag'), location: res.headers.get('location'), body: Buffer.from(await res.arrayBuffer()) }
}

/** What the main server answers for `path` under the same token (a playlist carries it to its children there too). */
async function fromServer (t: ExecutionContext<Shared>, path: string): Promise<Buffer> {
  return Buffer.from(await (await fetch(withToken(t.context.server.url + path, t.context.token))).arrayBuffer())
}

test('a pinned rendition is served from local blocks and the main server sees no request', async t => {
  const { id, root, files } = t.context
  const origin = await proxy(t)
  const cdn = await node(t, origin.url)
  await registered(cdn)
  await cdn.pin(CID.parse(root))

  // the first look at a media asks the origin for its master playlist and rendition roots
  const master = await getSigned(t, `${cdn.url}/media/${id}/master.m3u8`)
  t.is(master.status, 200)
  t.is(master.source, 'origin')
  t.deepEqual(master.body, await fromServer(t, `/media/${id}/master.m3u8`))

  origin.requests.length = 0
  const before = await cdn.metrics.originRequests.get()
  for (const file of files) {
    const res = await getSigned(t, `${cdn.url}/media/${id}/360p/${file}`)
    t.is(res.status, 200, file)
    t.is(res.source, 'local', file)
    t.deepEqual(res.body, await fromServer(t, `/media/${id}/360p/${file}`), file)
  }
  const again = await getSigned(t, `${cdn.url}/media/${id}/master.m3u8`)
  t.is(again.source, 'local')
  t.deepEqual(contentRequests(origin), [], 'no request reached the main server')
  t.deepEqual((await cdn.metrics.originRequests.get()).values, before.values)
})

test('a miss is fetched from the origin, checked against its CID, kept and marked; the next request is local', async t => {
  const { id, files } = t.context
  const origin = await proxy(t)
  const cdn = await node(t, origin.url)
  await registered(cdn)
  // a complete rendition: a miss of a segment not made yet would start a transcoding session, and a busy machine
  // may have none free (503), which is the main server's answer, not the node's
  const path = `/media/${id}/360p/${files[3]}`
  const first = await getSigned(t, cdn.url + path)
  t.is(first.status, 200)
  t.is(first.source, 'origin')
  const direct = await getSigned(t, t.context.server.url + path)
  t.deepEqual(first.body, direct.body)
  t.is(first.etag, direct.etag, 'the Etag is the CID, as on the main server')

  origin.requests.length = 0
  const second = await getSigned(t, cdn.url + path)
  t.is(second.source, 'local')
  t.deepEqual(second.body, direct.body)
  t.deepEqual(contentRequests(origin), [])

  const range = await getSigned(t, cdn.url + path, { Range: 'bytes=10-19' })
  t.is(range.status, 206)
  t.deepEqual(range.body, direct.body.subarray(10, 20))
})

test('only-if-cached on a miss answers 412 and asks nobody', async t => {
  const { id, root } = t.context
  const origin = await proxy(t)
  const cdn = await node(t, origin.url)
  await registered(cdn)
  for (const path of [`/media/${id}/master.m3u8`, `/media/${id}/480p/2.m4s`, `/media/${id}/480p/index.m3u8`, `/ipfs/${root}/init.mp4`]) {
    const res = await getSigned(t, cdn.url + path, { 'Cache-Control': 'only-if-cached' })
    t.is(res.status, 412, path)
    t.is(JSON.parse(res.body.toString()).error, 'NotCachedError', path)
  }
  t.deepEqual(contentRequests(origin), [])
})

test('/ipfs on a miss comes from the origin as a verified CAR, then from local blocks', async t => {
  const { root, files } = t.context
  const origin = await proxy(t)
  const cdn = await node(t, origin.url)
  await registered(cdn)
  for (const file of files.slice(0, 3)) {
    const path = `/ipfs/${root}/${file}`
    const first = await getSigned(t, cdn.url + path)
    t.is(first.status, 200, file)
    t.is(first.source, 'origin', file)
    t.deepEqual(first.body, await fromServer(t, path), file)
    const second = await getSigned(t, cdn.url + path)
    t.is(second.source, 'local', file)
  }
  t.true(contentRequests(origin).every(p => p.includes('format=car')), origin.requests.join(' '))
  const listing = await getSigned(t, `${cdn.url}/ipfs/${root}/`)
  t.is(listing.status, 200)
  t.regex(listing.body.toString(), /index\.m3u8/)
  const raw = await getSigned(t, `${cdn.url}/ipfs/${root}?format=raw`)
  t.is(raw.status, 200)
  t.is(raw.source, 'local')
})

test('bytes the origin altered are refused, never served', async t => {
  const { id, root, files } = t.context
  const origin = await proxy(t)
  origin.tamper = { path: /\.m4s|format=car/, body: body => { const copy = Buffer.from(body); copy[copy.length - 1] ^= 0xff; return copy } }
  const cdn = await node(t, origin.url)
  await registered(cdn)
  const segment = await getSigned(t, `${cdn.url}/media/${id}/360p/${files[3]}`)
  t.is(segment.status, 502)
  t.is(JSON.parse(segment.body.toString()).error, 'UnverifiedContentError', segment.body.toString())
  const path = `/ipfs/${root}/${files[2]}`
  const viaIpfs = await getSigned(t, cdn.url + path)
  t.is(viaIpfs.status, 502)
  t.is(JSON.parse(viaIpfs.body.toString()).error, 'UnverifiedContentError')
  // the CAR's last block is the altered one: the segment's; blocks before it were checked and may be kept
  const cid = CID.parse((await getSigned(t, t.context.server.url + path)).etag?.replaceAll('"', '') ?? '')
  t.false(await cdn.peer.blockstore.has(cid), 'nothing unverified was kept')
})

test('a file larger than one block is checked by re-importing it with the import profile', async t => {
  const bytes = randomBytes(2 * 1024 * 1024 + 777)
  const cid = await unixfs({ blockstore: new MemoryBlockstore() } as unknown as Parameters<typeof unixfs>[0]).addBytes(bytes, { ...IMPORT_OPTIONS })
  const blocks = await verifyFileBytes(cid, bytes)
  t.is(blocks.length, 4)
  t.true(blocks.some(b => b.cid.equals(cid)))
  bytes[1_500_000] ^= 1
  await t.throwsAsync(verifyFileBytes(cid, bytes), { name: 'UnverifiedContentError' })
})

test('with fallback redirect a segment miss sends the viewer to the main server, a playlist stays on the node', async t => {
  const { id } = t.context
  const cdn = await node(t, t.context.server.url, { fallback: 'redirect' })
  await registered(cdn)
  const res = await getSigned(t, `${cdn.url}/media/${id}/480p/0.m4s`)
  t.is(res.status, 302)
  t.is(res.source, 'origin')
  t.is(res.location, withToken(`${t.context.server.url}/media/${id}/480p/0.m4s`, t.context.token), 'the viewer\'s token goes along')
  const master = await getSigned(t, `${cdn.url}/media/${id}/master.m3u8`)
  t.is(master.status, 200, 'playlists are never redirected: a player resolves their relative URLs against the node')
})

test('with fallback peer a miss is fetched over bitswap from a connected peer that holds it', async t => {
  const { id, files } = t.context
  const origin = await proxy(t)
  const cdn = await node(t, origin.url, { fallback: 'peer' })
  await registered(cdn)
  t.is((await getSigned(t, `${cdn.url}/media/${id}/master.m3u8`)).source, 'origin')
  const before = contentRequests(origin).length
  const file = files[3]
  const res = await getSigned(t, `${cdn.url}/media/${id}/360p/${file}`)
  t.is(res.status, 200)
  t.is(res.source, 'peer')
  t.deepEqual(res.body, await fromServer(t, `/media/${id}/360p/${file}`))
  t.is(contentRequests(origin).length, before, 'the main server\'s HTTP face saw nothing')
  t.is((await getSigned(t, `${cdn.url}/media/${id}/360p/${file}`)).source, 'local')
})

test('the web UI, the read API and replication orders work through the node; adding media and edits do not pass', async t => {
  const cdn = await node(t, t.context.server.url)
  const page = await get(`${cdn.url}/`)
  t.is(page.status, 200)
  t.regex(page.body.toString(), /<html/i)
  t.is((await get(`${cdn.url}/vendor/hls.min.js`)).status, 200)
  // the main server decides, with the caller's own token: the node passes it on and adds none of its own
  const viewer = bearer(await viewerToken(t.context.server, 'via-node'))
  const admin = bearer(await adminToken(t.context.server))
  const anonymous = await get(`${cdn.url}/api/v1/media`)
  t.is(anonymous.status, 401)
  t.is(JSON.parse(anonymous.body.toString()).error, 'AuthenticationRequiredError')
  const list = await get(`${cdn.url}/api/v1/media`, viewer)
  t.is(list.status, 200)
  t.true(JSON.parse(list.body.toString()).items.some((m: { id: string }) => m.id === t.context.id))
  const missing = await get(`${cdn.url}/api/v1/media/0000000000000000`, viewer)
  t.is(missing.status, 404)
  t.is(JSON.parse(missing.body.toString()).error, 'MediaNotFoundError')
  const progress = await fetch(`${cdn.url}/api/v1/media/${t.context.id}/progress`, { method: 'PUT', headers: { 'Content-Type': 'application/json', ...viewer }, body: JSON.stringify({ positionSeconds: 2.5 }) })
  t.is(progress.status, 204)
  t.is((await (await fetch(`${t.context.server.url}/api/v1/media/${t.context.id}/progress`, { headers: viewer })).json()).positionSeconds, 2.5)
  // not even an admin adds media or edits through a node
  const add = await fetch(`${cdn.url}/api/v1/media`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...admin }, body: JSON.stringify({ path: '/etc/passwd' }) })
  t.true(add.status === 404 || add.status === 405, `status ${add.status}`)
  // replication orders pass (the player's "Replicate here" on the node's own page); the main server answers
  const order = await fetch(`${cdn.url}/api/v1/replications`, { method: 'POST', headers: { 'Content-Type': 'application/json', ...admin }, body: JSON.stringify({ media: t.context.id, node: 'no-such-node' }) })
  t.is(order.status, 404)
  t.is((await order.json()).error, 'NodeNotFoundError')
  const edit = await fetch(`${cdn.url}/api/v1/media/${t.context.id}/metadata`, { method: 'PATCH', headers: { 'Content-Type': 'application/json', ...admin }, body: JSON.stringify({ title: 'via node' }) })
  t.true(edit.status === 404 || edit.status === 405, `status ${edit.status}`)
  const health = await (await fetch(`${cdn.url}/healthz`)).json()
  t.is(health.role, 'node')
  t.is(health.status, 'ok')
  t.deepEqual(health.reasons, [])
})

test('a node with another swarm key can neither connect nor register, and says why', async t => {
  const other = join(t.context.dir, 'other.key')
  await writeFile(other, generateSwarmKey())
  const stranger = await node(t, t.context.server.url, { swarmKeyFile: other, name: 'stranger', minBackoffMs: 1000, maxBackoffMs: 1000 })
  // an attempt may also meet the connection rate limit of 127.0.0.1 (every test shares it): wait for a real answer
  const first = await waitFor(() => stranger.status().error?.name === 'PrivateNetworkRefusedError' && stranger.status(), 20_000, 'a refusal')
  const connections = stranger.peer.libp2p.getConnections().length
  await stranger.stop()
  t.is(first.state, 'retrying')
  t.is(first.error?.name, 'PrivateNetworkRefusedError')
  t.regex(first.error?.message ?? '', /swarm\.key/)
  t.is(connections, 0)
  t.false((await t.context.server.registry.list()).some(n => n.peerId === stranger.peer.libp2p.peerId.toString()))
})

test('without a swarm key a node refuses to start, naming the flag; with LIBP2P_FORCE_PNET=1 as Kubo does', async t => {
  const base = { server: t.context.server.url, listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent' }
  await t.throwsAsync(startNode({ ...base, dataDir: join(t.context.dir, 'keyless-1'), env: {} }), { name: 'SwarmKeyMissingError', message: /--swarm-key/ })
  await t.throwsAsync(startNode({ ...base, dataDir: join(t.context.dir, 'keyless-2'), env: { LIBP2P_FORCE_PNET: '1' } }), { name: 'PrivateNetworkRequiredError' })
  const bad = join(t.context.dir, 'bad.key')
  await writeFile(bad, 'not a key')
  await t.throwsAsync(startNode({ ...base, dataDir: join(t.context.dir, 'keyless-3'), swarmKeyFile: bad }), { name: 'InvalidSwarmKeyError' })
})

test('settings are remembered in node.json, and local mode binds loopback only', async t => {
  const dataDir = join(t.context.dir, 'remembered')
  const first = await startNode({ dataDir, swarmKeyFile: t.context.swarmKey, server: t.context.server.url, name: 'Home <b>box</b>', mode: 'local', listen: '127.0.0.1:0', p2pListen: ['/ip4/127.0.0.1/tcp/0'], logLevel: 'silent' })
  t.is((await registered(first)).dnsName?.startsWith('home-b-box-b.'), true)
  const peerId = first.peer.libp2p.peerId.toString()
  await first.stop()
  const saved = JSON.parse(await readFile(join(dataDir, NODE_CONFIG_FILE), 'utf8'))
  t.like(saved, { name: 'Home <b>box</b>', mode: 'local', server: t.context.server.url, listen: '127.0.0.1:0' })

  const second = await startNode({ dataDir, logLevel: 'silent' })
  t.context.running.push(second)
  t.is(second.name, 'Home <b>box</b>')
  t.is(second.mode, 'local')
  t.is(second.peer.libp2p.peerId.toString(), peerId)
  const status = await registered(second)
  t.is(status.label, 'home-b-box-b', 'the same peer keeps its name across restarts')
  await second.stop()

  await t.throwsAsync(startNode({ dataDir, listen: '0.0.0.0:0', logLevel: 'silent' }), { name: 'InvalidConfigError', message: /listen/ })
  await t.throwsAsync(startNode({ dataDir: join(t.context.dir, 'named'), swarmKeyFile: t.context.swarmKey, name: 'bad\u0007name', logLevel: 'silent' }), { name: 'InvalidConfigError', message: /name/ })
})

test('a full data folder is reported in health and heartbeats and refused for new pins', async t => {
  const cdn = await node(t, t.context.server.url, { quotaBytes: 1, heartbeatSeconds: 1 })
  await registered(cdn)
  const health = await (await fetch(`${cdn.url}/healthz`)).json()
  t.true(health.capacity.full)
  t.true(health.health.full)
  t.is(health.status, 'degraded')
  t.regex(health.reasons.join('\n'), /^the data folder .+ is full: 0\.0 MiB left .*new pins are refused/)
  await t.throwsAsync(cdn.pin(CID.parse(t.context.root)), { name: 'DataFolderFullError' })
  t.false(await cdn.peer.pins.isPinned(CID.parse(t.context.root)))
  const listed = await waitFor(async () => (await t.context.server.registry.list()).find(n => n.peerId === cdn.peer.libp2p.peerId.toString() && n.health != null), 10_000, 'a heartbeat')
  t.true(listed.health?.full)
  // a miss is still served: from memory, not kept
  const segment = `${cdn.url}/media/${t.context.id}/360p/${t.context.files[4]}`
  const res = await getSigned(t, segment)
  t.is(res.status, 200)
  t.is(res.source, 'origin')
  t.is((await getSigned(t, segment)).source, 'origin')
})
