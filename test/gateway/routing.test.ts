import { once } from 'node:events'
import { createServer } from 'node:http'
import { delegatedRoutingV1HttpApiClient } from '@helia/delegated-routing-v1-http-api-client'
import { bodyParser } from '@koa/bodyparser'
import { generateKeyPair } from '@libp2p/crypto/keys'
import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import anyTest from 'ava'
import { MemoryDatastore } from 'datastore-core'
import Koa from 'koa'
import { CID } from 'multiformats/cid'
import { createLogger } from '../../core/logger.ts'
import { IPNS_RECORD_CONTENT_TYPE, ipnsNameOf, signIpnsRecord } from '../../core/routing/ipns-records.ts'
import { createIpnsRecordStore } from '../../core/routing/index.ts'
import { errors } from '../../gateway/middleware/errors.ts'
import { routingRoutes } from '../../gateway/routes/routing.ts'
import type { RoutingPeer } from '../../core/routing/index.ts'
import type { ComponentLogger, Logger as Libp2pLogger, PrivateKey } from '@libp2p/interface'
import type { TestFn } from 'ava'
import type { Server } from 'node:http'
import type { AddressInfo } from 'node:net'

interface Fixture {
  url: string
  server: Server
  key: PrivateKey
  name: string
  /** Providers by CID string, peers by peer ID string: what the pluggable sources answer. */
  providers: Map<string, RoutingPeer[]>
  peers: Map<string, RoutingPeer[]>
}

const test = anyTest as TestFn<Fixture>
const logger = createLogger({ level: 'silent' })
const MANIFEST = CID.parse('bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy')
const CONTENT = 'bafybeigdyrzt5sfp7udm7hu76uh7y26nf3efuylqabf3oclgtqy55fbzdi'

/** The stock client wants a libp2p ComponentLogger; these tests want it quiet. */
function silentLogger (): ComponentLogger {
  const log: Libp2pLogger = Object.assign(() => {}, { error: () => {}, trace: () => {}, enabled: false, newScope: () => log })
  return { forComponent: () => log }
}

test.before(async t => {
  const providers = new Map<string, RoutingPeer[]>()
  const peers = new Map<string, RoutingPeer[]>()
  const records = createIpnsRecordStore({ datastore: new MemoryDatastore(), logger })
  // the same middleware order as gateway/app.ts
  const app = new Koa()
  app.silent = true
  app.use(errors(logger))
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' }))
  const router = routingRoutes({
    logger,
    records,
    providers: async function * (cid) { yield * providers.get(cid.toV1().toString()) ?? [] },
    peers: async function * (peerId) { yield * peers.get(peerId.toString()) ?? [] }
  })
  app.use(router.routes())
  app.use(router.allowedMethods())
  const server = createServer(app.callback())
  server.listen(0, '127.0.0.1')
  await once(server, 'listening')
  const key = await generateKeyPair('Ed25519')
  t.context = { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server, key, name: ipnsNameOf(peerIdFromPrivateKey(key)), providers, peers }
})

test.after.always(async t => {
  t.context.server?.closeAllConnections()
  t.context.server?.close()
})

async function put (t: { context: Fixture }, name: string, body: Uint8Array | string, type = IPNS_RECORD_CONTENT_TYPE): Promise<{ status: number, json: any }> {
  const res = await fetch(`${t.context.url}/routing/v1/ipns/${name}`, { method: 'PUT', headers: { 'Content-Type': type }, body: typeof body === 'string' ? body : Buffer.from(body) })
  const text = await res.text()
  return { status: res.status, json: text === '' ? undefined : JSON.parse(text) }
}

async function get (t: { context: Fixture }, path: string, accept = IPNS_RECORD_CONTENT_TYPE): Promise<Response> {
  return await fetch(t.context.url + path, { headers: { Accept: accept } })
}

async function freshName (): Promise<{ key: PrivateKey, name: string }> {
  const key = await generateKeyPair('Ed25519')
  return { key, name: ipnsNameOf(peerIdFromPrivateKey(key)) }
}

test.serial('a PUT record answers exactly 200 and a GET returns its bytes as application/vnd.ipfs.ipns-record', async t => {
  const bytes = await signIpnsRecord(t.context.key, `/ipfs/${MANIFEST.toString()}`, 1, { ttlMs: 300_000 })
  const { status, json } = await put(t, t.context.name, bytes)
  t.is(status, 200)
  t.is(json, undefined)
  const res = await get(t, `/routing/v1/ipns/${t.context.name}`)
  t.is(res.status, 200)
  t.is(res.headers.get('content-type'), IPNS_RECORD_CONTENT_TYPE)
  t.is(res.headers.get('cache-control'), 'public, max-age=300')
  t.regex(res.headers.get('etag') ?? '', /^"[\w-]+"$/)
  t.is(res.headers.get('access-control-allow-origin'), '*')
  t.deepEqual(new Uint8Array(await res.arrayBuffer()), bytes)
  // (fetch adds Cache-Control: no-cache to conditional requests unless told otherwise)
  const again = await fetch(`${t.context.url}/routing/v1/ipns/${t.context.name}`, { headers: { Accept: IPNS_RECORD_CONTENT_TYPE, 'If-None-Match': res.headers.get('etag') ?? '', 'Cache-Control': 'max-age=0' } })
  t.is(again.status, 304)
})

