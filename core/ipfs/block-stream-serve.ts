import * as dagPb from '@ipld/dag-pb'
import { createUnsafe } from 'multiformats/block'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { BLOCK_STREAM_PROTOCOL, blockFrameHead, FrameReader, frame, jsonFrame, MAX_HAVE, MAX_REQUEST_BYTES, MAX_STREAM_BLOCKS, parseJson, send } from './block-stream-wire.ts'
import type { BlockStreamAnswer, BlockStreamRequest, BlockStreamTrailer } from './block-stream-wire.ts'
import type { Logger } from '../logger.ts'
import type { CodecLoader } from '@helia/interface'
import type { Connection, Libp2p, PeerId, Stream } from '@libp2p/interface'

/*
 * The holder's end of the block stream (block-stream-wire.ts): a peer of the private network asks for the DAG under
 * a root and gets every block of it this peer holds, in depth-first order, from the local store alone (a block that
 * is not here is skipped, never fetched for the asker, and counted in the trailer). Who may ask is the caller's rule
 * (`refuse`: on a CDN node, the rule of its gateway: a node's credential naming the asking peer, or public media).
 *
 * What an asker can make this peer spend is bounded: streams at once per peer and in all (more are answered
 * BusyError), the request's size and the time to send it, the blocks one stream walks, and a reader that stops
 * reading (no progress for `sendTimeoutMs` ends its stream; until then it holds one stream and `readAhead` blocks).
 */

export interface BlockStreamServerComponents {
  libp2p: Pick<Libp2p, 'handle' | 'unhandle'>
  logger: Logger
  /** A local block, checked against its CID; undefined when it is not here. Must never ask the network. */
  read: (cid: CID) => Promise<Uint8Array | undefined>
  getCodec: CodecLoader
  /** Why `peer` may not have blocks from here, or undefined when it may. */
  refuse: (peer: PeerId, credential: string | undefined) => string | undefined
}

export interface BlockStreamServerInit {
  /** Streams one peer may have open at once (a node pins two roots at a time). @default 2 */
  maxStreamsPerPeer?: number
  /** Streams open at once, all peers together. @default 8 */
  maxStreams?: number
  /** The request must have arrived within this. @default 5000 */
  requestTimeoutMs?: number
  /** A reader that takes nothing for this long loses its stream. @default 30000 */
  sendTimeoutMs?: number
  /** Blocks read from disk ahead of the one being sent. @default 4 */
  readAhead?: number
}

export interface BlockStreamServer {
  /** Streams being served now. */
  active: () => number
  /** Stops taking new streams (those running finish). */
  stop: () => Promise<void>
}

/** Why a stream was not served, as the answer names it. */
class Refusal extends Error {
  constructor (readonly code: string, message: string) {
    super(message)
  }
}

/** Blocks are keyed by multihash, as blockstores do: a CIDv0 and a CIDv1 of one block are one block. */
function keyOf (cid: CID): string {
  const mh = cid.multihash.bytes
  return Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('latin1')
}

/** The request's fields, checked; Refusal when it is not one. */
function parseRequest (body: Uint8Array | { subarray: () => Uint8Array }): { root: CID, have: Set<string>, credential: string | undefined } {
  let value: Partial<BlockStreamRequest>
  try {
    value = parseJson(body.subarray()) as Partial<BlockStreamRequest>
  } catch {
    throw new Refusal('InvalidRequestError', 'the request is not UTF-8 JSON')
  }
  if (typeof value !== 'object' || value == null || typeof value.root !== 'string') throw new Refusal('InvalidRequestError', 'the request names no root')
  if (value.credential != null && typeof value.credential !== 'string') throw new Refusal('InvalidRequestError', 'the credential is not a string')
  if (value.have != null && (!Array.isArray(value.have) || value.have.length > MAX_HAVE)) throw new Refusal('InvalidRequestError', `have is a list of at most ${MAX_HAVE} CIDs`)
  try {
    const root = CID.parse(value.root)
    const have = new Set<string>()
    for (const text of value.have ?? []) {
      if (typeof text !== 'string') throw new Error('not a string')
      have.add(keyOf(CID.parse(text)))
    }
    return { root, have, credential: value.credential }
  } catch {
    throw new Refusal('InvalidRequestError', 'the root or a CID of have does not parse')
  }
}

