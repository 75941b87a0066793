import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { exporter, walkPath } from 'ipfs-unixfs-exporter'
import * as raw from 'multiformats/codecs/raw'
import { InvalidPathError, PathNotFoundError } from '../errors.ts'
import { createBlockReader } from './block-reader.ts'
import type { BlockReader, BlockReaderComponents, BlockReaderInit, ReadOptions } from './block-reader.ts'
import type { ReadableStorage } from 'ipfs-unixfs-exporter'
import type { CID } from 'multiformats/cid'

/** Path resolutions remembered (oldest dropped first); a few MB at most. */
const MAX_RESOLVED_PATHS = 10_000

export type ContentReaderComponents = BlockReaderComponents
export type ContentReaderInit = BlockReaderInit

/** What a CID points at: UnixFS file bytes (raw leaves included), a UnixFS directory, or anything else. */
export type ContentKind = 'file' | 'directory' | 'object'

export interface ContentEntry {
  cid: CID
  kind: ContentKind
  /** Bytes of a file (or of the block, for `object`); 0 for a directory. */
  size: number
  /** A HAMT-sharded UnixFS directory. */
  sharded: boolean
}

export interface ResolvedPath {
  /** The node at the end of the path. */
  cid: CID
  /** One CID per path element, the request's root first and `cid` last. */
  roots: CID[]
  /** Blocks read to walk the path (HAMT shards included), in order, without `cid` itself. */
  pathBlocks: CID[]
}

/** A piece of a file: bytes [start, end) of a raw block, or of the UnixFS data inside a dag-pb block. */
export interface FileSlice {
  cid: CID
  start: number
  end: number
  inline: boolean
}

export interface DirectoryEntry {
  name: string
  cid: CID
  size: number
}

export interface ContentReader {
  /** The whole-block reader underneath (cache, direct files, blockstore). */
  readonly blocks: BlockReader
  /** Walks `segments` (already decoded, one name each) from `root`; throws PathNotFoundError. */
  resolve (root: CID, segments: string[], options?: ReadOptions): Promise<ResolvedPath>
  /** What `cid` is and how big; throws ContentNotFoundError when its block is absent. */
  stat (cid: CID, options?: ReadOptions): Promise<ContentEntry>
  /** The slices holding bytes [start, end) of a file, in order, read lazily from its DAG. */
  slices (file: ContentEntry, start: number, end: number, options?: ReadOptions): AsyncGenerator<FileSlice>
  /** The bytes of one slice, a view on the (cached) block. */
  read (slice: FileSlice, options?: ReadOptions): Promise<Buffer>
  /** Bytes [start, end) of a file as Buffers, reading one block ahead of the consumer. */
  content (file: ContentEntry, start: number, end: number, options?: ReadOptions): AsyncGenerator<Buffer>
  /** The entries of a UnixFS directory (sharded or not). */
  list (cid: CID, options?: ReadOptions): AsyncGenerator<DirectoryEntry>
  /** The CID a directory links to under `name`, or undefined. */
  child (dir: CID, name: string, options?: ReadOptions): Promise<CID | undefined>
  /** The decoded dag-pb node of a block, memoised with the cached block. */
  node (cid: CID, options?: ReadOptions): Promise<ParsedNode>
}

export interface ParsedNode {
  pb: dagPb.PBNode
  /** Undefined when the node carries no (valid) UnixFS data. */
  unixfs?: UnixFS
}

/** Resolves CIDs and paths to UnixFS files and directories and reads their bytes block by block. */
export function createContentReader (components: ContentReaderComponents, init: ContentReaderInit = {}): ContentReader {
  return new BlockContentReader(createBlockReader(components, init))
}

/** Rejects names that could leave the DAG or confuse a path walker: `.`, `..`, `/`, `\`, NUL, empty. */
export function checkSegment (name: string): void {
  if (name === '' || name === '.' || name === '..' || /[/\\\0]/.test(name)) {
    throw new InvalidPathError(`invalid path segment ${JSON.stringify(name)}`)
  }
}

class BlockContentReader implements ContentReader {
  readonly blocks: BlockReader
  /** Decoded nodes live exactly as long as their block stays in the block cache. */
  private readonly parsed = new WeakMap<Buffer, ParsedNode>()
  /** Paths under a CID never change, so a resolution stays true; this saves re-reading big directories. */
  private readonly resolved = new Map<string, ResolvedPath>()

  constructor (blocks: BlockReader) {
    this.blocks = blocks
  }

  async resolve (root: CID, segments: string[], options: ReadOptions = {}): Promise<ResolvedPath> {
    if (segments.length === 0) return { cid: root, roots: [root], pathBlocks: [] }
    segments.forEach(checkSegment)
    const key = `${root.toString()}/${segments.join('/')}`
    const known = this.resolved.get(key)
    if (known != null) return known
    const read: CID[] = []
    const seen = new Set<string>()
    const storage = this.storage(options, cid => {
      const key = cid.toString()
      if (!seen.has(key)) { seen.add(key); read.push(cid) }
    })
    let last: { cid: CID, roots: CID[] } | undefined
    try {
      for await (const entry of walkPath(`${root.toString()}/${segments.join('/')}`, storage, { signal: options.signal, offline: true })) {
        last = entry
      }
    } catch (err: unknown) {
      throw toPathError(err, segments)
    }
    if (last == null) throw new PathNotFoundError(`nothing at /${segments.join('/')}`)
    const end = last.cid.toString()
    const result = { cid: last.cid, roots: last.roots, pathBlocks: read.filter(cid => cid.toString() !== end) }
    if (this.resolved.size >= MAX_RESOLVED_PATHS) this.resolved.delete(this.resolved.keys().next().value as string)
    this.resolved.set(key, result)
    return result
  }

