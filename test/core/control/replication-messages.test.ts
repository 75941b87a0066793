import { join } from 'node:path'
import anyTest from 'ava'
import { parseControlReply, parseControlRequest, parsePinOrder, parsePinReport } from '../../../core/control/validate.ts'
import { handleOrderNudges, nudgeNode } from '../../../core/control/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { tempDir } from '../../helpers/tmp.ts'
import { CAPACITY, HEALTH, runCleanup, startEdge, startMain, swarmKey } from './helpers.ts'
import type { Cleanup } from './helpers.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<{ cleanup: Cleanup, database: string }>
const ROOT = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
const PEER = '12D3KooWEyoppNCUx8Yx66oV9fJnriXwCcXwDDUA2kj6vnc6iDEp'

test.beforeEach(async t => {
  const dir = await tempDir('cidcast-orders-')
  t.context = { cleanup: [dir.remove], database: join(dir.path, 'catalog.sqlite') }
})
test.afterEach.always(async t => { await runCleanup(t.context.cleanup) })

test('an ok reply carries pin orders with providers, checked field by field', t => {
  const reply = parseControlReply({
    type: 'ok',
    orders: [{ cid: ROOT, action: 'pin', orderId: 'o-1', providers: [{ peerId: PEER, addrs: ['/ip4/127.0.0.1/tcp/4001'], gateway: 'http://127.0.0.1:8081' }], bytesTotal: 10, extra: 'dropped' }]
  })
  t.deepEqual(reply, { type: 'ok', orders: [{ cid: ROOT, action: 'pin', orderId: 'o-1', providers: [{ peerId: PEER, addrs: ['/ip4/127.0.0.1/tcp/4001'], gateway: 'http://127.0.0.1:8081/' }], bytesTotal: 10 }] })
  t.deepEqual(parseControlReply({ type: 'ok' }), { type: 'ok' })
  const media = { id: '0123456789abcdef', profile: '360p', root: ROOT }
  t.deepEqual(parsePinOrder({ cid: ROOT, action: 'pin', orderId: 'o-2', media: { ...media, extra: 'dropped' } }), { cid: ROOT, action: 'pin', orderId: 'o-2', media }, 'a rendition of a media names it')
  t.deepEqual(parsePinOrder({ cid: ROOT, action: 'pin', orderId: 'o-3', auto: true }), { cid: ROOT, action: 'pin', orderId: 'o-3', auto: true }, 'the distributor\'s own placement says so')
  t.deepEqual(parsePinOrder({ cid: ROOT, action: 'pin', orderId: 'o-4', auto: false }), { cid: ROOT, action: 'pin', orderId: 'o-4' })
  const prefetch = parseControlReply({ type: 'ok', prefetch: [{ id: '0123456789abcdef', profile: '360p', segments: 30, extra: 'dropped' }] })
  t.deepEqual(prefetch, { type: 'ok', prefetch: [{ id: '0123456789abcdef', profile: '360p', segments: 30 }] })
  for (const bad of [{ id: '../x', profile: '360p', segments: 1 }, { id: '0123456789abcdef', profile: 'x', segments: 1 }, { id: '0123456789abcdef', profile: '360p', segments: 0 }, { id: '0123456789abcdef', profile: '360p', segments: 1e9 }]) {
    t.throws(() => parseControlReply({ type: 'ok', prefetch: [bad] }), { name: 'InvalidControlMessageError' }, JSON.stringify(bad))
  }
  t.throws(() => parseControlReply({ type: 'ok', prefetch: Array.from({ length: 17 }, () => ({ id: '0123456789abcdef', profile: '360p', segments: 1 })) }), { name: 'InvalidControlMessageError' })
})

test('orders with a bad action, order ID, CID, address, gateway or media are refused', t => {
  const good = { cid: ROOT, action: 'pin', orderId: 'o-1' }
  for (const bad of [
    { ...good, action: 'delete' },
    { ...good, orderId: '../x' },
    { ...good, orderId: '' },
    { ...good, cid: 'nope' },
    { ...good, providers: [{ peerId: PEER, addrs: ['not an address'] }] },
    { ...good, providers: [{ peerId: 'a peer', addrs: [] }] },
    { ...good, providers: [{ peerId: PEER, addrs: [], gateway: 'file:///etc/passwd' }] },
    { ...good, providers: [{ peerId: PEER, addrs: [], gateway: 'http://user:secret@127.0.0.1/' }] },
    { ...good, providers: [{ peerId: PEER, addrs: [], gateway: 42 }] },
    { ...good, bytesTotal: -1 },
    { ...good, media: { id: '../../etc/passwd', profile: '360p', root: ROOT } },
    { ...good, media: { id: '0123456789abcdef', profile: '../360p', root: ROOT } },
    { ...good, media: { id: '0123456789abcdef', profile: '360p', root: 'nope' } },
    { ...good, media: 'a media' },
    { ...good, auto: 'yes' }
  ]) {
    t.throws(() => parsePinOrder(bad), { name: 'InvalidControlMessageError' }, JSON.stringify(bad))
  }
})

test('a heartbeat carries pin reports with progress and a named error', t => {
  const pins = [
    { cid: ROOT, orderId: 'o-1', state: 'pinning', blocksDone: 3, bytesDone: 3 << 20, blocksTotal: 10, bytesTotal: 10 << 20 },
    { cid: ROOT, orderId: 'o-2', state: 'failed', blocksDone: 0, bytesDone: 0, error: { name: 'NoProviderError', message: 'nobody has it' } }
  ]
  const request = parseControlRequest({ type: 'heartbeat', capacity: CAPACITY, health: HEALTH, pinned: [], pins })
  t.deepEqual(request, { type: 'heartbeat', capacity: CAPACITY, health: HEALTH, pinned: [], pins })
  t.throws(() => parsePinReport({ ...pins[0], state: 'done' }), { name: 'InvalidControlMessageError' })
  t.throws(() => parsePinReport({ ...pins[1], error: { name: 'no spaces allowed', message: '' } }), { name: 'InvalidControlMessageError' })
  t.throws(() => parsePinReport({ ...pins[0], blocksDone: Number.NaN }), { name: 'InvalidControlMessageError' })
})

test('a nudge from the main server reaches the node; the node refuses one from another peer', async t => {
  const key = swarmKey()
  const main = await startMain(t.context.cleanup, key, t.context.database)
  const edge = await startEdge(t.context.cleanup, key, main)
  const other = await startEdge(t.context.cleanup, key, main)
  await edge.client.register(edge.request('edge'))
  let nudges = 0
  const stop = await handleOrderNudges({ libp2p: edge.peer.libp2p, logger: silentLogger(), fromServer: peer => peer.equals(main.peer.libp2p.peerId), onNudge: () => { nudges++ } })
  t.context.cleanup.push(stop)
  t.true(await nudgeNode(main.peer.libp2p, edge.peer.libp2p.peerId))
  t.is(nudges, 1)
  await other.peer.libp2p.peerStore.merge(edge.peer.libp2p.peerId, { multiaddrs: edge.peer.libp2p.getMultiaddrs() })
  t.false(await nudgeNode(other.peer.libp2p, edge.peer.libp2p.peerId))
  t.is(nudges, 1)
})
