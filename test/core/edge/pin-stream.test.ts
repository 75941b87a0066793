import { randomBytes } from 'node:crypto'
import { unixfs } from '@helia/unixfs'
import anyTest from 'ava'
import * as raw from 'multiformats/codecs/raw'
import { generateSwarmKey, parseSwarmKey } from '../../../core/config/index.ts'
import { gatewayMemory } from '../../../core/edge/gateway-blocks.ts'
import { streamDag } from '../../../core/edge/pin-stream.ts'
import { BLOCK_STREAM_PROTOCOL, IMPORT_OPTIONS, jsonFrame, serveBlockStreams } from '../../../core/ipfs/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createPeer, verifiedBlocksOf } from '../../../core/net/index.ts'
import type { Peer } from '../../../core/net/index.ts'
import type { ExecutionContext, TestFn } from 'ava'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/*
 * A pin's block stream (core/edge/pin-stream.ts) against real Helia peers over loopback TCP in one private network:
 * holders that serve the stream (core/ipfs/block-stream-serve.ts), one that lies about a block, one that does not
 * speak the protocol, one that answers and then sends nothing.
 */

interface Context {
  swarmKey: Uint8Array
  peers: Peer[]
}

const test = anyTest as TestFn<Context>
const MIB = 1024 * 1024

test.beforeEach(t => {
  t.context = { swarmKey: parseSwarmKey(generateSwarmKey()), peers: [] }
})
test.afterEach.always(async t => {
  for (const peer of t.context.peers.reverse()) await peer.stop().catch(() => {})
})

async function peer (t: ExecutionContext<Context>, init: { verifyBlocks?: boolean } = {}): Promise<Peer> {
  const made = await createPeer({ logger: silentLogger() }, { swarmKey: t.context.swarmKey, ...init })
  t.context.peers.push(made)
  return made
}

/** The store under a peer's Helia layers and its verified blockstore, where a lying peer keeps other bytes. */
function below (of: Peer): Blockstore {
  return (of.blockstore as unknown as { unwrap: () => { unwrap: () => Blockstore } }).unwrap().unwrap()
}

/** A peer holding `mib` MiB as one UnixFS file and serving block streams to anyone of the network. */
async function holder (t: ExecutionContext<Context>, bytes: Uint8Array, init: { verifyBlocks?: boolean } = {}): Promise<{ peer: Peer, root: CID, reads: CID[] }> {
  const holding = await peer(t, init)
  const root = await unixfs(holding).addBytes(bytes, IMPORT_OPTIONS)
  const reads: CID[] = []
  const store = verifiedBlocksOf(holding)
  const server = await serveBlockStreams({
    libp2p: holding.libp2p,
    logger: silentLogger(),
    read: async cid => { reads.push(cid); return await store.read(cid) },
    getCodec: holding.getCodec,
    refuse: () => undefined
  })
  t.teardown(server.stop)
  return { peer: holding, root, reads }
}

async function connected (t: ExecutionContext<Context>, ...holders: Peer[]): Promise<Peer> {
  const requester = await peer(t)
  for (const h of holders) await requester.libp2p.dial(h.libp2p.getMultiaddrs())
  return requester
}

function componentsOf (requester: Peer): Parameters<typeof streamDag>[0] {
  return { libp2p: requester.libp2p, blockstore: requester.blockstore, getCodec: requester.getCodec, logger: silentLogger() }
}

async function leavesOf (of: Peer): Promise<CID[]> {
  const leaves: CID[] = []
  for await (const pair of below(of).getAll()) if (pair.cid.code === raw.code) leaves.push(pair.cid)
  return leaves
}

async function catOffline (of: Peer, root: CID): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of unixfs(of).cat(root, { offline: true })) chunks.push(chunk)
  return Buffer.concat(chunks)
}

test('a whole DAG comes over one block stream, every block checked and stored, nothing over bitswap', async t => {
  const bytes = randomBytes(6 * MIB + 12345)
  const { peer: holding, root } = await holder(t, bytes)
  const requester = await connected(t, holding)
  const progress: number[] = []

  const streamed = await streamDag(componentsOf(requester), root, [holding.libp2p.peerId], { onProgress: p => progress.push(p.blocksDone) })
  t.true(streamed.complete, streamed.attempts.join('; '))
  t.is(streamed.progress.blocksTotal, 8, 'seven leaves and their root')
  t.is(streamed.progress.blocksDone, 8)
  t.is(streamed.progress.bytesFromStream, streamed.progress.bytesFetched)
  t.is(streamed.progress.bytesFetched, streamed.progress.bytesDone)
  t.is(streamed.progress.bytesDone, streamed.progress.bytesTotal ?? -1)
  t.deepEqual(progress, [0, 1, 2, 3, 4, 5, 6, 7, 8], 'progress block by block')
  t.true((await catOffline(requester, root)).equals(bytes), 'the same bytes, read without the network')
  const report = await verifiedBlocksOf(requester).check(root)
  t.is(report.state, 'ok')
})

