import { join } from 'node:path'
import { generateKeyPair } from '@libp2p/crypto/keys'
import anyTest from 'ava'
import { ipnsNameOf } from '../../../core/control/index.ts'
import { createNodeRegistry } from '../../../core/replication/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { manualClock } from '../../helpers/clock.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import { CAPACITY, HEALTH, rawRequest, runCleanup, startEdge, startMain, swarmKey } from './helpers.ts'
import type { Cleanup } from './helpers.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<{ cleanup: Cleanup, database: string }>

test.beforeEach(async t => {
  const dir = await tempDir('cidcast-control-')
  t.context = { cleanup: [dir.remove], database: join(dir.path, 'catalog.sqlite') }
})

test.afterEach.always(async t => {
  await runCleanup(t.context.cleanup)
})

test('a node registers over the control protocol and is listed with its DNS name', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database)
  const edge = await startEdge(t.context.cleanup, key, main)
  let changes = 0
  main.registry.on('change', () => { changes++ })

  const reply = await edge.client.register(edge.request('Edge One'))
  t.deepEqual(reply, { type: 'registered', label: 'edge-one', dnsName: 'edge-one.test.internal', heartbeatSeconds: 0.3 })
  t.true(changes >= 1)

  const [node] = await main.registry.list()
  t.like(node, {
    name: 'Edge One',
    label: 'edge-one',
    dnsName: 'edge-one.test.internal',
    peerId: edge.peer.libp2p.peerId.toString(),
    ipns: ipnsNameOf(edge.peer.libp2p.peerId),
    mode: 'shared',
    state: 'online',
    url: 'http://127.0.0.1:9/',
    capacity: CAPACITY,
    health: null,
    revoked: false
  })
  t.deepEqual(node.addresses, edge.peer.libp2p.getMultiaddrs().map(String))
  t.truthy(node.lastSeen)
  t.is((await main.registry.byLabel('EDGE-ONE'))?.peerId, node.peerId)

  await edge.client.heartbeat({ capacity: CAPACITY, health: HEALTH, pinned: ['bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'] })
  const [beaten] = await main.registry.list()
  t.deepEqual(beaten.health, HEALTH)
  t.deepEqual(beaten.pinned, ['bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'])
})

test('labels are sanitized, collide into suffixes and stay with their peer across re-registrations and restarts', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database)
  const keys = await Promise.all([1, 2, 3, 4].map(async () => generateKeyPair('Ed25519')))
  const [a, b, c, d] = await Promise.all(keys.map(async k => startEdge(t.context.cleanup, key, main, k)))

  t.is((await a.client.register(a.request('edge'))).label, 'edge')
  t.is((await b.client.register(b.request('EDGE'))).label, 'edge-2')
  t.is((await c.client.register(c.request('<script>alert(1)</script>'))).label, 'script-alert-1-script')
  t.is((await d.client.register(d.request('../x'))).label, 'x')
  // re-registering keeps the suffixed label even though nothing else changed
  t.is((await b.client.register(b.request('Edge'))).label, 'edge-2')
  // a new name that means another label gives another label; the old one is free again
  t.is((await d.client.register(d.request('a.b.c'))).label, 'a-b-c')

  // the main server restarts: a new registry over the same catalog
  await main.registry.stop()
  const again = createNodeRegistry({ logger: silentLogger(), libp2p: main.peer.libp2p, store: main.store, gater: main.gater }, { zone: 'test.internal', heartbeatMs: 300 })
  await again.start()
  t.context.cleanup.push(async () => { await again.stop() })
  t.deepEqual((await again.list()).map(n => n.label), ['a-b-c', 'edge', 'edge-2', 'script-alert-1-script'])

  // the node restarts too: a new peer with the same key
  await b.peer.stop()
  const b2 = await startEdge(t.context.cleanup, key, main, keys[1])
  t.is(b2.peer.libp2p.peerId.toString(), b.peer.libp2p.peerId.toString())
  t.is((await b2.client.register(b2.request('EDGE'))).label, 'edge-2')
  t.is((await a.client.register(a.request('edge'))).label, 'edge')
})

