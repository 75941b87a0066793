import { randomBytes } from 'node:crypto'
import { createServer } from 'node:http'
import test from 'ava'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { identity } from 'multiformats/hashes/identity'
import { sha256 } from 'multiformats/hashes/sha2'
import { gatewayBlocks, gatewayMemory } from '../../../core/edge/gateway-blocks.ts'
import { silentLogger } from '../../../core/logger.ts'
import { waitFor } from '../../helpers/tmp.ts'
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

/*
 * The pinner's HTTP block source against real HTTP servers on loopback, each playing one kind of gateway: one that
 * holds the blocks, one that lacks them, one that lies, one that sends too much, one that never answers.
 */

interface Gateway {
  url: string
  requests: Array<{ path: string, accept?: string, cacheControl?: string }>
  close: () => Promise<void>
}

type Handler = (cid: string, res: ServerResponse) => void

async function gateway (handle: Handler): Promise<Gateway> {
  const requests: Gateway['requests'] = []
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    requests.push({ path: req.url ?? '', accept: req.headers.accept, cacheControl: req.headers['cache-control'] })
    const match = /^\/ipfs\/([^/?]+)\?format=raw$/.exec(req.url ?? '')
    if (match == null) {
      res.writeHead(400).end()
      return
    }
    handle(match[1], res)
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    close: async () => {
      server.closeAllConnections()
      await new Promise(resolve => server.close(resolve))
    }
  }
}

async function block (size = 64 * 1024): Promise<{ cid: CID, bytes: Uint8Array }> {
  const bytes = randomBytes(size)
  return { cid: CID.createV1(raw.code, await sha256.digest(bytes)), bytes }
}

function serving (blocks: Array<{ cid: CID, bytes: Uint8Array }>): Handler {
  return (cid, res) => {
    const found = blocks.find(b => b.cid.toString() === cid)
    if (found == null) {
      res.writeHead(404).end()
      return
    }
    res.writeHead(200, { 'Content-Type': 'application/vnd.ipld.raw', 'Content-Length': found.bytes.byteLength }).end(found.bytes)
  }
}

const never = new AbortController().signal

test('a block comes from a gateway, asked for as the trustless gateway spec says, and blocks spread over the gateways', async t => {
  const blocks = await Promise.all(Array.from({ length: 8 }, async () => await block()))
  const one = await gateway(serving(blocks))
  const two = await gateway(serving(blocks))
  t.teardown(one.close)
  t.teardown(two.close)
  const source = gatewayBlocks({ logger: silentLogger() }, { gateways: [one.url, `${two.url}/`, one.url] })
  t.teardown(source.close)

  const got = await Promise.all(blocks.map(async b => await source.get(b.cid, never)))
  got.forEach((bytes, i) => { t.deepEqual(bytes, blocks[i].bytes) })
  t.true(one.requests.length > 0 && two.requests.length > 0, 'both gateways were asked')
  t.is(one.requests.length + two.requests.length, blocks.length, 'each block once')
  t.deepEqual(one.requests[0], { path: `/ipfs/${blocks.find(b => one.requests[0].path.includes(b.cid.toString()))?.cid.toString() ?? ''}?format=raw`, accept: 'application/vnd.ipld.raw', cacheControl: 'only-if-cached' })
  t.notRegex(source.describe(), /put aside/)
})

test('a gateway that lacks a block is passed over for that block and still asked for the next', async t => {
  const [a, b] = [await block(), await block()]
  const lacking = await gateway((cid, res) => { res.writeHead(cid === b.cid.toString() ? 200 : 412).end(cid === b.cid.toString() ? b.bytes : undefined) })
  const holding = await gateway(serving([a]))
  t.teardown(lacking.close)
  t.teardown(holding.close)
  const source = gatewayBlocks({ logger: silentLogger() }, { gateways: [lacking.url, holding.url] })
  t.teardown(source.close)

  t.deepEqual(await source.get(a.cid, never), a.bytes)
  t.true(lacking.requests.length + holding.requests.length >= 1)
  t.deepEqual(await source.get(b.cid, never), b.bytes, 'the gateway that lacked a was asked for b')
  t.notRegex(source.describe(), /put aside/)
})

test('a gateway that sends other bytes is put aside and not asked again; the block comes from the next one', async t => {
  const blocks = [await block(), await block()]
  const liar = await gateway((_cid, res) => { res.writeHead(200).end(randomBytes(64 * 1024)) })
  const honest = await gateway(serving(blocks))
  t.teardown(liar.close)
  t.teardown(honest.close)
  // the liar first: with nothing in flight the first gateway listed is asked first
  const source = gatewayBlocks({ logger: silentLogger() }, { gateways: [liar.url, honest.url] })
  t.teardown(source.close)

  t.deepEqual(await source.get(blocks[0].cid, never), blocks[0].bytes)
  t.is(liar.requests.length, 1)
  t.regex(source.describe(), /put aside: sent bytes that are not the block/)
  t.deepEqual(await source.get(blocks[1].cid, never), blocks[1].bytes)
  t.is(liar.requests.length, 1, 'not asked again')
})

