import * as dagPb from '@ipld/dag-pb'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import type { AbortOptions } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

/** Blocks and bytes of a whole DAG: what a node has to fetch to pin it. */
export interface DagSize {
  blocks: number
  /** Sum of the blocks' lengths (what crosses bitswap), not the file sizes. */
  bytes: number
}

/** Most interior blocks read for one DAG (a 2-hour rendition has a few thousand). */
const MAX_INTERIOR_BLOCKS = 100_000

/**
 * Counts the blocks of `root` from a local blockstore, reading only interior (dag-pb) blocks: a raw leaf's length
 * is its link's Tsize, so the bytes of segments are never read. Undefined when a block is missing locally.
 */
export async function dagSizeOf (blockstore: Pick<Blockstore, 'get' | 'has'>, root: CID, options: AbortOptions = {}): Promise<DagSize | undefined> {
  const seen = new Set<string>()
  let blocks = 0
  let bytes = 0
  let interior = 0
  const stack: Array<{ cid: CID, size?: number }> = [{ cid: root }]
  while (stack.length > 0) {
    const { cid, size } = stack.pop() as { cid: CID, size?: number }
    const id = cid.toString()
    if (seen.has(id)) continue
    seen.add(id)
    if (cid.code === raw.code && size != null) {
      if (!await blockstore.has(cid, options)) return undefined
      blocks++
      bytes += size
      continue
    }
    if (++interior > MAX_INTERIOR_BLOCKS) return undefined
    // asked first: Helia's blockstore would go to the network for a block it lacks
    if (!await blockstore.has(cid, options)) return undefined
    const block = await read(blockstore, cid, options)
    blocks++
    bytes += block.byteLength
    if (cid.code !== dagPb.code) continue
    for (const link of dagPb.decode(block).Links) stack.push({ cid: link.Hash, size: link.Tsize })
  }
  return { blocks, bytes }
}

/** `dagSizeOf` remembered per root: a known size never changes; an unknown one is looked for again next time. */
export function dagSizes (blockstore: Pick<Blockstore, 'get' | 'has'>): (cid: string) => Promise<DagSize | undefined> {
  const sizes = new Map<string, Promise<DagSize | undefined>>()
  return async cid => {
    let size = sizes.get(cid)
    if (size == null) {
      size = dagSizeOf(blockstore, CID.parse(cid)).catch(() => undefined)
      sizes.set(cid, size)
      // only a known size is worth keeping (the server may get the blocks later)
      void size.then(known => { if (known == null) sizes.delete(cid) })
    }
    return await size
  }
}

async function read (blockstore: Pick<Blockstore, 'get'>, cid: CID, options: AbortOptions): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const part of blockstore.get(cid, options)) { parts.push(part); length += part.byteLength }
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) { out.set(part, at); at += part.byteLength }
  return out
}
