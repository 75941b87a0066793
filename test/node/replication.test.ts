import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import * as raw from 'multiformats/codecs/raw'
import { IMPORT_OPTIONS } from '../../core/ipfs/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { createPeer } from '../../core/net/peer.ts'
import { freePort } from '../helpers/ports.ts'
import { waitFor } from '../helpers/tmp.ts'
import { holder, isPinned, localBytes, MIB, node, providerOf, replicationTest, report, settled } from './replication-fixture.ts'
import type { PinOrder } from '../../core/control/index.ts'
import type { AddressInfo } from 'node:net'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/*
 * The node side of replication (core/edge/pinner.ts): where a pin's blocks come from (the peer an order names, a
 * peer that holds them now, a holder's trustless gateway) and how bytes that do not hash right are refused. The
 * world (nodes without a main server, holders in the same private network) is in replication-fixture.ts.
 */

const test = replicationTest()

test('an order is fetched from the peer it names, reported with progress, and forgotten once the server stops repeating it', async t => {
  const source = await holder(t, 6)
  const cdn = await node(t)
  const order: PinOrder = { cid: source.root.toString(), action: 'pin', orderId: 'order-1', providers: [providerOf(source.peer)] }
  cdn.pinner.apply([order])
  t.true(cdn.pinner.busy())
  t.truthy(report(cdn, 'order-1'), 'reported from the moment it arrives')

  const done = await settled(cdn, 'order-1')
  t.is(done.state, 'pinned', JSON.stringify(done.error))
  t.is(done.blocksTotal ?? 0, 7, 'six 1 MiB leaves and their root')
  t.is(done.blocksDone, 7)
  t.is(done.bytesDone, done.bytesTotal ?? -1)
  t.true((done.bytesTotal ?? 0) > 6 * MIB)
  t.false(cdn.pinner.busy())
  t.true(await isPinned(cdn, source.root))
  t.true((await localBytes(cdn, source.root)).equals(source.bytes), 'the same bytes')

  // the reply that carried the report still repeats the order: it is reported again
  cdn.pinner.apply([order])
  t.is(report(cdn, 'order-1')?.state, 'pinned')
  cdn.pinner.reports()
  // a reply without it: the server has recorded the final state
  cdn.pinner.apply([])
  t.is(report(cdn, 'order-1'), undefined)

  // the same order again (a server that lost track) finishes at once: the root is here
  cdn.pinner.apply([order])
  t.is((await settled(cdn, 'order-1', 5000)).state, 'pinned')
})

test('a pin stopped half way resumes at the next start and finishes without fetching twice what it had', async t => {
  const source = await holder(t, 24)
  let served = 0
  const store = (source.peer.blockstore as unknown as { unwrap: () => Blockstore }).unwrap()
  const get = store.get.bind(store)
  store.get = (cid, options) => {
    if (cid.code === raw.code) served++
    return get(cid, options)
  }
  const dataDir = join(t.context.dir, 'resumed')
  const first = await node(t, { dataDir, pinner: { fetchConcurrency: 1 } })
  first.pinner.apply([{ cid: source.root.toString(), action: 'pin', orderId: 'resume-me', providers: [providerOf(source.peer)] }])
  await waitFor(() => (report(first, 'resume-me')?.blocksDone ?? 0) >= 5, 20_000, `a few blocks (${JSON.stringify(report(first, 'resume-me'))})`)
  await first.stop()

  const second = await node(t, { dataDir })
  t.true(second.pinner.busy(), 'the saved order is running again')
  const done = await settled(second, 'resume-me')
  t.is(done.state, 'pinned', JSON.stringify(done.error))
  t.is(done.blocksDone, 25)
  t.true((await localBytes(second, source.root)).equals(source.bytes), 'the same bytes')
  // a block or two may have been in flight at the stop; nothing like a second full transfer
  t.true(served <= 24 + 3, `the holder read ${served} leaves for 24`)
})

test('a node pins from another node once the peer it first got the content from is gone', async t => {
  const source = await holder(t, 4)
  const a = await node(t)
  await a.pin(source.root, { providers: [providerOf(source.peer)] })
  await source.peer.stop()

  const b = await node(t)
  b.pinner.apply([{ cid: source.root.toString(), action: 'pin', orderId: 'from-a', providers: [providerOf(source.peer), providerOf(a.peer)] }])
  const done = await settled(b, 'from-a')
  t.is(done.state, 'pinned', JSON.stringify(done.error))
  t.true((await localBytes(b, source.root)).equals(source.bytes), 'the same bytes')
})

test('a root unpinned and pinned again at once over bitswap comes back without waiting for a re-want', async t => {
  const good = await holder(t, 3)
  const cdn = await node(t, { pinFrom: 'p2p' })
  await cdn.pinner.pin(good.root, { providers: [providerOf(good.peer)] })
  await cdn.pinner.unpin(good.root)
  t.false(await isPinned(cdn, good.root))
  // the holder has just sent every block once; a want it swallowed would be asked again only after 6 s
  const again = await cdn.pinner.pin(good.root, { providers: [providerOf(good.peer)], signal: AbortSignal.timeout(5000) })
  t.is(again.bytesFetched, again.bytesDone, 'fetched again, over bitswap')
  t.true((await localBytes(cdn, good.root)).equals(good.bytes))
})

