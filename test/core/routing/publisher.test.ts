import { once } from 'node:events'
import { createServer } from 'node:http'
import { createServer as createTcpServer } from 'node:net'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import anyTest from 'ava'
import { MemoryBlockstore } from 'blockstore-core'
import { MemoryDatastore } from 'datastore-core'
import { createHeliaLight } from 'helia'
import Koa from 'koa'
import { CID } from 'multiformats/cid'
import { createLogger } from '../../../core/logger.ts'
import { ipnsNameOf, signIpnsRecord } from '../../../core/routing/ipns-records.ts'
import { createIpnsPublisher, createIpnsRecordStore, readManifest } from '../../../core/routing/index.ts'
import { errors } from '../../../gateway/middleware/errors.ts'
import { routingRoutes } from '../../../gateway/routes/routing.ts'
import { waitFor } from '../../helpers/tmp.ts'
import type { IpnsPublisher, IpnsPublisherInit, IpnsRecordStore, ManifestFields } from '../../../core/routing/index.ts'
import type { PrivateKey } from '@libp2p/interface'
import type { TestFn } from 'ava'
import type { Helia } from 'helia'
import type { AddressInfo, Socket } from 'node:net'

interface Fixture {
  url: string
  /** The store behind the routing API; `forget()` swaps in an empty one, as a server with a new data folder. */
  records: IpnsRecordStore
  forget: () => void
  /** While true the routing API answers every request with 503. */
  failing: { on: boolean }
  stop: () => Promise<void>
}

const test = anyTest as TestFn<Fixture>
const logger = createLogger({ level: 'silent' })
const ROOT_A = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
const ROOT_B = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

test.before(async t => {
  let store = createIpnsRecordStore({ datastore: new MemoryDatastore(), logger })
  const records: IpnsRecordStore = {
    get: async name => await store.get(name),
    put: async (name, bytes) => await store.put(name, bytes),
    entries: () => store.entries(),
    onUpdate: listener => store.onUpdate(listener)
  }
  const failing = { on: false }
  const app = new Koa()
  app.silent = true
  app.use(async (ctx, next) => {
    if (failing.on) {
      ctx.status = 503
      return
    }
    await next()
  })
  app.use(errors(logger))
  const router = routingRoutes({ logger, records })
  app.use(router.routes())
  const server = createServer(app.callback())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  t.context = {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    records,
    forget: () => { store = createIpnsRecordStore({ datastore: new MemoryDatastore(), logger }) },
    failing,
    stop: async () => { server.closeAllConnections(); server.close() }
  }
})

test.after.always(async t => { await t.context.stop?.() })

interface Node { helia: Helia, key: PrivateKey, name: string, datastore: MemoryDatastore }

async function node (datastore = new MemoryDatastore(), key?: PrivateKey): Promise<Node> {
  const helia = createHeliaLight({ blockstore: new MemoryBlockstore(), datastore })
  await helia.start()
  key ??= await generateKeyPair('Ed25519')
  return { helia, key, name: ipnsNameOf(peerIdFromPrivateKey(key)), datastore }
}

function fields (overrides: Partial<ManifestFields> = {}): ManifestFields {
  return {
    name: 'attic',
    mode: 'shared',
    url: 'http://127.0.0.1:9999',
    capacity: { quotaBytes: 10_000_000, usedBytes: 100, freeBytes: 9_999_900 },
    pinned: [ROOT_A],
    ...overrides
  }
}

async function publisherFor (t: { context: Fixture }, n: Node, init: Partial<IpnsPublisherInit> = {}): Promise<IpnsPublisher> {
  const publisher = createIpnsPublisher({ logger, peer: n.helia, privateKey: n.key }, { routingUrl: t.context.url, timeoutMs: 2000, ...init })
  await publisher.start()
  return publisher
}

