import { join } from 'node:path'
import anyTest from 'ava'
import { CID } from 'multiformats/cid'
import { createContentIndex, createReplication, createReplicationGoals } from '../../../core/replication/index.ts'
import { dagSizeOf } from '../../../core/replication/dag-size.ts'
import { silentLogger } from '../../../core/logger.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import { CAPACITY, runCleanup, swarmKey } from '../control/helpers.ts'
import { addRoot, runPin, startFakeNode, startReplicationMain } from './helpers.ts'
import type { Cleanup } from '../control/helpers.ts'
import type { ReplicableMedia } from '../../../core/replication/index.ts'
import type { FakeNode, ReplicationMain } from './helpers.ts'
import type { PinOrder } from '../../../core/control/index.ts'
import type { ExecutionContext, TestFn } from 'ava'

interface Context { cleanup: Cleanup, database: string }

const test = anyTest as TestFn<Context>

test.beforeEach(async t => {
  const dir = await tempDir('cidcast-replication-')
  t.context = { cleanup: [dir.remove], database: join(dir.path, 'catalog.sqlite') }
})
test.afterEach.always(async t => { await runCleanup(t.context.cleanup) })

/** A main server with a 1000-byte root ordered pinned on fake node `alpha`, and the order alpha's first beat took. */
async function orderedOnAlpha (t: ExecutionContext<Context>): Promise<{ key: Uint8Array, main: ReplicationMain, root: string, node: FakeNode, order: PinOrder }> {
  const key = swarmKey()
  const main = await startReplicationMain(t.context.cleanup, key, t.context.database)
  const root = (await addRoot(main.peer, 1000)).toString()
  const node = await startFakeNode(t.context.cleanup, key, main, 'alpha')
  await main.replication.pin({ cid: root, node: 'alpha' })
  const [order] = await node.beat()
  return { key, main, root, node, order }
}

test('a pin order reaches the node at once, names the main server as provider, and the node\'s reports move the row to pinned', async t => {
  const key = swarmKey()
  const main = await startReplicationMain(t.context.cleanup, key, t.context.database)
  const root = await addRoot(main.peer)
  const size = await dagSizeOf(main.peer.blockstore, root)
  t.deepEqual(size, { blocks: 6, bytes: size?.bytes })
  const node = await startFakeNode(t.context.cleanup, key, main, 'alpha')

  const { items: [ordered] } = await main.replication.pin({ cid: root.toString(), node: 'alpha' })
  t.is(ordered.state, 'queued')
  t.is(ordered.node.label, 'alpha')
  t.regex(ordered.reason ?? '', /order sent .* ago; alpha has not taken it yet/)
  // the nudge asks the node to heartbeat now rather than at its next interval
  await waitFor(() => node.nudges() === 1, 15_000, 'the nudge')

  const orders = await node.beat()
  t.is(orders.length, 1)
  const order = orders[0]
  t.like(order, { cid: root.toString(), action: 'pin', orderId: ordered.orderId, blocksTotal: 6, bytesTotal: size?.bytes })
  t.deepEqual(order.providers?.map(p => p.peerId), [main.peer.libp2p.peerId.toString()])

  // progress while it runs
  await node.beat({ pins: [{ cid: order.cid, orderId: order.orderId, state: 'pinning', blocksDone: 2, bytesDone: 2 ** 20, blocksTotal: 6, bytesTotal: size?.bytes }] })
  const [pinning] = await main.replication.list({ node: 'alpha' })
  t.is(pinning.state, 'pinning')
  t.is(pinning.progress.blocksDone, 2)
  t.true((pinning.progress.percent ?? 0) > 30)
  t.regex(pinning.reason ?? '', /^fetching: \d+(\.\d)?%, 2\/6 blocks/)

  // the real thing: bitswap from the main server
  const report = await runPin(node, order)
  t.is(report.blocksDone, 6)
  t.is(report.bytesDone, size?.bytes ?? -1)
  // a final state ends the order: it is not handed out again
  t.deepEqual(await node.beat({ pins: [report], pinned: [root.toString()] }), [])
  const [pinned] = await main.replication.list({ cid: root.toString() })
  t.like(pinned, { state: 'pinned', reachable: true, reason: null, error: null, attempts: 1 })
  t.is(pinned.progress.percent, 100)
})