test('a pin takes its blocks from a holder\'s trustless gateway, each hashed, without a libp2p connection to it', async t => {
  const alpha = await node(t)
  const bytes = randomBytes(5 * MIB)
  const root = await unixfs(alpha.peer).addBytes(bytes, IMPORT_OPTIONS)
  const beta = await node(t)

  const fetched = await beta.pinner.pin(root, { providers: [{ peerId: alpha.peer.libp2p.peerId.toString(), addrs: [], gateway: alpha.url }] })
  t.is(fetched.bytesFetched, fetched.bytesDone, 'every block came over the network')
  t.is(fetched.bytesFromGateways, fetched.bytesFetched, 'all of it from alpha\'s gateway')
  t.is(beta.peer.libp2p.getConnections(alpha.peer.libp2p.peerId).length, 0, 'no libp2p connection was needed')
  t.true(await isPinned(beta, root))
  t.true((await localBytes(beta, root)).equals(bytes))
  t.deepEqual((await beta.pinner.verify()).broken, [])
})

test('with every gateway put aside and no peer to ask, a pin says so at once rather than stalling', async t => {
  const cdn = await node(t)
  const { peer, root } = await holder(t, 1)
  // a gateway at a port nobody listens on, and a holder the node is not connected to (no addresses)
  const closed = `http://127.0.0.1:${await freePort()}`
  const err = await t.throwsAsync(cdn.pinner.pin(root, { providers: [{ peerId: peer.libp2p.peerId.toString(), addrs: [], gateway: closed }] }))
  // (not PinStalledError after the stall deadline)
  t.is(err?.name, 'NoProviderReachableError')
  t.regex(err?.message ?? '', /no gateway gave block .*put aside: did not answer.*ECONNREFUSED.*no peer is connected/)
})

test('a gateway sending a corrupted block is put aside: nothing wrong is kept and the pin finishes over bitswap', async t => {
  const good = await holder(t, 5)
  const alpha = await node(t)
  await unixfs(alpha.peer).addBytes(good.bytes, IMPORT_OPTIONS)
  const leaves: CID[] = []
  for await (const pair of (good.peer.blockstore as unknown as { unwrap: () => Blockstore }).unwrap().getAll()) if (pair.cid.code === raw.code) leaves.push(pair.cid)
  const bad = leaves[2].toString()
  // alpha's gateway behind a proxy that answers the one block with other bytes of the same length
  const asked: string[] = []
  const liar = createServer((req, res) => {
    asked.push(req.url ?? '')
    if (req.url?.includes(bad) === true) {
      res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.raw' }).end(randomBytes(MIB))
      return
    }
    void fetch(alpha.url + (req.url ?? ''), { headers: { Accept: 'application/vnd.ipld.raw', 'Cache-Control': 'only-if-cached' } }).then(async answer => {
      res.writeHead(answer.status, { 'Content-Type': 'application/vnd.ipld.raw' }).end(Buffer.from(await answer.arrayBuffer()))
    })
  })
  await new Promise<void>(resolve => liar.listen(0, '127.0.0.1', resolve))
  t.context.running.push({ stop: async () => { liar.closeAllConnections(); await new Promise(resolve => liar.close(resolve)) } })
  const gateway = `http://127.0.0.1:${(liar.address() as AddressInfo).port}`

  const beta = await node(t)
  const fetched = await beta.pinner.pin(good.root, { providers: [{ peerId: alpha.peer.libp2p.peerId.toString(), addrs: [], gateway }, providerOf(good.peer)] })
  t.is(asked.filter(path => path.includes(bad)).length, 1, 'the tampered block was asked of the gateway once')
  t.true(fetched.bytesFromGateways > 0 && fetched.bytesFromGateways < fetched.bytesFetched, 'some blocks from the gateway, the rest over bitswap')
  t.true((await localBytes(beta, good.root)).equals(good.bytes), 'the same bytes')
  t.deepEqual((await beta.pinner.verify()).broken, [])
})

test('a peer serving a corrupted block is not believed: the bytes are refused and the pin finishes from another peer', async t => {
  const good = await holder(t, 5)
  // a peer with the same DAG, one leaf of which it serves with other bytes (it does not check what it reads from its
  // disk, as every cidcast peer does: a lying peer would not)
  const liar = await createPeer({ logger: silentLogger() }, { swarmKey: t.context.swarmKey, verifyBlocks: false })
  t.context.running.push({ stop: async () => { await liar.stop() } })
  await unixfs(liar).addBytes(good.bytes, IMPORT_OPTIONS)
  const leaves: CID[] = []
  for await (const pair of (liar.blockstore as unknown as { unwrap: () => Blockstore }).unwrap().getAll()) if (pair.cid.code === raw.code) leaves.push(pair.cid)
  const bad = leaves[2]
  // below Helia's storage layers (which skip a put of a block they already have)
  const below = (liar.blockstore as unknown as { unwrap: () => { unwrap: () => Blockstore } }).unwrap().unwrap()
  await below.put(bad, randomBytes(MIB))

  const cdn = await node(t, { pinner: { stallTimeoutMs: 4000 } })
  // only the liar: every block arrives but that one, whose bytes hash to another CID
  const stalled = await t.throwsAsync(cdn.pin(good.root, { providers: [providerOf(liar)] }))
  t.is(stalled?.name, 'PinStalledError')
  t.regex(stalled?.message ?? '', /no block .* arrived/)
  t.false(await cdn.peer.blockstore.has(bad), 'the tampered bytes were not stored')
  for (const leaf of leaves.filter(l => !l.equals(bad))) t.true(await cdn.peer.blockstore.has(leaf), 'the honest blocks were')

  // with an honest peer as well, the pin finishes and every block is right
  await cdn.pin(good.root, { providers: [providerOf(liar), providerOf(good.peer)] })
  t.true((await localBytes(cdn, good.root)).equals(good.bytes), 'the same bytes')
  t.deepEqual((await cdn.pinner.verify()).broken, [])
})
