import { execFile } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { readdir, readFile, stat, writeFile } from 'node:fs/promises'
import { createServer } from 'node:http'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { unixfs } from '@helia/unixfs'
import anyTest from 'ava'
import * as raw from 'multiformats/codecs/raw'
import { IMPORT_OPTIONS } from '../../core/ipfs/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { createPeer } from '../../core/net/peer.ts'
import { generateSwarmKey, parseSwarmKey } from '../../core/net/swarm-key.ts'
import { startNode } from '../../node/cdn-node.ts'
import { freePort } from '../helpers/ports.ts'
import { tempDir, waitFor } from '../helpers/tmp.ts'
import type { PinOrder, PinProvider, PinReport } from '../../core/control/index.ts'
import type { Peer } from '../../core/net/peer.ts'
import type { RunningNode, StartNodeOptions } from '../../node/cdn-node.ts'
import type { ExecutionContext, TestFn } from 'ava'
import type { AddressInfo } from 'node:net'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/*
 * The node side of replication (core/edge/pinner.ts) on real nodes and real Helia peers over loopback. The
 * nodes here have no main server (their server URL answers nothing), so their only peers are the ones an order
 * names: which peer served what is never in doubt. Orders are handed to the pinner as a heartbeat reply would.
 */

interface Context {
  dir: string
  remove: () => Promise<void>
  swarmKeyFile: string
  swarmKey: Uint8Array
  running: Array<{ stop: () => Promise<void> }>
}

const test = anyTest as TestFn<Context>
const CLI = fileURLToPath(new URL('../../bin/cidcast.js', import.meta.url))
const MIB = 1024 * 1024
/** A server URL nobody answers at: the nodes keep trying to register, in the background, harmlessly. */
const NO_SERVER = 'http://127.0.0.1:9'

test.beforeEach(async t => {
  const dir = await tempDir('cidcast-replication-')
  const text = generateSwarmKey()
  const swarmKeyFile = join(dir.path, 'swarm.key')
  await writeFile(swarmKeyFile, text)
  t.context = { dir: dir.path, remove: dir.remove, swarmKeyFile, swarmKey: parseSwarmKey(text), running: [] }
})

test.afterEach.always(async t => {
  for (const part of t.context.running.reverse()) await part.stop().catch(() => {})
  await t.context.remove()
})

let count = 0

/** A plain Helia peer in the same private network holding `mib` MiB of random bytes as one UnixFS file. */
async function holder (t: ExecutionContext<Context>, mib: number): Promise<{ peer: Peer, root: CID, bytes: Uint8Array }> {
  const peer = await createPeer({ logger: silentLogger() }, { swarmKey: t.context.swarmKey })
  t.context.running.push({ stop: async () => { await peer.stop() } })
  const bytes = randomBytes(mib * MIB)
  const root = await unixfs(peer).addBytes(bytes, IMPORT_OPTIONS)
  return { peer, root, bytes }
}

async function node (t: ExecutionContext<Context>, options: StartNodeOptions = {}): Promise<RunningNode> {
  const running = await startNode({
    dataDir: join(t.context.dir, `node-${++count}`),
    swarmKeyFile: t.context.swarmKeyFile,
    server: NO_SERVER,
    listen: '127.0.0.1:0',
    p2pListen: ['/ip4/127.0.0.1/tcp/0'],
    logLevel: 'silent',
    minBackoffMs: 1000,
    maxBackoffMs: 1000,
    name: `replica ${count}`,
    ...options,
    pinner: { stallTimeoutMs: 15_000, retryDelayMs: 50, maxAttempts: 2, ...options.pinner }
  })
  t.context.running.push(running)
  return running
}

function providerOf (peer: Peer): PinProvider {
  return { peerId: peer.libp2p.peerId.toString(), addrs: peer.libp2p.getMultiaddrs().map(String) }
}

function report (cdn: RunningNode, orderId: string): PinReport | undefined {
  return cdn.pinner.reports().find(r => r.orderId === orderId)
}

async function settled (cdn: RunningNode, orderId: string, timeoutMs = 20_000): Promise<PinReport> {
  return await waitFor(() => {
    const r = report(cdn, orderId)
    return r != null && ['pinned', 'failed', 'unpinned'].includes(r.state) && r
  }, timeoutMs, `order ${orderId} to settle (now ${JSON.stringify(report(cdn, orderId))})`)
}

async function isPinned (cdn: RunningNode, root: CID): Promise<boolean> {
  for await (const pin of cdn.peer.pins.ls()) if (pin.cid.equals(root)) return true
  return false
}

