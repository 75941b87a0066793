import * as dagPb from '@ipld/dag-pb'
import { createUnsafe } from 'multiformats/block'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import type { Blocks, CodecLoader, Pins } from '@helia/interface'
import type { CID } from 'multiformats/cid'

/**
 * Garbage collection of one DAG after its pin is gone: removes the DAG's local blocks that no other pin holds.
 * Helia's own `gc()` scans the whole blockstore and removes everything unpinned, which on a CDN node also throws
 * away the blocks it keeps from origin misses (its cache); this walks only the unpinned DAG, so its cost is the
 * DAG's size and the cache stays. A block another pin holds is kept with everything below it (pins are recursive).
 * Blocks that are not here (a pin interrupted half way) are skipped.
 */

export interface CollectComponents {
  blockstore: Pick<Blocks, 'get' | 'has'>
  /** Deletes one local block unless a pin holds it (see `localRemover`). */
  remove: (cid: CID) => Promise<void>
  pins: Pick<Pins, 'isPinned'>
  getCodec: CodecLoader
}

export interface Collected {
  blocks: number
  bytes: number
}

function keyOf (cid: CID): string {
  return Buffer.from(cid.multihash.bytes).toString('base64')
}

/** Removes the local blocks below `root` that no pin holds; resolves with what was freed. */
export async function collectDag (components: CollectComponents, root: CID, options: { signal?: AbortSignal } = {}): Promise<Collected> {
  const freed: Collected = { blocks: 0, bytes: 0 }
  const seen = new Set<string>([keyOf(root)])
  const pending: CID[] = [root]
  // a raw leaf links nowhere, so it is not read: its size is its dag-pb parent's link size (UnixFS writes the leaf's
  // length there); reading and hashing every leaf made an unpin cost as much as a pin
  const leafBytes = new Map<string, number>()
  for (let cid = pending.pop(); cid != null; cid = pending.pop()) {
    options.signal?.throwIfAborted()
    if (cid.multihash.code === identity.code) continue
    const key = keyOf(cid)
    if (!(await components.blockstore.has(cid, options))) continue
    if (await components.pins.isPinned(cid, options)) continue
    const knownSize = cid.code === raw.code ? leafBytes.get(key) : undefined
    let size: number
    if (knownSize != null) {
      size = knownSize
    } else {
      const bytes = await readBlock(components, cid, options)
      if (bytes == null) continue
      size = bytes.byteLength
      if (cid.code !== raw.code) {
        for (const link of await linksOf(components, cid, bytes)) {
          const linkKey = keyOf(link.cid)
          if (link.size != null && link.cid.code === raw.code) leafBytes.set(linkKey, link.size)
          if (seen.has(linkKey)) continue
          seen.add(linkKey)
          pending.push(link.cid)
        }
      }
    }
    await components.remove(cid)
    freed.blocks++
    freed.bytes += size
  }
  return freed
}

/** The block's bytes, or undefined when reading found it damaged (the verified blockstore removed it already). */
async function readBlock (components: CollectComponents, cid: CID, options: { signal?: AbortSignal }): Promise<Uint8Array | undefined> {
  const chunks: Uint8Array[] = []
  try {
    for await (const chunk of components.blockstore.get(cid, { ...options, offline: true })) chunks.push(chunk)
  } catch (err) {
    // what lies below a damaged block cannot be found from here
    if ((err as Error).name === 'NotFoundError') return undefined
    throw err
  }
  return chunks.length === 1 ? chunks[0] : Buffer.concat(chunks)
}

/** The block's links, with the linked block's size where the format says it (dag-pb's Tsize). */
async function linksOf (components: CollectComponents, cid: CID, bytes: Uint8Array): Promise<Array<{ cid: CID, size?: number }>> {
  try {
    if (cid.code === dagPb.code) return dagPb.decode(bytes).Links.map(link => ({ cid: link.Hash, size: link.Tsize }))
    const block = createUnsafe({ cid, bytes, codec: await components.getCodec(cid.code) })
    return [...block.links()].map(([, link]) => ({ cid: link }))
  } catch {
    // a block that does not decode (damaged) still goes; what lies below it cannot be found from here
    return []
  }
}

/** What `localRemover` needs of Helia's blockstore: the store under its top layer (not in Helia's interface). */
interface LayeredBlockstore {
  unwrap: () => { delete: (cid: CID) => Promise<void> | void }
}

/**
 * Deletes blocks below Helia's top storage layer. Helia's `blockstore.delete` first cancels the block's
 * re-providing, which throws NoContentRoutersError on a peer with no content router (ours: a private network with
 * no DHT); and it takes the blockstore's write lock, which in Helia 7 is one mortice lock named 'lock' for the
 * whole process and which every `get` holds as a reader for as long as bitswap takes to answer: one stalled want
 * would freeze every read (the node's HTTP serving included) behind a waiting delete. Given `pins`, a pinned block
 * is never deleted (Helia's rule); without, it is deleted anyway (`pin verify --repair` replacing a damaged block).
 * A block another pin is fetching at the same moment may go; that pin then fetches it again when it records the pin.
 */
export function localRemover (blockstore: Blocks, pins?: Pick<Pins, 'isPinned'>): (cid: CID) => Promise<void> {
  const layered = blockstore as unknown as LayeredBlockstore
  return async cid => {
    if (pins != null && await pins.isPinned(cid)) return
    await layered.unwrap().delete(cid)
  }
}
