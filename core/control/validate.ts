import { multiaddr } from '@multiformats/multiaddr'
import { CID } from 'multiformats/cid'
import { InvalidControlMessageError, PeerIdMismatchError } from './errors.ts'
import { checkNodeName, isLabel } from './labels.ts'
import { isMediaId, isProfileName } from '../hls/index.ts'
import { MAX_MAIN_SERVERS, MAX_PREFETCH_ORDERS, MAX_PREFETCH_SEGMENTS, MAX_SERVED_REPORTS } from './messages.ts'
import type { ControlReply, ControlRequest, HeartbeatReply, HeartbeatRequest, MainServerAddress, NodeCapacity, NodeHealth, NodeMode, OrdersPending, PinOrder, PinOrderMedia, PinProvider, PinReport, PinReportState, PrefetchOrder, RegisterReply, RegisterRequest, ServedReport, StreamAccessGrant, StreamKeyRecord } from './messages.ts'

/*
 * Every field of every control message is checked here, both ways, before anything else looks at it: a node is
 * inside the private network but is still someone else's machine. Parsers build new objects from the fields
 * they know, so nothing unexpected travels further.
 */

/** Most multiaddrs a node may announce. */
export const MAX_ADDRESSES = 32
/** Most pinned roots one heartbeat may list. */
export const MAX_PINNED = 4096
const MAX_ADDRESS_CHARS = 1024
const MAX_URL_CHARS = 2048
const MAX_IPNS_CHARS = 128
const MAX_CID_CHARS = 128
const MAX_ERROR_MESSAGE_CHARS = 1024
const MODES: ReadonlySet<string> = new Set<NodeMode>(['shared', 'local'])
/** Most orders one heartbeat reply may carry. */
export const MAX_ORDERS = 256
/** Most order reports one heartbeat may carry. */
export const MAX_PIN_REPORTS = 1024
/** Most providers one order may name. */
export const MAX_PROVIDERS = 16
const MAX_PEER_ID_CHARS = 128
const ORDER_ID = /^[A-Za-z0-9_-]{1,64}$/
/** Most stream keys one reply may carry (a current one and those rotated out within a token's life). */
export const MAX_STREAM_KEYS = 16
const STREAM_KEY_ID = /^[0-9a-f]{16}$/
/** 32 bytes in unpadded base64url. */
const STREAM_PUBLIC_KEY = /^[A-Za-z0-9_-]{43}$/
const CREDENTIAL = /^[A-Za-z0-9_-]{1,512}$/
const MAX_DATE_CHARS = 40
/** A user name as core/access keeps it (lower case), which is what a node's owner is given as. */
export const USER_NAME = /^[a-z0-9][a-z0-9._@-]{0,63}$/
/** A region or a tag of a node, once folded to lower case. */
export const REGION = /^[a-z0-9-]{1,32}$/
/** Most tags a node may carry. */
export const MAX_TAGS = 8
/** A user id as the main server sends it to a node (its owner's). */
const USER_ID = /^[A-Za-z0-9_-]{1,64}$/
const REPORT_STATES: ReadonlySet<string> = new Set<PinReportState>(['queued', 'pinning', 'pinned', 'failed', 'unpinning', 'unpinned'])

type Json = Record<string, unknown>

function fail (message: string): never {
  throw new InvalidControlMessageError(message)
}

function object (value: unknown, what: string): Json {
  if (value == null || typeof value !== 'object' || Array.isArray(value)) fail(`${what} must be an object`)
  return value as Json
}

function string (value: unknown, what: string, maxChars: number): string {
  if (typeof value !== 'string') fail(`${what} must be a string`)
  if (value.length > maxChars) fail(`${what} must be at most ${maxChars} characters`)
  return value
}

function amount (value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) fail(`${what} must be a finite number >= 0`)
  return value
}

function array (value: unknown, what: string, maxItems: number): unknown[] {
  if (!Array.isArray(value)) fail(`${what} must be an array`)
  if (value.length > maxItems) fail(`${what} must have at most ${maxItems} items`)
  return value
}

