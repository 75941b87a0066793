import { join } from 'node:path'
import { unixfs } from '@helia/unixfs'
import anyTest from 'ava'
import * as dagPb from '@ipld/dag-pb'
import { UnixFS } from 'ipfs-unixfs'
import { CID } from 'multiformats/cid'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { IMPORT_OPTIONS } from '../../core/ipfs/index.ts'
import { bytesOf } from '../helpers/bytes.ts'
import { catalogProbe, hostileTests, serverSnapshot } from '../helpers/hostile.ts'
import { startTestServer } from '../helpers/server.ts'
import type { CatalogProbe, HostileTarget, HttpCase } from '../helpers/hostile.ts'
import type { TestServer } from '../helpers/server.ts'
import type { TestFn } from 'ava'

/*
 * Hostile input to the main server's `/ipfs` path gateway: CIDs that are malformed, identity, of unknown codecs or
 * not held; ranges inverted, huge, negative, many; formats and Accept values it cannot produce; paths that climb.
 * Nothing asked for may be fetched or stored.
 */

const test = anyTest as TestFn<{ main: TestServer, probe: CatalogProbe, target: HostileTarget }>
const FILE_BYTES = 2 * 1024 * 1024 + 77

test.before(async t => {
  const main = await startTestServer()
  const fs = unixfs(main.server.peer)
  const file = await fs.addBytes(bytesOf(FILE_BYTES, 'hostile-ipfs'), IMPORT_OPTIONS)
  const dir = await fs.cp(file, await fs.addDirectory(), 'file.bin')
  const unknownCodec = CID.createV1(0x300001, await sha256.digest(Buffer.from('unknown codec')))
  const missing = CID.createV1(0x55, await sha256.digest(Buffer.from('never stored')))
  const identityCid = CID.createV1(0x55, identity.digest(Buffer.from('<script>alert(1)</script>')))
  const probe = catalogProbe(join(main.dir, 'data', 'catalog.sqlite'))
  const vars = { file: file.toString(), dir: dir.toString(), unknownCodec: unknownCodec.toString(), missing: missing.toString(), identity: identityCid.toString(), v0: 'QmPZ9gcCEpqKTo6aq61g2nXGUhM4iCL3ewB6LDXZCtioEB', identityPage: identityPage().toString() }
  t.context = {
    main,
    probe,
    target: {
      url: main.server.url,
      tokens: { admin: main.token },
      snapshot: serverSnapshot(join(main.dir, 'data'), probe),
      secrets: [main.dir],
      vars
    }
  }
})

/** A UnixFS directory holding `x.html`, both inside identity CIDs: a page anyone can write into a URL, held by nobody. */
function identityPage (): CID {
  const html = Buffer.from('<!DOCTYPE html><script>fetch("/api/v1/users",{method:"POST"})</script>')
  const file = dagPb.encode({ Data: new UnixFS({ type: 'file', data: html }).marshal(), Links: [] })
  const fileCid = CID.createV1(dagPb.code, identity.digest(file))
  const dir = dagPb.encode(dagPb.prepare({ Data: new UnixFS({ type: 'directory' }).marshal(), Links: [{ Name: 'x.html', Hash: fileCid, Tsize: file.byteLength }] }))
  return CID.createV1(dagPb.code, identity.digest(dir))
}

test.after.always(async t => {
  t.context.probe?.close()
  await t.context.main?.stop()
})

const range = (value: string): Record<string, string> => ({ Range: value })
const partial = (first: number, last: number): HttpCase['check'] => (t, res) => {
  t.is(res.headers['content-range'], `bytes ${first}-${last}/${FILE_BYTES}`)
}
const whole: HttpCase['check'] = (t, res) => { t.is(res.headers['content-length'], String(FILE_BYTES)) }