test('a node\'s region and tags are recorded in lower case, kept across a restart and replaced by each registration', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database)
  const edge = await startEdge(t.context.cleanup, key, main)

  await edge.client.register(edge.request('edge', { region: 'EU-West', tags: ['GPU', 'ssd', 'gpu'] }))
  t.like((await main.registry.list())[0], { label: 'edge', region: 'eu-west', tags: ['gpu', 'ssd'] })

  // the main server restarts: a new registry over the same catalog
  await main.registry.stop()
  const again = createNodeRegistry({ logger: silentLogger(), libp2p: main.peer.libp2p, store: main.store, gater: main.gater }, { zone: 'test.internal', heartbeatMs: 300 })
  await again.start()
  t.context.cleanup.push(async () => { await again.stop() })
  t.like((await again.list())[0], { region: 'eu-west', tags: ['gpu', 'ssd'] })

  // the node moves: its next registration says so; one without region or tags has none
  await edge.client.register(edge.request('edge', { region: 'us-east', tags: ['ssd'] }))
  t.like((await again.list())[0], { label: 'edge', region: 'us-east', tags: ['ssd'] })

  const bad = await rawRequest(edge, main, { type: 'register', ...edge.request('edge', { region: 'eu west' }) })
  t.deepEqual(bad, { type: 'error', error: 'InvalidControlMessageError', message: 'region must be 1-32 of a-z, 0-9 and "-"' })
  const badTag = await rawRequest(edge, main, { type: 'register', ...edge.request('edge', { tags: ['ok', 'not ok'] }) })
  t.is(badTag.message, 'tags[1] must be 1-32 of a-z, 0-9 and "-"')
  t.like((await again.list())[0], { region: 'us-east', tags: ['ssd'] }, 'a refused registration changes nothing')

  await edge.client.register(edge.request('edge'))
  t.like((await again.list())[0], { label: 'edge', region: null, tags: [] })
})

test('a name of 301 characters or with control characters is refused by the server with a clear error', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database)
  const edge = await startEdge(t.context.cleanup, key, main)

  const long = await rawRequest(edge, main, { type: 'register', ...edge.request('x'.repeat(301)) })
  t.is(long.type, 'error')
  t.is(long.error, 'InvalidNodeNameError')
  t.regex(long.message, /at most 300/)
  const control = await rawRequest(edge, main, { type: 'register', ...edge.request('bad\u0007name') })
  t.is(control.error, 'InvalidNodeNameError')
  // the client checks the same rules before sending
  await t.throwsAsync(edge.client.register(edge.request('x'.repeat(301))), { name: 'InvalidNodeNameError' })

  const ok = await rawRequest(edge, main, { type: 'register', ...edge.request('y'.repeat(300)) })
  t.is(ok.label, 'y'.repeat(63))
})

test('a message that claims another peer ID is refused', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database)
  const victim = await startEdge(t.context.cleanup, key, main)
  const attacker = await startEdge(t.context.cleanup, key, main)
  await victim.client.register(victim.request('victim'))

  const victimId = victim.peer.libp2p.peerId.toString()
  const heartbeat = await rawRequest(attacker, main, { type: 'heartbeat', peerId: victimId, capacity: CAPACITY, health: { ...HEALTH, full: true }, pinned: [] })
  t.is(heartbeat.type, 'error')
  t.is(heartbeat.error, 'PeerIdMismatchError')
  const register = await rawRequest(attacker, main, { type: 'register', ...victim.request('victim'), peerId: victimId })
  t.is(register.error, 'PeerIdMismatchError')
  // announcing the victim's addresses as one's own is claiming its identity too
  const addresses = await rawRequest(attacker, main, { type: 'register', ...attacker.request('x'), addresses: victim.peer.libp2p.getMultiaddrs().map(String) })
  t.is(addresses.error, 'PeerIdMismatchError')
  // and the victim's IPNS name is not the attacker's
  await t.throwsAsync(attacker.client.register({ ...victim.request('victim'), addresses: [] }), { name: 'IpnsMismatchError' })

  const nodes = await main.registry.list()
  t.is(nodes.length, 1)
  t.is(nodes[0].peerId, victimId)
  t.is(nodes[0].health, null)
})

test('a registration whose IPNS name is not derived from the peer ID is refused', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database)
  const edge = await startEdge(t.context.cleanup, key, main)
  const err = await t.throwsAsync(edge.client.register(edge.request('edge', { ipns: 'k51qzi5uqu5dlvj2baxnqndepeb86cbk3ng7n3i46uzyxzyqj2xjonzllnv0v8' })))
  t.is(err?.name, 'IpnsMismatchError')
  t.regex(err?.message ?? '', new RegExp(ipnsNameOf(edge.peer.libp2p.peerId)))
  t.deepEqual(await main.registry.list(), [])
})

