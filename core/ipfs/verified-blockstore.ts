import { mkdir, readFile, rename } from 'node:fs'
import { basename, join } from 'node:path'
import { checkableHash, hashMatches } from './block-hash.ts'
import type { Logger } from '../logger.ts'
import type { Blockstore, InputPair, Pair } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

/*
 * The blockstore under Helia on both sides: what is read from storage is hashed against its CID before anyone gets
 * it, the first time this process reads that block. The CIDs found good are remembered (a bounded LRU of keys), so
 * a block read again costs a Set lookup, not a hash. A copy that does not match is treated as missing: its file is
 * moved to the quarantine folder (a store without files deletes it), caches are told to drop the block, and it is
 * logged once at warn and counted. Helia's layers then see the block as absent, so a networked `get` fetches it
 * again (verified by Helia) and a local one fails as a miss does.
 *
 * Accepted window: a block verified earlier in this process and damaged afterwards is served from disk as it is,
 * until the scrub (scrub.ts) hashes it again.
 */

const IDENTITY = 0x00
/** CIDs remembered as verified: ~60 bytes each, so the default is ~16 MB for 256 Ki blocks (up to 256 GiB of 1 MiB leaves). */
const DEFAULT_MAX_VERIFIED = 256 * 1024
/** Damaged CIDs remembered (to warn once each and to tell a repair it is wanted); damage is rare. */
const MAX_DAMAGED_REMEMBERED = 10_000
/** How deep to look through Helia's wrappers (BlockStorage -> NetworkedStorage -> IdentityBlockstore -> ours). */
const MAX_UNWRAP_DEPTH = 8

export interface VerifiedBlockstoreComponents {
  /** Where blocks live: blockstore-fs in the daemons (its files are read whole, in one call), any store in tests. */
  store: Blockstore
  logger: Logger
}

export interface VerifiedBlockstoreInit {
  /** Hash blocks on their first read. Off only to measure what it costs (bench). @default true */
  verify?: boolean
  /** Most CIDs remembered as verified (the first verified are forgotten first, then hashed again when read). @default 262144 */
  maxVerified?: number
  /** Folder damaged block files are moved to, for inspection (blockstore-fs only); deleted when absent. */
  quarantineDir?: string
}

/**
 * What `check` found: a good copy, none, a damaged one (now removed; `bytes` is what was read, when it was read now),
 * or one whose hash this store cannot check.
 */
export type BlockCheck =
  | { state: 'ok', bytes: Buffer }
  | { state: 'missing' }
  | { state: 'damaged', bytes?: Buffer }
  | { state: 'unchecked', bytes: Buffer }

/** Why a block's cached copies must go: it was found damaged, or deleted through this store. */
export type BlockChange = 'damaged' | 'deleted'

export interface BlockIntegrityStats {
  /** Blocks hashed (first reads and checks) since start, and their bytes. */
  hashedBlocks: number
  hashedBytes: number
  /** Damaged copies found (and removed) since start. */
  damagedBlocks: number
  /** CIDs remembered as verified now. */
  rememberedBlocks: number
}

export interface VerifiedBlockstore extends Blockstore {
  /** False when built with `verify: false` (a bench baseline). */
  readonly verifying: boolean
  /** The whole local block, checked against its CID on its first read; undefined when absent or found damaged. */
  read: (cid: CID, options?: { signal?: AbortSignal }) => Promise<Buffer | undefined>
  /** Reads and hashes the stored copy again, whatever was verified before (the scrub, `pin verify`). */
  check: (cid: CID, options?: { signal?: AbortSignal }) => Promise<BlockCheck>
  /** Whether a read of `cid` in this process found it good (and it was not deleted since). */
  isVerified: (cid: CID) => boolean
  /** Whether `cid` was found damaged in this process and no copy has been put back since. */
  isDamaged: (cid: CID) => boolean
  /** Calls `listener` whenever a block is found damaged or deleted (caches drop their copy); returns the unsubscribe. */
  onChange: (listener: (cid: CID, change: BlockChange) => void) => () => void
  stats: () => BlockIntegrityStats
  /** The store underneath. */
  unwrap: () => Blockstore
}

/** Wraps `store` so every block read from it is checked against its CID (see the top of this file). */
export function createVerifiedBlockstore (components: VerifiedBlockstoreComponents, init: VerifiedBlockstoreInit = {}): VerifiedBlockstore {
  return new HashingBlockstore(components, init)
}

/** The verified blockstore under `store` (Helia's blockstore or the store itself), if there is one. */
export function findVerifiedBlockstore (store: unknown): VerifiedBlockstore | undefined {
  for (const layer of layers(store)) if (layer instanceof HashingBlockstore) return layer
  return undefined
}

/**
 * The verified blockstore under `store`, or a new one over the store at the bottom of its layers (a Helia or a
 * bare store made without `createPeer`: tests, tools), so that what a reader takes from disk is checked either way.
 */
