import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { IMPORT_OPTIONS } from '../ipfs/index.ts'
import type { UnixFS } from '@helia/unixfs'

/** Where (rendition key, n) -> CID is recorded: the catalog in the daemon, a Map in tests. */
export interface SegmentIndex {
  getSegment: (renditionKey: string, index: number) => Promise<{ cid: string, bytes: number } | undefined>
  putSegment: (renditionKey: string, index: number, cid: string, bytes: number) => Promise<void>
  getInit: (renditionKey: string) => Promise<string | undefined>
  setInit: (renditionKey: string, cid: string) => Promise<void>
  /** Forgets every segment and init recorded with `cid` (lost for good); the rendition keys that held one. */
  forgetCid: (cid: string) => Promise<string[]>
}

export interface SegmentStoreComponents {
  unixfs: UnixFS
  index: SegmentIndex
  /**
   * Told of each segment this store imported as a single raw block (its CID the hash of these bytes, computed here):
   * the server keeps it in its block reader's memory, so the viewers waiting for a segment just made get it without
   * a read of its file and a first-read hash (~20 ms of a cold start's first segment, bench row 1).
   */
  made?: (cid: CID, bytes: Buffer) => void
}

/** A stored segment: its CID and size. */
export interface StoredSegment {
  cid: CID
  bytes: number
}

/** Imports finished segments into the blockstore and remembers (rendition, n) -> CID. */
export interface SegmentStore {
  /** The segment if it was made before; never starts work. */
  get: (renditionKey: string, index: number) => Promise<StoredSegment | undefined>
  /** Imports `bytes` as segment `index`; the first stored version wins, later ones get its CID back. */
  put: (renditionKey: string, index: number, bytes: Uint8Array) => Promise<StoredSegment>
  getInit: (renditionKey: string) => Promise<StoredSegment | undefined>
  putInit: (renditionKey: string, bytes: Uint8Array) => Promise<StoredSegment>
  /**
   * Forgets the segments (and init segments) stored as `cid`, whose block is lost for good: the next request for one
   * makes it again. Resolves with the keys of the renditions that held one (no longer complete).
   */
  forget: (cid: CID) => Promise<string[]>
}

const INIT = -1

class IndexedSegmentStore implements SegmentStore {
  private readonly unixfs: UnixFS
  private readonly index: SegmentIndex
  private readonly made: SegmentStoreComponents['made']
  // hot path: a segment request must not touch sqlite once the segment is known
  private readonly known = new Map<string, StoredSegment>()

  constructor (components: SegmentStoreComponents) {
    this.unixfs = components.unixfs
    this.index = components.index
    this.made = components.made
  }

  async get (renditionKey: string, index: number): Promise<StoredSegment | undefined> {
    const id = `${renditionKey}/${index}`
    const hit = this.known.get(id)
    if (hit != null) return hit
    const row = index === INIT
      ? await this.initRow(renditionKey)
      : await this.index.getSegment(renditionKey, index)
    if (row == null) return undefined
    const found = { cid: CID.parse(row.cid), bytes: row.bytes }
    this.known.set(id, found)
    return found
  }

  async put (renditionKey: string, index: number, bytes: Uint8Array): Promise<StoredSegment> {
    const existing = await this.get(renditionKey, index)
    if (existing != null) return existing
    const cid = await this.unixfs.addBytes(bytes, IMPORT_OPTIONS)
    if (index === INIT) await this.index.setInit(renditionKey, cid.toString())
    else await this.index.putSegment(renditionKey, index, cid.toString(), bytes.byteLength)
    // re-read: a concurrent writer may have recorded its version first
    this.known.delete(`${renditionKey}/${index}`)
    const stored = await this.get(renditionKey, index) ?? { cid, bytes: bytes.byteLength }
    if (cid.code === raw.code && stored.cid.equals(cid)) this.made?.(cid, Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength))
    return stored
  }

  async getInit (renditionKey: string): Promise<StoredSegment | undefined> {
    return await this.get(renditionKey, INIT)
  }

  async putInit (renditionKey: string, bytes: Uint8Array): Promise<StoredSegment> {
    return await this.put(renditionKey, INIT, bytes)
  }

  async forget (cid: CID): Promise<string[]> {
    const text = cid.toString()
    const keys = await this.index.forgetCid(text)
    for (const [id, stored] of this.known) if (stored.cid.toString() === text) this.known.delete(id)
    return keys
  }

  private async initRow (renditionKey: string): Promise<{ cid: string, bytes: number } | undefined> {
    const cid = await this.index.getInit(renditionKey)
    if (cid == null) return undefined
    return { cid, bytes: -1 }
  }
}

/** Creates the segment store over a UnixFS instance and an index. */
export function createSegmentStore (components: SegmentStoreComponents): SegmentStore {
  return new IndexedSegmentStore(components)
}

/** An index kept in memory, for tests and tools. */
export function memorySegmentIndex (): SegmentIndex & { indexes: (renditionKey: string) => number[] } {
  const segments = new Map<string, { cid: string, bytes: number }>()
  const inits = new Map<string, string>()
  return {
    async getSegment (key, index) { return segments.get(`${key}/${index}`) },
    async putSegment (key, index, cid, bytes) {
      if (!segments.has(`${key}/${index}`)) segments.set(`${key}/${index}`, { cid, bytes })
    },
    async getInit (key) { return inits.get(key) },
    async setInit (key, cid) { if (!inits.has(key)) inits.set(key, cid) },
    async forgetCid (cid) {
      const keys = new Set<string>()
      for (const [id, row] of segments) if (row.cid === cid) { segments.delete(id); keys.add(id.slice(0, id.lastIndexOf('/'))) }
      for (const [key, init] of inits) if (init === cid) { inits.delete(key); keys.add(key) }
      return [...keys]
    },
    indexes (key) {
      return [...segments.keys()].filter(k => k.startsWith(`${key}/`)).map(k => Number(k.slice(key.length + 1))).sort((a, b) => a - b)
    }
  }
}