test('a pin order of a media\'s rendition names the media and its directory as it is when the reply is made', async t => {
  const key = swarmKey()
  const main = await startReplicationMain(t.context.cleanup, key, t.context.database)
  const [root, reencoded, directory, grown] = await Promise.all([1000, 1001, 1002, 1003].map(async bytes => (await addRoot(main.peer, bytes)).toString()))
  const node = await startFakeNode(t.context.cleanup, key, main, 'alpha')
  const id = '0123456789abcdef'
  main.media.set(id, { id, renditions: [{ profile: '360p', state: 'complete', root }, { profile: '720p', state: 'pending', root: null }], root: directory })
  await main.replication.pin({ media: id, node: 'alpha' })
  const [order] = await node.beat()
  t.deepEqual(order.media, { id, profile: '360p', root: directory })
  // 720p finished meanwhile: the order, repeated until the node reports, carries the directory that lists it
  main.media.set(id, { id, renditions: [{ profile: '360p', state: 'complete', root }, { profile: '720p', state: 'complete', root: reencoded }], root: grown })
  t.deepEqual((await node.beat())[0].media, { id, profile: '360p', root: grown })
  // 360p made again by another encoder: the root ordered is no rendition of the media any more
  main.media.set(id, { id, renditions: [{ profile: '360p', state: 'complete', root: reencoded }], root: grown })
  const [plain] = await node.beat()
  t.is(plain.cid, root)
  t.is(plain.media, undefined)
})

test('ordering again what is pinned or on its way sends nothing; a root a node holds unasked is found and adopted', async t => {
  const key = swarmKey()
  const main = await startReplicationMain(t.context.cleanup, key, t.context.database)
  const root = (await addRoot(main.peer, 1000)).toString()
  const node = await startFakeNode(t.context.cleanup, key, main, 'alpha')
  await node.beat({ pinned: [root] })
  const [found] = await main.replication.list({ node: 'alpha' })
  t.like(found, { cid: root, state: 'pinned', orderId: null })

  const { items: [adopted] } = await main.replication.pin({ cid: root, node: 'alpha' })
  t.like(adopted, { state: 'pinned', orderId: null })
  t.deepEqual(await node.beat({ pinned: [root] }), [])
  t.is(main.index.get(node.peer.libp2p.peerId.toString(), root)?.wanted, 'pin')
})

test('a failed pin is retried with a new order until the attempts run out, and always says why', async t => {
  const key = swarmKey()
  // the retry delay must outlast the reads right after the failure, even on a loaded machine
  const main = await startReplicationMain(t.context.cleanup, key, t.context.database, { maxAttempts: 2, retryDelayMs: 2000 })
  const root = (await addRoot(main.peer, 1000)).toString()
  const node = await startFakeNode(t.context.cleanup, key, main, 'alpha')
  await main.replication.pin({ cid: root, node: 'alpha' })
  const [first] = await node.beat()
  await node.beat({ pins: [{ cid: root, orderId: first.orderId, state: 'failed', blocksDone: 0, bytesDone: 0, error: { name: 'NoProviderReachableError', message: 'no provider answered' } }] })
  const [failed] = await main.replication.list({ node: 'alpha' })
  t.is(failed.state, 'failed')
  t.regex(failed.reason ?? '', /^pin failed: NoProviderReachableError: no provider answered; retry 2 of 2 in/)

  const retry = await waitFor(async () => (await node.beat()).find(o => o.orderId !== first.orderId), 20_000, 'the retry order')
  const [queued] = await main.replication.list({ node: 'alpha' })
  t.like(queued, { state: 'queued', attempts: 2, orderId: retry.orderId })
  t.regex(queued.reason ?? '', /^retry 2 of 2 after NoProviderReachableError: no provider answered/)

  await node.beat({ pins: [{ cid: root, orderId: retry.orderId, state: 'failed', blocksDone: 0, bytesDone: 0, error: { name: 'PinStalledError', message: 'no block for 30 s' } }] })
  const [gaveUp] = await main.replication.list({ node: 'alpha' })
  t.is(gaveUp.state, 'failed')
  t.regex(gaveUp.reason ?? '', /PinStalledError: no block for 30 s; gave up after 2 attempts/)
  t.deepEqual(await node.beat(), [], 'a failed order is not handed out again')
})