/** The file's bytes as the node holds them, read offline (nothing may come from the network). */
async function localBytes (cdn: RunningNode, root: CID): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of unixfs(cdn.peer).cat(root, { offline: true })) chunks.push(chunk)
  return Buffer.concat(chunks)
}

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
  // a peer with the same DAG, one leaf of which it serves with other bytes
  const liar = await createPeer({ logger: silentLogger() }, { swarmKey: t.context.swarmKey })
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

test('an unpin order removes the pin and its blocks, keeps blocks other pins hold, and frees the space', async t => {
  const one = await holder(t, 4)
  const two = await holder(t, 3)
  const cdn = await node(t)
  const pinned = await cdn.pinner.pin(one.root, { providers: [providerOf(one.peer)] })
  await cdn.pin(two.root, { providers: [providerOf(two.peer)] })
  const before = await usedBytes(cdn)

  cdn.pinner.apply([{ cid: one.root.toString(), action: 'unpin', orderId: 'drop-one' }])
  const done = await settled(cdn, 'drop-one')
  t.is(done.state, 'unpinned', JSON.stringify(done.error))
  t.is(done.blocksDone, 5)
  t.false(await isPinned(cdn, one.root))
  t.false(await cdn.peer.blockstore.has(one.root))
  t.true(await isPinned(cdn, two.root))
  t.true((await localBytes(cdn, two.root)).equals(two.bytes), 'the same bytes')
  t.is(done.bytesDone, pinned.bytesTotal ?? -1, 'the whole DAG was freed')
  // what the next heartbeat says (give or take the node's own manifest, republished meanwhile)
  const freed = before - await usedBytes(cdn)
  t.true(Math.abs(freed - done.bytesDone) < 4096, `the node reports ${freed} bytes freed at once`)

  // unpinning what is not held finishes at once
  cdn.pinner.apply([{ cid: one.root.toString(), action: 'unpin', orderId: 'drop-again' }])
  t.like(await settled(cdn, 'drop-again'), { state: 'unpinned', blocksDone: 0 })
})

test('an unpin stops a pin of the same root on its way, and collects what it had fetched', async t => {
  const source = await holder(t, 16)
  const cdn = await node(t, { pinner: { fetchConcurrency: 1 } })
  cdn.pinner.apply([{ cid: source.root.toString(), action: 'pin', orderId: 'slow', providers: [providerOf(source.peer)] }])
  await waitFor(() => (report(cdn, 'slow')?.blocksDone ?? 0) >= 3, 20_000, 'a few blocks')
  cdn.pinner.apply([{ cid: source.root.toString(), action: 'unpin', orderId: 'stop-it' }])
  const pin = await settled(cdn, 'slow')
  t.is(pin.state, 'failed')
  t.is(pin.error?.name, 'PinCancelledError')
  t.regex(pin.error?.message ?? '', /unpin order stop-it/)
  t.is((await settled(cdn, 'stop-it')).state, 'unpinned')
  t.is(await blocksBytes(cdn), await manifestBytes(cdn), 'only the node\'s own manifest is left')
})

test('a full data folder refuses a pin before fetching when the order gives its size, and stops one that fills it', async t => {
  const source = await holder(t, 8)
  const cdn = await node(t, { quotaBytes: 4 * MIB, reserveBytes: 0 })
  cdn.pinner.apply([{ cid: source.root.toString(), action: 'pin', orderId: 'too-big', providers: [providerOf(source.peer)], bytesTotal: 8 * MIB + 500 }])
  const refused = await settled(cdn, 'too-big')
  t.is(refused.state, 'failed')
  t.is(refused.error?.name, 'DataFolderFullError')
  t.regex(refused.error?.message ?? '', /MB free, the content needs 8\.4 MB/)
  t.is(refused.blocksDone, 0)

  cdn.pinner.apply([{ cid: source.root.toString(), action: 'pin', orderId: 'unsized', providers: [providerOf(source.peer)] }])
  const stopped = await settled(cdn, 'unsized')
  t.is(stopped.state, 'failed')
  t.is(stopped.error?.name, 'DataFolderFullError')
  t.regex(stopped.error?.message ?? '', /became full/)
  t.true(await blocksBytes(cdn) <= 4 * MIB + MIB, 'at most one block over the quota')
  t.false(await isPinned(cdn, source.root))
})

