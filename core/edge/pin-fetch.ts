import * as dagPb from '@ipld/dag-pb'
import { createUnsafe } from 'multiformats/block'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { CHUNK_BYTES } from '../ipfs/index.ts'
import { NoProviderReachableError, PinStalledError } from './pin-errors.ts'
import type { GatewayBlocks } from './gateway-blocks.ts'
import type { Blocks, CodecLoader } from '@helia/interface'
import type { CID } from 'multiformats/cid'

/**
 * Brings every block of a DAG into the local blockstore, many at once. Helia's `pins.add` walks a DAG one block
 * at a time (its graph walkers run with a concurrency of 1), so over bitswap each block costs a full round trip:
 * ~27 MB/s between two local peers, against 60-90 MB/s with 16 blocks in flight (bench r3). The
 * pinner therefore fetches first with this, then lets `pins.add` count references over blocks that are all local.
 * A missing block is asked first of the holders' trustless gateways when the caller gives some (gateway-blocks.ts,
 * several times faster than bitswap here), then over bitswap. Every block is hashed before it is kept: bitswap
 * derives the CID from the bytes (a peer sending other bytes answers a want nobody has), the gateway source checks
 * each answer against its CID. A block that is already here is not fetched again, which is what makes an
 * interrupted pin resume where it stopped.
 */

export interface DagProgress {
  /** Blocks of the DAG now local (fetched or found here). */
  blocksDone: number
  bytesDone: number
  /** Known once every inner node has been read (inner nodes are fetched before leaves for that reason). */
  blocksTotal?: number
  /** Known from the root when it is a dag-pb node (its links' Tsize), or a raw block. */
  bytesTotal?: number
  /** Of `bytesDone`, what came over the network (the rest was already here). */
  bytesFetched: number
  /** Of `bytesFetched`, what came from gateways over HTTP. */
  bytesFromGateways: number
  /** Of `bytesFetched`, what came over the block stream (pin-stream.ts); the rest came over bitswap. */
  bytesFromStream: number
}

export interface FetchDagComponents {
  /** Helia's blockstore: local first, bitswap on a miss. */
  blockstore: Pick<Blocks, 'get' | 'has' | 'put'>
  getCodec: CodecLoader
  /** Holders' gateways, asked before bitswap. */
  gateways?: GatewayBlocks
}

export interface FetchDagOptions {
  signal?: AbortSignal
  /** Blocks wanted at once. @default 16 */
  concurrency?: number
  /** No new block for this long fails the fetch with PinStalledError. @default 30000 */
  stallTimeoutMs?: number
  /** A block that has not come after this long is wanted again. @default 6000 */
  rewantMs?: number
  /** Words for the stall error: who was asked. */
  describePeers?: () => string
  /**
   * Whether bitswap has anyone to ask (a connected peer). When it has not, a block no gateway gave ends the fetch at
   * once with NoProviderReachableError, rather than a want nobody hears running into the stall deadline.
   * @default always true
   */
  canWant?: () => boolean
  /** After each block. */
  onProgress?: (progress: DagProgress) => void
  /** After each block that came over the network (counts space; may throw to stop the fetch). */
  onFetched?: (cid: CID, bytes: number) => void | Promise<void>
  /**
   * Bytes the blockstore may still take. No more leaves are asked for than fit (each counted as a whole chunk), so
   * a fetch in flight cannot run past a quota; when not even one fits, `noRoom()` says what to throw.
   */
  room?: () => number
  noRoom?: () => Error
}

/**
 * Blocks wanted at once when the caller does not say. Over bitswap between two local peers (bench r3): 1 in flight
 * ~27 MB/s, 4 ~44-62, 8 ~52-69, 16 ~63-89, 32 ~70-81; from a gateway 8 to 64 all carry ~350-400 MB/s. 16 takes most
 * of the gain while keeping 16 MiB per pin in flight (two pins fetch at once) and the holder's batches short enough
 * for bitswap's 10 s send deadline on a busy machine.
 */
export const DEFAULT_FETCH_CONCURRENCY = 16
/**
 * A block wanted this long is asked for again. Helia's bitswap (4.0) can swallow a want: a peer that sent us a block
 * keeps a "sent" entry for it (5 s do-not-resend window, removed only when a later message from us arrives) and a
 * new want for the same block that meets that entry is dropped, while our side never repeats a want it has sent.
 * Cancelling and wanting again after the window gets the block. cidcast's own peers run with no such window
 * (core/net/peer.ts); this is for any other Helia peer in the network.
 */
export const DEFAULT_REWANT_MS = 6000
/** A fetch with no new block for this long has stalled. */
export const DEFAULT_STALL_TIMEOUT_MS = 30_000

function concat (chunks: Uint8Array[]): Uint8Array {
  if (chunks.length === 1) return chunks[0]
  return Buffer.concat(chunks)
}

function keyOf (cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64')
}

/** The size of the whole DAG below a root, from the root alone, when it says. */
function sizeFromRoot (cid: CID, bytes: Uint8Array): number | undefined {
  if (cid.code === raw.code) return bytes.byteLength
  if (cid.code !== dagPb.code) return undefined
  const node = dagPb.decode(bytes)
  let total = bytes.byteLength
  for (const link of node.Links) {
    if (link.Tsize == null) return undefined
    total += link.Tsize
  }
  return total
}