test('the first update publishes a record naming the manifest, which sits pinned in the node blockstore', async t => {
  const n = await node()
  const publisher = await publisherFor(t, n)
  try {
    const state = await publisher.update(fields())
    t.is(state.name, n.name)
    t.is(state.sequence, 1n)
    const kept = await t.context.records.get(n.name)
    t.is(kept?.value, `/ipfs/${state.manifestCid.toString()}`)
    t.is(kept?.sequence, 1n)
    const manifest = await readManifest(n.helia.blockstore, state.manifestCid)
    t.is(manifest.peerId, peerIdFromPrivateKey(n.key).toString())
    t.deepEqual(manifest.pinned, [ROOT_A])
    t.true(await n.helia.pins.isPinned(state.manifestCid))
    t.deepEqual((await publisher.remote())?.bytes, kept?.bytes)
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test('unchanged content does not republish; new pins do, with the next sequence; used bytes alone wait', async t => {
  const n = await node()
  const publisher = await publisherFor(t, n)
  try {
    const first = await publisher.update(fields())
    const same = await publisher.update(fields({ capacity: { quotaBytes: 10_000_000, usedBytes: 500, freeBytes: 9_999_500 } }))
    t.is(same.sequence, 1n)
    t.true(same.manifestCid.equals(first.manifestCid))
    const second = await publisher.update(fields({ pinned: [ROOT_A, ROOT_B] }))
    t.is(second.sequence, 2n)
    t.false(second.manifestCid.equals(first.manifestCid))
    t.is((await t.context.records.get(n.name))?.value, `/ipfs/${second.manifestCid.toString()}`)
    t.false(await n.helia.pins.isPinned(first.manifestCid), 'the old manifest is unpinned')
    // an explicit publish carries the latest used bytes, keeps updatedAt (content unchanged) and bumps the sequence
    const third = await publisher.publish()
    t.is(third.sequence, 3n)
    t.is(third.manifest.capacity.usedBytes, 100)
    t.is(third.manifest.updatedAt, second.manifest.updatedAt)
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

/** Figures as a node with no quota set reports them: its quota is what the disk could hold, so it moves with the disk. */
function diskFields (diskFreeBytes: number, usedBytes = 100, pinned = [ROOT_A]): ManifestFields {
  return fields({ capacity: { quotaBytes: usedBytes + diskFreeBytes, usedBytes, freeBytes: diskFreeBytes - 64 }, pinned })
}

test('an idle node keeps its sequence while the free space of its disk wiggles between updates', async t => {
  const n = await node()
  const publisher = await publisherFor(t, n)
  try {
    const first = await publisher.update(diskFields(50e9))
    const sequences = new Set<bigint>()
    for (let i = 1; i <= 40; i++) {
      // other programs write and delete files: the disk moves by up to a few hundred MB either way
      sequences.add((await publisher.update(diskFields(50e9 + (i % 2 === 0 ? 1 : -1) * i * 7e6))).sequence)
    }
    t.deepEqual([...sequences], [first.sequence])
    t.is((await t.context.records.get(n.name))?.sequence, first.sequence)
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test('capacity that moves by more than a tenth of the quota publishes; smaller moves wait', async t => {
  const n = await node()
  const publisher = await publisherFor(t, n)
  const capacity = (usedBytes: number): ManifestFields => fields({ capacity: { quotaBytes: 10_000_000, usedBytes, freeBytes: 10_000_000 - usedBytes } })
  try {
    const first = await publisher.update(capacity(100))
    t.is((await publisher.update(capacity(900_000))).sequence, first.sequence, 'a 9% move waits')
    const moved = await publisher.update(capacity(1_200_000))
    t.is(moved.sequence, first.sequence + 1n, 'a 12% move publishes')
    t.is(moved.manifest.capacity.usedBytes, 1_200_000)
    t.not(moved.manifest.updatedAt, first.manifest.updatedAt)
    // measured from what was last published, not from the first figures
    t.is((await publisher.update(capacity(2_000_000))).sequence, moved.sequence)
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test('a quota the owner set is published whenever it changes; one that follows the disk only when it moves far', async t => {
  const set = await node()
  const follows = await node()
  const fixed = await publisherFor(t, set, { fixedQuota: true })
  const floating = await publisherFor(t, follows)
  const quota = (quotaBytes: number): ManifestFields => fields({ capacity: { quotaBytes, usedBytes: 100, freeBytes: quotaBytes - 100 } })
  try {
    t.is((await fixed.update(quota(10_000_000))).sequence, 1n)
    t.is((await fixed.update(quota(9_999_000))).sequence, 2n)
    t.is((await floating.update(quota(10_000_000))).sequence, 1n)
    t.is((await floating.update(quota(9_999_000))).sequence, 1n)
  } finally {
    await fixed.stop()
    await floating.stop()
    await set.helia.stop()
    await follows.helia.stop()
  }
})

test('unpinning a root publishes, whatever the disk does', async t => {
  const n = await node()
  const publisher = await publisherFor(t, n)
  try {
    const first = await publisher.update(diskFields(50e9, 100, [ROOT_A, ROOT_B]))
    const unpinned = await publisher.update(diskFields(50e9 + 3e6, 100, [ROOT_A]))
    t.is(unpinned.sequence, first.sequence + 1n)
    t.deepEqual(unpinned.manifest.pinned, [ROOT_A])
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test('the periodic refresh publishes the live figures that waited', async t => {
  const n = await node()
  const publisher = await publisherFor(t, n, { republishIntervalMs: 300 })
  try {
    const first = await publisher.update(diskFields(50e9))
    const latest = diskFields(50e9 - 5e6)
    t.is((await publisher.update(latest)).sequence, first.sequence)
    const refreshed = await waitFor(() => {
      const state = publisher.state()
      return state != null && state.sequence > first.sequence && state
    }, 10_000, 'the periodic refresh')
    t.deepEqual(refreshed.manifest.capacity, latest.capacity)
    t.is(refreshed.manifest.updatedAt, first.manifest.updatedAt, 'figures alone are not a change of content')
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test('the sequence survives a restart of the publisher on the same datastore', async t => {
  const n = await node()
  let publisher = await publisherFor(t, n)
  await publisher.update(fields())
  await publisher.update(fields({ pinned: [ROOT_B] }))
  await publisher.stop()
  publisher = await publisherFor(t, n)
  try {
    t.is(publisher.state()?.sequence, 2n)
    t.is((await publisher.update(fields({ pinned: [] }))).sequence, 3n)
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test('a node that lost its datastore continues above the sequence the server holds', async t => {
  const key = await generateKeyPair('Ed25519')
  const name = ipnsNameOf(peerIdFromPrivateKey(key))
  await t.context.records.put(name, await signIpnsRecord(key, `/ipfs/${ROOT_B}`, 41))
  const n = await node(new MemoryDatastore(), key)
  const publisher = await publisherFor(t, n)
  try {
    t.is((await publisher.update(fields())).sequence, 42n)
    t.is((await t.context.records.get(name))?.sequence, 42n)
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test('the record is re-signed every republish interval', async t => {
  const n = await node()
  const publisher = await publisherFor(t, n, { republishIntervalMs: 150 })
  try {
    await publisher.update(fields())
    const record = await waitFor(async () => {
      const kept = await t.context.records.get(n.name)
      return kept != null && kept.sequence >= 3n ? kept : undefined
    }, 10_000, 'two republishes')
    t.is(record.value, `/ipfs/${publisher.state()?.manifestCid.toString() ?? ''}`)
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test.serial('a failed publish is retried until the server takes it', async t => {
  const n = await node()
  const publisher = await publisherFor(t, n, { retryMs: 50 })
  t.context.failing.on = true
  try {
    await t.throwsAsync(publisher.update(fields()))
    t.is(await t.context.records.get(n.name), undefined)
    t.context.failing.on = false
    // the server keeps the record a moment before the publisher hears its 200 and saves its state
    const record = await waitFor(async () => publisher.state() != null && await t.context.records.get(n.name), 10_000, 'the retried publish')
    t.true(record.sequence >= 2n, `the failed attempt used up its sequence number, got ${record.sequence}`)
    t.is(record.value, `/ipfs/${publisher.state()?.manifestCid.toString() ?? ''}`)
  } finally {
    t.context.failing.on = false
    await publisher.stop()
    await n.helia.stop()
  }
})

test.serial('a restarted node whose record the server lost publishes again on its first update', async t => {
  const n = await node()
  let publisher = await publisherFor(t, n)
  const first = await publisher.update(fields())
  await publisher.stop()
  t.context.forget()
  t.is(await t.context.records.get(n.name), undefined)
  publisher = await publisherFor(t, n)
  try {
    const again = await publisher.update(fields())
    t.is(again.sequence, first.sequence + 1n)
    t.true(again.manifestCid.equals(first.manifestCid), 'same content, same manifest')
    t.is((await t.context.records.get(n.name))?.sequence, again.sequence)
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test('publishing before any update, or before start, is refused', async t => {
  const n = await node()
  const publisher = createIpnsPublisher({ logger, peer: n.helia, privateKey: n.key }, { routingUrl: t.context.url })
  await t.throwsAsync(publisher.publish(), { name: 'InvalidRequestError' })
  await publisher.start()
  try {
    await t.throwsAsync(publisher.publish(), { name: 'InvalidRequestError' })
    t.throws(() => createIpnsPublisher({ logger, peer: n.helia, privateKey: n.key }, { routingUrl: 'ftp://x' }), { name: 'InvalidConfigError' })
    await t.throwsAsync(publisher.update({ ...fields(), pinned: ['nope'] }), { name: 'InvalidRequestError' })
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test('manifest CIDs are CIDv1 raw blocks', async t => {
  const n = await node()
  const publisher = await publisherFor(t, n)
  try {
    const { manifestCid } = await publisher.update(fields())
    t.true(manifestCid.equals(CID.parse(manifestCid.toString())))
    t.is(manifestCid.code, 0x55)
  } finally {
    await publisher.stop()
    await n.helia.stop()
  }
})

test('start does not wait for a main server that never answers, and stop ends the wait', async t => {
  // accepts connections and never replies, as a wedged server would
  const sockets = new Set<Socket>()
  const silent = createTcpServer(socket => { sockets.add(socket) })
  silent.listen(0, '127.0.0.1')
  await once(silent, 'listening')
  const n = await node()
  const publisher = createIpnsPublisher({ logger, peer: n.helia, privateKey: n.key }, { routingUrl: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`, timeoutMs: 30_000 })
  try {
    const started = Date.now()
    await publisher.start()
    // behaviours, not speeds: neither start nor stop sat out the 30 s deadline (a sixfold margin on a busy machine)
    t.true(Date.now() - started < 5000, `start took ${Date.now() - started} ms`)
    const pending = publisher.update(fields())
    const stopping = Date.now()
    await publisher.stop()
    t.true(Date.now() - stopping < 5000, `stop took ${Date.now() - stopping} ms`)
    await t.throwsAsync(pending)
  } finally {
    for (const socket of sockets) socket.destroy()
    silent.close()
    await n.helia.stop()
  }
})
