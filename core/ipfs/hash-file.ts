import { createReadStream } from 'node:fs'
import { importer } from 'ipfs-unixfs-importer'
import { IMPORT_OPTIONS } from './import-profile.ts'
import type { CID } from 'multiformats/cid'

/** A blockstore that keeps nothing: the importer only needs somewhere to put what it hashes. */
const DISCARD = {
  async put (cid: CID): Promise<CID> { return cid }
}

/** The CID of a file's bytes under the import profile, without storing them (like `ipfs add --only-hash`). */
export async function hashFile (path: string, options: { signal?: AbortSignal } = {}): Promise<CID> {
  const content = createReadStream(path, { highWaterMark: 1 << 20, signal: options.signal })
  let root: CID | undefined
  for await (const entry of importer([{ content }], DISCARD, { ...IMPORT_OPTIONS })) {
    root = entry.cid
  }
  if (root == null) throw new Error(`nothing was read from ${path}`)
  return root
}
