import * as dagPb from '@ipld/dag-pb'
import { createUnsafe } from 'multiformats/block'
import * as raw from 'multiformats/codecs/raw'
import { BLOCK_STREAM_PROTOCOL, checkableHash, FrameReader, hashMatches, jsonFrame, MAX_BLOCK_FRAME_BYTES, MAX_CONTROL_FRAME_BYTES, MAX_HAVE, MAX_STREAM_BLOCKS, parseBlockFrame, parseJson, send } from '../ipfs/index.ts'
import type { DagProgress } from './pin-fetch.ts'
import type { GatewayMemory } from './gateway-blocks.ts'
import type { BlockStreamAnswer, BlockStreamRequest, BlockStreamTrailer } from '../ipfs/index.ts'
import type { Logger } from '../logger.ts'
import type { Blocks, CodecLoader } from '@helia/interface'
import type { Libp2p, PeerId, Stream } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/*
 * A pin's first choice when a holder is a known peer: the whole DAG in one block stream (core/ipfs
 * block-stream-wire.ts) instead of bitswap's round trip per block. What is here already (a resumed pin) is found
 * first and named in the request, so the holder does not send it again. Every block is taken only if it is the next
 * thing the DAG can hold (the root, or a link of a node already here) and hashes to its CID; a holder that sends
 * anything else is put aside (as a lying gateway is) and the next holder is asked for what is still missing. A
 * holder that does not speak the protocol, refuses, stalls or lacks blocks just leaves more to the existing path
 * (fetchDag: gateways, then bitswap), which the caller runs when the result is not `complete`.
 */

export interface StreamDagComponents {
  libp2p: Pick<Libp2p, 'dialProtocol'>
  /** Helia's blockstore: reads here are offline, puts are announced to bitswap as any other. */
  blockstore: Pick<Blocks, 'get' | 'has' | 'put'>
  getCodec: CodecLoader
  logger: Logger
}

export interface StreamDagOptions {
  signal?: AbortSignal
  /** This node's credential, which holders ask of a node when media are not public. */
  credential?: string
  /** No frame from a holder for this long: the next holder is asked. @default 10000 */
  stallTimeoutMs?: number
  /** Holders put aside (by this pin or the ones before): skipped while they are, and told of a new liar. */
  memory?: GatewayMemory
  onProgress?: (progress: DagProgress) => void
  /** After each block stored (counts space; may throw to stop the pin). */
  onFetched?: (cid: CID, bytes: number) => void | Promise<void>
  /** Bytes the blockstore may still take; a block that does not fit ends the pin with `noRoom()`. */
  room?: () => number
  noRoom?: () => Error
}

export interface StreamedDag {
  progress: DagProgress
  /** Every block of the DAG is here. */
  complete: boolean
  /** What each holder asked did, for the log. */
  attempts: string[]
}

/** No frame for this long from a holder ends its stream. */
export const DEFAULT_STREAM_STALL_MS = 10_000
/** Blocks being hashed and stored at once; more wait in the stream (paused), which holds the holder back. */
const WORK_WINDOW = 8
/** Unread bytes at which the stream is paused. */
const HIGH_WATER_BYTES = 4 * 1024 * 1024
const DIAL_TIMEOUT_MS = 5000

type BlockState = 'missing' | 'coming' | 'here'

interface Member {
  cid: CID
  state: BlockState
  /** Its size as its parent's link says (a raw leaf's Tsize is its length): what a leaf found here counts. */
  size?: number
}

/** A holder broke the protocol or sent a wrong block: it is put aside. */
class Misbehaved extends Error {}

function keyOf (cid: CID): string {
  const mh = cid.multihash.bytes
  return Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('latin1')
}

/** The size of the whole DAG below a root, from the root alone, when it says. */
function sizeFromRoot (cid: CID, bytes: Uint8Array): number | undefined {
  if (cid.code === raw.code) return bytes.byteLength
  if (cid.code !== dagPb.code) return undefined
  let total = bytes.byteLength
  for (const link of dagPb.decode(bytes).Links) {
    if (link.Tsize == null) return undefined
    total += link.Tsize
  }
  return total
}

