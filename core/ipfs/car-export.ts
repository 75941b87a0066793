import * as dagPb from '@ipld/dag-pb'
import { CarWriter } from '@ipld/car'
import { varint } from 'multiformats'
import { InvalidRequestError } from '../errors.ts'
import type { ContentReader, ResolvedPath } from './content-reader.ts'
import type { ReadOptions } from './block-reader.ts'
import type { CID } from 'multiformats/cid'

const IDENTITY_HASH = 0x00

/** Trustless-gateway `dag-scope`: the terminal block, the UnixFS entity, or the whole DAG below it. */
export type DagScope = 'block' | 'entity' | 'all'

/** Trustless-gateway `entity-bytes=from:to`: byte offsets of a file entity, negative ones from its end. */
export interface EntityBytes {
  from: number
  to: number | '*'
}

export interface CarBlock {
  cid: CID
  bytes: Uint8Array
}

export interface CarBlocksOptions extends ReadOptions {
  scope: DagScope
  /** For `entity` on a file: only the blocks holding bytes [start, end). */
  range?: { start: number, end: number }
  /** Send a block each time the walk meets it (`dups=y`) instead of once (`dups=n`). @default false */
  duplicates?: boolean
}

/**
 * Turns entity-bytes into [start, end) over a file of `size` bytes: undefined when the range is empty
 * (the spec then wants `dag-scope=block`), InvalidRequestError when it lies wholly past the end.
 */
export function entityRange (bytes: EntityBytes, size: number): { start: number, end: number } | undefined {
  const start = bytes.from < 0 ? Math.max(size + bytes.from, 0) : bytes.from
  const last = bytes.to === '*' ? size - 1 : bytes.to < 0 ? size + bytes.to : Math.min(bytes.to, size - 1)
  if (start >= size && size > 0) throw new InvalidRequestError(`entity-bytes start ${bytes.from} is past the end (${size} bytes)`)
  if (last < start) return undefined
  return { start, end: last + 1 }
}

/**
 * Blocks read ahead of the one being sent: each read (a file read and, the first time, a hash) overlaps the sending
 * of the blocks before it instead of waiting for it (a 128 MiB file of 1 MiB leaves to curl: 178-457 MB/s one block
 * at a time).
 */
const READ_AHEAD = 4

/** A block of the walk whose bytes are being read. */
interface PendingBlock {
  cid: CID
  bytes: Promise<Uint8Array>
}

/**
 * The blocks of a trustless CAR response in depth-first order: first those that prove the path, then the
 * terminal node's scope. Identity blocks are never sent (their bytes are in the CID). Up to READ_AHEAD blocks are
 * read ahead; a block that cannot be read fails the walk where it stands, as it would read one at a time.
 */
export async function * carBlocks (reader: ContentReader, resolved: ResolvedPath, options: CarBlocksOptions): AsyncGenerator<CarBlock> {
  const ahead: PendingBlock[] = []
  try {
    for await (const pending of walk(reader, resolved, options)) {
      // a read left behind by a walk that stops early (the client went away) fails unheard
      pending.bytes.catch(() => {})
      ahead.push(pending)
      if (ahead.length > READ_AHEAD) yield await settled(ahead.shift() as PendingBlock)
    }
  } catch (err) {
    // the walk failed further on (an inner node it could not read): the blocks before it go out first
    for (const pending of ahead.splice(0)) yield await settled(pending)
    throw err
  }
  for (const pending of ahead) yield await settled(pending)
}

async function settled (pending: PendingBlock): Promise<CarBlock> {
  return { cid: pending.cid, bytes: await pending.bytes }
}

