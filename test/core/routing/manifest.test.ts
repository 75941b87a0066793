import { unixfs } from '@helia/unixfs'
import test from 'ava'
import { MemoryBlockstore } from 'blockstore-core'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { IMPORT_OPTIONS } from '../../../core/ipfs/index.ts'
import { decodeManifest, encodeManifest, normalizeManifest, readManifest, sameManifestContent, storeManifest } from '../../../core/routing/manifest.ts'
import type { NodeManifestInput } from '../../../core/routing/index.ts'

const ROOT_A = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'
const ROOT_B = 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy'

function manifest (overrides: Partial<NodeManifestInput> = {}): NodeManifestInput {
  return {
    name: 'living-room',
    peerId: '12D3KooWSxxSqf2rw3FP2QUVQiqrnQfqLJnN6bypSnktuNFjhE8N',
    mode: 'shared',
    url: 'http://127.0.0.1:8081',
    capacity: { quotaBytes: 1_000_000, usedBytes: 1000, freeBytes: 999_000 },
    pinned: [ROOT_B, ROOT_A],
    updatedAt: '2026-01-02T03:04:05.000Z',
    ...overrides
  }
}

test('a manifest round-trips through the blockstore as one raw JSON block', async t => {
  const blockstore = new MemoryBlockstore()
  const cid = await storeManifest(blockstore, manifest())
  t.is(cid.code, raw.code)
  t.is(cid.version, 1)
  const back = await readManifest(blockstore, cid)
  t.deepEqual(back, normalizeManifest(manifest()))
  t.is(back.version, 1)
  t.deepEqual(back.pinned, [ROOT_A, ROOT_B].sort())
})

test('its CID is what a UnixFS import of the same bytes gives, so any gateway serves it as a file', async t => {
  const blockstore = new MemoryBlockstore()
  const cid = await storeManifest(blockstore, manifest())
  const fs = unixfs({ blockstore: new MemoryBlockstore() })
  t.true(cid.equals(await fs.addBytes(encodeManifest(manifest()), { ...IMPORT_OPTIONS })))
})

test('equal content gives equal bytes whatever the order or spelling of pinned roots', async t => {
  const a = encodeManifest(manifest({ pinned: [ROOT_A, ROOT_B, ROOT_A] }))
  const b = encodeManifest(manifest({ pinned: [ROOT_B, ROOT_A] }))
  t.deepEqual(a, b)
  const v0 = 'QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB'
  t.deepEqual(normalizeManifest(manifest({ pinned: [v0] })).pinned, [CID.parse(v0).toV1().toString()])
})

test('sameManifestContent ignores updatedAt only', t => {
  t.true(sameManifestContent(manifest(), manifest({ updatedAt: '2027-01-01T00:00:00.000Z' })))
  t.false(sameManifestContent(manifest(), manifest({ pinned: [ROOT_A] })))
  t.false(sameManifestContent(manifest(), manifest({ mode: 'local' })))
})

test('bad manifests are refused naming the field', t => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /the manifest/],
    [[], /the manifest/],
    [{ ...normalizeManifest(manifest()), version: 2 }, /version/],
    [{ ...normalizeManifest(manifest()), mode: 'public' }, /mode/],
    [{ ...normalizeManifest(manifest()), name: '' }, /name/],
    [{ ...normalizeManifest(manifest()), pinned: ['not a cid'] }, /pinned/],
    [{ ...normalizeManifest(manifest()), pinned: 'bafy' }, /pinned/],
    [{ ...normalizeManifest(manifest()), capacity: { quotaBytes: -1, usedBytes: 0, freeBytes: 0 } }, /capacity\.quotaBytes/],
    [{ ...normalizeManifest(manifest()), updatedAt: 'yesterday' }, /updatedAt/]
  ]
  for (const [value, message] of cases) {
    t.throws(() => decodeManifest(new TextEncoder().encode(JSON.stringify(value))), { name: 'InvalidRequestError', message }, JSON.stringify(value))
  }
  t.throws(() => decodeManifest(Uint8Array.of(0xff, 0xfe)), { name: 'InvalidRequestError' })
})