/** Fetches every block below `root` that is not local yet; resolves with the final progress. */
export async function fetchDag (components: FetchDagComponents, root: CID, options: FetchDagOptions = {}): Promise<DagProgress> {
  const concurrency = Math.max(1, options.concurrency ?? DEFAULT_FETCH_CONCURRENCY)
  const stallMs = options.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS
  const rewantMs = options.rewantMs ?? DEFAULT_REWANT_MS
  const controller = new AbortController()
  const signal = options.signal == null ? controller.signal : AbortSignal.any([options.signal, controller.signal])
  const progress: DagProgress = { blocksDone: 0, bytesDone: 0, bytesFetched: 0, bytesFromGateways: 0, bytesFromStream: 0 }
  const seen = new Set<string>([keyOf(root)])
  // inner nodes first: they are small, and once all are read the number of blocks is known
  const inner: CID[] = []
  const leaves: CID[] = []
  let innerOpen = 0
  let running = 0
  let lastBlockAt = Date.now()
  const finished = Promise.withResolvers<DagProgress>()
  let settled = false

  const queue = (cid: CID): void => {
    if (cid.code === raw.code || cid.multihash.code === identity.code) {
      leaves.push(cid)
    } else {
      inner.push(cid)
      innerOpen++
    }
  }

  const fail = (err: unknown): void => {
    if (settled) return
    settled = true
    controller.abort(err)
    finished.reject(err)
  }

  const read = async (cid: CID, readSignal: AbortSignal): Promise<Uint8Array> => {
    const chunks: Uint8Array[] = []
    for await (const chunk of components.blockstore.get(cid, { signal: readSignal })) chunks.push(chunk)
    return concat(chunks)
  }

  // a want a peer has swallowed is asked again (see DEFAULT_REWANT_MS); the stall check still ends a fetch nobody answers
  const want = async (cid: CID): Promise<Uint8Array> => {
    for (;;) {
      const attempt = AbortSignal.timeout(rewantMs)
      try {
        return await read(cid, AbortSignal.any([signal, attempt]))
      } catch (err) {
        if (signal.aborted || !attempt.aborted) throw err
      }
    }
  }

  const one = async (cid: CID): Promise<void> => {
    let bytes: Uint8Array | undefined
    let fetched = false
    let fromGateway = false
    if (cid.multihash.code === identity.code) {
      bytes = cid.multihash.digest
    } else if (await components.blockstore.has(cid, { signal })) {
      // a local copy found damaged as it is read is removed by the verified blockstore: fetch it like a missing one
      bytes = await read(cid, signal).catch((err: unknown) => {
        if ((err as Error).name === 'NotFoundError') return undefined
        throw err
      })
    }
    if (bytes == null) {
      fetched = true
      bytes = await components.gateways?.get(cid, signal)
      if (bytes != null) {
        await components.blockstore.put(cid, bytes, { signal })
        fromGateway = true
      } else if (options.canWant?.() === false) {
        throw new NoProviderReachableError(`no gateway gave block ${cid.toString()} of ${root.toString()} (${components.gateways?.describe() ?? 'no gateway'}) and no peer is connected to ask over bitswap`)
      } else {
        bytes = await want(cid)
      }
    }
    if (settled) return
    lastBlockAt = Date.now()
    if (cid.code !== raw.code) {
      const block = createUnsafe({ cid, bytes, codec: await components.getCodec(cid.code) })
      for (const [, link] of block.links()) {
        const key = keyOf(link)
        if (seen.has(key)) continue
        seen.add(key)
        queue(link)
      }
      innerOpen--
    }
    if (progress.blocksDone === 0) progress.bytesTotal = sizeFromRoot(cid, bytes)
    progress.blocksDone++
    progress.bytesDone += bytes.byteLength
    if (fetched) {
      progress.bytesFetched += bytes.byteLength
      if (fromGateway) progress.bytesFromGateways += bytes.byteLength
      await options.onFetched?.(cid, bytes.byteLength)
    }
    if (innerOpen === 0) progress.blocksTotal = seen.size
    options.onProgress?.({ ...progress })
  }

  const pump = (): void => {
    for (;;) {
      if (settled || running >= concurrency) break
      if (inner.length === 0 && leaves.length > 0 && options.room != null && options.room() < (running + 1) * CHUNK_BYTES) {
        if (running === 0) fail(options.noRoom?.() ?? new Error('no room left for the blocks'))
        break
      }
      const cid = inner.shift() ?? leaves.shift()
      if (cid == null) break
      running++
      one(cid).then(() => {
        running--
        pump()
      }, fail)
    }
    if (!settled && running === 0 && inner.length === 0 && leaves.length === 0) {
      settled = true
      progress.blocksTotal = progress.blocksDone
      progress.bytesTotal ??= progress.bytesDone
      finished.resolve({ ...progress })
    }
  }

  const stallCheck = setInterval(() => {
    const idleMs = Date.now() - lastBlockAt
    if (idleMs < stallMs) return
    const peers = `${options.describePeers?.() ?? 'the connected peers'}${components.gateways != null ? ` and the gateways ${components.gateways.describe()}` : ''}`
    fail(new PinStalledError(`no block of ${root.toString()} arrived for ${Math.round(idleMs / 1000)} s (${progress.blocksDone} blocks here so far; asked ${peers}): no reachable peer seems to hold the rest`))
  }, Math.min(1000, Math.max(10, stallMs / 4)))
  const onAbort = (): void => { fail(options.signal?.reason) }
  options.signal?.addEventListener('abort', onAbort, { once: true })
  try {
    if (options.signal?.aborted === true) throw options.signal.reason
    queue(root)
    pump()
    return await finished.promise
  } finally {
    clearInterval(stallCheck)
    options.signal?.removeEventListener('abort', onAbort)
    if (!controller.signal.aborted) controller.abort()
  }
}
