import { randomBytes } from 'node:crypto'
import { unixfs } from '@helia/unixfs'
import test from 'ava'
import { MemoryBlockstore } from 'blockstore-core'
import { createHeliaLight } from 'helia'
import { carBlocks, createContentReader, IMPORT_OPTIONS } from '../../../core/ipfs/index.ts'
import { silentLogger } from '../../../core/logger.ts'
import type { CID } from 'multiformats/cid'

/*
 * core/ipfs/car-export.ts's walk over a real UnixFS file: blocks are read ahead of the one being sent, yet come out in
 * depth-first order, and a block that cannot be read ends the walk at its place.
 */

/** A file of `leaves` 1 MiB leaves (the import profile's) in a blockstore of its own; its root and its leaves. */
async function file (leaves: number): Promise<{ store: MemoryBlockstore, root: CID, bytes: Buffer }> {
  const store = new MemoryBlockstore()
  const helia = createHeliaLight({ blockstore: store })
  await helia.start()
  const bytes = randomBytes(leaves * 1024 * 1024)
  const root = await unixfs(helia).addBytes(bytes, IMPORT_OPTIONS)
  await helia.stop()
  return { store, root, bytes }
}

test('a CAR\'s blocks are read ahead of the one being sent and still come out in depth-first order', async t => {
  const { store, root, bytes } = await file(8)
  const reader = createContentReader({ blockstore: store, logger: silentLogger() })
  const asked: string[] = []
  const get = reader.blocks.get.bind(reader.blocks)
  reader.blocks.get = async (cid, options) => { asked.push(cid.toString()); return await get(cid, options) }

  const out: Array<{ cid: CID, bytes: Uint8Array }> = []
  let askedAtFirstLeaf = 0
  for await (const block of carBlocks(reader, await reader.resolve(root, []), { scope: 'all' })) {
    if (out.length === 1) askedAtFirstLeaf = new Set(asked).size
    out.push(block)
  }
  t.true(out[0].cid.equals(root))
  t.true(Buffer.concat(out.slice(1).map(b => b.bytes)).equals(bytes), 'the leaves in order')
  t.true(askedAtFirstLeaf > 2, `more than the root and the first leaf were being read when the first leaf went out (${askedAtFirstLeaf})`)
})

test('a leaf that cannot be read ends the CAR at its place, after the blocks before it', async t => {
  const { store, root } = await file(8)
  const reader = createContentReader({ blockstore: store, logger: silentLogger() })
  const resolved = await reader.resolve(root, [])
  const leaves = (await reader.node(root)).pb.Links.map(link => link.Hash)
  await store.delete(leaves[5])

  const out: CID[] = []
  const error = await t.throwsAsync(async () => {
    for await (const block of carBlocks(reader, resolved, { scope: 'all' })) out.push(block.cid)
  })
  t.is(error?.name, 'ContentNotFoundError')
  t.deepEqual(out.map(String), [root, ...leaves.slice(0, 5)].map(String))
})