/** A node's owner as a user name: trimmed and folded to lower case, then 1-64 of a-z 0-9 . _ @ -; InvalidControlMessageError otherwise. */
export function checkOwnerName (value: unknown, what = 'owner'): string {
  const folded = typeof value === 'string' ? value.trim().toLowerCase() : ''
  if (!USER_NAME.test(folded)) fail(`${what} must be a user name: 1-64 of a-z, 0-9, ".", "_", "@" and "-", starting with a letter or digit`)
  return folded
}

/**
 * A node's region (`--region`), or one of its tags: trimmed and folded to lower case, then 1-32 of a-z, 0-9 and -;
 * InvalidControlMessageError naming `what` otherwise. The same rule on the node (at start) and on the main server.
 */
export function checkRegion (value: unknown, what = 'region'): string {
  // a length bound before folding: a 10 kB value is refused without being copied around
  const folded = typeof value === 'string' && value.length <= 64 ? value.trim().toLowerCase() : ''
  if (!REGION.test(folded)) fail(`${what} must be 1-32 of a-z, 0-9 and "-"`)
  return folded
}

/** A node's cidcast version as it says it: 1-64 of letters, digits, `.`, `-`, `+` (semver and build tags). */
export function checkVersion (value: unknown, what = 'version'): string {
  if (typeof value !== 'string' || !/^[0-9A-Za-z.+-]{1,64}$/.test(value)) fail(`${what} must be 1-64 of letters, digits, ".", "-" and "+"`)
  return value
}

/** A node's tags (`--tags a,b`): at most 8, each as a region; repeats are dropped, the order kept. */
export function checkTags (value: unknown, what = 'tags'): string[] {
  const tags = array(value, what, MAX_TAGS).map((tag, i) => checkRegion(tag, `${what}[${i}]`))
  return [...new Set(tags)]
}

