import { readFile } from 'node:fs'
import { join } from 'node:path'
import { ContentNotFoundError } from '../errors.ts'
import type { Logger } from '../logger.ts'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const IDENTITY_HASH = 0x00
const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
/** Blocks above this size are served but not kept: one would evict many hot segments. */
const MAX_CACHED_BLOCK_BYTES = 4 * 1024 * 1024
/** How deep to look through Helia's wrappers (BlockStorage -> NetworkedStorage -> IdentityBlockstore -> store). */
const MAX_UNWRAP_DEPTH = 8

export interface BlockReaderComponents {
  /** Any interface-blockstore (Helia's `helia.blockstore`, a bare `FsBlockstore`, a memory store...). */
  blockstore: Pick<Blockstore, 'get' | 'has'>
  logger: Logger
}

export interface BlockReaderInit {
  /** Most bytes of recently read blocks kept in memory. 0 turns the cache off. @default 268435456 (256 MiB) */
  cacheBytes?: number
  /** Read blockstore-fs block files with one `readFile` instead of its 64 KiB stream. @default true */
  directFiles?: boolean
  /** Never ask the network for a block that is not local. @default true */
  offline?: boolean
}

export interface ReadOptions {
  signal?: AbortSignal
}

export interface BlockCacheStats {
  blocks: number
  bytes: number
  hits: number
  misses: number
}

export interface BlockReader {
  /** The whole block, from memory, its file, or the blockstore; throws ContentNotFoundError if absent. */
  get (cid: CID, options?: ReadOptions): Promise<Buffer>
  /** Whether the block is held here (memory or local store), never asking the network. */
  has (cid: CID, options?: ReadOptions): Promise<boolean>
  stats (): BlockCacheStats
}

/** Reads whole blocks fast: a byte-bounded LRU in front of direct block-file reads and the blockstore. */
export function createBlockReader (components: BlockReaderComponents, init: BlockReaderInit = {}): BlockReader {
  return new CachingBlockReader(components, init)
}

/** The parts of blockstore-fs's FsBlockstore that map a CID to its file (not in its public types). */
interface FsLikeBlockstore {
  path: string
  shardingStrategy: { encode: (cid: CID) => { dir: string, file: string } }
}

function isFsLike (store: unknown): store is FsLikeBlockstore {
  const s = store as Partial<FsLikeBlockstore> | null
  return typeof s?.path === 'string' && typeof s.shardingStrategy?.encode === 'function'
}

/** Finds a blockstore-fs under Helia's wrappers, which all offer `unwrap()` or hold it as `child`. */
function findFsBlockstore (store: unknown): FsLikeBlockstore | undefined {
  let current = store
  for (let depth = 0; depth < MAX_UNWRAP_DEPTH && current != null; depth++) {
    if (isFsLike(current)) return current
    const wrapper = current as { unwrap?: () => unknown, child?: unknown }
    current = typeof wrapper.unwrap === 'function' ? wrapper.unwrap() : wrapper.child
  }
  return undefined
}

function readWholeFile (path: string): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    // the callback API reads a known-size file in one go; fs/promises reads it in 512 KiB chunks
    readFile(path, (err, data) => {
      if (err == null) resolve(data)
      else if (err.code === 'ENOENT' || err.code === 'ENOTDIR') resolve(undefined)
      else reject(err)
    })
  })
}

function toBuffer (chunks: Uint8Array[]): Buffer {
  if (chunks.length === 1) {
    const only = chunks[0]
    return Buffer.isBuffer(only) ? only : Buffer.from(only.buffer, only.byteOffset, only.byteLength)
  }
  return Buffer.concat(chunks)
}