test('a pin a full node had no room for waits, and is ordered again once the node reports room for it', async t => {
  const { main, root, node, order } = await orderedOnAlpha(t)
  const full = { quotaBytes: 10_000, usedBytes: 10_000, freeBytes: 0 }
  await node.beat({ full: true, capacity: full, pins: [{ cid: root, orderId: order.orderId, state: 'failed', blocksDone: 0, bytesDone: 0, error: { name: 'DataFolderFullError', message: 'the data folder is full' } }] })
  const [failed] = await main.replication.list({ node: 'alpha' })
  t.is(failed.retryAt, null)
  t.regex(failed.reason ?? '', /DataFolderFullError: the data folder is full; ordered again once alpha reports room for it/)
  t.deepEqual(await node.beat({ full: true, capacity: full }), [], 'no retry while it is full')
  // not full, but with less room than the root's 1000 bytes: still no retry
  t.deepEqual(await node.beat({ capacity: { quotaBytes: 10_000, usedBytes: 9500, freeBytes: 500 } }), [])

  const retry = await waitFor(async () => (await node.beat({ capacity: { quotaBytes: 10_000, usedBytes: 0, freeBytes: 10_000 } })).find(o => o.orderId !== order.orderId), 20_000, 'the order again')
  t.is(retry.cid, root)
  const [again] = await main.replication.list({ node: 'alpha' })
  t.like(again, { orderId: retry.orderId, attempts: 2 })
})

test('rows survive a restart; a node that goes offline keeps its rows, shown unreachable with the reason', async t => {
  const { main, root, node, order } = await orderedOnAlpha(t)
  await node.beat({ pins: [{ cid: root, orderId: order.orderId, state: 'pinned', blocksDone: 1, bytesDone: 1000 }], pinned: [root] })

  const again = createContentIndex({ repository: main.catalog.repositories.contentIndex })
  await again.start()
  // pinned means every byte: done is at least the total the order named
  t.like(again.get(node.peer.libp2p.peerId.toString(), root), { state: 'pinned', wanted: 'pin', orderId: order.orderId, bytesDone: order.bytesTotal })

  // no more heartbeats: the registry marks it offline after three missed beats (300 ms each here)
  const [offline] = await waitFor(async () => {
    const views = await main.replication.list({ node: 'alpha' })
    return views[0]?.reachable === false ? views : undefined
  }, 5000, 'the node to be unreachable')
  t.is(offline.state, 'pinned')
  t.regex(offline.reason ?? '', /^node alpha is unreachable \(last seen .* ago\); it last reported this root pinned/)
  // and an unreachable node is not offered as a provider
  const providers = []
  for await (const p of main.replication.providers(CID.parse(root), {})) providers.push(p.peerId)
  t.deepEqual(providers, [main.peer.libp2p.peerId.toString()])
})

test('providers of a root are the online nodes that hold it pinned, then the main server', async t => {
  const key = swarmKey()
  const main = await startReplicationMain(t.context.cleanup, key, t.context.database)
  const root = (await addRoot(main.peer, 1000)).toString()
  const alpha = await startFakeNode(t.context.cleanup, key, main, 'alpha')
  const beta = await startFakeNode(t.context.cleanup, key, main, 'beta')
  await alpha.beat({ pinned: [root] })
  await main.replication.pin({ cid: root, node: 'beta' })
  const [order] = await beta.beat()
  t.deepEqual(order.providers?.map(p => p.peerId), [alpha.peer.libp2p.peerId.toString(), main.peer.libp2p.peerId.toString()])
  t.true(order.providers?.[0].addrs.length !== 0)
  t.is(order.providers?.[0].gateway, 'http://127.0.0.1:9/', 'a shared node comes with its gateway')
  t.is(order.providers?.[1].gateway, undefined, 'the main server\'s URL is the one the node knows')

  const providers = []
  for await (const p of main.replication.providers(CID.parse(root), {})) providers.push(p)
  t.deepEqual(providers.map(p => p.peerId), [alpha.peer.libp2p.peerId.toString(), main.peer.libp2p.peerId.toString()])
  // its libp2p addresses and its gateway as an /http multiaddr, as stock trustless-gateway routers read them
  t.deepEqual(providers[0].addrs, [...alpha.peer.libp2p.getMultiaddrs().map(String), '/ip4/127.0.0.1/tcp/9/http'])
  t.deepEqual(providers[0].protocols, ['transport-bitswap', 'transport-ipfs-gateway-http'])
  t.deepEqual(providers[1].protocols, ['transport-bitswap'])

  // a CID nobody holds has no providers
  const other = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
  for await (const p of main.replication.providers(other, {})) t.fail(`unexpected provider ${p.peerId}`)
})