/** Fetches what is missing of the DAG under `root` from `holders` in turn, over the block stream. */
export async function streamDag (components: StreamDagComponents, root: CID, holders: PeerId[], options: StreamDagOptions = {}): Promise<StreamedDag> {
  const log = components.logger.child({ name: 'cidcast:pin-stream' })
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STREAM_STALL_MS
  const members = new Map<string, Member>()
  const progress: DagProgress = { blocksDone: 0, bytesDone: 0, bytesFetched: 0, bytesFromGateways: 0, bytesFromStream: 0 }
  let notHere = 0
  /** Members not here that may be nodes with links (until all are here, the number of blocks is not known). */
  let openNodes = 0
  let reserved = 0

  const rootKey = keyOf(root)

  const report = (): void => {
    if (openNodes === 0) progress.blocksTotal = members.size
    options.onProgress?.({ ...progress })
  }

  /** A new member of the DAG (the root, or a link of a node here or checked); undefined when it is one already. */
  const add = (cid: CID, size?: number): Member | undefined => {
    const key = keyOf(cid)
    if (members.has(key)) return undefined
    if (members.size >= MAX_STREAM_BLOCKS) throw new Misbehaved(`the DAG has more than ${MAX_STREAM_BLOCKS} blocks`)
    const member: Member = { cid, state: 'missing', size }
    members.set(key, member)
    notHere++
    if (cid.code !== raw.code) openNodes++
    // identity blocks are in their CIDs
    if (cid.multihash.code === 0x00) stored(member, cid.multihash.digest)
    return member
  }

  /** A node's links join the DAG; returns the members that are new. */
  const expand = async (member: Member, bytes: Uint8Array): Promise<Member[]> => {
    const cid = member.cid
    const linked: Array<{ cid: CID, size?: number }> = cid.code === dagPb.code
      ? dagPb.decode(bytes).Links.map(link => ({ cid: link.Hash, size: link.Tsize }))
      : [...createUnsafe({ cid, bytes, codec: await components.getCodec(cid.code) }).links()].map(([, link]) => ({ cid: link }))
    openNodes--
    const added: Member[] = []
    for (const link of linked) {
      const next = add(link.cid, link.size)
      if (next == null) continue
      // a node inlined in its CID is here, its links are not
      if (next.state === 'here' && next.cid.code !== raw.code) added.push(...await expand(next, next.cid.multihash.digest))
      else if (next.state !== 'here') added.push(next)
    }
    return added
  }

  /** A block of the DAG is here now (found, or stored). */
  const stored = (member: Member, bytes: Uint8Array | number): void => {
    if (member.state !== 'here') notHere--
    member.state = 'here'
    if (typeof bytes !== 'number' && keyOf(member.cid) === rootKey) progress.bytesTotal = sizeFromRoot(member.cid, bytes)
    progress.blocksDone++
    progress.bytesDone += typeof bytes === 'number' ? bytes : bytes.byteLength
  }

  /** Finds what of the DAG is here already: nodes are read for their links, leaves only looked up. */
  const survey = async (): Promise<void> => {
    const queue = [add(root) as Member]
    while (queue.length > 0) {
      const member = queue.shift() as Member
      if (member.state === 'here' || !await components.blockstore.has(member.cid, { signal: options.signal })) continue
      if (member.cid.code === raw.code) {
        // a leaf is counted as here without being read: its parent's link gave its size
        stored(member, member.size ?? 0)
        continue
      }
      let bytes: Uint8Array
      try {
        const chunks: Uint8Array[] = []
        for await (const chunk of components.blockstore.get(member.cid, { signal: options.signal, offline: true })) chunks.push(chunk)
        bytes = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
      } catch (err) {
        // found damaged as it was read (and removed): it is missing
        if ((err as Error).name !== 'NotFoundError' && (err as Error).name !== 'BlockNotFoundWhileOfflineError') throw err
        continue
      }
      stored(member, bytes)
      queue.push(...await expand(member, bytes))
    }
  }

  /** One holder's stream, until it ends; returns what it did in words. Misbehaved when it lied. */
  const attempt = async (holder: PeerId): Promise<string> => {
    let stream: Stream
    try {
      stream = await components.libp2p.dialProtocol(holder, BLOCK_STREAM_PROTOCOL, { signal: AbortSignal.any([AbortSignal.timeout(DIAL_TIMEOUT_MS), ...(options.signal != null ? [options.signal] : [])]) })
    } catch (err) {
      options.signal?.throwIfAborted()
      return `no block stream (${(err as Error).name})`
    }
    const stall = new AbortController()
    let lastFrameAt = Date.now()
    const stallCheck = setInterval(() => {
      if (Date.now() - lastFrameAt >= stallMs) stall.abort(new Error(`nothing for ${stallMs} ms`))
    }, Math.min(1000, Math.max(10, stallMs / 4)))
    const signal = AbortSignal.any([stall.signal, ...(options.signal != null ? [options.signal] : [])])
    // listening before the request goes, so nothing of the answer is missed
    const reader = new FrameReader(stream, HIGH_WATER_BYTES)
    const work = new Set<Promise<void>>()
    /** Why the blocks being stored failed (the first reason): a lie, or this node's own trouble (no room). */
    let failure: unknown
    let received = 0
    let repeats = 0

    /** Checks a leaf (a node was checked as it came), then stores the block. */
    const keep = async (member: Member, bytes: Uint8Array): Promise<void> => {
      try {
        if (member.cid.code === raw.code && await hashMatches(member.cid, bytes) !== true) throw new Misbehaved(`sent bytes that are not the block ${member.cid.toString()}`)
        if (options.room != null && options.room() - reserved < bytes.byteLength) throw options.noRoom?.() ?? new Error('no room left for the blocks')
        reserved += bytes.byteLength
        try {
          await components.blockstore.put(member.cid, bytes, { signal: options.signal })
        } finally {
          reserved -= bytes.byteLength
        }
      } catch (err) {
        member.state = 'missing'
        throw err
      }
      stored(member, bytes)
      progress.bytesFetched += bytes.byteLength
      progress.bytesFromStream += bytes.byteLength
      received++
      await options.onFetched?.(member.cid, bytes.byteLength)
      report()
    }

    const run = (member: Member, bytes: Uint8Array): void => {
      const task: Promise<void> = keep(member, bytes).then(() => { work.delete(task) }, (err: unknown) => {
        work.delete(task)
        failure ??= err
        stream.abort(err instanceof Error ? err : new Error(String(err)))
      })
      work.add(task)
    }

    try {
      const have: string[] = []
      for (const member of members.values()) {
        if (have.length >= MAX_HAVE) break
        if (member.state === 'here' && member.cid.multihash.code !== 0x00) have.push(member.cid.toString())
      }
      const request: BlockStreamRequest = { root: root.toString(), ...(have.length > 0 ? { have } : {}), ...(options.credential != null ? { credential: options.credential } : {}) }
      await send(stream, jsonFrame(request), stallMs)
      await stream.close({ signal })

      const head = await reader.next(MAX_CONTROL_FRAME_BYTES, signal)
      lastFrameAt = Date.now()
      if (head == null) return 'closed the stream without an answer'
      const answer = parseJson(head) as BlockStreamAnswer
      if (answer.ok !== true) return `refused: ${String((answer as { error?: unknown }).error)}: ${String((answer as { message?: unknown }).message)}`

      for (;;) {
        const body = await reader.next(MAX_BLOCK_FRAME_BYTES, signal)
        lastFrameAt = Date.now()
        if (failure != null) throw failure
        if (body == null) throw new Misbehaved('ended the stream without a trailer')
        if (body.byteLength === 0) {
          const last = await reader.next(MAX_CONTROL_FRAME_BYTES, signal)
          if (last == null) throw new Misbehaved('ended the stream without a trailer')
          const trailer = parseJson(last) as Partial<BlockStreamTrailer>
          await Promise.all(work)
          if (failure != null) throw failure
          return `sent ${received} blocks${(trailer.missing ?? 0) > 0 ? `, lacked ${trailer.missing}` : ''}${trailer.error != null ? ` (stopped: ${trailer.error})` : ''}`
        }
        let block: { cid: CID, bytes: Uint8Array }
        try {
          block = parseBlockFrame(body)
        } catch {
          throw new Misbehaved('sent a frame that is not a block')
        }
        const member = members.get(keyOf(block.cid))
        if (member == null) throw new Misbehaved(`sent ${block.cid.toString()}, which is no block of the DAG as far as it has come`)
        if (member.state !== 'missing') {
          // sent twice, or here already (a `have` list cut at MAX_HAVE); a holder repeating itself for ever is lying
          if (++repeats > members.size) throw new Misbehaved('sends blocks again and again')
          continue
        }
        // another hash function (bitswap knows more): the existing path takes the rest
        if (!checkableHash(block.cid)) return `sent ${received} blocks, then ${block.cid.toString()}, whose hash is not checked here`
        member.state = 'coming'
        if (block.cid.code !== raw.code) {
          // a node is checked before its links are believed: they name the blocks that may come next
          if (await hashMatches(block.cid, block.bytes) !== true) throw new Misbehaved(`sent bytes that are not the block ${block.cid.toString()}`)
          await expand(member, block.bytes)
        }
        run(member, block.bytes)
        // a task that fails aborts the stream, so the next read ends the loop
        while (work.size >= WORK_WINDOW) await Promise.race(work)
      }
    } catch (err) {
      stream.abort(err instanceof Error ? err : new Error(String(err)))
      await Promise.allSettled(work)
      if (err instanceof Misbehaved) throw err
      if (failure instanceof Misbehaved) throw failure
      options.signal?.throwIfAborted()
      // this node's own trouble (no room, the disk): the pin fails as it would on any path
      if (failure != null) throw failure
      if (stall.signal.aborted) return `stalled after ${received} blocks: ${(stall.signal.reason as Error).message}`
      // the holder hung up, reset the stream or broke the framing: what came stands, the rest is asked elsewhere
      return `the stream broke after ${received} blocks (${(err as Error)?.name}: ${(err as Error)?.message})`
    } finally {
      clearInterval(stallCheck)
      reader.close()
    }
  }

  await survey()
  report()
  const attempts: string[] = []
  for (const holder of holders) {
    if (notHere === 0) break
    const id = holder.toString()
    const aside = options.memory?.aside(id)
    if (aside != null) {
      attempts.push(`${id.slice(-8)}: put aside earlier (${aside})`)
      continue
    }
    try {
      attempts.push(`${id.slice(-8)}: ${await attempt(holder)}`)
    } catch (err) {
      if (!(err instanceof Misbehaved)) throw err
      options.memory?.putAside(id, err.message)
      log.warn({ holder: id, root: root.toString(), why: err.message }, 'block stream holder put aside')
      attempts.push(`${id.slice(-8)}: put aside (${err.message})`)
    }
  }
  const complete = notHere === 0
  if (complete) {
    progress.blocksTotal = progress.blocksDone
    progress.bytesTotal ??= progress.bytesDone
  }
  return { progress: { ...progress }, complete, attempts }
}