export function verifiedBlockstoreUnder (store: unknown, logger: Logger): VerifiedBlockstore {
  const found = findVerifiedBlockstore(store)
  if (found != null) return found
  const bottom = [...layers(store)].at(-1) as Blockstore
  return createVerifiedBlockstore({ store: bottom, logger })
}

/** `store`, then each store it wraps (Helia's wrappers offer `unwrap()` or hold theirs as `child`). */
function * layers (store: unknown): Generator<unknown> {
  let current = store
  for (let depth = 0; depth < MAX_UNWRAP_DEPTH && current != null; depth++) {
    yield current
    if (current instanceof HashingBlockstore) return
    const wrapper = current as { unwrap?: () => unknown, child?: unknown }
    current = typeof wrapper.unwrap === 'function' ? wrapper.unwrap() : wrapper.child
  }
}

/**
 * interface-store's "not found", told apart by its name as Helia and bitswap do (a holder's bitswap skips a block it
 * lacks on this name, and fails the whole message on any other error).
 */
class NotFoundError extends Error {
  override readonly name = 'NotFoundError'
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

/** One Buffer of a block's chunks (no copy when there is one chunk). */
export function toBuffer (chunks: Uint8Array[]): Buffer {
  if (chunks.length === 1) {
    const only = chunks[0]
    return Buffer.isBuffer(only) ? only : Buffer.from(only.buffer, only.byteOffset, only.byteLength)
  }
  return Buffer.concat(chunks)
}

/** Blocks are keyed by multihash, as blockstores do: a CIDv0 and a CIDv1 of one block are one block. */
function keyOf (cid: CID): string {
  const mh = cid.multihash.bytes
  return Buffer.from(mh.buffer, mh.byteOffset, mh.byteLength).toString('latin1')
}

class HashingBlockstore implements VerifiedBlockstore {
  readonly verifying: boolean
  private readonly store: Blockstore
  private readonly fs: FsLikeBlockstore | undefined
  private readonly log: Logger
  private readonly maxVerified: number
  private readonly quarantineDir: string | undefined
  /** In the order they were verified; the oldest go first once the set is full. */
  private readonly verified = new Set<string>()
  private readonly damaged = new Set<string>()
  private readonly listeners = new Set<(cid: CID, change: BlockChange) => void>()
  private hashedBlocks = 0
  private hashedBytes = 0
  private damagedBlocks = 0

  constructor (components: VerifiedBlockstoreComponents, init: VerifiedBlockstoreInit) {
    this.store = components.store
    this.fs = isFsLike(components.store) ? components.store : undefined
    this.log = components.logger.child({ name: 'cidcast:blocks' })
    this.verifying = init.verify ?? true
    this.maxVerified = init.maxVerified ?? DEFAULT_MAX_VERIFIED
    this.quarantineDir = this.fs == null ? undefined : init.quarantineDir
  }

  async read (cid: CID, options: { signal?: AbortSignal } = {}): Promise<Buffer | undefined> {
    const bytes = await this.readStored(cid, options)
    if (bytes == null || !this.verifying || cid.multihash.code === IDENTITY) return bytes
    const key = keyOf(cid)
    // no reordering on a hit (the set forgets the oldest verified first): a lookup is all a verified read costs
    if (this.verified.has(key)) return bytes
    const state = await this.judge(cid, key, bytes)
    if (state === 'ok') return bytes
    // a hash this store cannot check is never served as checked; it stays where it is (not damaged, as far as we know)
    if (state === 'unchecked') this.log.debug({ cid: cid.toString() }, 'block hashed with a function this store does not check: not served')
    return undefined
  }

  async check (cid: CID, options: { signal?: AbortSignal } = {}): Promise<BlockCheck> {
    const bytes = await this.readStored(cid, options)
    if (bytes == null) return this.damaged.has(keyOf(cid)) ? { state: 'damaged' } : { state: 'missing' }
    if (cid.multihash.code === IDENTITY) return { state: 'ok', bytes }
    return { state: await this.judge(cid, keyOf(cid), bytes), bytes }
  }

  isVerified (cid: CID): boolean {
    return !this.verifying || cid.multihash.code === IDENTITY || this.verified.has(keyOf(cid))
  }

  isDamaged (cid: CID): boolean {
    return this.damaged.has(keyOf(cid))
  }

  onChange (listener: (cid: CID, change: BlockChange) => void): () => void {
    this.listeners.add(listener)
    return () => { this.listeners.delete(listener) }
  }

  stats (): BlockIntegrityStats {
    return { hashedBlocks: this.hashedBlocks, hashedBytes: this.hashedBytes, damagedBlocks: this.damagedBlocks, rememberedBlocks: this.verified.size }
  }

  unwrap (): Blockstore {
    return this.store
  }

  // Blockstore: reads go through `read`; writes and deletes pass through, telling caches and the sets what changed.

  async * get (cid: CID, options: { signal?: AbortSignal } = {}): AsyncGenerator<Uint8Array> {
    const bytes = await this.read(cid, options)
    if (bytes == null) throw new NotFoundError(`block ${cid.toString()} is not here (or was found damaged and removed)`)
    yield bytes
  }

