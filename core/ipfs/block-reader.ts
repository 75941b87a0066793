import { ContentNotFoundError } from '../errors.ts'
import { toBuffer, verifiedBlockstoreUnder } from './verified-blockstore.ts'
import type { Logger } from '../logger.ts'
import type { VerifiedBlockstore } from './verified-blockstore.ts'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

const IDENTITY_HASH = 0x00
const DEFAULT_CACHE_BYTES = 256 * 1024 * 1024
/** Blocks above this size are served but not kept: one would evict many hot segments. */
const MAX_CACHED_BLOCK_BYTES = 4 * 1024 * 1024

export interface BlockReaderComponents {
  /** Any interface-blockstore (Helia's `helia.blockstore`, a bare `FsBlockstore`, a memory store...). */
  blockstore: Pick<Blockstore, 'get' | 'has'>
  logger: Logger
  /**
   * Fetches a good copy of a local block that was found damaged (the main server: from the nodes that hold it);
   * undefined when none came. Without it a damaged block reads as missing.
   */
  repair?: (cid: CID, options?: ReadOptions) => Promise<Buffer | undefined>
  /**
   * Fetches a block this peer never had from the peers (several main servers on one catalog: a segment another one
   * made is recorded there, its blocks are on that server); undefined when none came. Without it a missing block fails.
   */
  fetchMissing?: (cid: CID, options?: ReadOptions) => Promise<Buffer | undefined>
}

export interface BlockReaderInit {
  /** Most bytes of recently read blocks kept in memory. 0 turns the cache off. @default 268435456 (256 MiB) */
  cacheBytes?: number
  /**
   * Read local blocks straight from the verified blockstore under Helia's layers (one `readFile` per blockstore-fs
   * file, hashed on its first read), rather than through Helia. Without a verified blockstore under Helia, the
   * store at the bottom is wrapped in one for this reader. @default true
   */
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
  /**
   * Whether the block is here and known good: in memory, or read and found matching its CID in this process (read
   * and hashed now if it was not). A damaged copy is found here, before an answer starts, rather than half way.
   */
  ready (cid: CID, options?: ReadOptions): Promise<boolean>
  /**
   * Holds `bytes` in memory as block `cid`, for a caller that made the CID from these very bytes in this process (an
   * import just done): the first answers of a block just made then need no read of its file and no hash.
   */
  add (cid: CID, bytes: Buffer): void
  stats (): BlockCacheStats
}

/** Reads whole blocks fast: a byte-bounded LRU in front of direct block-file reads and the blockstore. */
export function createBlockReader (components: BlockReaderComponents, init: BlockReaderInit = {}): BlockReader {
  return new CachingBlockReader(components, init)
}

class CachingBlockReader implements BlockReader {
  private readonly blockstore: Pick<Blockstore, 'get' | 'has'>
  private readonly log: Logger
  private readonly maxBytes: number
  private readonly offline: boolean
  private readonly local: VerifiedBlockstore | undefined
  private readonly repair: BlockReaderComponents['repair']
  private readonly fetchMissing: BlockReaderComponents['fetchMissing']
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
    this.repair = components.repair
    this.fetchMissing = components.fetchMissing
    if (init.directFiles ?? true) {
      // a store made without createPeer (tests, tools) gets a verified layer of its own: nothing is served unchecked
      this.local = verifiedBlockstoreUnder(components.blockstore, components.logger)
      // a block found damaged or deleted leaves memory too (`pin verify --repair`, the scrub, an unpin)
      this.local.onChange(cid => { this.drop(keyOf(cid)) })
    }
    this.log.debug({ direct: this.local != null, cacheBytes: this.maxBytes }, 'block reader ready')
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

  async ready (cid: CID, options: ReadOptions = {}): Promise<boolean> {
    if (cid.multihash.code === IDENTITY_HASH || this.cache.has(keyOf(cid))) return true
    // verified here and not deleted since (deletes go through the verified store, which forgets them)
    if (this.local?.isVerified(cid) === true) return true
    try {
      await this.get(cid, options)
      return true
    } catch (err) {
      if ((err as Error).name === 'ContentNotFoundError') return false
      throw err
    }
  }

  add (cid: CID, bytes: Buffer): void {
    this.remember(keyOf(cid), bytes)
  }

  stats (): BlockCacheStats {
    return { blocks: this.cache.size, bytes: this.bytes, hits: this.hits, misses: this.misses }
  }

  private async load (cid: CID, key: string, options: ReadOptions): Promise<Buffer> {
    let block = await this.local?.read(cid, options)
    if (block == null && this.repair != null && this.local?.isDamaged(cid) === true) block = await this.repair(cid, options)
    if (block == null && this.fetchMissing != null && this.local != null) block = await this.fetchMissing(cid, options)
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
    this.drop(key)
    this.cache.set(key, block)
    this.bytes += block.byteLength
    for (const [oldKey, old] of this.cache) {
      if (this.bytes <= this.maxBytes) break
      this.cache.delete(oldKey)
      this.bytes -= old.byteLength
    }
  }

  private drop (key: string): void {
    const held = this.cache.get(key)
    if (held == null) return
    this.cache.delete(key)
    this.bytes -= held.byteLength
  }
}

/** Blocks are keyed by multihash, as blockstores do: a CIDv0 and a CIDv1 of one block share an entry. */
function keyOf (cid: CID): string {
  const mh = cid.multihash.bytes
  return Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('base64')
}