test('an unpin order removes the row once the node confirms; a root the node lost becomes a failed pin and is ordered again', async t => {
  const key = swarmKey()
  const main = await startReplicationMain(t.context.cleanup, key, t.context.database, { retryDelayMs: 20 })
  const root = (await addRoot(main.peer, 1000)).toString()
  const node = await startFakeNode(t.context.cleanup, key, main, 'alpha')
  await main.replication.pin({ cid: root, node: 'alpha' })
  const [order] = await node.beat()
  await node.beat({ pins: [{ cid: root, orderId: order.orderId, state: 'pinned', blocksDone: 1, bytesDone: 1000 }], pinned: [root] })

  // the node's data was wiped: its list no longer has the root
  await node.beat({ pinned: [] })
  const [lost] = await main.replication.list({ node: 'alpha' })
  // failed, or on a loaded machine already ordered again by the 20 ms retry (which keeps the error)
  t.true(lost.state === 'failed' || (lost.state === 'queued' && lost.attempts === 2), `${lost.state}, attempt ${lost.attempts}`)
  t.is(lost.error?.name, 'PinLostError')
  const repin = await waitFor(async () => (await node.beat()).find(o => o.action === 'pin'), 5000, 'the pin to be ordered again')
  await node.beat({ pins: [{ cid: root, orderId: repin.orderId, state: 'pinned', blocksDone: 1, bytesDone: 1000 }], pinned: [root] })

  const [unpinning] = await main.replication.unpin({ cid: root })
  t.is(unpinning.state, 'unpinning')
  const [unpin] = await node.beat({ pinned: [root] })
  t.like(unpin, { action: 'unpin', cid: root })
  t.is(unpin.providers, undefined)
  await node.beat({ pins: [{ cid: root, orderId: unpin.orderId, state: 'unpinned', blocksDone: 0, bytesDone: 0 }], pinned: [] })
  t.deepEqual(await main.replication.list({ node: 'alpha' }), [])
  await t.throwsAsync(main.replication.unpin({ cid: root }), { name: 'PinNotFoundError' })
})

