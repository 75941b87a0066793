import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Blockstore } from 'interface-blockstore'

/** One named link of a directory: the child's CID and the cumulative size of its DAG (Tsize). */
export interface DirectoryLink {
  name: string
  cid: CID
  size: number
}

/** Largest directory block we write flat; beyond it a HAMT would be needed (about 4,000 segments). */
const MAX_FLAT_DIRECTORY_BYTES = 1_048_576

async function blockBytes (blockstore: Pick<Blockstore, 'get'>, cid: CID): Promise<Uint8Array> {
  const parts: Uint8Array[] = []
  let length = 0
  for await (const part of blockstore.get(cid)) { parts.push(part); length += part.byteLength }
  if (parts.length === 1) return parts[0]
  const out = new Uint8Array(length)
  let at = 0
  for (const part of parts) { out.set(part, at); at += part.byteLength }
  return out
}

/** The Tsize of a DAG: its root block plus what its links say they hold. */
export async function dagSize (blockstore: Pick<Blockstore, 'get'>, cid: CID): Promise<number> {
  const bytes = await blockBytes(blockstore, cid)
  if (cid.code !== dagPb.code) return bytes.byteLength
  const node = dagPb.decode(bytes)
  return bytes.byteLength + node.Links.reduce((sum, link) => sum + (link.Tsize ?? 0), 0)
}

/**
 * Writes a flat UnixFS directory over blocks that already exist (no bytes are re-imported) and returns its
 * CID. Links are sorted by name, as dag-pb requires, so the same entries give the same CID.
 */
export async function writeDirectory (blockstore: Pick<Blockstore, 'put'>, links: readonly DirectoryLink[]): Promise<CID> {
  const node = dagPb.prepare({
    Data: new UnixFS({ type: 'directory' }).marshal(),
    Links: links.map(l => ({ Name: l.name, Hash: l.cid, Tsize: l.size }))
  })
  const bytes = dagPb.encode(node)
  if (bytes.byteLength > MAX_FLAT_DIRECTORY_BYTES) {
    throw new RangeError(`a directory of ${links.length} entries is too large for one block`)
  }
  const cid = CID.createV1(dagPb.code, await sha256.digest(bytes))
  await blockstore.put(cid, bytes)
  return cid
}

/** True for a CID whose block is raw bytes (a file of one chunk). */
export function isRawLeaf (cid: CID): boolean {
  return cid.code === raw.code
}
