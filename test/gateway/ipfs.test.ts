import { randomBytes } from 'node:crypto'
import { rm, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import { CarReader } from '@ipld/car'
import * as dagPb from '@ipld/dag-pb'
import anyTest from 'ava'
import { NextToLast } from 'blockstore-fs/sharding'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { balanced } from 'ipfs-unixfs-importer/layout'
import { fixedSize } from 'ipfs-unixfs-importer/chunker'
import { IMPORT_OPTIONS } from '../../core/ipfs/index.ts'
import { bytesOf } from '../helpers/bytes.ts'
import { rawGet, startGateway } from './ipfs-fixture.ts'
import { verifiedFetchVia } from '../helpers/verified-fetch.ts'
import type { GatewayFixture } from './ipfs-fixture.ts'
import type { TestFn } from 'ava'

const test = anyTest as TestFn<GatewayFixture>
const MIB = 1024 * 1024

test.before(async t => { t.context = await startGateway() })
test.after.always(async t => { await t.context.stop() })

async function get (t: { context: GatewayFixture }, path: string, init: RequestInit = {}): Promise<{ res: Response, body: Buffer }> {
  const res = await fetch(t.context.url + path, { redirect: 'manual', ...init })
  return { res, body: Buffer.from(await res.arrayBuffer()) }
}

async function car (body: Buffer): Promise<{ roots: string[], blocks: Array<{ cid: CID, bytes: Uint8Array }> }> {
  const reader = await CarReader.fromBytes(body)
  const blocks: Array<{ cid: CID, bytes: Uint8Array }> = []
  for await (const block of reader.blocks()) blocks.push(block)
  return { roots: (await reader.getRoots()).map(String), blocks }
}

async function hashesMatch (blocks: Array<{ cid: CID, bytes: Uint8Array }>): Promise<boolean> {
  for (const { cid, bytes } of blocks) {
    if (!(await sha256.digest(bytes)).bytes.every((b, i) => b === cid.multihash.bytes[i])) return false
  }
  return true
}

test('a multi-block file streams whole with its length, Etag, immutable caching and IPFS headers', async t => {
  const { cid, bytes } = t.context.files.big
  const { res, body } = await get(t, `/ipfs/${cid}`)
  t.is(res.status, 200)
  t.true(body.equals(bytes))
  t.is(res.headers.get('content-length'), String(bytes.byteLength))
  t.is(res.headers.get('etag'), `"${cid}"`)
  t.is(res.headers.get('cache-control'), 'public, max-age=29030400, immutable')
  t.is(res.headers.get('accept-ranges'), 'bytes')
  t.is(res.headers.get('content-type'), 'application/octet-stream')
  t.is(res.headers.get('x-ipfs-path'), `/ipfs/${cid}`)
  t.is(res.headers.get('x-ipfs-roots'), cid.toString())
})

test('the content type follows the path extension', async t => {
  const dir = t.context.media.cid
  const expected: Record<string, string> = {
    'index.m3u8': 'application/vnd.apple.mpegurl',
    'seg%201.m4s': 'video/iso.segment',
    'init.mp4': 'video/mp4',
    'seg2.ts': 'video/mp2t',
    'notes.json': 'application/json; charset=utf-8'
  }
  for (const [name, type] of Object.entries(expected)) {
    const { res } = await get(t, `/ipfs/${dir}/${name}`)
    t.is(res.status, 200, name)
    t.is(res.headers.get('content-type'), type, name)
  }
  const { res, body } = await get(t, `/ipfs/${dir}/seg%201.m4s`)
  t.true(body.equals(t.context.media.segment))
  const roots = res.headers.get('x-ipfs-roots')?.split(',')
  t.is(roots?.[0], dir.toString())
  t.is(res.headers.get('etag'), `"${roots?.[1] ?? ''}"`)
})

test('a byte range across a block boundary returns 206 with Content-Range', async t => {
  const { cid, bytes } = t.context.files.big
  const { res, body } = await get(t, `/ipfs/${cid}`, { headers: { Range: `bytes=${MIB - 10}-${MIB + 9}` } })
  t.is(res.status, 206)
  t.is(res.headers.get('content-range'), `bytes ${MIB - 10}-${MIB + 9}/${bytes.byteLength}`)
  t.is(res.headers.get('content-length'), '20')
  t.true(body.equals(bytes.subarray(MIB - 10, MIB + 10)))
})

test('open-ended and suffix ranges return the right bytes', async t => {
  const { cid, bytes } = t.context.files.big
  const open = await get(t, `/ipfs/${cid}`, { headers: { Range: `bytes=${2 * MIB + 5}-` } })
  t.is(open.res.status, 206)
  t.true(open.body.equals(bytes.subarray(2 * MIB + 5)))
  const suffix = await get(t, `/ipfs/${cid}`, { headers: { Range: 'bytes=-300' } })
  t.is(suffix.res.status, 206)
  t.is(suffix.res.headers.get('content-range'), `bytes ${bytes.byteLength - 300}-${bytes.byteLength - 1}/${bytes.byteLength}`)
  t.true(suffix.body.equals(bytes.subarray(bytes.byteLength - 300)))
  const several = await get(t, `/ipfs/${cid}`, { headers: { Range: 'bytes=0-1,5-6' } })
  t.is(several.res.status, 200, 'several ranges are answered with the whole body')
})

test('a file of dag-pb leaves in a deep tree reads whole and by any range', async t => {
  const bytes = bytesOf(20_000, 'legacy')
  // CIDv0, dag-pb leaves of 1000 bytes, three children per node: several levels, data in every leaf node
  const cid = await unixfs(t.context.helia).addBytes(bytes, {
    cidVersion: 0, rawLeaves: false, chunker: fixedSize({ chunkSize: 1000 }), layout: balanced({ maxChildrenPerNode: 3 })
  })
  t.true((await get(t, `/ipfs/${cid}`)).body.equals(bytes))
  for (const [from, to] of [[0, 0], [999, 1000], [2500, 9499], [19_999, 19_999]]) {
    const { res, body } = await get(t, `/ipfs/${cid}`, { headers: { Range: `bytes=${from}-${to}` } })
    t.is(res.status, 206)
    t.true(body.equals(bytes.subarray(from, to + 1)), `${from}-${to}`)
  }
})

test('an unsatisfiable range returns 416 with the length of the file', async t => {
  const { cid, bytes } = t.context.files.big
  const { res, body } = await get(t, `/ipfs/${cid}`, { headers: { Range: `bytes=${bytes.byteLength}-` } })
  t.is(res.status, 416)
  t.is(res.headers.get('content-range'), `bytes */${bytes.byteLength}`)
  t.is(JSON.parse(body.toString()).error, 'RangeNotSatisfiableError')
})

test('HEAD returns the headers and no body', async t => {
  const { cid, bytes } = t.context.files.big
  const { res, body } = await get(t, `/ipfs/${cid}`, { method: 'HEAD' })
  t.is(res.status, 200)
  t.is(res.headers.get('content-length'), String(bytes.byteLength))
  t.is(res.headers.get('etag'), `"${cid}"`)
  t.is(body.byteLength, 0)
})

test('If-None-Match with the Etag returns 304', async t => {
  const { cid } = t.context.files.json
  const { res, body } = await get(t, `/ipfs/${cid}`, { headers: { 'If-None-Match': `"${cid}"` } })
  t.is(res.status, 304)
  t.is(body.byteLength, 0)
  t.is(res.headers.get('etag'), `"${cid}"`)
})

test('a malformed CID returns 400 with a JSON error', async t => {
  const { res, body } = await get(t, '/ipfs/not-a-cid/x.ts')
  t.is(res.status, 400)
  t.regex(res.headers.get('content-type') ?? '', /application\/json/)
  t.is(JSON.parse(body.toString()).error, 'InvalidCIDError')
})

test('a root block that is not held returns 404 at once, without asking the network', async t => {
  const missing = CID.createV1(raw.code, await sha256.digest(randomBytes(32)))
  for (const query of ['', '?format=raw', '?format=car']) {
    // a gateway that asked the network would wait for providers that never come: the deadline fails it
    const { res } = await get(t, `/ipfs/${missing}${query}`, { signal: AbortSignal.timeout(15_000) })
    t.is(res.status, 404, query)
  }
})

test('a missing path segment returns 404', async t => {
  const { res, body } = await get(t, `/ipfs/${t.context.media.cid}/nope.ts`)
  t.is(res.status, 404)
  t.is(JSON.parse(body.toString()).error, 'PathNotFoundError')
  const through = await get(t, `/ipfs/${t.context.media.cid}/init.mp4/deeper`)
  t.is(through.res.status, 404)
})

test('a directory without a trailing slash redirects to the same path with one', async t => {
  const { res } = await get(t, `/ipfs/${t.context.media.cid}/sub?x=1`)
  t.is(res.status, 301)
  t.is(res.headers.get('location'), `/ipfs/${t.context.media.cid}/sub/?x=1`)
})

test('a directory with a trailing slash lists its entries', async t => {
  const { res, body } = await get(t, `/ipfs/${t.context.media.cid}/`)
  t.is(res.status, 200)
  t.regex(res.headers.get('content-type') ?? '', /^text\/html/)
  const html = body.toString()
  for (const name of ['index.m3u8', 'init.mp4', 'seg2.ts', 'sub']) t.true(html.includes(`>${name}<`), name)
  t.true(html.includes('href="./seg%201.m4s"'))
  const sub = await get(t, `/ipfs/${t.context.media.cid}/sub/`)
  t.true(sub.body.toString().includes('deep.txt'))
  t.is(sub.res.headers.get('x-ipfs-roots'), `${t.context.media.cid},${t.context.media.sub}`)
})

test('a directory with index.html serves it', async t => {
  const { res, body } = await get(t, `/ipfs/${t.context.site.cid}/`)
  t.is(res.status, 200)
  t.is(res.headers.get('content-type'), 'text/html; charset=utf-8')
  t.true(body.equals(t.context.site.index))
})

test('files inside a HAMT-sharded directory resolve and the directory lists', async t => {
  const { res, body } = await get(t, `/ipfs/${t.context.sharded.cid}/f27.txt`)
  t.is(res.status, 200)
  t.is(body.toString(), 'file 27\n')
  const listing = await get(t, `/ipfs/${t.context.sharded.cid}/`)
  t.is((listing.body.toString().match(/<tr><td><a /g) ?? []).length, 40)
  t.is((await get(t, `/ipfs/${t.context.sharded.cid}/f99.txt`)).res.status, 404)
})

test('dot-dot, encoded dot-dot, backslashes and NUL in a path are refused with 400', async t => {
  const dir = t.context.media.cid.toString()
  for (const path of [`/ipfs/${dir}/sub/../init.mp4`, `/ipfs/${dir}/sub/%2e%2e/init.mp4`, `/ipfs/${dir}/%2E%2E`, `/ipfs/${dir}/sub\\..\\init.mp4`,
    `/ipfs/${dir}/sub%5cdeep.txt`, `/ipfs/${dir}/init.mp4%00`, `/ipfs/${dir}/a%2fb`, `/ipfs/${dir}/./init.mp4`]) {
    const { status, body } = await rawGet(t.context.url, path)
    t.is(status, 400, path)
    t.is(JSON.parse(body).error, 'InvalidPathError', path)
  }
})

test('format=raw and Accept: application/vnd.ipld.raw return the single block, which hashes to its CID', async t => {
  const { cid } = t.context.files.big
  for (const [query, headers] of [['?format=raw', {}], ['', { Accept: 'application/vnd.ipld.raw' }]] as const) {
    const { res, body } = await get(t, `/ipfs/${cid}${query}`, { headers })
    t.is(res.status, 200)
    t.is(res.headers.get('content-type'), 'application/vnd.ipld.raw')
    t.is(res.headers.get('x-content-type-options'), 'nosniff')
    t.is(res.headers.get('content-disposition')?.split(';')[1].trim(), `filename="${cid}.bin"`)
    t.true(await hashesMatch([{ cid, bytes: body }]))
    t.true(body.byteLength < 1024, 'the root node, not the file')
  }
})

test('a raw block request with a path returns 400', async t => {
  const { res } = await get(t, `/ipfs/${t.context.media.cid}/init.mp4?format=raw`)
  t.is(res.status, 400)
})

test('format=car returns a verifiable CARv1 of the whole DAG rooted at the resolved CID', async t => {
  const { cid, bytes } = t.context.files.big
  const { res, body } = await get(t, `/ipfs/${cid}?format=car`)
  t.is(res.status, 200)
  t.is(res.headers.get('content-type'), 'application/vnd.ipld.car; version=1; order=dfs; dups=n')
  t.is(res.headers.get('x-content-type-options'), 'nosniff')
  t.is(res.headers.get('content-disposition')?.split(';')[1].trim(), `filename="${cid}.car"`)
  t.regex(res.headers.get('etag') ?? '', new RegExp(`^W/"${cid}\\.car\\.`))
  const { roots, blocks } = await car(body)
  t.deepEqual(roots, [cid.toString()])
  t.is(blocks.length, 5, 'the root and four raw leaves')
  t.is(blocks[0].cid.toString(), cid.toString())
  t.true(await hashesMatch(blocks))
  t.true(Buffer.concat(blocks.slice(1).map(b => b.bytes)).equals(bytes))
  const byAccept = await get(t, `/ipfs/${cid}`, { headers: { Accept: 'application/vnd.ipld.car; version=1; order=dfs; dups=y' } })
  t.is(byAccept.res.headers.get('content-type'), 'application/vnd.ipld.car; version=1; order=dfs; dups=y')
  t.is((await car(byAccept.body)).blocks.length, 5)
})

test('a CAR for a path starts with the blocks that prove the path, then the dag-scope', async t => {
  const dir = t.context.media.cid
  const block = await car((await get(t, `/ipfs/${dir}/big.bin?format=car&dag-scope=block`)).body)
  t.is(block.blocks.length, 2)
  t.is(block.blocks[0].cid.toString(), dir.toString())
  t.deepEqual(block.roots, [block.blocks[1].cid.toString()])
  const entity = await car((await get(t, `/ipfs/${dir}/big.bin?format=car&dag-scope=entity`)).body)
  t.is(entity.blocks.length, 2 + 3, 'directory, file root, three leaves')
  t.true(Buffer.concat(entity.blocks.slice(2).map(b => b.bytes)).equals(t.context.media.big))
  const listing = await car((await get(t, `/ipfs/${dir}?format=car&dag-scope=entity`)).body)
  t.is(listing.blocks.length, 1, 'a directory entity is its own node')
  const sharded = await car((await get(t, `/ipfs/${t.context.sharded.cid}/f05.txt?format=car&dag-scope=block`)).body)
  t.true(sharded.blocks.length >= 2)
  t.is(sharded.blocks[0].cid.toString(), t.context.sharded.cid.toString())
  t.true(await hashesMatch(sharded.blocks))
})

test('entity-bytes limits the CAR to the blocks of that byte range', async t => {
  const { cid, bytes } = t.context.files.big
  const second = await car((await get(t, `/ipfs/${cid}?format=car&entity-bytes=${MIB}:${MIB + 1}`)).body)
  t.is(second.blocks.length, 2, 'root and the second leaf')
  t.true(Buffer.from(second.blocks[1].bytes).equals(bytes.subarray(MIB, 2 * MIB)))
  const tail = await car((await get(t, `/ipfs/${cid}?format=car&entity-bytes=-10:*`)).body)
  t.is(tail.blocks.length, 2, 'root and the last leaf')
  t.true(Buffer.from(tail.blocks[1].bytes).equals(bytes.subarray(3 * MIB)))
  const empty = await car((await get(t, `/ipfs/${cid}?format=car&entity-bytes=10:5`)).body)
  t.is(empty.blocks.length, 1, 'an empty range is dag-scope=block')
  t.is((await get(t, `/ipfs/${cid}?format=car&entity-bytes=${bytes.byteLength}:*`)).res.status, 400)
})

test('an Accept the gateway cannot produce returns 406', async t => {
  const { cid } = t.context.files.json
  for (const accept of ['application/vnd.ipld.dag-json', 'application/vnd.ipld.car; version=2', 'application/vnd.ipld.car; order=foo']) {
    const { res } = await get(t, `/ipfs/${cid}`, { headers: { Accept: accept } })
    t.is(res.status, 406, accept)
  }
  const browser = await get(t, `/ipfs/${cid}`, { headers: { Accept: 'text/html,application/xhtml+xml,*/*;q=0.8' } })
  t.is(browser.res.status, 200)
  t.is((await get(t, `/ipfs/${cid}?format=tar`)).res.status, 400)
})

test('Cache-Control: only-if-cached for a block not held returns 412', async t => {
  const missing = CID.createV1(raw.code, await sha256.digest(randomBytes(32)))
  const { res } = await get(t, `/ipfs/${missing}`, { headers: { 'Cache-Control': 'only-if-cached' } })
  t.is(res.status, 412)
  const held = await get(t, `/ipfs/${t.context.files.json.cid}`, { method: 'HEAD', headers: { 'Cache-Control': 'only-if-cached' } })
  t.is(held.res.status, 200)
})

test('a served block stays in the cache after its file is gone', async t => {
  const bytes = bytesOf(200_000, 'cached')
  const cid = await unixfs(t.context.helia).addBytes(bytes, IMPORT_OPTIONS)
  t.true((await get(t, `/ipfs/${cid}`)).body.equals(bytes))
  const { dir, file } = new NextToLast().encode(cid)
  await rm(join(t.context.blocksPath, dir, file))
  const again = await get(t, `/ipfs/${cid}`)
  t.is(again.res.status, 200)
  t.true(again.body.equals(bytes))
})

test('verified-fetch with this gateway as its only source gets a multi-block file and a file in a directory byte-identical', async t => {
  const { fetch, stop } = await verifiedFetchVia(t.context.url)
  try {
    const big = await fetch(`ipfs://${t.context.files.big.cid}`, { signal: AbortSignal.timeout(20_000) })
    t.is(big.status, 200)
    t.true(Buffer.from(await big.arrayBuffer()).equals(t.context.files.big.bytes))
    const segment = await fetch(`ipfs://${t.context.media.cid}/seg%201.m4s`, { signal: AbortSignal.timeout(20_000) })
    t.is(segment.status, 200)
    t.true(Buffer.from(await segment.arrayBuffer()).equals(t.context.media.segment))
    const deep = await fetch(`ipfs://${t.context.media.cid}/big.bin`, { signal: AbortSignal.timeout(20_000) })
    t.true(Buffer.from(await deep.arrayBuffer()).equals(t.context.media.big))
  } finally {
    await stop()
  }
})

test('verified-fetch does not accept a tampered block from this gateway', async t => {
  const bytes = bytesOf(1.5 * MIB, 'tampered')
  const cid = await unixfs(t.context.helia).addBytes(bytes, IMPORT_OPTIONS)
  const leaf = dagPb.decode((await get(t, `/ipfs/${cid}?format=raw`)).body).Links[1].Hash
  const { dir, file } = new NextToLast().encode(leaf)
  // same length, other bytes: only the hash can tell
  await writeFile(join(t.context.blocksPath, dir, file), bytesOf(bytes.byteLength - MIB, 'evil'))
  const { fetch, stop } = await verifiedFetchVia(t.context.url)
  try {
    const outcome = await fetch(`ipfs://${cid}`, { signal: AbortSignal.timeout(4_000) })
      .then(async res => res.ok ? Buffer.from(await res.arrayBuffer()) : res.status)
      .catch((err: Error) => err)
    t.false(Buffer.isBuffer(outcome), 'no body is delivered as valid')
  } finally {
    await stop()
  }
})