test('malformed control messages get an error reply and change nothing', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database)
  const edge = await startEdge(t.context.cleanup, key, main)
  const good = { type: 'register', ...edge.request('edge') }
  const bad: Array<[string, unknown, string?]> = [
    ['not JSON', new TextEncoder().encode('{"type":')],
    ['an array', [good]],
    ['an unknown type', { ...good, type: 'pin' }],
    ['a mode outside the enum', { ...good, mode: 'public' }],
    ['an ftp URL', { ...good, url: 'ftp://example.org/' }],
    ['a javascript: URL', { ...good, url: 'javascript:alert(1)' }],
    ['a URL with credentials', { ...good, url: 'http://user:pw@example.org/' }],
    ['a relative URL', { ...good, url: '/media' }],
    ['an address that is no multiaddr', { ...good, addresses: ['127.0.0.1:4001'] }],
    ['addresses that are no array', { ...good, addresses: '/ip4/127.0.0.1/tcp/1' }],
    ['too many addresses', { ...good, addresses: Array.from({ length: 33 }, (_, i) => `/ip4/127.0.0.1/tcp/${i + 1}`) }],
    ['a negative capacity', { ...good, capacity: { ...CAPACITY, freeBytes: -1 } }],
    ['an infinite capacity', new TextEncoder().encode(JSON.stringify(good).replace(/"usedBytes":\d+/, '"usedBytes":1e400'))],
    ['a capacity as a string', { ...good, capacity: { ...CAPACITY, quotaBytes: '10' } }],
    ['a negative cache budget', { ...good, capacity: { ...CAPACITY, cacheBytes: -1 } }],
    ['a cache use as a string', { ...good, capacity: { ...CAPACITY, cacheBytes: 10, cacheUsedBytes: '5' } }],
    ['a name that is a number', { ...good, name: 7 }, 'InvalidNodeNameError'],
    ['an IPNS name of 10 kB', { ...good, ipns: 'k'.repeat(10_000) }],
    ['a region with a space', { ...good, region: 'eu west' }],
    ['a region as a number', { ...good, region: 7 }],
    ['a region of 33 characters', { ...good, region: 'r'.repeat(33) }],
    ['tags as a string', { ...good, tags: 'gpu,ssd' }],
    ['nine tags', { ...good, tags: ['a', 'b', 'c', 'd', 'e', 'f', 'g', 'h', 'i'] }],
    ['a tag with a slash', { ...good, tags: ['ok', '../x'] }],
    ['a heartbeat with a pin that is no CID', { type: 'heartbeat', capacity: CAPACITY, health: HEALTH, pinned: ['../etc'] }],
    ['a heartbeat without health', { type: 'heartbeat', capacity: CAPACITY, pinned: [] }],
    ['a heartbeat with full as a string', { type: 'heartbeat', capacity: CAPACITY, health: { ...HEALTH, full: 'no' }, pinned: [] }]
  ]
  for (const [what, message, error = 'InvalidControlMessageError'] of bad) {
    const reply = await rawRequest(edge, main, message)
    t.is(reply.type, 'error', what)
    t.is(reply.error, error, what)
  }
  t.deepEqual(await main.registry.list(), [])

  // larger than the protocol allows: refused (an error reply, or the stream is reset before one)
  const huge = new TextEncoder().encode(JSON.stringify({ ...good, name: 'x'.repeat(300 * 1024) }))
  const reply = await rawRequest(edge, main, huge).catch((err: Error) => ({ type: 'reset', error: err.name }))
  t.not(reply.type, 'registered')
  t.deepEqual(await main.registry.list(), [])

  // the server is still fine
  t.is((await edge.client.register(edge.request('edge'))).label, 'edge')
})

test('a heartbeat from a peer that never registered asks it to register', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database)
  const edge = await startEdge(t.context.cleanup, key, main)
  await t.throwsAsync(edge.client.heartbeat({ capacity: CAPACITY, health: HEALTH, pinned: [] }), { name: 'NodeNotRegisteredError' })
})