/** A block to send: its bytes are being read (leaves are read ahead, in parallel). */
interface Outgoing {
  cid: CID
  bytes: Promise<Uint8Array | undefined>
}

/** Serves BLOCK_STREAM_PROTOCOL until `stop()`. */
export async function serveBlockStreams (components: BlockStreamServerComponents, init: BlockStreamServerInit = {}): Promise<BlockStreamServer> {
  const log = components.logger.child({ name: 'cidcast:block-stream' })
  const maxPerPeer = init.maxStreamsPerPeer ?? 2
  const maxStreams = init.maxStreams ?? 8
  const requestTimeoutMs = init.requestTimeoutMs ?? 5000
  const sendTimeoutMs = init.sendTimeoutMs ?? 30_000
  const readAhead = Math.max(1, init.readAhead ?? 4)
  const perPeer = new Map<string, number>()
  let active = 0

  /** The DAG below `root` in depth-first order, less what the asker has; `missing` counts what is not here. */
  async function * walk (root: CID, rootBytes: Uint8Array, have: Set<string>, counts: { missing: number, walked: number }): AsyncGenerator<Outgoing> {
    const seen = new Set<string>()
    const stack: Array<{ cid: CID, bytes?: Uint8Array }> = [{ cid: root, bytes: rootBytes }]
    while (stack.length > 0) {
      const { cid, bytes: known } = stack.pop() as { cid: CID, bytes?: Uint8Array }
      // identity blocks are in their CIDs
      if (cid.multihash.code === 0x00) continue
      const key = keyOf(cid)
      if (seen.has(key)) continue
      seen.add(key)
      if (++counts.walked > MAX_STREAM_BLOCKS) throw new Refusal('TooLargeError', `the DAG has more than ${MAX_STREAM_BLOCKS} blocks`)
      if (cid.code === raw.code) {
        if (have.has(key)) continue
        const bytes = components.read(cid)
        // awaited by the sender, in order; marked handled now so a stream ended early leaves no rejection behind
        bytes.catch(() => {})
        yield { cid, bytes }
        continue
      }
      // a node is read now, whether sent or not: its links say what comes next
      const bytes = known ?? await components.read(cid)
      if (bytes == null) {
        counts.missing++
        continue
      }
      if (!have.has(key)) yield { cid, bytes: Promise.resolve(bytes) }
      const links: CID[] = []
      if (cid.code === dagPb.code) {
        for (const link of dagPb.decode(bytes).Links) links.push(link.Hash)
      } else {
        const block = createUnsafe({ cid, bytes, codec: await components.getCodec(cid.code) })
        for (const [, link] of block.links()) links.push(link)
      }
      for (let i = links.length - 1; i >= 0; i--) stack.push({ cid: links[i] })
    }
  }

  async function answer (stream: Stream, value: BlockStreamAnswer): Promise<void> {
    await send(stream, jsonFrame(value), sendTimeoutMs)
  }

  async function serve (stream: Stream, peer: PeerId): Promise<void> {
    // the asker sends one frame and nothing after it: a little more than that in the stream's buffer aborts it
    const reader = new FrameReader(stream, MAX_REQUEST_BYTES + 16, 2 * MAX_REQUEST_BYTES)
    let request: ReturnType<typeof parseRequest>
    try {
      const body = await reader.next(MAX_REQUEST_BYTES, AbortSignal.timeout(requestTimeoutMs))
      if (body == null) throw new Refusal('InvalidRequestError', 'no request')
      request = parseRequest(body)
    } catch (err) {
      if (err instanceof Refusal) throw err
      if ((err as Error)?.name === 'TimeoutError') throw new Refusal('InvalidRequestError', `no whole request within ${requestTimeoutMs} ms`)
      if ((err as Error)?.name === 'BlockStreamFrameError') throw new Refusal('InvalidRequestError', (err as Error).message)
      throw err
    } finally {
      reader.close()
    }
    const why = components.refuse(peer, request.credential)
    if (why != null) throw new Refusal('ForbiddenError', why)
    const rootBytes = await components.read(request.root)
    if (rootBytes == null) throw new Refusal('NotFoundError', `${request.root.toString()} is not held here`)
    await answer(stream, { ok: true })

    const counts = { missing: 0, walked: 0 }
    let sent = 0
    let stopped: string | undefined
    const blocks = walk(request.root, rootBytes, request.have, counts)
    const ahead: Outgoing[] = []
    let walked = false
    try {
      for (;;) {
        while (!walked && ahead.length < readAhead) {
          const next = await blocks.next()
          if (next.done === true) walked = true
          else ahead.push(next.value)
        }
        const item = ahead.shift()
        if (item == null) break
        const bytes = await item.bytes
        if (bytes == null) {
          counts.missing++
          continue
        }
        await send(stream, blockFrameHead(item.cid, bytes.byteLength), sendTimeoutMs)
        await send(stream, bytes, sendTimeoutMs)
        sent++
      }
    } catch (err) {
      if (!(err instanceof Refusal)) throw err
      // too large to walk: what was sent stands, the trailer says why it stopped
      stopped = err.code
    }
    const trailer: BlockStreamTrailer = { sent, missing: counts.missing, ...(stopped != null ? { error: stopped } : {}) }
    await send(stream, frame(new Uint8Array(0)), sendTimeoutMs)
    await send(stream, jsonFrame(trailer), sendTimeoutMs)
    await stream.close({ signal: AbortSignal.timeout(sendTimeoutMs) })
    log.debug({ peer: peer.toString(), root: request.root.toString(), sent, missing: counts.missing }, 'streamed a DAG')
  }

  const handler = (stream: Stream, connection: Connection): void => {
    const peer = connection.remotePeer
    const id = peer.toString()
    const busy = (perPeer.get(id) ?? 0) >= maxPerPeer ? `at most ${maxPerPeer} streams per peer` : active >= maxStreams ? `at most ${maxStreams} streams at once` : undefined
    if (busy != null) {
      void refuseStream(stream, new Refusal('BusyError', busy))
      return
    }
    perPeer.set(id, (perPeer.get(id) ?? 0) + 1)
    active++
    void serve(stream, peer).catch(async (err: unknown) => {
      if (err instanceof Refusal) {
        log.debug({ peer: id, error: err.code, why: err.message }, 'block stream refused')
        await refuseStream(stream, err)
        return
      }
      log.debug({ err, peer: id }, 'block stream ended')
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }).finally(() => {
      const left = (perPeer.get(id) ?? 1) - 1
      if (left === 0) perPeer.delete(id)
      else perPeer.set(id, left)
      active--
    })
  }

  /** Answers why not and closes; a peer that does not take even that is cut off. */
  async function refuseStream (stream: Stream, refusal: Refusal): Promise<void> {
    try {
      await answer(stream, { ok: false, error: refusal.code, message: refusal.message })
      await stream.close({ signal: AbortSignal.timeout(sendTimeoutMs) })
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
    }
  }

  // past the per-peer limit libp2p resets a stream itself; below it, a peer is told it is busy
  await components.libp2p.handle(BLOCK_STREAM_PROTOCOL, handler, { maxInboundStreams: maxPerPeer * 2 })
  return {
    active: () => active,
    stop: async () => { await components.libp2p.unhandle(BLOCK_STREAM_PROTOCOL) }
  }
}