/** An absolute http(s) URL without credentials (it is shown to other users). */
export function parseNodeUrl (value: unknown, what = 'url'): string {
  const text = string(value, what, MAX_URL_CHARS)
  let url: URL
  try {
    url = new URL(text)
  } catch {
    fail(`${what} must be an absolute http(s) URL`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') fail(`${what} must be an http or https URL`)
  if (url.username !== '' || url.password !== '') fail(`${what} must not contain credentials`)
  if (url.hostname === '') fail(`${what} must name a host`)
  return url.href
}

function parseAddresses (value: unknown, sender: string | undefined): string[] {
  return array(value, 'addresses', MAX_ADDRESSES).map((item, i) => {
    const text = string(item, `addresses[${i}]`, MAX_ADDRESS_CHARS)
    let address
    try {
      address = multiaddr(text)
    } catch {
      fail(`addresses[${i}] is not a multiaddr`)
    }
    const claimed = address.getComponents().find(c => c.name === 'p2p')?.value
    if (sender != null && claimed != null && claimed !== sender) {
      throw new PeerIdMismatchError(`addresses[${i}] names peer ${claimed}, not the sender ${sender}`)
    }
    return address.toString()
  })
}

function parseCapacity (value: unknown): NodeCapacity {
  const c = object(value, 'capacity')
  const capacity: NodeCapacity = {
    quotaBytes: amount(c.quotaBytes, 'capacity.quotaBytes'),
    usedBytes: amount(c.usedBytes, 'capacity.usedBytes'),
    freeBytes: amount(c.freeBytes, 'capacity.freeBytes')
  }
  const cacheBytes = optionalAmount(c.cacheBytes, 'capacity.cacheBytes')
  const cacheUsedBytes = optionalAmount(c.cacheUsedBytes, 'capacity.cacheUsedBytes')
  if (cacheBytes != null) capacity.cacheBytes = cacheBytes
  if (cacheUsedBytes != null) capacity.cacheUsedBytes = cacheUsedBytes
  return capacity
}

function parseHealth (value: unknown): NodeHealth {
  const h = object(value, 'health')
  if (typeof h.full !== 'boolean') fail('health.full must be a boolean')
  return {
    uptimeSeconds: amount(h.uptimeSeconds, 'health.uptimeSeconds'),
    load1: amount(h.load1, 'health.load1'),
    activeStreams: amount(h.activeStreams, 'health.activeStreams'),
    bytesServed: amount(h.bytesServed, 'health.bytesServed'),
    errors: amount(h.errors, 'health.errors'),
    full: h.full
  }
}

function parseCid (value: unknown, what: string): string {
  const text = string(value, what, MAX_CID_CHARS)
  let cid
  try {
    cid = CID.parse(text)
  } catch {
    fail(`${what} is not a CID`)
  }
  return cid.toString()
}

function parsePinned (value: unknown): string[] {
  return array(value, 'pinned', MAX_PINNED).map((item, i) => parseCid(item, `pinned[${i}]`))
}

function parseOrderId (value: unknown, what: string): string {
  const text = string(value, what, 64)
  if (!ORDER_ID.test(text)) fail(`${what} must be 1-64 characters of [A-Za-z0-9_-]`)
  return text
}

function optionalAmount (value: unknown, what: string): number | undefined {
  return value === undefined ? undefined : amount(value, what)
}

function parsePeerId (value: unknown, what: string): string {
  const peerId = string(value, what, MAX_PEER_ID_CHARS)
  if (!/^[1-9A-HJ-NP-Za-km-z]+$|^b[a-z2-7]+$/.test(peerId)) fail(`${what} is not a peer ID`)
  return peerId
}

function parseMultiaddrs (value: unknown, what: string): string[] {
  return array(value, what, MAX_ADDRESSES).map((a, j) => {
    const text = string(a, `${what}[${j}]`, MAX_ADDRESS_CHARS)
    let address
    try {
      address = multiaddr(text)
    } catch {
      fail(`${what}[${j}] is not a multiaddr`)
    }
    return address.toString()
  })
}

function parseProviders (value: unknown, what: string): PinProvider[] {
  return array(value, what, MAX_PROVIDERS).map((item, i) => {
    const p = object(item, `${what}[${i}]`)
    const peerId = parsePeerId(p.peerId, `${what}[${i}].peerId`)
    const addrs = parseMultiaddrs(p.addrs, `${what}[${i}].addrs`)
    const provider: PinProvider = { peerId, addrs }
    if (p.gateway !== undefined) provider.gateway = parseNodeUrl(p.gateway, `${what}[${i}].gateway`)
    return provider
  })
}

/** Checks one replication order (as a node receives it). */
export function parsePinOrder (value: unknown, what = 'order'): PinOrder {
  const o = object(value, what)
  if (o.action !== 'pin' && o.action !== 'unpin') fail(`${what}.action must be "pin" or "unpin"`)
  const order: PinOrder = { cid: parseCid(o.cid, `${what}.cid`), action: o.action, orderId: parseOrderId(o.orderId, `${what}.orderId`) }
  if (o.providers !== undefined) order.providers = parseProviders(o.providers, `${what}.providers`)
  const bytesTotal = optionalAmount(o.bytesTotal, `${what}.bytesTotal`)
  const blocksTotal = optionalAmount(o.blocksTotal, `${what}.blocksTotal`)
  if (bytesTotal !== undefined) order.bytesTotal = bytesTotal
  if (blocksTotal !== undefined) order.blocksTotal = blocksTotal
  if (o.media !== undefined) order.media = parseOrderMedia(o.media, `${what}.media`)
  if (o.auto !== undefined) {
    if (typeof o.auto !== 'boolean') fail(`${what}.auto must be true or false`)
    if (o.auto) order.auto = true
  }
  return order
}

/** Checks one pre-cache order (as a node receives it). */
export function parsePrefetchOrder (value: unknown, what = 'prefetch'): PrefetchOrder {
  const o = object(value, what)
  if (!isMediaId(o.id)) fail(`${what}.id must be a media id (16 hex digits)`)
  const profile = string(o.profile, `${what}.profile`, 16)
  if (!isProfileName(profile)) fail(`${what}.profile is not a profile name`)
  const segments = amount(o.segments, `${what}.segments`)
  if (segments < 1 || segments > MAX_PREFETCH_SEGMENTS) fail(`${what}.segments must be from 1 to ${MAX_PREFETCH_SEGMENTS}`)
  return { id: o.id as string, profile, segments }
}

function parseOrderMedia (value: unknown, what: string): PinOrderMedia {
  const m = object(value, what)
  // the same names the node's `/media` routes accept: a media id becomes a key of the node's records
  if (!isMediaId(m.id)) fail(`${what}.id must be a media id (16 hex digits)`)
  const profile = string(m.profile, `${what}.profile`, 16)
  if (!isProfileName(profile)) fail(`${what}.profile is not a profile name`)
  return { id: m.id as string, profile, root: parseCid(m.root, `${what}.root`) }
}

/** Checks one order report (as the server receives it in a heartbeat). */
export function parsePinReport (value: unknown, what = 'report'): PinReport {
  const r = object(value, what)
  if (typeof r.state !== 'string' || !REPORT_STATES.has(r.state)) fail(`${what}.state must be one of ${[...REPORT_STATES].join(', ')}`)
  const report: PinReport = {
    cid: parseCid(r.cid, `${what}.cid`),
    orderId: parseOrderId(r.orderId, `${what}.orderId`),
    state: r.state as PinReportState,
    blocksDone: amount(r.blocksDone, `${what}.blocksDone`),
    bytesDone: amount(r.bytesDone, `${what}.bytesDone`)
  }
  const blocksTotal = optionalAmount(r.blocksTotal, `${what}.blocksTotal`)
  const bytesTotal = optionalAmount(r.bytesTotal, `${what}.bytesTotal`)
  if (blocksTotal !== undefined) report.blocksTotal = blocksTotal
  if (bytesTotal !== undefined) report.bytesTotal = bytesTotal
  if (r.error !== undefined) {
    const e = object(r.error, `${what}.error`)
    report.error = { name: string(e.name, `${what}.error.name`, 64), message: string(e.message, `${what}.error.message`, MAX_ERROR_MESSAGE_CHARS) }
    if (!/^[A-Za-z]+$/.test(report.error.name)) fail(`${what}.error.name must be an error name`)
  }
  return report
}

/** A whole number of things (requests, bytes, epoch milliseconds): a safe integer >= 0. */
function count (value: unknown, what: string): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) fail(`${what} must be a whole number >= 0`)
  return value
}

