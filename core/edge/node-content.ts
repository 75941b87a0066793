import { isOutOfSpace } from '../disk-space.ts'
import { createContentReader } from '../ipfs/index.ts'
import { DataFolderFullError } from './errors.ts'
import type { VerifiedBlock } from './block-verify.ts'
import type { CapacityReport } from './capacity.ts'
import type { EdgeCache, KeptFile } from './edge-cache.ts'
import type { ContentEntry, ContentReader } from '../ipfs/index.ts'
import type { Logger } from '../logger.ts'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/**
 * The CDN node's blocks, local first: is a file wholly here, fetch one from connected peers over bitswap with a
 * deadline, keep verified blocks fetched from the origin (in the blockstore, or only in memory for one answer
 * when the data folder is full).
 */

export interface NodeContentComponents {
  /** The node's local reader (offline, with the shared block cache). */
  reader: ContentReader
  /** Helia's blockstore: a `get` that is not offline asks connected peers over bitswap. */
  blockstore: Pick<Blockstore, 'get' | 'put' | 'has'>
  capacity: { measure: () => Promise<CapacityReport>, invalidate: () => void, record: (bytes: number) => void }
  logger: Logger
  /** The index of what is kept from fallback answers; without it, kept blocks stay for good. */
  cache?: Pick<EdgeCache, 'admit' | 'add'>
}

/** What a kept answer is, for the cache's index (its blocks are added by `keep` and `fromPeers`). */
export type KeptAs = Omit<KeptFile, 'blocks'>

export interface NodeContentInit {
  /** Most bytes kept in memory for one answer when the data folder is full. @default 67108864 */
  maxMemoryBytes?: number
}

export interface NodeContent {
  readonly reader: ContentReader
  /** A reader that asks connected peers (bitswap) for blocks that are not here; pass it a deadline. */
  readonly network: ContentReader
  /** The entry of `cid` if it and every block of it are here and good; undefined otherwise (never asks the network). */
  localFile (cid: CID, options?: { signal?: AbortSignal }): Promise<ContentEntry | undefined>
  /** Fetches every block of file `cid` from connected peers (bitswap) within `timeoutMs`; its entry, now local (and indexed as `as`). */
  fromPeers (cid: CID, timeoutMs: number, options?: { signal?: AbortSignal, as?: KeptAs }): Promise<ContentEntry>
  /**
   * Keeps verified blocks and returns a reader that serves them: the local one, unless the folder is full or the
   * cache cannot take them (then from memory, for this answer only). Kept blocks are indexed as `as`.
   */
  keep (blocks: Iterable<VerifiedBlock> | AsyncIterable<VerifiedBlock>, as?: KeptAs): Promise<ContentReader>
}

/** Creates the node's content access over its reader and blockstore. */
export function createNodeContent (components: NodeContentComponents, init: NodeContentInit = {}): NodeContent {
  const { reader, blockstore, capacity } = components
  const log = components.logger.child({ name: 'cidcast:node-content' })
  const maxMemoryBytes = init.maxMemoryBytes ?? 64 * 1024 * 1024
  // no cache of its own: what it fetches lands in the blockstore, and the local reader caches it when served
  const network = createContentReader({ blockstore, logger: log }, { offline: false, cacheBytes: 0, directFiles: false })

  return {
    reader,
    network,

    async localFile (cid, options = {}) {
      try {
        const entry = await reader.stat(cid, options)
        if (entry.kind !== 'file') return entry
        for await (const slice of reader.slices(entry, 0, entry.size, options)) {
          // a leaf not yet read in this process is read (and hashed) now: a damaged one is a miss before anything is sent
          if (!slice.inline && !await reader.blocks.ready(slice.cid, options)) return undefined
        }
        return entry
      } catch (err) {
        if (isMissing(err)) return undefined
        throw err
      }
    },

    async fromPeers (cid, timeoutMs, options = {}) {
      const deadline = AbortSignal.timeout(timeoutMs)
      const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
      const entry = await network.stat(cid, { signal })
      const blocks = [{ cid, bytes: (await network.blocks.get(cid, { signal })).byteLength }]
      if (entry.kind === 'file') {
        for await (const slice of network.slices(entry, 0, entry.size, { signal })) {
          if (slice.inline) continue
          const block = await network.blocks.get(slice.cid, { signal })
          blocks.push({ cid: slice.cid, bytes: block.byteLength })
        }
      }
      capacity.invalidate()
      // bitswap wrote them already: indexed so they can be evicted (the budget may be passed until they age)
      if (options.as != null) await components.cache?.add({ ...options.as, blocks })
      return entry
    },

    async keep (blocks, as) {
      // the size is known for a file fetched whole; a CAR's blocks come as a stream (0: no room made ahead)
      const expected = Array.isArray(blocks) ? (blocks as VerifiedBlock[]).reduce((n, b) => n + b.bytes.byteLength, 0) : 0
      // admission may evict, so the space is measured after it
      const admitted = as == null || components.cache == null || await components.cache.admit(expected)
      const space = await capacity.measure()
      // blocks verified but not kept (the folder or the cache is full, or the disk filled up on the way): served
      // from memory for this answer
      const memory = new Map<string, Uint8Array>()
      const kept: KeptFile['blocks'] = []
      let memoryBytes = 0
      let full = space.full || !admitted
      for await (const block of blocks) {
        if (!full) {
          try {
            await blockstore.put(block.cid, block.bytes)
            capacity.record(block.bytes.byteLength)
            kept.push({ cid: block.cid, bytes: block.bytes.byteLength })
            continue
          } catch (err) {
            if (!isOutOfSpace(err)) throw err
            // the disk filled before the measurement said so (another writer, a stale figure): measure afresh next time
            log.warn({ err, cid: block.cid.toString() }, 'the data folder filled up while keeping fetched blocks: serving the rest from memory')
            capacity.invalidate()
            full = true
          }
        }
        memoryBytes += block.bytes.byteLength
        if (memoryBytes > maxMemoryBytes) throw new DataFolderFullError(`the data folder is full and the answer is larger than ${maxMemoryBytes} bytes`)
        memory.set(keyOf(block.cid), block.bytes)
      }
      if (as != null && kept.length > 0) await components.cache?.add({ ...as, blocks: kept })
      if (memory.size === 0) return reader
      log.debug({ blocks: memory.size, bytes: memoryBytes, admitted }, 'data folder or cache full: serving fetched blocks from memory')
      return createContentReader({ blockstore: overlay(memory, reader), logger: log }, { cacheBytes: 0, directFiles: false })
    }
  }
}

/** A block is not here: the reader's own error, or a path walk that met a missing block. */
export function isMissing (err: unknown): boolean {
  const name = (err as { name?: string })?.name
  return name === 'ContentNotFoundError' || name === 'NotFoundError' || name === 'BlockNotFoundWhileOfflineError'
}

function keyOf (cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64')
}

/** Blocks in memory first, then the local reader's. */
function overlay (memory: Map<string, Uint8Array>, local: ContentReader): Pick<Blockstore, 'get' | 'has'> {
  return {
    async * get (cid, options) {
      const held = memory.get(keyOf(cid))
      if (held != null) {
        yield held
        return
      }
      yield await local.blocks.get(cid, options)
    },
    async has (cid, options) {
      return memory.has(keyOf(cid)) || await local.blocks.has(cid, options)
    }
  }
}