test('too many bytes, a closed port, a 500 or no answer in time put a gateway aside; with none left the block is not found here', async t => {
  const b = await block()
  const huge = await gateway((_cid, res) => { res.writeHead(200).end(randomBytes(2 * 1024 * 1024)) })
  const failing = await gateway((_cid, res) => { res.writeHead(500).end() })
  const silent = await gateway(() => {})
  const closed = await gateway(serving([b]))
  await closed.close()
  t.teardown(huge.close)
  t.teardown(failing.close)
  t.teardown(silent.close)
  // 1.5 s let the 2 MiB answer time out before it overflowed on a loaded two-core machine; the silent one still ends by it
  const source = gatewayBlocks({ logger: silentLogger() }, { gateways: [huge.url, failing.url, silent.url, closed.url], timeoutMs: 5000, maxBlockBytes: 1024 * 1024 })
  t.teardown(source.close)

  t.is(await source.get(b.cid, never), undefined)
  const said = source.describe()
  t.regex(said, new RegExp(`${huge.url} \\(put aside: sent more than 1048576 bytes`))
  t.regex(said, new RegExp(`${failing.url} \\(put aside: answered 500`))
  t.regex(said, new RegExp(`${silent.url} \\(put aside: did not answer .*ETIMEDOUT`))
  t.regex(said, new RegExp(`${closed.url} \\(put aside: did not answer .*ECONNREFUSED`))
  t.is(await source.get(b.cid, never), undefined, 'nobody is asked again')
})

test('a fetch that is stopped stops its request; a block hashed with anything but sha2-256 is left to bitswap', async t => {
  const b = await block()
  const silent = await gateway(() => {})
  t.teardown(silent.close)
  const source = gatewayBlocks({ logger: silentLogger() }, { gateways: [silent.url, 'ftp://127.0.0.1/', 'not a url'] })
  t.teardown(source.close)

  const controller = new AbortController()
  const pending = source.get(b.cid, controller.signal)
  await waitFor(() => silent.requests.length > 0, 5000, 'the gateway to be asked')
  controller.abort(new Error('stopped'))
  await t.throwsAsync(pending, { message: 'stopped' })
  t.notRegex(source.describe(), /put aside/, 'being stopped is not the gateway\'s fault')
  t.is(source.describe(), silent.url, 'only the http(s) gateway is kept')

  const inline = CID.createV1(raw.code, identity.digest(new Uint8Array([1, 2, 3])))
  t.is(await source.get(inline, never), undefined)
  t.is(silent.requests.length, 1, 'not asked')
})

test('an answer other than a block is not read: a 404 trickling forever holds no connection', async t => {
  const [a, b] = [await block(), await block()]
  const trickle = await gateway((_cid, res) => {
    res.writeHead(404, { 'Content-Type': 'text/plain' })
    const timer = setInterval(() => { res.write('.') }, 50)
    res.on('close', () => { clearInterval(timer) })
  })
  const holding = await gateway(serving([a, b]))
  t.teardown(trickle.close)
  t.teardown(holding.close)
  // one connection per gateway: a second request to the trickling one would wait for ever behind the first
  const source = gatewayBlocks({ logger: silentLogger() }, { gateways: [trickle.url, holding.url], connections: 1 })
  t.teardown(source.close)
  t.deepEqual(await source.get(a.cid, AbortSignal.timeout(5000)), a.bytes)
  t.deepEqual(await source.get(b.cid, AbortSignal.timeout(5000)), b.bytes)
  t.is(trickle.requests.length, 2, 'asked for both, each answered at once')
})

test('a gateway put aside by one fetch is not asked by the next while the memory keeps it', async t => {
  const b = await block()
  const liar = await gateway((_cid, res) => { res.writeHead(200).end(randomBytes(64 * 1024)) })
  const honest = await gateway(serving([b]))
  t.teardown(liar.close)
  t.teardown(honest.close)
  const memory = gatewayMemory(60_000)
  const first = gatewayBlocks({ logger: silentLogger() }, { gateways: [liar.url, honest.url], memory })
  t.deepEqual(await first.get(b.cid, never), b.bytes)
  first.close()
  t.is(liar.requests.length, 1)

  const second = gatewayBlocks({ logger: silentLogger() }, { gateways: [liar.url, honest.url], memory })
  t.teardown(second.close)
  t.regex(second.describe(), /put aside: earlier: sent bytes that are not the block/)
  t.deepEqual(await second.get(b.cid, never), b.bytes)
  t.is(liar.requests.length, 1, 'not asked again')
})
