import { randomBytes } from 'node:crypto'
import { unixfs } from '@helia/unixfs'
import * as dagPb from '@ipld/dag-pb'
import { IMPORT_OPTIONS, serveBlockStreams } from '../../core/ipfs/index.ts'
import { silentLogger } from '../../core/logger.ts'
import { createPeer, verifiedBlocksOf } from '../../core/net/peer.ts'
import { freePort } from '../helpers/ports.ts'
import { holder, isPinned, localBytes, MIB, node, providerOf, replicationTest } from './replication-fixture.ts'
import type { Peer } from '../../core/net/peer.ts'
import type { ExecutionContext } from 'ava'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'
import type { ReplicationContext } from './replication-fixture.ts'

/*
 * Pins between nodes over the block stream (core/edge/pin-stream.ts, core/ipfs/block-stream-serve.ts): a holder
 * named without a gateway gives the whole DAG in one stream; a lying holder, one without the protocol, and what is
 * here already are handled; a holder named with its gateway is asked over HTTP first.
 */

const test = replicationTest()

/** The store under a peer's Helia layers and its verified blockstore. */
function below (of: Peer): Blockstore {
  return (of.blockstore as unknown as { unwrap: () => { unwrap: () => Blockstore } }).unwrap().unwrap()
}

/** A block as `of` stores it. */
async function stored (of: Peer, cid: CID): Promise<Buffer> {
  const chunks: Uint8Array[] = []
  for await (const chunk of below(of).get(cid)) chunks.push(chunk)
  return Buffer.concat(chunks)
}

/** The leaves under `root` (a file of one level), in order. */
async function leavesOf (of: Peer, root: CID): Promise<CID[]> {
  return dagPb.decode(await stored(of, root)).Links.map(link => link.Hash)
}

/** A plain peer holding `bytes` that serves block streams from its store as it is, not checking what it reads. */
async function liar (t: ExecutionContext<ReplicationContext>, bytes: Uint8Array): Promise<Peer> {
  const peer = await createPeer({ logger: silentLogger() }, { swarmKey: t.context.swarmKey, verifyBlocks: false })
  t.context.running.push({ stop: async () => { await peer.stop() } })
  await unixfs(peer).addBytes(bytes, IMPORT_OPTIONS)
  const store = verifiedBlocksOf(peer)
  const server = await serveBlockStreams({ libp2p: peer.libp2p, logger: silentLogger(), read: async cid => await store.read(cid), getCodec: peer.getCodec, refuse: () => undefined })
  t.context.running.push({ stop: server.stop })
  return peer
}

test('a node pins from a node named without a gateway over one block stream, every block checked', async t => {
  const alpha = await node(t)
  const bytes = randomBytes(6 * MIB)
  const root = await unixfs(alpha.peer).addBytes(bytes, IMPORT_OPTIONS)
  const beta = await node(t)

  const fetched = await beta.pinner.pin(root, { providers: [providerOf(alpha.peer)] })
  t.is(fetched.bytesFetched, fetched.bytesDone, 'every block came over the network')
  t.is(fetched.bytesFromStream, fetched.bytesFetched, 'all of it over the block stream')
  t.is(fetched.blocksDone, 7)
  t.true(await isPinned(beta, root))
  t.true((await localBytes(beta, root)).equals(bytes))
  t.deepEqual((await beta.pinner.verify()).broken, [])
})

test('a holder that streams a corrupt block is put aside and the pin finishes over bitswap from another peer', async t => {
  const good = await holder(t, 5)
  const lying = await liar(t, good.bytes)
  const bad = (await leavesOf(lying, good.root))[2]
  await below(lying).put(bad, randomBytes(MIB))
  const cdn = await node(t)

  const fetched = await cdn.pinner.pin(good.root, { providers: [providerOf(lying), providerOf(good.peer)] })
  t.true(fetched.bytesFromStream < fetched.bytesFetched, `the stream stopped at the lie (${fetched.bytesFromStream} of ${fetched.bytesFetched} bytes)`)
  t.true((await localBytes(cdn, good.root)).equals(good.bytes), 'the same bytes')
  t.deepEqual((await cdn.pinner.verify()).broken, [])

  // the liar is remembered: a pin of the same content by this node again asks it for no stream
  await cdn.pinner.unpin(good.root)
  const again = await cdn.pinner.pin(good.root, { providers: [providerOf(lying), providerOf(good.peer)] })
  t.is(again.bytesFromStream, 0)
  t.true((await localBytes(cdn, good.root)).equals(good.bytes))
})

test('a holder without the block stream gives the pin its blocks over bitswap', async t => {
  const plain = await holder(t, 3)
  const cdn = await node(t)
  const fetched = await cdn.pinner.pin(plain.root, { providers: [providerOf(plain.peer)] })
  t.is(fetched.bytesFromStream, 0)
  t.is(fetched.bytesFetched, fetched.bytesDone, 'all of it over bitswap')
  t.true((await localBytes(cdn, plain.root)).equals(plain.bytes))
})

test('a pin that finds part of the DAG here has only the rest streamed', async t => {
  const alpha = await node(t)
  const bytes = randomBytes(8 * MIB)
  const root = await unixfs(alpha.peer).addBytes(bytes, IMPORT_OPTIONS)
  const beta = await node(t)
  // the root and three leaves are here, as a pin cut short leaves them
  for (const cid of [root, ...(await leavesOf(alpha.peer, root)).slice(0, 3)]) await beta.peer.blockstore.put(cid, await stored(alpha.peer, cid))

  const fetched = await beta.pinner.pin(root, { providers: [providerOf(alpha.peer)] })
  t.is(fetched.bytesFromStream, 5 * MIB, 'the five missing leaves')
  t.is(fetched.bytesFetched, fetched.bytesFromStream)
  t.is(fetched.blocksDone, 9)
  t.true((await localBytes(beta, root)).equals(bytes))
})

test('a holder named with its gateway is asked over HTTP; once its gateway is put aside, over the block stream', async t => {
  const alpha = await node(t)
  const first = await unixfs(alpha.peer).addBytes(randomBytes(3 * MIB), IMPORT_OPTIONS)
  const beta = await node(t)
  const viaGateway = await beta.pinner.pin(first, { providers: [{ ...providerOf(alpha.peer), gateway: alpha.url }] })
  t.is(viaGateway.bytesFromGateways, viaGateway.bytesFetched, 'HTTP is faster where there is a gateway')
  t.is(viaGateway.bytesFromStream, 0)

  // a gateway nobody answers at is put aside on its first block; that attempt goes on over bitswap, the next pin streams
  const closed = `http://127.0.0.1:${await freePort()}`
  const second = await unixfs(alpha.peer).addBytes(randomBytes(3 * MIB), IMPORT_OPTIONS)
  const aside = await beta.pinner.pin(second, { providers: [{ ...providerOf(alpha.peer), gateway: closed }] })
  t.is(aside.bytesFromGateways, 0)
  const third = await unixfs(alpha.peer).addBytes(randomBytes(3 * MIB), IMPORT_OPTIONS)
  const streamed = await beta.pinner.pin(third, { providers: [{ ...providerOf(alpha.peer), gateway: closed }] })
  t.is(streamed.bytesFromStream, streamed.bytesFetched)
})