/**
 * Checks one served report's shape (as the server receives it in a heartbeat): a root CID or a media id (with a
 * profile name or none), whole counts. Values a node could not have served are clamped later (served-clamp.ts).
 */
export function parseServedReport (value: unknown, what = 'served'): ServedReport {
  const r = object(value, what)
  const named: Pick<ServedReport, 'root' | 'media' | 'profile'> = {}
  if (r.root !== undefined) named.root = parseCid(r.root, `${what}.root`)
  if (r.media !== undefined) {
    // the names the node's `/media` routes accept, so the server can look them up as they are
    if (!isMediaId(r.media)) fail(`${what}.media must be a media id (16 hex digits)`)
    named.media = r.media as string
  }
  if (r.profile !== undefined) {
    if (named.media === undefined) fail(`${what}.profile needs a media`)
    const profile = string(r.profile, `${what}.profile`, 16)
    if (!isProfileName(profile)) fail(`${what}.profile is not a profile name`)
    named.profile = profile
  }
  if (named.root === undefined && named.media === undefined) fail(`${what} must name a root or a media`)
  if (named.root !== undefined && named.media !== undefined) fail(`${what} names a root or a media, not both`)
  return {
    ...named,
    requests: count(r.requests, `${what}.requests`),
    bytes: count(r.bytes, `${what}.bytes`),
    local: count(r.local, `${what}.local`),
    peer: count(r.peer, `${what}.peer`),
    origin: count(r.origin, `${what}.origin`),
    redirects: count(r.redirects, `${what}.redirects`),
    viewers: count(r.viewers, `${what}.viewers`),
    firstAt: count(r.firstAt, `${what}.firstAt`),
    lastAt: count(r.lastAt, `${what}.lastAt`)
  }
}

