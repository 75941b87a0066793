import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { cidcast } from '../helpers/spawn.ts'
import { waitFor } from '../helpers/tmp.ts'
import { holder, isPinned, localBytes, MIB, node, providerOf, replicationTest, report, settled } from './replication-fixture.ts'
import type { RunningNode } from '../../node/cdn-node.ts'
import type { Blockstore } from 'interface-blockstore'

/*
 * The node side of replication (core/edge/pinner.ts) once content is held: unpin orders and what they free, the
 * data folder's quota, an order nobody can serve, and `cidcast pin verify` finding damaged and missing blocks (and
 * their repair).
 * The world (nodes without a main server, holders in the same private network) is in replication-fixture.ts.
 */

const test = replicationTest()

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

test('cidcast pin verify finds a block damaged on disk and exits 1; the node fetches a good copy once a holder is connected', async t => {
  const source = await holder(t, 3)
  const dataDir = join(t.context.dir, 'verified')
  const cdn = await node(t, { dataDir })
  await cdn.pin(source.root, { providers: [providerOf(source.peer)] })
  t.like(await cdn.pinner.verify(), { broken: [], blocks: 3 + 1, unchecked: 0 })

  const leaves = await leafFiles(join(dataDir, 'blocks'))
  const bytes = await readFile(leaves[0])
  bytes[100] ^= 0xff
  await writeFile(leaves[0], bytes)

  await cdn.peer.libp2p.hangUp(source.peer.libp2p.peerId)
  const found = await cidcast('pin', 'verify', '--node', cdn.url)
  t.is(found.code, 1, found.stderr)
  t.regex(found.stdout, new RegExp(`^corrupt\\tbafk\\w+\\t${source.root.toString()}$`, 'm'))
  t.regex(found.stdout, /^verified \d pinned roots?, \d blocks \(3\.0 MiB\) in [\d.]+ s: 1 broken, 0 repaired$/m)
  // the damaged copy is gone from blocks/ (kept aside in quarantine/), and wanted from every peer since it was found
  t.false((await leafFiles(join(dataDir, 'blocks'))).includes(leaves[0]))
  t.is((await readdir(join(dataDir, 'quarantine'))).length, 1)
  await cdn.peer.libp2p.dial(source.peer.libp2p.getMultiaddrs())
  await waitFor(async () => (await cdn.pinner.verify()).broken.length === 0, 20_000, 'the damaged block to come back from the holder')
  t.true((await localBytes(cdn, source.root)).equals(source.bytes), 'the same bytes')
})

test('cidcast pin verify --repair fetches a block missing from a pinned DAG from the connected peers', async t => {
  const source = await holder(t, 3)
  const dataDir = join(t.context.dir, 'verified')
  const cdn = await node(t, { dataDir })
  await cdn.pin(source.root, { providers: [providerOf(source.peer)] })
  const [lost] = await leafFiles(join(dataDir, 'blocks'))
  await rm(lost)

  const repaired = await cidcast('pin', 'verify', '--repair', '--node', cdn.url)
  t.is(repaired.code, 0, repaired.stdout + repaired.stderr)
  t.regex(repaired.stdout, new RegExp(`^missing\\tbafk\\w+\\t${source.root.toString()}\\trepaired$`, 'm'))
  t.deepEqual((await cdn.pinner.verify()).broken, [])
  t.true((await localBytes(cdn, source.root)).equals(source.bytes), 'the same bytes')
})

/** The block files of 1 MiB (the leaves of a holder's file). */
async function leafFiles (dir: string): Promise<string[]> {
  const files = await dataFiles(dir)
  const sized = await Promise.all(files.map(async f => ({ f, size: (await stat(f)).size })))
  const leaves = sized.filter(x => x.size === MIB).map(x => x.f)
  if (leaves.length === 0) throw new Error('no leaf block file found')
  return leaves
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