test.serial('a lower sequence is refused with 409 and the better record stays; the same bytes again are 200', async t => {
  const seq3 = await signIpnsRecord(t.context.key, `/ipfs/${MANIFEST.toString()}`, 3)
  t.is((await put(t, t.context.name, seq3)).status, 200)
  t.is((await put(t, t.context.name, seq3)).status, 200)
  const older = await put(t, t.context.name, await signIpnsRecord(t.context.key, '/ipfs/' + CONTENT, 2))
  t.is(older.status, 409)
  t.is(older.json.error, 'StaleIpnsRecordError')
  const res = await get(t, `/routing/v1/ipns/${t.context.name}`)
  t.deepEqual(new Uint8Array(await res.arrayBuffer()), seq3)
})

test('bad records are refused with 400 and a reason, a huge body with 413', async t => {
  const { key, name } = await freshName()
  const other = await generateKeyPair('Ed25519')
  const cases: Array<[Uint8Array | string, number, string]> = [
    [await signIpnsRecord(other, '/ipfs/' + CONTENT, 1), 400, 'InvalidIpnsRecordError'],
    [await signIpnsRecord(key, '/ipfs/' + CONTENT, 1, { lifetimeMs: -60_000 }), 400, 'IpnsRecordExpiredError'],
    [crypto.getRandomValues(new Uint8Array(300)), 400, 'InvalidIpnsRecordError'],
    ['', 400, 'InvalidRequestError'],
    [new Uint8Array(1024 * 1024), 413, 'IpnsRecordTooLargeError']
  ]
  for (const [body, status, error] of cases) {
    const res = await put(t, name, body)
    t.is(res.status, status, error)
    t.is(res.json.error, error)
  }
  t.is((await get(t, `/routing/v1/ipns/${name}`)).status, 404)
})

test('a record body in another content type is refused with 415', async t => {
  const { key, name } = await freshName()
  const res = await put(t, name, await signIpnsRecord(key, '/ipfs/' + CONTENT, 1), 'application/octet-stream')
  t.is(res.status, 415)
})

test('an unknown name is 404, a malformed one 400, and a GET not asking for the record type 406', async t => {
  const { name } = await freshName()
  const missing = await get(t, `/routing/v1/ipns/${name}`)
  t.is(missing.status, 404)
  t.is((await missing.json()).error, 'IpnsRecordNotFoundError')
  for (const bad of ['hello', CONTENT, 'k51' + 'z'.repeat(40)]) {
    t.is((await get(t, `/routing/v1/ipns/${bad}`)).status, 400, bad)
    t.is((await put(t, bad, new Uint8Array(10))).status, 400, bad)
  }
  t.is((await get(t, `/routing/v1/ipns/${t.context.name}`, 'application/json')).status, 406)
  t.is((await get(t, `/routing/v1/ipns/${t.context.name}`, '*/*')).status, 200)
})

test('the name may be written as k51, as a base32 CID or as a peer ID', async t => {
  const { key, name } = await freshName()
  const peerId = peerIdFromPrivateKey(key)
  t.is((await put(t, peerId.toCID().toString(), await signIpnsRecord(key, '/ipfs/' + CONTENT, 1))).status, 200)
  for (const spelling of [name, peerId.toString()]) {
    t.is((await get(t, `/routing/v1/ipns/${spelling}`)).status, 200, spelling)
  }
})

test('the stock client puts and gets a record, and a stale put fails for it', async t => {
  const { key } = await freshName()
  const peerId = peerIdFromPrivateKey(key)
  const client = delegatedRoutingV1HttpApiClient({ url: t.context.url, cacheTTL: 0 })({ logger: silentLogger() })
  await client.start()
  try {
    await t.throwsAsync(client.getIPNS(peerId.toCID()), { name: 'NotFoundError' })
    const bytes = await signIpnsRecord(key, `/ipfs/${MANIFEST.toString()}`, 5)
    await client.putIPNS(peerId.toCID(), bytes)
    t.deepEqual(await client.getIPNS(peerId.toCID()), bytes)
    await t.throwsAsync(client.putIPNS(peerId.toCID(), await signIpnsRecord(key, '/ipfs/' + CONTENT, 4)), { name: 'BadResponseError' })
  } finally {
    await client.stop()
  }
})

