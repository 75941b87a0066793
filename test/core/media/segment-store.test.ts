import { randomBytes } from 'node:crypto'
import { unixfs } from '@helia/unixfs'
import test from 'ava'
import { createHeliaLight } from 'helia'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createSegmentStore, memorySegmentIndex } from '../../../core/media/segment-store.ts'
import type { CID } from 'multiformats/cid'

/*
 * core/media/segment-store.ts over a Helia in memory: what it tells the server of the segments it just imported.
 */

test('a segment imported as one raw block is told to `made` with its CID and bytes; a larger one and one stored before are not', async t => {
  const helia = createHeliaLight({})
  await helia.start()
  t.teardown(async () => { await helia.stop() })
  const made: Array<{ cid: CID, bytes: Buffer }> = []
  const store = createSegmentStore({ unixfs: unixfs(helia), index: memorySegmentIndex(), made: (cid, bytes) => { made.push({ cid, bytes }) } })

  const small = randomBytes(300_000)
  const first = await store.put('key', 0, small)
  t.is(made.length, 1)
  t.is(made[0].cid.code, raw.code)
  t.true(made[0].cid.equals(first.cid))
  t.deepEqual(made[0].cid.multihash.digest, (await sha256.digest(small)).digest, 'the CID is the hash of the bytes handed on')
  t.true(made[0].bytes.equals(small))

  const init = await store.putInit('key', randomBytes(1200))
  t.is(made.length, 2)
  t.true(made[1].cid.equals(init.cid))

  // more than one leaf: a dag-pb root over several blocks, none of which is the segment's bytes
  const large = await store.put('key', 1, randomBytes(3 * 1024 * 1024))
  t.not(large.cid.code, raw.code)
  t.is(made.length, 2)

  // stored before: its first version stays and nothing is imported
  t.true((await store.put('key', 0, randomBytes(1000))).cid.equals(first.cid))
  t.is(made.length, 2)
})