hostileTests(test, [
  { name: 'a CID that is no CID', path: '/ipfs/not-a-cid', status: 400, error: 'InvalidCIDError' },
  { name: 'a CID with trailing garbage', path: '/ipfs/{file}zz', status: 400, error: 'InvalidCIDError' },
  { name: 'a CID of 4,000 characters', path: `/ipfs/b${'a'.repeat(4000)}`, status: 400, error: 'InvalidCIDError' },
  { name: 'a CID with NUL', path: '/ipfs/{file}%00', status: 400, error: 'InvalidPathError' },
  { name: 'a CID with HTML', path: '/ipfs/%3Cimg%20src%3Dx%3E', status: 400, error: 'InvalidCIDError' },
  { name: 'an identity CID', path: '/ipfs/{identity}', status: 400, error: 'InvalidCIDError' },
  { name: 'an HTML page inside identity CIDs', path: '/ipfs/{identityPage}/x.html', status: 400, error: 'InvalidCIDError' },
  { name: 'the empty identity CID', path: '/ipfs/bafkqaaa', status: 400, error: 'InvalidCIDError' },
  { name: 'a CID of an unknown codec', path: '/ipfs/{unknownCodec}', status: 404, error: 'ContentNotFoundError' },
  { name: 'a CID not held', path: '/ipfs/{missing}', status: 404, error: 'ContentNotFoundError' },
  { name: 'a CIDv0 not held', path: '/ipfs/{v0}', status: 404, error: 'ContentNotFoundError' },
  { name: 'only-if-cached for a CID not held', path: '/ipfs/{missing}', headers: { 'Cache-Control': 'only-if-cached' }, status: 412, error: 'NotCachedError' },
  { name: 'a path with encoded dot-dot', path: '/ipfs/{dir}/%2e%2e/%2e%2e/etc/passwd', status: 400, error: 'InvalidPathError' },
  { name: 'a path with dot-dot', path: '/ipfs/{dir}/x/../file.bin', status: 400, error: 'InvalidPathError' },
  { name: 'a path with NUL', path: '/ipfs/{dir}/file.bin%00.html', status: 400, error: 'InvalidPathError' },
  { name: 'a path with a backslash', path: '/ipfs/{dir}/..%5c..%5cswarm.key', status: 400, error: 'InvalidPathError' },
  { name: 'a path 2,000 segments deep', path: `/ipfs/{dir}/${'a/'.repeat(2000)}b`, status: 404 },
  { name: 'a path that is not there', path: '/ipfs/{dir}/swarm.key', status: 404 },
  { name: 'an inverted range (ignored, as RFC 9110 says of an invalid one)', path: '/ipfs/{file}', headers: range('bytes=100-50'), status: 200, check: whole },
  { name: 'a range past the end', path: '/ipfs/{file}', headers: range(`bytes=${FILE_BYTES}-`), status: 416, error: 'RangeNotSatisfiableError' },
  { name: 'an empty suffix range', path: '/ipfs/{file}', headers: range('bytes=-0'), status: 416, error: 'RangeNotSatisfiableError' },
  { name: 'a negative range', path: '/ipfs/{file}', headers: range('bytes=-5-10'), status: 200, check: whole },
  { name: 'a range beyond 2^64', path: '/ipfs/{file}', headers: range('bytes=0-99999999999999999999999'), status: 206, check: partial(0, FILE_BYTES - 1) },
  { name: 'two ranges', path: '/ipfs/{file}', headers: range('bytes=0-1,5-6'), status: 200, check: whole },
  { name: '500 overlapping ranges', path: '/ipfs/{file}', headers: range(`bytes=${Array.from({ length: 500 }, () => '0-1048575').join(',')}`), status: 200, check: whole },
  { name: 'a range of another unit', path: '/ipfs/{file}', headers: range('items=0-5'), status: 200, check: whole },
  { name: 'a range of garbage', path: '/ipfs/{file}', headers: range('bytes=a-b'), status: 200, check: whole },
  { name: 'a bogus format', path: '/ipfs/{file}?format=exe', status: 400, error: 'InvalidRequestError' },
  { name: 'format given twice', path: '/ipfs/{file}?format=raw&format=car', status: 400, error: 'InvalidRequestError' },
  { name: 'an Accept the gateway cannot produce', path: '/ipfs/{file}', headers: { Accept: 'application/vnd.ipld.dag-json' }, status: 406, error: 'NotAcceptableError' },
  { name: 'a CAR of version 2', path: '/ipfs/{file}', headers: { Accept: 'application/vnd.ipld.car; version=2' }, status: 406, error: 'NotAcceptableError' },
  { name: 'a raw block with a path', path: '/ipfs/{dir}/file.bin?format=raw', status: 400 },
  { name: 'inverted entity-bytes (an empty range: the root block only)', path: '/ipfs/{file}?format=car&entity-bytes=10:5', status: 200, check: (t, res) => { t.regex(String(res.headers['content-type']), /^application\/vnd\.ipld\.car/) } },
  { name: 'a bogus dag-scope', path: '/ipfs/{file}?format=car&dag-scope=everything', status: 400 },
  { name: 'a stream token of garbage', path: '/ipfs/{file}?token=garbage.garbage', as: 'none', status: 403 },
  { name: 'a POST to the gateway', method: 'POST', path: '/ipfs/{file}', body: '{}', status: 405, error: 'MethodNotAllowedError' }
], c => c.target)
