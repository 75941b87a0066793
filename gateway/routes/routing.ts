import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import Router from '@koa/router'
import { peerIdFromCID, peerIdFromString } from '@libp2p/peer-id'
import { base36 } from 'multiformats/bases/base36'
import { CID } from 'multiformats/cid'
import {
  InvalidCIDError, InvalidRequestError, IpnsRecordNotFoundError, IpnsRecordTooLargeError, NotAcceptableError, UnsupportedMediaTypeError,
  RoutingRecordNotFoundError
} from '../../core/errors.ts'
import { assertHeldCid } from '../../core/ipfs/index.ts'
import { IPNS_RECORD_CONTENT_TYPE, LOCAL_RECORDS_HEADER, MAX_IPNS_RECORD_BYTES, noRecords, parseIpnsName } from '../../core/routing/index.ts'
import type { Logger } from '../../core/logger.ts'
import type { IpnsRecordStore, PeerSource, ProviderSource, RoutingPeer } from '../../core/routing/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { Context } from 'koa'

export interface RoutingRouteComponents {
  logger: Logger
  /** The IPNS records kept for nodes. */
  records: IpnsRecordStore
  /** Who holds a CID. @default nobody (every look-up is a 404) */
  providers?: ProviderSource
  /** Where a peer is. @default nowhere (every look-up is a 404) */
  peers?: PeerSource
}

const NDJSON = 'application/x-ndjson'
/** The spec's cap on providers or peers in one plain JSON answer (NDJSON streams them all). */
export const MAX_JSON_RECORDS = 100
/** How long a "not found" or a record without TTL may be cached (the spec's default). */
const DEFAULT_MAX_AGE_SECONDS = 60
/** Provider and peer answers change as nodes come and go; a short cache spares repeated look-ups. */
const PEER_MAX_AGE_SECONDS = 15
/** Ends a provider or peer look-up that its source does not finish. */
const LOOKUP_TIMEOUT_MS = 30_000

/**
 * The Delegated Routing V1 HTTP API (specs.ipfs.tech/routing/http-routing-v1): IPNS records kept and served for
 * nodes, and provider and peer look-ups answered from pluggable sources, so stock Helia routers can use it.
 */
export function routingRoutes (components: RoutingRouteComponents): Router {
  const log = components.logger.child({ name: 'cidcast:gateway:routing' })
  const providers = components.providers ?? noRecords
  const peers = components.peers ?? noRecords
  const router = new Router()

  router.get('/routing/v1/ipns/:name', async ctx => {
    cors(ctx)
    const { name } = parseIpnsName(ctx.params.name)
    if (!acceptsRecord(ctx.get('Accept'))) {
      throw new NotAcceptableError(`GET /routing/v1/ipns answers only with Accept: ${IPNS_RECORD_CONTENT_TYPE}`)
    }
    ctx.vary('Accept')
    // asked by another main server of the catalog: its own store only (core/routing/ipns-peers.ts)
    const record = await components.records.get(name, { local: ctx.get(LOCAL_RECORDS_HEADER) !== '' })
    if (record == null) throw new IpnsRecordNotFoundError(`no IPNS record for ${name}`)
    const remainingSeconds = Math.floor((record.expires.getTime() - Date.now()) / 1000)
    const ttlSeconds = record.ttlMs > 0 ? Math.floor(record.ttlMs / 1000) : DEFAULT_MAX_AGE_SECONDS
    ctx.set('Cache-Control', `public, max-age=${Math.max(0, Math.min(ttlSeconds, remainingSeconds))}`)
    ctx.set('Etag', `"${createHash('sha256').update(record.bytes).digest('base64url')}"`)
    ctx.type = IPNS_RECORD_CONTENT_TYPE
    ctx.status = 200
    if (ctx.fresh) {
      ctx.status = 304
      return
    }
    ctx.body = Buffer.from(record.bytes.buffer, record.bytes.byteOffset, record.bytes.byteLength)
  })

  router.put('/routing/v1/ipns/:name', async ctx => {
    cors(ctx)
    const { name } = parseIpnsName(ctx.params.name)
    if (ctx.request.type !== IPNS_RECORD_CONTENT_TYPE) {
      throw new UnsupportedMediaTypeError(`PUT /routing/v1/ipns takes Content-Type: ${IPNS_RECORD_CONTENT_TYPE}`)
    }
    const bytes = await readBody(ctx, MAX_IPNS_RECORD_BYTES)
    const { record, changed } = await components.records.put(name, bytes)
    log.debug({ ipns: name, sequence: record.sequence.toString(), changed }, 'IPNS record put')
    // the stock client takes exactly 200 as success
    ctx.status = 200
    ctx.set('Cache-Control', 'no-store')
    ctx.body = ''
  })

  router.get('/routing/v1/providers/:cid', async ctx => {
    cors(ctx)
    const cid = parsedOr(parseCid, ctx.params.cid, text => new InvalidCIDError(`${text} is not a CID`))
    assertHeldCid(cid)
    await answerPeers(ctx, 'Providers', signal => providers(cid, { signal }), `no providers for ${cid.toString()}`)
  })

  router.get('/routing/v1/peers/:peerId', async ctx => {
    cors(ctx)
    const peerId = parsedOr(parsePeerId, ctx.params.peerId, text => new InvalidRequestError(`${text} is not a peer ID`))
    await answerPeers(ctx, 'Peers', signal => peers(peerId, { signal }), `no addresses for ${peerId.toString()}`)
  })

  // CORS preflight (the spec asks every router to let browsers on any origin use it)
  router.options(/^\/routing\/v1\/.*$/, ctx => {
    cors(ctx)
    ctx.set('Access-Control-Allow-Headers', 'Content-Type, Accept')
    ctx.set('Access-Control-Max-Age', '86400')
    ctx.status = 204
  })

  // The spec asks 400 for an unknown path and 501 for a defined one not implemented here (`/dht/closest/peers`,
  // PUT of providers or peers); the error middleware reserves 5xx for faults, so both answer 400 with a message.
  router.all(/^\/routing\/v1(?:\/.*)?$/, ctx => {
    cors(ctx)
    throw new InvalidRequestError(`${ctx.method} ${ctx.path} is not a routing request this server answers`)
  })

  return router
}

