import { randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import anyTest from 'ava'
import { varint } from 'multiformats'
import { createNodeCredentialIssuer, createNodeCredentialVerifier, credentialedPeers, openSigningKeyRing, SIGNING_KEYS_FILE } from '../../../core/access/index.ts'
import { generateSwarmKey, parseSwarmKey } from '../../../core/config/index.ts'
import { BLOCK_STREAM_PROTOCOL, FrameReader, frame, IMPORT_OPTIONS, jsonFrame, MAX_BLOCK_FRAME_BYTES, MAX_CONTROL_FRAME_BYTES, MAX_REQUEST_BYTES, parseJson, serveBlockStreams } from '../../../core/ipfs/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createPeer, verifiedBlocksOf } from '../../../core/net/index.ts'
import { tempDir, waitFor } from '../../helpers/tmp.ts'
import type { BlockStreamAnswer, BlockStreamServer, BlockStreamServerInit } from '../../../core/ipfs/index.ts'
import type { Peer } from '../../../core/net/index.ts'
import type { Stream } from '@libp2p/interface'
import type { ExecutionContext, TestFn } from 'ava'
import type { CID } from 'multiformats/cid'

/*
 * The holder's end of the block stream (core/ipfs/block-stream-serve.ts) against requesters that misbehave, over
 * real Helia peers in one private network: what a holder gives is its own blocks only, to whom its gateway would
 * give them, and what a requester can make it spend is bounded.
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

async function peer (t: ExecutionContext<Context>): Promise<Peer> {
  const made = await createPeer({ logger: silentLogger() }, { swarmKey: t.context.swarmKey })
  t.context.peers.push(made)
  return made
}

/** A peer holding `mib` MiB, serving block streams by `refuse` (anyone by default). */
async function holder (t: ExecutionContext<Context>, mib: number, init: BlockStreamServerInit = {}, refuse: (peer: { toString: () => string }, credential: string | undefined) => string | undefined = () => undefined): Promise<{ peer: Peer, root: CID, server: BlockStreamServer }> {
  const holding = await peer(t)
  const root = await unixfs(holding).addBytes(randomBytes(mib * MIB), IMPORT_OPTIONS)
  const store = verifiedBlocksOf(holding)
  const server = await serveBlockStreams({ libp2p: holding.libp2p, logger: silentLogger(), read: async cid => await store.read(cid), getCodec: holding.getCodec, refuse }, init)
  t.teardown(server.stop)
  return { peer: holding, root, server }
}

async function open (from: Peer, to: Peer): Promise<Stream> {
  return await from.libp2p.dialProtocol(to.libp2p.getMultiaddrs(), BLOCK_STREAM_PROTOCOL)
}

/** Sends a request and reads the answer and whatever follows, as a well-behaved requester does. */
async function ask (from: Peer, to: Peer, request: unknown): Promise<{ answer: BlockStreamAnswer, blocks: number, trailer?: unknown }> {
  const stream = await open(from, to)
  const reader = new FrameReader(stream, 8 * MIB)
  stream.send(jsonFrame(request))
  await stream.close()
  const signal = AbortSignal.timeout(10_000)
  const answer = parseJson(await reader.next(MAX_CONTROL_FRAME_BYTES, signal) ?? new Uint8Array()) as BlockStreamAnswer
  let blocks = 0
  if (!answer.ok) return { answer, blocks }
  for (;;) {
    const body = await reader.next(MAX_BLOCK_FRAME_BYTES, signal)
    if (body == null) throw new Error('no trailer')
    if (body.byteLength === 0) return { answer, blocks, trailer: parseJson(await reader.next(MAX_CONTROL_FRAME_BYTES, signal) ?? new Uint8Array()) }
    blocks++
  }
}

test('a holder streams only a root it holds, and fetches nothing for the asker', async t => {
  const { peer: holding } = await holder(t, 1)
  // a third peer, connected to the holder, has another DAG: bitswap could get it, the stream must not
  const other = await peer(t)
  const elsewhere = await unixfs(other).addBytes(randomBytes(MIB), IMPORT_OPTIONS)
  await holding.libp2p.dial(other.libp2p.getMultiaddrs())
  const requester = await peer(t)

  const { answer } = await ask(requester, holding, { root: elsewhere.toString() })
  t.deepEqual(answer, { ok: false, error: 'NotFoundError', message: `${elsewhere.toString()} is not held here` })
  t.false(await holding.blockstore.has(elsewhere), 'the holder did not fetch it')
})

test('when media are not public, only a node showing a credential that names it gets blocks', async t => {
  const dir = await tempDir('cidcast-block-stream-')
  t.teardown(dir.remove)
  const keys = await openSigningKeyRing({ logger: silentLogger() }, { path: join(dir.path, SIGNING_KEYS_FILE) })
  const refuse = credentialedPeers({ nodes: createNodeCredentialVerifier({ keys }), publicMedia: () => false })
  const { peer: holding, root } = await holder(t, 2, {}, refuse)
  const requester = await peer(t)
  const someoneElse = await peer(t)
  const issue = (of: Peer): string => createNodeCredentialIssuer({ keys }).issue(of.libp2p.peerId.toString()).credential

  const bare = await ask(requester, holding, { root: root.toString() })
  t.like(bare.answer, { ok: false, error: 'ForbiddenError', message: 'media are not public here: a node credential is needed' })
  const borrowed = await ask(requester, holding, { root: root.toString(), credential: issue(someoneElse) })
  t.like(borrowed.answer, { ok: false, error: 'ForbiddenError', message: 'the node credential names another peer' })
  const forged = await ask(requester, holding, { root: root.toString(), credential: 'x'.repeat(40) })
  t.like(forged.answer, { ok: false, error: 'ForbiddenError' })

  const own = await ask(requester, holding, { root: root.toString(), credential: issue(requester) })
  t.true(own.answer.ok)
  t.is(own.blocks, 3, 'two leaves and their root')
  t.deepEqual(own.trailer, { sent: 3, missing: 0 })
})

test('a peer gets at most two streams at once; more are told the holder is busy', async t => {
  const { peer: holding, root, server } = await holder(t, 24, { sendTimeoutMs: 60_000 })
  const requester = await peer(t)
  // two streams whose reader stops taking data: each holds the holder's attention until its deadline
  const stuck: Stream[] = []
  for (let i = 0; i < 2; i++) {
    const stream = await open(requester, holding)
    stream.maxReadBufferLength = 64 * MIB
    stream.pause()
    stream.send(jsonFrame({ root: root.toString() }))
    stuck.push(stream)
  }
  await waitFor(() => server.active() === 2, 5000, 'two streams served')
  const third = await ask(requester, holding, { root: root.toString() })
  t.like(third.answer, { ok: false, error: 'BusyError', message: 'at most 2 streams per peer' })
  // another peer is served meanwhile
  const other = await peer(t)
  t.true((await ask(other, holding, { root: root.toString() })).answer.ok)
  for (const stream of stuck) stream.abort(new Error('done'))
  await waitFor(() => server.active() === 0, 5000, 'the stuck streams to end')
})

test('a reader that stops reading loses its stream after the send deadline', async t => {
  const { peer: holding, root, server } = await holder(t, 40, { sendTimeoutMs: 300 })
  const requester = await peer(t)
  const stream = await open(requester, holding)
  stream.maxReadBufferLength = 64 * MIB
  stream.send(jsonFrame({ root: root.toString() }))
  stream.pause()
  await waitFor(() => server.active() === 1, 5000, 'the stream served')
  await waitFor(() => server.active() === 0, 10_000, 'the holder to give up on the reader')
  await waitFor(() => stream.status !== 'open', 5000, 'the reader to see its stream reset')
  t.is(stream.status, 'reset')
})

test('a request too large, malformed or too slow is refused before anything is read', async t => {
  const { peer: holding, server } = await holder(t, 1, { requestTimeoutMs: 300 })
  const requester = await peer(t)
  const answerTo = async (bytes: Uint8Array | undefined): Promise<BlockStreamAnswer | string> => {
    const stream = await open(requester, holding)
    const reader = new FrameReader(stream, MIB)
    if (bytes != null) stream.send(bytes)
    try {
      const body = await reader.next(MAX_CONTROL_FRAME_BYTES, AbortSignal.timeout(5000))
      return body == null ? 'closed' : parseJson(body) as BlockStreamAnswer
    } catch (err) {
      return (err as Error).name
    } finally {
      stream.abort(new Error('done'))
    }
  }
  t.like(await answerTo(jsonFrame({ root: 'not a cid' })), { ok: false, error: 'InvalidRequestError' })
  t.like(await answerTo(jsonFrame({ have: [] })), { ok: false, error: 'InvalidRequestError', message: 'the request names no root' })
  t.like(await answerTo(frame(new TextEncoder().encode('{not json'))), { ok: false, error: 'InvalidRequestError' })
  t.like(await answerTo(jsonFrame({ root: 'bafkqaaa', have: new Array(20_000).fill('bafkqaaa') })), { ok: false, error: 'InvalidRequestError' })
  // a length beyond the limit is refused from its prefix, before the bytes come
  const tooLong = varint.encodeTo(MAX_REQUEST_BYTES + 1, new Uint8Array(varint.encodingLength(MAX_REQUEST_BYTES + 1)))
  t.like(await answerTo(tooLong), { ok: false, error: 'InvalidRequestError', message: `a frame of ${MAX_REQUEST_BYTES + 1} bytes, where at most ${MAX_REQUEST_BYTES} are allowed here` })
  // nothing, or half a request, within the deadline
  t.like(await answerTo(undefined), { ok: false, error: 'InvalidRequestError', message: 'no whole request within 300 ms' })
  t.like(await answerTo(jsonFrame({ root: 'x' }).subarray(0, 4)), { ok: false, error: 'InvalidRequestError' })
  await waitFor(() => server.active() === 0, 5000, 'every stream to end')
})