  async * getMany (cids: AsyncIterable<CID> | Iterable<CID>, options: { signal?: AbortSignal } = {}): AsyncGenerator<Pair> {
    for await (const cid of cids) yield { cid, bytes: this.get(cid, options) }
  }

  async has (cid: CID, options: { signal?: AbortSignal } = {}): Promise<boolean> {
    return await this.store.has(cid, options)
  }

  async put (cid: CID, bytes: InputPair['bytes'], options: { signal?: AbortSignal } = {}): Promise<CID> {
    const put = await this.store.put(cid, bytes, options)
    this.damaged.delete(keyOf(cid))
    return put
  }

  async * putMany (source: AsyncIterable<InputPair> | Iterable<InputPair>, options: { signal?: AbortSignal } = {}): AsyncGenerator<CID> {
    for await (const cid of this.store.putMany(source, options)) {
      this.damaged.delete(keyOf(cid))
      yield cid
    }
  }

  async delete (cid: CID, options: { signal?: AbortSignal } = {}): Promise<void> {
    await this.store.delete(cid, options)
    this.forget(cid, 'deleted')
  }

  async * deleteMany (source: AsyncIterable<CID> | Iterable<CID>, options: { signal?: AbortSignal } = {}): AsyncGenerator<CID> {
    for await (const cid of this.store.deleteMany(source, options)) {
      this.forget(cid, 'deleted')
      yield cid
    }
  }

  async * getAll (options: { signal?: AbortSignal } = {}): AsyncGenerator<Pair> {
    // only garbage collection walks everything (to delete); what it reads is never served
    yield * this.store.getAll(options)
  }

  /** The stored bytes, unchecked: one readFile for blockstore-fs, the store's own get otherwise. */
  private async readStored (cid: CID, options: { signal?: AbortSignal }): Promise<Buffer | undefined> {
    if (cid.multihash.code === IDENTITY) {
      const digest = cid.multihash.digest
      return Buffer.from(digest.buffer, digest.byteOffset, digest.byteLength)
    }
    if (this.fs != null) {
      const { dir, file } = this.fs.shardingStrategy.encode(cid)
      return await readWholeFile(join(this.fs.path, dir, file))
    }
    const chunks: Uint8Array[] = []
    try {
      // `offline` matters when the store is itself a Helia blockstore: never ask the network from here
      for await (const chunk of this.store.get(cid, { signal: options.signal, offline: true } as { signal?: AbortSignal })) chunks.push(chunk)
    } catch (err) {
      if ((err as Error).name === 'AbortError') throw err
      return undefined
    }
    return toBuffer(chunks)
  }

  /** Hashes `bytes`; remembers a good block, removes a damaged one. */
  private async judge (cid: CID, key: string, bytes: Buffer): Promise<'ok' | 'damaged' | 'unchecked'> {
    if (!checkableHash(cid)) return 'unchecked'
    const good = await hashMatches(cid, bytes) === true
    this.hashedBlocks++
    this.hashedBytes += bytes.byteLength
    if (good) {
      this.verified.add(key)
      if (this.verified.size > this.maxVerified) this.verified.delete(this.verified.values().next().value as string)
      return 'ok'
    }
    await this.removeDamaged(cid, key)
    return 'damaged'
  }

  private async removeDamaged (cid: CID, key: string): Promise<void> {
    const first = !this.damaged.has(key)
    if (first) {
      this.damagedBlocks++
      this.damaged.add(key)
      if (this.damaged.size > MAX_DAMAGED_REMEMBERED) this.damaged.delete(this.damaged.values().next().value as string)
    }
    let where: string | undefined
    try {
      where = await this.quarantine(cid)
    } catch (err) {
      this.log.error({ err, cid: cid.toString() }, 'a damaged block could not be removed; it is still never served')
    }
    if (first) this.log.warn({ cid: cid.toString(), quarantined: where }, 'a block on disk does not match its CID: removed, and treated as missing')
    this.forget(cid, 'damaged')
  }

  /** Moves the block's file to the quarantine folder (or deletes the block); where it went, if anywhere. */
  private async quarantine (cid: CID): Promise<string | undefined> {
    if (this.fs == null || this.quarantineDir == null) {
      await this.store.delete(cid)
      return undefined
    }
    const { dir, file } = this.fs.shardingStrategy.encode(cid)
    const target = join(this.quarantineDir, basename(file))
    await new Promise<void>((resolve, reject) => { mkdir(this.quarantineDir as string, { recursive: true }, err => { if (err == null) resolve(); else reject(err) }) })
    await new Promise<void>((resolve, reject) => {
      rename(join(this.fs!.path, dir, file), target, err => {
        // gone already: another read of the same damaged block moved it first
        if (err == null || err.code === 'ENOENT') resolve()
        else reject(err)
      })
    })
    return target
  }

  private forget (cid: CID, change: BlockChange): void {
    this.verified.delete(keyOf(cid))
    for (const listener of this.listeners) listener(cid, change)
  }
}
