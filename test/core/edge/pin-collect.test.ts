import { randomBytes } from 'node:crypto'
import * as dagPb from '@ipld/dag-pb'
import test from 'ava'
import { MemoryBlockstore } from 'blockstore-core/memory'
import { importer } from 'ipfs-unixfs-importer'
import * as raw from 'multiformats/codecs/raw'
import { collectDag } from '../../../core/edge/pin-collect.ts'
import type { CollectComponents } from '../../../core/edge/pin-collect.ts'
import type { CID } from 'multiformats/cid'

/** A UnixFS file of `bytes` in a memory blockstore, in `chunk`-byte raw leaves; the root and every block's size. */
async function importFile (store: MemoryBlockstore, bytes: Uint8Array, chunk: number): Promise<{ root: CID, sizes: Map<string, number> }> {
  let root: CID | undefined
  for await (const entry of importer([{ content: bytes }], store, { rawLeaves: true, cidVersion: 1, chunker: (await import('ipfs-unixfs-importer/chunker')).fixedSize({ chunkSize: chunk }) })) root = entry.cid
  if (root == null) throw new Error('nothing imported')
  const sizes = new Map<string, number>()
  for await (const { cid, bytes: chunks } of store.getAll()) {
    let size = 0
    for await (const chunk of chunks) size += chunk.byteLength
    sizes.set(cid.toString(), size)
  }
  return { root, sizes }
}

/** How many blocks `store` holds. */
async function countBlocks (store: MemoryBlockstore): Promise<number> {
  let count = 0
  for await (const entry of store.getAll()) if (entry != null) count++
  return count
}

/** The components collectDag takes over `store`, nothing pinned, counting which blocks were read. */
function components (store: MemoryBlockstore, pinned: Set<string> = new Set()): { c: CollectComponents, reads: string[] } {
  const reads: string[] = []
  const c: CollectComponents = {
    blockstore: {
      has: async (cid: CID) => await store.has(cid),
      get: (cid: CID) => {
        reads.push(cid.toString())
        return store.get(cid)
      }
    } as unknown as CollectComponents['blockstore'],
    remove: async (cid: CID) => { await store.delete(cid) },
    pins: { isPinned: async (cid: CID) => pinned.has(cid.toString()) },
    getCodec: (async (code: number) => {
      if (code === dagPb.code) return dagPb
      if (code === raw.code) return raw
      throw new Error(`no codec ${code}`)
    }) as unknown as CollectComponents['getCodec']
  }
  return { c, reads }
}

test('an unpinned DAG is removed whole, its raw leaves counted from their parents\' links without being read', async t => {
  const store = new MemoryBlockstore()
  const { root, sizes } = await importFile(store, randomBytes(300_000), 16_384)
  const leaves = [...sizes.keys()].filter(cid => cid.startsWith('bafk'))
  t.true(leaves.length > 10)
  const { c, reads } = components(store)
  const freed = await collectDag(c, root)
  t.is(freed.blocks, sizes.size)
  t.is(freed.bytes, [...sizes.values()].reduce((a, b) => a + b, 0))
  t.deepEqual(reads.filter(cid => cid.startsWith('bafk')), [], 'no raw leaf was read')
  t.is(await countBlocks(store), 0, 'every block is gone')
})

test('a file of one raw block is read for its size; blocks another pin holds stay with what lies below them', async t => {
  const store = new MemoryBlockstore()
  const single = await importFile(store, randomBytes(1000), 16_384)
  t.is(single.root.code, raw.code)
  const shared = await importFile(store, randomBytes(100_000), 16_384)
  const { c } = components(store, new Set([shared.root.toString()]))
  const freed = await collectDag(c, single.root)
  t.deepEqual(freed, { blocks: 1, bytes: 1000 })
  t.deepEqual(await collectDag(c, shared.root), { blocks: 0, bytes: 0 }, 'a pinned root is kept, and so is everything below it')
  // shared.sizes counts every block in the store then, the single one's too
  t.is(await countBlocks(store), shared.sizes.size - 1)
})