test('with no reachable provider an order says why while it retries, then fails with the reason', async t => {
  const source = await holder(t, 1)
  const gone = providerOf(source.peer)
  await source.peer.stop()
  const cdn = await node(t, { pinner: { maxAttempts: 3, retryDelayMs: 300 } })
  cdn.pinner.apply([{ cid: source.root.toString(), action: 'pin', orderId: 'nobody', providers: [gone] }])
  const retrying = await waitFor(() => { const r = report(cdn, 'nobody'); return r?.error != null && r.state !== 'failed' && r }, 10_000, 'a retry')
  t.is(retrying.state, 'pinning')
  t.is(retrying.error?.name, 'NoProviderReachableError')
  t.regex(retrying.error?.message ?? '', /attempt 1 of 3; next in/)
  const failed = await settled(cdn, 'nobody')
  t.is(failed.state, 'failed')
  t.is(failed.error?.name, 'NoProviderReachableError')
  t.regex(failed.error?.message ?? '', /none of the 1 providers answered .*attempt 3 of 3/)
})

test('cidcast pin verify finds a block damaged on disk and exits 1; --repair fetches a good copy', async t => {
  const source = await holder(t, 3)
  const dataDir = join(t.context.dir, 'verified')
  const cdn = await node(t, { dataDir })
  await cdn.pin(source.root, { providers: [providerOf(source.peer)] })
  t.like(await cdn.pinner.verify(), { broken: [], blocks: 3 + 1, unchecked: 0 })

  const files = await dataFiles(join(dataDir, 'blocks'))
  const leaf = (await Promise.all(files.map(async f => ({ f, size: (await stat(f)).size })))).find(x => x.size === MIB)
  if (leaf == null) throw new Error('no leaf block file found')
  const bytes = await readFile(leaf.f)
  bytes[100] ^= 0xff
  await writeFile(leaf.f, bytes)

  await cdn.peer.libp2p.hangUp(source.peer.libp2p.peerId)
  const found = await cidcast('pin', 'verify', '--node', cdn.url)
  t.is(found.code, 1, found.stderr)
  t.regex(found.stdout, new RegExp(`^corrupt\\tbafk\\w+\\t${source.root.toString()}$`, 'm'))
  t.regex(found.stdout, /^verified \d pinned roots?, \d blocks \(3\.0 MiB\) in [\d.]+ s: 1 broken, 0 repaired$/m)
  // repair asks the connected peers (bitswap checks what arrives against the CID)
  await cdn.peer.libp2p.dial(source.peer.libp2p.getMultiaddrs())
  const repaired = await cidcast('pin', 'verify', '--repair', '--node', cdn.url)
  t.is(repaired.code, 0, repaired.stdout + repaired.stderr)
  t.regex(repaired.stdout, /^corrupt\t\w+\t\w+\trepaired$/m)
  t.deepEqual((await cdn.pinner.verify()).broken, [])
  t.true((await localBytes(cdn, source.root)).equals(source.bytes), 'the same bytes')
})

/** Runs the CLI from the sources (not a bundle that may predate them). */
async function cidcast (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await new Promise(resolve => {
    execFile(process.execPath, [CLI, ...args], { env: { ...process.env, CIDCAST_FROM_SOURCE: '1' } }, (err, stdout, stderr) => {
      resolve({ code: err == null ? 0 : (err as { code?: number }).code ?? 1, stdout, stderr })
    })
  })
}

async function dataFiles (dir: string): Promise<string[]> {
  const out: string[] = []
  for (const entry of await readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) out.push(join(entry.parentPath, entry.name))
  }
  return out
}

/** What the node reports as used (its health answer, as in heartbeats). */
async function usedBytes (cdn: RunningNode): Promise<number> {
  const health = await (await fetch(`${cdn.url}/healthz`)).json() as { capacity: { usedBytes: number } }
  return health.capacity.usedBytes
}

async function blocksBytes (cdn: RunningNode): Promise<number> {
  let total = 0
  const store = (cdn.peer.blockstore as unknown as { unwrap: () => Blockstore }).unwrap()
  for await (const pair of store.getAll()) for await (const chunk of pair.bytes) total += chunk.byteLength
  return total
}

/** Bytes of the node's own pinned IPNS manifest (none here: it has no main server to publish to). */
async function manifestBytes (cdn: RunningNode): Promise<number> {
  let total = 0
  for await (const pin of cdn.peer.pins.ls()) {
    if (pin.metadata?.cidcast !== 'manifest') continue
    for await (const chunk of cdn.peer.blockstore.get(pin.cid, { offline: true })) total += chunk.byteLength
  }
  return total
}