test('a holder that sends a block with other bytes is put aside and the DAG comes from the next holder', async t => {
  const bytes = randomBytes(5 * MIB)
  const good = await holder(t, bytes)
  // a holder that does not check what it reads from its disk (a liar would not), one leaf of which has other bytes
  const liar = await holder(t, bytes, { verifyBlocks: false })
  const bad = (await leavesOf(liar.peer))[2]
  await below(liar.peer).put(bad, randomBytes(MIB))
  const requester = await connected(t, liar.peer, good.peer)
  const memory = gatewayMemory()

  const streamed = await streamDag(componentsOf(requester), good.root, [liar.peer.libp2p.peerId, good.peer.libp2p.peerId], { memory })
  t.true(streamed.complete, streamed.attempts.join('; '))
  t.regex(streamed.attempts[0], /put aside \(sent bytes that are not the block /)
  t.regex(memory.aside(liar.peer.libp2p.peerId.toString()) ?? '', /not the block/, 'remembered for the next pins')
  t.true((await catOffline(requester, good.root)).equals(bytes), 'every block right')
  const check = await verifiedBlocksOf(requester).check(bad)
  t.is(check.state, 'ok', 'the tampered bytes were never kept')

  // a later pin (of another node sharing the memory, which lacks the DAG) skips it without asking
  const later = await connected(t, liar.peer)
  const again = await streamDag(componentsOf(later), good.root, [liar.peer.libp2p.peerId], { memory })
  t.false(again.complete)
  t.regex(again.attempts[0], /put aside earlier/)
})

test('a holder that does not speak the protocol leaves the whole DAG to the other path', async t => {
  const plain = await peer(t)
  const root = await unixfs(plain).addBytes(randomBytes(2 * MIB), IMPORT_OPTIONS)
  const requester = await connected(t, plain)
  const streamed = await streamDag(componentsOf(requester), root, [plain.libp2p.peerId])
  t.false(streamed.complete)
  t.regex(streamed.attempts[0], /no block stream \(UnsupportedProtocolError\)/)
  t.is(streamed.progress.bytesFetched, 0)
  t.false(await requester.blockstore.has(root))
})

test('a holder that answers and then sends nothing is left after the stall deadline', async t => {
  const silent = await peer(t)
  const root = await unixfs(silent).addBytes(randomBytes(MIB), IMPORT_OPTIONS)
  await silent.libp2p.handle(BLOCK_STREAM_PROTOCOL, stream => { stream.send(jsonFrame({ ok: true })) })
  const requester = await connected(t, silent)
  const started = Date.now()
  const streamed = await streamDag(componentsOf(requester), root, [silent.libp2p.peerId], { stallTimeoutMs: 400 })
  t.false(streamed.complete)
  t.regex(streamed.attempts[0], /stalled after 0 blocks/)
  t.true(Date.now() - started < 5000)
})

test('a resumed pin names what it holds and the holder sends only what is missing', async t => {
  const bytes = randomBytes(8 * MIB)
  const { peer: holding, root, reads } = await holder(t, bytes)
  const requester = await connected(t, holding)
  // half the leaves and the root are here already, as a pin cut short leaves them
  const leaves = await leavesOf(holding)
  const kept = [root, ...leaves.slice(0, 4)]
  for (const cid of kept) {
    const chunks: Uint8Array[] = []
    for await (const chunk of below(holding).get(cid)) chunks.push(chunk)
    await requester.blockstore.put(cid, Buffer.concat(chunks))
  }

  const streamed = await streamDag(componentsOf(requester), root, [holding.libp2p.peerId])
  t.true(streamed.complete, streamed.attempts.join('; '))
  t.is(streamed.progress.blocksDone, 9)
  t.is(streamed.progress.bytesFromStream, 4 * MIB, 'the four missing leaves')
  t.is(streamed.progress.bytesDone, streamed.progress.bytesTotal ?? -1, 'what was here counts in the progress')
  const leafReads = reads.filter(cid => cid.code === raw.code)
  t.is(leafReads.length, 4, 'the holder read no leaf the requester had')
  t.true((await catOffline(requester, root)).equals(bytes))
})