function parseDate (value: unknown, what: string): string {
  const text = string(value, what, MAX_DATE_CHARS)
  if (Number.isNaN(Date.parse(text))) fail(`${what} must be a date`)
  return text
}

function parseStreamKey (value: unknown, what: string): StreamKeyRecord {
  const k = object(value, what)
  const id = string(k.id, `${what}.id`, 16)
  if (!STREAM_KEY_ID.test(id)) fail(`${what}.id must be 16 lower-case hex digits`)
  const publicKey = string(k.publicKey, `${what}.publicKey`, 43)
  if (!STREAM_PUBLIC_KEY.test(publicKey)) fail(`${what}.publicKey must be 32 bytes of base64url`)
  return k.expiresAt === undefined ? { id, publicKey } : { id, publicKey, expiresAt: parseDate(k.expiresAt, `${what}.expiresAt`) }
}

/** Checks the stream access part of a reply (its shape: the node's key ring checks each key against its id). */
export function parseStreamAccess (value: unknown, what = 'access'): StreamAccessGrant {
  const a = object(value, what)
  if (typeof a.publicMedia !== 'boolean') fail(`${what}.publicMedia must be a boolean`)
  const access: StreamAccessGrant = {
    keys: array(a.keys, `${what}.keys`, MAX_STREAM_KEYS).map((k, i) => parseStreamKey(k, `${what}.keys[${i}]`)),
    publicMedia: a.publicMedia
  }
  if (a.credential !== undefined) {
    const c = object(a.credential, `${what}.credential`)
    const token = string(c.token, `${what}.credential.token`, 512)
    if (!CREDENTIAL.test(token)) fail(`${what}.credential.token must be base64url`)
    access.credential = { token, expiresAt: parseDate(c.expiresAt, `${what}.credential.expiresAt`) }
  }
  if (a.owner !== undefined) {
    const owner = string(a.owner, `${what}.owner`, 64)
    if (!USER_ID.test(owner)) fail(`${what}.owner must be a user id`)
    access.owner = owner
  }
  return access
}

/** Checks the message on an ORDERS_PROTOCOL stream (node side). */
export function parseOrdersPending (value: unknown): OrdersPending {
  const m = object(value, 'the message')
  if (m.type !== 'orders-pending') fail(`type must be "orders-pending", got ${JSON.stringify(m.type)?.slice(0, 40)}`)
  return { type: 'orders-pending' }
}

/**
 * Checks a request a node sent; `sender` is the connection's remote peer ID. Throws InvalidControlMessageError
 * for a malformed one, PeerIdMismatchError if it claims another peer ID, InvalidNodeNameError for a bad name.
 */