test('a node that misses three beats goes offline and comes back online when beats resume', async t => {
  const key = swarmKey()
  const clock = manualClock()
  // beats every 200 ms: offline after 3 missed beats and half a beat of grace, 700 ms after the last one
  const main = await startMain(t.context.cleanup, key, t.context.database, { heartbeatMs: 200 }, { clock })
  const edge = await startEdge(t.context.cleanup, key, main)
  const beat = async (): Promise<void> => { await edge.client.heartbeat({ capacity: CAPACITY, health: HEALTH, pinned: [] }) }
  const state = async (): Promise<string> => (await main.registry.list())[0].state
  let changes = 0
  main.registry.on('change', () => { changes++ })
  await edge.client.register(edge.request('edge'))

  // beats on time keep it online
  for (let i = 0; i < 4; i++) {
    clock.advance(150)
    await beat()
    t.is(await state(), 'online')
  }
  // silent for just under the limit: still online, nothing announced
  const before = changes
  clock.advance(700)
  t.is(await state(), 'online')
  t.is(changes, before)
  // the sweep that runs past the limit marks it offline and announces it
  clock.advance(100)
  t.is(await state(), 'offline')
  t.is(changes, before + 1)

  // the next beat brings it back and announces that too
  await beat()
  t.is(await state(), 'online')
  t.is(changes, before + 2)
})

test('a revoked peer is disconnected, refused on reconnect (swarm key or not) and cannot register', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database)
  const keyPair = await generateKeyPair('Ed25519')
  const edge = await startEdge(t.context.cleanup, key, main, keyPair)
  const other = await startEdge(t.context.cleanup, key, main)
  await edge.client.register(edge.request('bad actor'))
  await other.client.register(other.request('good'))
  const serverId = main.peer.libp2p.peerId
  t.true(edge.peer.libp2p.getConnections(serverId).length > 0)

  const view = await main.registry.revoke('bad-actor')
  t.true(view.revoked)
  t.is(view.state, 'offline')
  await waitFor(() => edge.peer.libp2p.getConnections(serverId).length === 0, 5000, 'the connection to close')

  // the dialer may finish its half of the upgrade (yamux is chosen optimistically) before the server drops it
  const reconnect = await edge.peer.libp2p.dial(serverId, { signal: AbortSignal.timeout(5000) }).catch(() => undefined)
  if (reconnect != null) await waitFor(() => reconnect.status !== 'open', 5000, 'the server to drop the new connection')
  await t.throwsAsync(edge.client.register(edge.request('bad actor')))
  // a fresh process with the same key fares no better
  const again = await startEdge(t.context.cleanup, key, main, keyPair)
  await t.throwsAsync(again.client.register(again.request('new name')))
  // and the main server will not dial it either
  await t.throwsAsync(main.peer.libp2p.dial(edge.peer.libp2p.getMultiaddrs()[0], { signal: AbortSignal.timeout(5000) }))

  // others are unaffected; the revocation survives a restart of the registry
  t.is((await other.client.register(other.request('good'))).label, 'good')
  t.deepEqual(await main.store.revokedPeerIds(), [edge.peer.libp2p.peerId.toString()])
  const nodes = await main.registry.list()
  t.deepEqual(nodes.map(n => [n.label, n.revoked, n.state]), [['bad-actor', true, 'offline'], ['good', false, 'online']])
  // revoking is idempotent; unknown names are a clear error
  t.true((await main.registry.revoke(edge.peer.libp2p.peerId.toString())).revoked)
  await t.throwsAsync(main.registry.revoke('nobody'), { name: 'NodeNotFoundError' })
})

test('a peer with another swarm key can neither connect nor register', async t => {
  const main = await startMain(t.context.cleanup, swarmKey(), t.context.database)
  const stranger = await startEdge(t.context.cleanup, swarmKey(), main)
  await t.throwsAsync(stranger.client.register(stranger.request('stranger')))
  t.deepEqual(await main.registry.list(), [])
})

test('a control stream that sends nothing is closed after the timeout', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database, { controlTimeoutMs: 300 })
  const edge = await startEdge(t.context.cleanup, key, main)
  const stream = await edge.peer.libp2p.dialProtocol(main.peer.libp2p.peerId, '/cidcast/control/1.0.0')
  const started = Date.now()
  await waitFor(() => stream.status !== 'open', 5000, 'the server to close the stream')
  // a behaviour, not a speed: the configured 300 ms closed it, not the 10 s default (a tenfold margin either way)
  t.true(Date.now() - started < 3000)
})