class CachingBlockReader implements BlockReader {
  private readonly blockstore: Pick<Blockstore, 'get' | 'has'>
  private readonly log: Logger
  private readonly maxBytes: number
  private readonly offline: boolean
  private readonly fs: FsLikeBlockstore | undefined
  /** Insertion order is recency order: a hit moves the entry to the end, eviction takes from the front. */
  private readonly cache = new Map<string, Buffer>()
  /** Reads in flight, so a burst of requests for one cold segment reads its blocks once. */
  private readonly pending = new Map<string, Promise<Buffer>>()
  private bytes = 0
  private hits = 0
  private misses = 0

  constructor (components: BlockReaderComponents, init: BlockReaderInit) {
    this.blockstore = components.blockstore
    this.log = components.logger
    this.maxBytes = init.cacheBytes ?? DEFAULT_CACHE_BYTES
    this.offline = init.offline ?? true
    this.fs = (init.directFiles ?? true) ? findFsBlockstore(components.blockstore) : undefined
    this.log.debug({ directFiles: this.fs?.path ?? false, cacheBytes: this.maxBytes }, 'block reader ready')
  }

  async get (cid: CID, options: ReadOptions = {}): Promise<Buffer> {
    if (cid.multihash.code === IDENTITY_HASH) {
      const digest = cid.multihash.digest
      return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength)
    }
    const key = keyOf(cid)
    const cached = this.cache.get(key)
    if (cached != null) {
      this.hits++
      this.cache.delete(key)
      this.cache.set(key, cached)
      return cached
    }
    this.misses++
    let read = this.pending.get(key)
    if (read == null) {
      read = this.load(cid, key, options).finally(() => this.pending.delete(key))
      this.pending.set(key, read)
    }
    return read
  }

  async has (cid: CID, options: ReadOptions = {}): Promise<boolean> {
    if (cid.multihash.code === IDENTITY_HASH || this.cache.has(keyOf(cid))) return true
    // Helia's blockstore answers `has` from the local store only
    return this.blockstore.has(cid, options)
  }

  stats (): BlockCacheStats {
    return { blocks: this.cache.size, bytes: this.bytes, hits: this.hits, misses: this.misses }
  }

  private async load (cid: CID, key: string, options: ReadOptions): Promise<Buffer> {
    let block: Buffer | undefined
    if (this.fs != null) {
      const { dir, file } = this.fs.shardingStrategy.encode(cid)
      block = await readWholeFile(join(this.fs.path, dir, file))
    }
    block ??= await this.fromBlockstore(cid, options)
    this.remember(key, block)
    return block
  }

  private async fromBlockstore (cid: CID, options: ReadOptions): Promise<Buffer> {
    // `offline` is Helia's option (not in interface-blockstore's types): a missing block fails at once.
    // A local read is shared by every request waiting on it, so one caller's abort must not fail the others.
    const getOptions: ReadOptions & { offline?: boolean } = { signal: this.offline ? undefined : options.signal, offline: this.offline }
    const chunks: Uint8Array[] = []
    try {
      for await (const chunk of this.blockstore.get(cid, getOptions)) chunks.push(chunk)
    } catch (err: unknown) {
      const name = (err as { name?: string }).name
      if (name === 'AbortError') throw err
      this.log.debug({ cid: cid.toString(), err: name }, 'block not available')
      throw new ContentNotFoundError(`block ${cid.toString()} is not available here`)
    }
    return toBuffer(chunks)
  }

  private remember (key: string, block: Buffer): void {
    if (block.byteLength > MAX_CACHED_BLOCK_BYTES || block.byteLength > this.maxBytes) return
    this.cache.set(key, block)
    this.bytes += block.byteLength
    for (const [oldKey, old] of this.cache) {
      if (this.bytes <= this.maxBytes) break
      this.cache.delete(oldKey)
      this.bytes -= old.byteLength
    }
  }
}

/** Blocks are keyed by multihash, as blockstores do: a CIDv0 and a CIDv1 of one block share an entry. */
function keyOf (cid: CID): string {
  const mh = cid.multihash.bytes
  return Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('base64')
}
