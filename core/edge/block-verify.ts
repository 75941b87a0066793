import { importFile } from 'ipfs-unixfs-importer'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { balanced } from 'ipfs-unixfs-importer/layout'
import * as raw from 'multiformats/codecs/raw'
import { CHUNK_BYTES, hashMatches, IMPORT_OPTIONS } from '../ipfs/index.ts'
import { UnverifiedContentError } from './errors.ts'
import type { CID } from 'multiformats/cid'

/**
 * A node never serves bytes it has not checked against their CID: blocks from a CAR are hashed one by one, and a
 * file fetched whole (an HLS segment) is hashed when it is one raw block, or re-imported with the import profile
 * the main server uses (same bytes, same DAG, same root CID) when it is larger.
 */

/** A block and its CID. */
export interface VerifiedBlock {
  cid: CID
  bytes: Uint8Array
}

/** Throws UnverifiedContentError unless `bytes` hash to `cid` (identity, sha2-256 or sha2-512; other hashes are refused). */
export async function verifyBlock (cid: CID, bytes: Uint8Array): Promise<void> {
  const matches = await hashMatches(cid, bytes)
  if (matches == null) throw new UnverifiedContentError(`block ${cid.toString()} uses hash 0x${cid.multihash.code.toString(16)}, which this node does not check`)
  if (!matches) throw new UnverifiedContentError(`block ${cid.toString()} does not hash to its CID`)
}

/**
 * The blocks of a UnixFS file whose bytes are `bytes` and whose root is `cid`, made with the import profile;
 * throws UnverifiedContentError when the bytes do not give that root (altered bytes, or another profile).
 */
export async function verifyFileBytes (cid: CID, bytes: Uint8Array): Promise<VerifiedBlock[]> {
  if (cid.code === raw.code) {
    await verifyBlock(cid, bytes)
    return [{ cid, bytes }]
  }
  const blocks: VerifiedBlock[] = []
  // the same settings as @helia/unixfs addBytes with IMPORT_OPTIONS, which is how the main server stores segments
  const { cid: root } = await importFile({ content: bytes }, {
    put: async (block: CID, data: Uint8Array) => { blocks.push({ cid: block, bytes: data }); return block }
  }, {
    cidVersion: 1,
    rawLeaves: true,
    layout: balanced({ maxChildrenPerNode: 1024 }),
    chunker: fixedSize({ chunkSize: CHUNK_BYTES }),
    ...IMPORT_OPTIONS
  })
  const wanted = cid.toString()
  if (root.toString() !== wanted) throw new UnverifiedContentError(`the bytes fetched for ${wanted} import to ${root.toString()}`)
  return blocks
}