/** JSON (at most 100) or, when asked for, NDJSON streamed as the source yields; 404 when the source is empty. */
async function answerPeers (ctx: Context, field: 'Providers' | 'Peers', lookup: (signal: AbortSignal) => AsyncIterable<RoutingPeer>, notFound: string): Promise<void> {
  const controller = new AbortController()
  const timer = setTimeout(() => { controller.abort() }, LOOKUP_TIMEOUT_MS)
  // the response closes when it is sent or the client goes away: either way the look-up may stop
  ctx.res.once('close', () => { controller.abort() })
  const iterator = lookup(controller.signal)[Symbol.asyncIterator]()
  // streaming only when asked for by name (the spec: never to a client that did not ask)
  const streaming = ctx.get('Accept').toLowerCase().includes(NDJSON)
  let handedOff = false
  ctx.vary('Accept')
  try {
    const first = await iterator.next()
    if (first.done === true) throw new RoutingRecordNotFoundError(notFound)
    ctx.set('Cache-Control', `public, max-age=${PEER_MAX_AGE_SECONDS}`)
    if (streaming) {
      ctx.type = NDJSON
      ctx.body = Readable.from(ndjson(first.value, iterator, () => { clearTimeout(timer) }))
      handedOff = true
      return
    }
    const records = [toPeerSchema(first.value)]
    while (records.length < MAX_JSON_RECORDS) {
      const next = await iterator.next()
      if (next.done === true) break
      records.push(toPeerSchema(next.value))
    }
    ctx.type = 'application/json'
    ctx.body = { [field]: records }
  } finally {
    if (!handedOff) {
      clearTimeout(timer)
      await iterator.return?.()
    }
  }
}

async function * ndjson (first: RoutingPeer, rest: AsyncIterator<RoutingPeer>, done: () => void): AsyncGenerator<string> {
  try {
    yield JSON.stringify(toPeerSchema(first)) + '\n'
    for (;;) {
      const next = await rest.next()
      if (next.done === true) return
      yield JSON.stringify(toPeerSchema(next.value)) + '\n'
    }
  } finally {
    done()
    await rest.return?.()
  }
}

function toPeerSchema (peer: RoutingPeer): Record<string, unknown> {
  return { Schema: 'peer', ID: peer.peerId, Addrs: peer.addrs, Protocols: peer.protocols ?? [] }
}

/** Reads a request body up to `limit` bytes; a declared or actual longer body is refused with 413. */
async function readBody (ctx: Context, limit: number): Promise<Uint8Array> {
  const declared = Number(ctx.get('Content-Length') || 0)
  if (declared > limit) throw new IpnsRecordTooLargeError(`an IPNS record may have at most ${limit} bytes`)
  const chunks: Buffer[] = []
  let length = 0
  for await (const chunk of ctx.req as AsyncIterable<Buffer>) {
    length += chunk.byteLength
    if (length > limit) throw new IpnsRecordTooLargeError(`an IPNS record may have at most ${limit} bytes`)
    chunks.push(chunk)
  }
  if (length === 0) throw new InvalidRequestError('the request has no IPNS record')
  return new Uint8Array(Buffer.concat(chunks, length))
}

/** The spec's GET must be asked for the record type; wildcards (curl's `*\/*`) are taken as asking for it. */
function acceptsRecord (accept: string): boolean {
  if (accept === '') return false
  return accept.split(',').some(part => {
    const type = part.split(';')[0].trim().toLowerCase()
    return type === IPNS_RECORD_CONTENT_TYPE || type === '*/*' || type === 'application/*'
  })
}

function parseCid (text: string): CID {
  if (text.length > 200) throw new Error('too long')
  return CID.parse(text, text.startsWith('k') ? base36 : undefined)
}

function parsePeerId (text: string): PeerId {
  if (text.length > 200) throw new Error('too long')
  if (/^[1Q]/.test(text)) return peerIdFromString(text)
  return peerIdFromCID(parseCid(text))
}

function cors (ctx: Context): void {
  ctx.set('Access-Control-Allow-Origin', '*')
  ctx.set('Access-Control-Allow-Methods', 'GET, PUT, OPTIONS')
}

/** `parse(value)`, or the error `refuse` makes from the value cut to 100 characters (a path parameter can be long). */
function parsedOr<T> (parse: (value: string) => T, value: string, refuse: (shown: string) => Error): T {
  try {
    return parse(value)
  } catch {
    throw refuse(value.slice(0, 100))
  }
}