test('requests that cannot be met are refused with a named error', async t => {
  const key = swarmKey()
  const main = await startReplicationMain(t.context.cleanup, key, t.context.database)
  const root = (await addRoot(main.peer, 1000)).toString()
  await startFakeNode(t.context.cleanup, key, main, 'alpha')
  main.media.set('0123456789abcdef', { id: '0123456789abcdef', renditions: [{ profile: '360p', state: 'partial', root: null }] })
  await t.throwsAsync(main.replication.pin({ cid: root }), { name: 'InvalidRequestError' })
  await t.throwsAsync(main.replication.pin({ cid: root, node: 'alpha', replicas: { min: 1, max: 1 } }), { name: 'InvalidRequestError', message: /not both/ })
  await t.throwsAsync(main.replication.pin({ cid: root, node: 'nobody' }), { name: 'NodeNotFoundError' })
  await t.throwsAsync(main.replication.pin({ cid: 'not-a-cid', node: 'alpha' }), { name: 'InvalidCIDError' })
  await t.throwsAsync(main.replication.pin({ cid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', node: 'alpha' }), { name: 'NothingToReplicateError', message: /neither the main server nor any node holds/ })
  await t.throwsAsync(main.replication.pin({ media: '0123456789abcdef', node: 'alpha' }), { name: 'NothingToReplicateError', message: /no finished rendition .*360p: partial/ })
  await t.throwsAsync(main.replication.pin({ media: 'ffffffffffffffff', node: 'alpha' }), { name: 'MediaNotFoundError' })
  t.deepEqual(main.index.list(), [])
  void CAPACITY
})

test('a replication waiting for its rendition is kept: a restarted main server makes the rendition and orders the pin', async t => {
  const key = swarmKey()
  // the first server never finishes the rendition: it stops while making it
  const main = await startReplicationMain(t.context.cleanup, key, t.context.database, {}, async (_id, _profile, { signal }) => await new Promise<string>((_resolve, reject) => {
    signal.addEventListener('abort', () => { reject(signal.reason) }, { once: true })
  }))
  const root = (await addRoot(main.peer, 1000)).toString()
  const node = await startFakeNode(t.context.cleanup, key, main, 'alpha')
  const media: ReplicableMedia = { id: '0123456789abcdef', renditions: [{ profile: '360p', state: 'partial', root: null }] }
  main.media.set(media.id, media)
  t.is((await main.replication.pin({ media: media.id, node: 'alpha' })).preparing.length, 1)
  const kept = main.catalog.repositories.preparations
  await waitFor(async () => (await kept.list()).length === 1, 5000, 'the request to be kept')
  await main.replication.stop()
  t.deepEqual(await kept.list(), [{ mediaId: media.id, profile: '360p', target: 'alpha' }], 'stopping keeps it')

  // the same catalog, started again: the rendition is made (here at once) and its pin ordered
  const again = createReplication({
    logger: silentLogger(),
    index: createContentIndex({ repository: main.catalog.repositories.contentIndex }),
    goals: createReplicationGoals({ repository: main.catalog.repositories.goals }),
    preparations: kept,
    nodes: main.registry,
    libp2p: main.peer.libp2p,
    blockstore: main.peer.blockstore,
    media: async () => media,
    prepare: async () => root
  }, { heartbeatMs: 300, sweepMs: 50 })
  t.context.cleanup.push(async () => { await again.stop() })
  await again.start()
  await waitFor(() => again.list({ node: 'alpha' }).then(rows => rows.length === 1), 5000, 'the pin to be ordered')
  t.like((await again.list({ node: 'alpha' }))[0], { cid: root, state: 'queued', node: { label: node.label } })
  await waitFor(async () => (await kept.list()).length === 0, 5000, 'the request to be forgotten once ordered')
})

test('an unfinished rendition is made first and its pin ordered then; a rendition that cannot be made says why', async t => {
  const key = swarmKey()
  let made: ((root: string) => void) | undefined
  let broken: ((err: Error) => void) | undefined
  const main = await startReplicationMain(t.context.cleanup, key, t.context.database, {}, async (id, profile) => await new Promise<string>((resolve, reject) => {
    if (profile === '720p') broken = reject
    else made = resolve
  }))
  const root = (await addRoot(main.peer, 1000)).toString()
  const node = await startFakeNode(t.context.cleanup, key, main, 'alpha')
  main.media.set('0123456789abcdef', { id: '0123456789abcdef', renditions: [{ profile: '360p', state: 'partial', root: null }, { profile: '720p', state: 'pending', root: null }] })

  const result = await main.replication.pin({ media: '0123456789abcdef', node: 'alpha' })
  t.deepEqual(result.items, [])
  t.deepEqual(result.preparing.map(p => [p.profile, p.state, p.for]), [['360p', 'transcoding', ['alpha']], ['720p', 'transcoding', ['alpha']]])
  // asked again while it runs: joined, not started twice
  t.is((await main.replication.pin({ media: '0123456789abcdef', profile: '360p', node: 'alpha' })).preparing.length, 1)
  await t.throwsAsync(main.replication.pin({ media: '0123456789abcdef', profile: '1080p', node: 'alpha' }), { name: 'NothingToReplicateError', message: /has no rendition 1080p \(it has 360p, 720p\)/ })
  await t.throwsAsync(main.replication.pin({ media: '0123456789abcdef', replicas: { min: 2, max: 2 } }), { name: 'UnderReplicatedError' })

  made?.(root)
  broken?.(Object.assign(new Error('ffmpeg exited with 1'), { name: 'TranscodeFailedError' }))
  const [order] = await waitFor(async () => { const orders = await node.beat(); return orders.length > 0 ? orders : undefined }, 5000, 'the order')
  t.like(order, { cid: root, action: 'pin' })
  const failed = await waitFor(() => main.replication.preparing('0123456789abcdef').find(p => p.state === 'failed'), 5000, 'the failure')
  t.is(failed.profile, '720p')
  t.is(failed.reason, 'the main server could not make 720p; nothing was ordered: TranscodeFailedError: ffmpeg exited with 1')
  t.deepEqual(main.replication.preparing('0123456789abcdef').map(p => p.profile), ['720p'])
})