async function * walk (reader: ContentReader, resolved: ResolvedPath, options: CarBlocksOptions): AsyncGenerator<PendingBlock> {
  const sent = new Set<string>()
  const duplicates = options.duplicates ?? false
  async function * emit (cid: CID): AsyncGenerator<PendingBlock> {
    if (cid.multihash.code === IDENTITY_HASH) return
    const key = cid.toString()
    if (!duplicates && sent.has(key)) return
    sent.add(key)
    yield { cid, bytes: reader.blocks.get(cid, options) }
  }

  for (const cid of resolved.pathBlocks) yield * emit(cid)
  const root = resolved.cid
  if (options.scope === 'block' || root.code !== dagPb.code) {
    // for raw blocks and non-UnixFS codecs the entity is the block itself (links of other codecs are not followed)
    yield * emit(root)
    return
  }
  if (options.scope === 'all') {
    yield * walkAll(reader, root, emit, options)
    return
  }
  const { unixfs } = await reader.node(root, options)
  if (unixfs?.type === 'file' || unixfs?.type === 'raw') {
    yield * walkFileRange(reader, root, 0, options.range ?? { start: 0, end: Infinity }, emit, options)
  } else if (unixfs?.type === 'hamt-sharded-directory') {
    yield * walkShards(reader, root, emit, options)
  } else {
    yield * emit(root)
  }
}

type Emit = (cid: CID) => AsyncGenerator<PendingBlock>

async function * walkAll (reader: ContentReader, cid: CID, emit: Emit, options: ReadOptions): AsyncGenerator<PendingBlock> {
  yield * emit(cid)
  if (cid.code !== dagPb.code) return
  const { pb } = await reader.node(cid, options)
  for (const link of pb.Links) yield * walkAll(reader, link.Hash, emit, options)
}

/** A file's nodes and the leaves that overlap [start, end), so a client can verify that range. */
async function * walkFileRange (reader: ContentReader, cid: CID, offset: number, range: { start: number, end: number }, emit: Emit, options: ReadOptions): AsyncGenerator<PendingBlock> {
  yield * emit(cid)
  if (cid.code !== dagPb.code) return
  const { pb, unixfs } = await reader.node(cid, options)
  if (unixfs == null) return
  let position = offset + (unixfs.data?.byteLength ?? 0)
  for (let i = 0; i < pb.Links.length && position < range.end; i++) {
    const size = Number(unixfs.blockSizes[i] ?? 0n)
    if (position + size > range.start) yield * walkFileRange(reader, pb.Links[i].Hash, position, range, emit, options)
    position += size
  }
}

/** A sharded directory's own shard nodes, not its entries: link names of exactly the prefix length are shards. */
async function * walkShards (reader: ContentReader, cid: CID, emit: Emit, options: ReadOptions): AsyncGenerator<PendingBlock> {
  yield * emit(cid)
  const { pb, unixfs } = await reader.node(cid, options)
  const fanout = Number(unixfs?.fanout ?? 256n)
  const prefixLength = (fanout - 1).toString(16).length
  for (const link of pb.Links) {
    if ((link.Name ?? '').length === prefixLength) yield * walkShards(reader, link.Hash, emit, options)
  }
}

/** A CARv1 byte stream: the header naming `root`, then each block as varint(length) | CID | bytes. */
export async function * encodeCar (root: CID, blocks: AsyncIterable<CarBlock>): AsyncGenerator<Uint8Array> {
  yield await carHeader(root)
  for await (const { cid, bytes } of blocks) {
    const length = cid.bytes.byteLength + bytes.byteLength
    const prefix = new Uint8Array(varint.encodingLength(length) + cid.bytes.byteLength)
    varint.encodeTo(length, prefix)
    prefix.set(cid.bytes, prefix.byteLength - cid.bytes.byteLength)
    yield prefix
    if (bytes.byteLength > 0) yield bytes
  }
}

/** The header bytes, taken from @ipld/car's writer so its dag-cbor encoding stays the library's. */
async function carHeader (root: CID): Promise<Uint8Array> {
  const { writer, out } = CarWriter.create([root])
  const closing = writer.close()
  const chunks: Uint8Array[] = []
  for await (const chunk of out) chunks.push(chunk)
  await closing
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}