  async stat (cid: CID, options: ReadOptions = {}): Promise<ContentEntry> {
    if (cid.code !== dagPb.code) {
      const block = await this.blocks.get(cid, options)
      return { cid, kind: cid.code === raw.code ? 'file' : 'object', size: block.byteLength, sharded: false }
    }
    const { unixfs } = await this.node(cid, options)
    if (unixfs == null) {
      const block = await this.blocks.get(cid, options)
      return { cid, kind: 'object', size: block.byteLength, sharded: false }
    }
    if (unixfs.type === 'directory' || unixfs.type === 'hamt-sharded-directory') {
      return { cid, kind: 'directory', size: 0, sharded: unixfs.type === 'hamt-sharded-directory' }
    }
    return { cid, kind: 'file', size: Number(unixfs.fileSize()), sharded: false }
  }

  async * slices (file: ContentEntry, start: number, end: number, options: ReadOptions = {}): AsyncGenerator<FileSlice> {
    if (end <= start) return
    yield * this.walkFile(file.cid, 0, file.size, start, end, options)
  }

  async read (slice: FileSlice, options: ReadOptions = {}): Promise<Buffer> {
    if (!slice.inline) {
      const block = await this.blocks.get(slice.cid, options)
      return checkedView(block, slice)
    }
    const data = (await this.node(slice.cid, options)).unixfs?.data ?? new Uint8Array(0)
    return checkedView(Buffer.from(data.buffer, data.byteOffset, data.byteLength), slice)
  }

  async * content (file: ContentEntry, start: number, end: number, options: ReadOptions = {}): AsyncGenerator<Buffer> {
    let next: Promise<Buffer> | undefined
    for await (const slice of this.slices(file, start, end, options)) {
      const current = next
      next = this.read(slice, options)
      // keep the read going while the consumer writes the previous slice
      next.catch(() => {})
      if (current != null) yield await current
    }
    if (next != null) yield await next
  }

  async * list (cid: CID, options: ReadOptions = {}): AsyncGenerator<DirectoryEntry> {
    const entry = await exporter(cid, this.storage(options), { signal: options.signal, offline: true })
    if (entry.type !== 'directory') return
    for await (const child of entry.entries({ signal: options.signal, offline: true })) {
      yield { name: child.name, cid: child.cid, size: Number(child.size) }
    }
  }

  async child (dir: CID, name: string, options: ReadOptions = {}): Promise<CID | undefined> {
    try {
      return (await this.resolve(dir, [name], options)).cid
    } catch (err: unknown) {
      if ((err as { name?: string }).name === 'PathNotFoundError') return undefined
      throw err
    }
  }

  async node (cid: CID, options: ReadOptions = {}): Promise<ParsedNode> {
    const block = await this.blocks.get(cid, options)
    let parsed = this.parsed.get(block)
    if (parsed == null) {
      const pb = dagPb.decode(block)
      let unixfs: UnixFS | undefined
      try {
        unixfs = pb.Data == null ? undefined : UnixFS.unmarshal(pb.Data)
      } catch {
        unixfs = undefined
      }
      parsed = { pb, unixfs }
      this.parsed.set(block, parsed)
    }
    return parsed
  }

  /** Depth-first over a UnixFS file: a node's own data comes first, then its children by `blockSizes`. */
  private async * walkFile (cid: CID, offset: number, size: number, start: number, end: number, options: ReadOptions): AsyncGenerator<FileSlice> {
    if (cid.code !== dagPb.code) {
      // a raw leaf: its size comes from the parent's blockSizes, so planning reads no leaf
      const from = Math.max(start - offset, 0)
      const to = Math.min(end - offset, size)
      if (to > from) yield { cid, start: from, end: to, inline: false }
      return
    }
    const { pb, unixfs } = await this.node(cid, options)
    if (unixfs == null) throw new Error(`block ${cid.toString()} in a file is not UnixFS`)
    let position = offset
    const dataLength = unixfs.data?.byteLength ?? 0
    if (dataLength > 0) {
      const from = Math.max(start - position, 0)
      const to = Math.min(end - position, dataLength)
      if (to > from) yield { cid, start: from, end: to, inline: true }
      position += dataLength
    }
    if (pb.Links.length !== unixfs.blockSizes.length) throw new Error(`block ${cid.toString()} has inconsistent block sizes`)
    for (let i = 0; i < pb.Links.length && position < end; i++) {
      const childSize = Number(unixfs.blockSizes[i])
      if (position + childSize > start) yield * this.walkFile(pb.Links[i].Hash, position, childSize, start, end, options)
      position += childSize
    }
  }

  /** A ReadableStorage for the exporter that reads through the cache and reports each block read. */
  private storage (options: ReadOptions, onRead?: (cid: CID) => void): ReadableStorage {
    const blocks = this.blocks
    return {
      async * get (cid: CID) {
        onRead?.(cid)
        yield await blocks.get(cid, options)
      }
    }
  }
}

function checkedView (bytes: Buffer, slice: FileSlice): Buffer {
  if (slice.end > bytes.byteLength) throw new Error(`block ${slice.cid.toString()} is shorter than its parent says`)
  return bytes.subarray(slice.start, slice.end)
}

/** The exporter's own errors (NotFoundError, NoResolverError, NotUnixFSError...) mean "no such path" here. */
function toPathError (err: unknown, segments: string[]): unknown {
  const name = (err as { name?: string }).name
  if (name === 'NotFoundError' || name === 'NoResolverError' || name === 'NotUnixFSError' || name === 'BadPathError') {
    return new PathNotFoundError(`no such path /${segments.join('/')}`)
  }
  return err
}