test('providers answer in the peer schema as JSON, capped at 100, or streamed as NDJSON', async t => {
  const cid = CID.parse(CONTENT)
  const many = await Promise.all(Array.from({ length: 150 }, async (_, i) => ({
    peerId: peerIdFromPrivateKey(await generateKeyPair('Ed25519')).toString(),
    addrs: [`/ip4/127.0.0.1/tcp/${4000 + i}`],
    protocols: ['transport-bitswap']
  })))
  t.context.providers.set(cid.toString(), many)
  const json = await get(t, `/routing/v1/providers/${cid.toString()}`, 'application/json')
  t.is(json.status, 200)
  t.is(json.headers.get('content-type'), 'application/json; charset=utf-8')
  const body = await json.json()
  t.is(body.Providers.length, 100)
  t.deepEqual(body.Providers[0], { Schema: 'peer', ID: many[0].peerId, Addrs: many[0].addrs, Protocols: ['transport-bitswap'] })
  const ndjson = await get(t, `/routing/v1/providers/${cid.toString()}`, 'application/x-ndjson')
  t.is(ndjson.headers.get('content-type'), 'application/x-ndjson')
  const lines = (await ndjson.text()).trim().split('\n').map(line => JSON.parse(line))
  t.is(lines.length, 150)
  t.is(lines[149].ID, many[149].peerId)
})

test('provider and peer look-ups that find nothing are 404; bad CIDs and peer IDs are 400', async t => {
  t.is((await get(t, '/routing/v1/providers/bafkreiaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa', 'application/json')).status, 404)
  t.is((await get(t, `/routing/v1/providers/${MANIFEST.toString()}`, 'application/x-ndjson')).status, 404)
  t.is((await get(t, '/routing/v1/providers/not-a-cid', 'application/json')).status, 400)
  const { name } = await freshName()
  t.is((await get(t, `/routing/v1/peers/${name}`, 'application/json')).status, 404)
  t.is((await get(t, '/routing/v1/peers/nope', 'application/json')).status, 400)
  t.is((await get(t, `/routing/v1/peers/${CONTENT}`, 'application/json')).status, 400)
})

test('the stock client finds providers and peers through the route', async t => {
  const cid = CID.parse('bafkreif7vmcqeylksprftxfnxbktspgaiukw7usm4alojm5ecphu6fsmgu')
  const provider = peerIdFromPrivateKey(await generateKeyPair('Ed25519'))
  t.context.providers.set(cid.toString(), [{ peerId: provider.toString(), addrs: ['/ip4/127.0.0.1/tcp/4001'], protocols: ['transport-bitswap'] }])
  t.context.peers.set(provider.toString(), [{ peerId: provider.toString(), addrs: ['/ip4/127.0.0.1/tcp/4001'] }])
  const client = delegatedRoutingV1HttpApiClient({ url: t.context.url, cacheTTL: 0 })({ logger: silentLogger() })
  await client.start()
  try {
    const found = []
    for await (const record of client.getProviders(cid)) found.push(record)
    t.is(found.length, 1)
    t.is(found[0].ID.toString(), provider.toCID().toString())
    t.deepEqual(found[0].Addrs.map(String), ['/ip4/127.0.0.1/tcp/4001'])
    t.deepEqual(found[0].Protocols, ['transport-bitswap'])
    const peers = []
    for await (const record of client.getPeers(provider.toCID())) peers.push(record)
    t.is(peers.length, 1)
    t.deepEqual(peers[0].Addrs.map(String), ['/ip4/127.0.0.1/tcp/4001'])
    const none = []
    for await (const record of client.getProviders(MANIFEST)) none.push(record)
    t.is(none.length, 0)
  } finally {
    await client.stop()
  }
})

test('browsers get CORS on answers and preflights; unknown routing paths are 400', async t => {
  const preflight = await fetch(`${t.context.url}/routing/v1/ipns/${t.context.name}`, { method: 'OPTIONS', headers: { Origin: 'http://example.test', 'Access-Control-Request-Method': 'PUT' } })
  t.is(preflight.status, 204)
  t.is(preflight.headers.get('access-control-allow-origin'), '*')
  t.regex(preflight.headers.get('access-control-allow-methods') ?? '', /PUT/)
  for (const path of ['/routing/v1/whatever', '/routing/v1/dht/closest/peers/' + t.context.name]) {
    const res = await get(t, path, 'application/json')
    t.is(res.status, 400, path)
    t.is(res.headers.get('access-control-allow-origin'), '*')
  }
  const putProviders = await fetch(`${t.context.url}/routing/v1/providers/${CONTENT}`, { method: 'PUT', body: '{}', headers: { 'Content-Type': 'application/json' } })
  t.is(putProviders.status, 400)
})