export function parseControlRequest (value: unknown, sender?: string): ControlRequest {
  const m = object(value, 'the message')
  if ('peerId' in m && m.peerId !== sender) {
    throw new PeerIdMismatchError(`the message claims peer ${String(m.peerId).slice(0, 128)}, but was sent by ${sender ?? 'an unknown peer'}`)
  }
  if (m.type === 'register') {
    if (typeof m.mode !== 'string' || !MODES.has(m.mode)) fail('mode must be "shared" or "local"')
    const request: RegisterRequest = {
      type: 'register',
      name: checkNodeName(m.name),
      mode: m.mode as NodeMode,
      url: parseNodeUrl(m.url),
      addresses: parseAddresses(m.addresses, sender),
      ipns: string(m.ipns, 'ipns', MAX_IPNS_CHARS),
      capacity: parseCapacity(m.capacity)
    }
    if (m.owner !== undefined) request.owner = checkOwnerName(m.owner)
    if (m.region !== undefined) request.region = checkRegion(m.region)
    if (m.tags !== undefined) request.tags = checkTags(m.tags)
    if (m.version !== undefined) request.version = checkVersion(m.version)
    if (m.protocol !== undefined) {
      if (typeof m.protocol !== 'number' || !Number.isInteger(m.protocol) || m.protocol < 1 || m.protocol > 1_000_000) fail('protocol must be a whole number from 1')
      request.protocol = m.protocol
    }
    return request
  }
  if (m.type === 'heartbeat') {
    const request: HeartbeatRequest = {
      type: 'heartbeat',
      capacity: parseCapacity(m.capacity),
      health: parseHealth(m.health),
      pinned: parsePinned(m.pinned)
    }
    if (m.pins !== undefined) request.pins = array(m.pins, 'pins', MAX_PIN_REPORTS).map((p, i) => parsePinReport(p, `pins[${i}]`))
    if (m.served !== undefined) request.served = array(m.served, 'served', MAX_SERVED_REPORTS).map((r, i) => parseServedReport(r, `served[${i}]`))
    if (m.servedBatch !== undefined) {
      if (typeof m.servedBatch !== 'string' || !/^[A-Za-z0-9_-]{1,64}$/.test(m.servedBatch)) fail('servedBatch must be 1-64 of letters, digits, "_" and "-"')
      request.servedBatch = m.servedBatch
    }
    return request
  }
  fail(`type must be "register" or "heartbeat", got ${JSON.stringify(m.type)?.slice(0, 40)}`)
}

/** The main servers a reply names (issue 15): each a peer ID, its addresses and its HTTP API. */
export function parseMainServers (value: unknown, what = 'servers'): MainServerAddress[] {
  return array(value, what, MAX_MAIN_SERVERS).map((item, i) => {
    const m = object(item, `${what}[${i}]`)
    return { peerId: parsePeerId(m.peerId, `${what}[${i}].peerId`), addresses: parseMultiaddrs(m.addresses, `${what}[${i}].addresses`), url: parseNodeUrl(m.url, `${what}[${i}].url`) }
  })
}

/** Checks a reply the server sent. Throws InvalidControlMessageError for anything but a well-formed reply. */
export function parseControlReply (value: unknown): ControlReply {
  const m = object(value, 'the reply')
  switch (m.type) {
    case 'registered': {
      const label = string(m.label, 'label', 63)
      if (!isLabel(label)) fail('label is not a DNS label')
      const dnsName = string(m.dnsName, 'dnsName', 253)
      if (!dnsName.startsWith(`${label}.`)) fail('dnsName must start with the label')
      const heartbeatSeconds = amount(m.heartbeatSeconds, 'heartbeatSeconds')
      if (heartbeatSeconds <= 0) fail('heartbeatSeconds must be > 0')
      const reply: RegisterReply = { type: 'registered', label, dnsName, heartbeatSeconds }
      if (m.access !== undefined) reply.access = parseStreamAccess(m.access)
      if (m.servers !== undefined) reply.servers = parseMainServers(m.servers)
      return reply
    }
    case 'ok': {
      const reply: HeartbeatReply = { type: 'ok' }
      if (m.orders !== undefined) reply.orders = array(m.orders, 'orders', MAX_ORDERS).map((o, i) => parsePinOrder(o, `orders[${i}]`))
      if (m.access !== undefined) reply.access = parseStreamAccess(m.access)
      if (m.prefetch !== undefined) reply.prefetch = array(m.prefetch, 'prefetch', MAX_PREFETCH_ORDERS).map((o, i) => parsePrefetchOrder(o, `prefetch[${i}]`))
      if (m.servers !== undefined) reply.servers = parseMainServers(m.servers)
      return reply
    }
    case 'error': {
      const error = string(m.error, 'error', 64)
      if (!/^[A-Za-z]+$/.test(error)) fail('error must be an error name')
      return { type: 'error', error, message: string(m.message, 'message', MAX_ERROR_MESSAGE_CHARS) }
    }
    default:
      fail(`type must be "registered", "ok" or "error", got ${JSON.stringify(m.type)?.slice(0, 40)}`)
  }
}
