import { peerIdFromPrivateKey } from '@libp2p/peer-id'
import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { InvalidConfigError, InvalidRequestError, IpnsRecordTooLargeError, ServerUnreachableError } from '../errors.ts'
import { openHttp, readBody } from '../http-request.ts'
import { DEFAULT_RECORD_LIFETIME_MS, DEFAULT_RECORD_TTL_MS, IPNS_RECORD_CONTENT_TYPE, MAX_IPNS_RECORD_BYTES, ipnsNameOf, signIpnsRecord, validateIpnsRecord } from './ipns-records.ts'
import { normalizeManifest, storeManifest } from './manifest.ts'
import type { IpnsRecordView } from './ipns-records.ts'
import type { NodeManifest, NodeManifestInput } from './manifest.ts'
import type { Logger } from '../logger.ts'
import type { Helia } from '@helia/interface'
import type { IncomingMessage } from 'node:http'
import type { AbortOptions, PeerId, PrivateKey, Startable } from '@libp2p/interface'

/** How often an unchanged manifest is re-signed: well inside the 48 h validity, so a missed run or two is harmless. */
export const DEFAULT_REPUBLISH_INTERVAL_MS = 4 * 60 * 60 * 1000
/** First wait before retrying a failed publish; it doubles up to RETRY_MAX_MS. */
export const DEFAULT_RETRY_MS = 5_000
const RETRY_MAX_MS = 5 * 60 * 1000
/**
 * Capacity figures (quota, used, free) that move by more than this share of the quota are news to the manifest's
 * readers and publish at once; smaller moves (the disk's free space changes between any two heartbeats) wait for
 * the periodic refresh, while the heartbeats carry the live figures to the main server.
 */
export const CAPACITY_CHANGE_SHARE = 0.1
const DEFAULT_TIMEOUT_MS = 10_000
/** Where the node remembers its last sequence number and what it published. */
export const PUBLISHER_STATE_KEY = new Key('/cidcast/ipns-publisher/state')

export interface IpnsPublisherComponents {
  logger: Logger
  /** The node's Helia peer: the manifest goes into its blockstore (pinned), the state into its datastore. */
  peer: Pick<Helia, 'blockstore' | 'datastore' | 'pins' | 'logger'>
  /** The node's libp2p key: its IPNS name is derived from it. */
  privateKey: PrivateKey
}

export interface IpnsPublisherInit {
  /** The main server's HTTP URL; records go to its `PUT /routing/v1/ipns/{name}`. */
  routingUrl: string | URL
  /** @default 4 h */
  republishIntervalMs?: number
  /** Validity of each record. @default 48 h */
  lifetimeMs?: number
  /** Cache TTL written into each record. @default 5 min */
  ttlMs?: number
  /** First retry delay after a failed publish (doubling, at most 5 min). @default 5 s */
  retryMs?: number
  /** Per HTTP request. @default 10 s */
  timeoutMs?: number
  /**
   * The quota was set by the node's owner, so any change of it publishes. Otherwise it is what the disk could hold
   * and moves with the disk: like the other figures, only a move beyond CAPACITY_CHANGE_SHARE publishes. @default false
   */
  fixedQuota?: boolean
  /** Share of the quota a capacity figure must move by to publish at once. @default CAPACITY_CHANGE_SHARE */
  capacityShare?: number
}

/** What a node says about itself; the publisher adds `peerId` and `updatedAt`. */
export type ManifestFields = Omit<NodeManifestInput, 'peerId' | 'updatedAt' | 'version'>

/** The last record the main server accepted from this node. */
export interface PublishedState {
  /** The node's IPNS name (`k51...`). */
  name: string
  sequence: bigint
  /** `/ipfs/<manifest CID>` */
  value: string
  manifestCid: CID
  manifest: NodeManifest
  publishedAt: Date
}

/** Keeps a node's IPNS record at the main server current: on manifest change and every republish interval. */
export interface IpnsPublisher extends Startable {
  /** The node's IPNS name (`k51...`). */
  readonly name: string
  /**
   * Sets what the manifest says and publishes at once when a reader would care (pinned roots, name, mode, URL, a set
   * quota, or capacity moved by more than `capacityShare` of the quota); smaller moves wait for the periodic
   * refresh. Resolves with the state the server holds.
   */
  update (fields: ManifestFields, options?: AbortOptions): Promise<PublishedState>
  /** Signs the current manifest with the next sequence number and puts it now. */
  publish (options?: AbortOptions): Promise<PublishedState>
  /** The last accepted publish, if any (also remembered across restarts). */
  state (): PublishedState | undefined
  /** The record the main server holds for this node now (validated), or undefined. */
  remote (options?: AbortOptions): Promise<IpnsRecordView | undefined>
}

/** A publisher for the node whose key is `privateKey`, talking to the main server's routing API. */
export function createIpnsPublisher (components: IpnsPublisherComponents, init: IpnsPublisherInit): IpnsPublisher {
  return new RoutingApiPublisher(components, init)
}

interface StoredState {
  /** Highest sequence number ever signed (reserved before signing, so a crash never reuses one). */
  sequence: string
  published?: { sequence: string, value: string, manifestCid: string, manifest: NodeManifest, publishedAt: string }
}

class RoutingApiPublisher implements IpnsPublisher {
  readonly name: string
  private readonly log: Logger
  private readonly peer: IpnsPublisherComponents['peer']
  private readonly privateKey: PrivateKey
  private readonly peerId: PeerId
  private readonly routingUrl: URL
  private readonly republishIntervalMs: number
  private readonly lifetimeMs: number
  private readonly ttlMs: number
  private readonly retryMs: number
  private readonly timeoutMs: number
  private readonly capacityRule: CapacityRule
  private stored: StoredState = { sequence: '0' }
  private fields?: ManifestFields
  /** The server may lack our latest record (its data reset, or we never reached it): publish on next update. */
  private dirty = false
  private remoteSequence = -1n
  private failures = 0
  private timer?: ReturnType<typeof setTimeout>
  private queue: Promise<unknown> = Promise.resolve()
  private controller = new AbortController()
  private running = false
  private reconciled: Promise<void> = Promise.resolve()

  constructor (components: IpnsPublisherComponents, init: IpnsPublisherInit) {
    this.log = components.logger.child({ name: 'cidcast:ipns-publisher' })
    this.peer = components.peer
    this.privateKey = components.privateKey
    this.peerId = peerIdFromPrivateKey(components.privateKey)
    this.name = ipnsNameOf(this.peerId)
    const url = new URL(init.routingUrl)
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new InvalidConfigError(`routingUrl must be http(s), got ${url.protocol}`)
    // `routing/v1/...` is appended to the URL as written
    if (!url.pathname.endsWith('/')) url.pathname += '/'
    this.routingUrl = url
    this.republishIntervalMs = positive(init.republishIntervalMs, DEFAULT_REPUBLISH_INTERVAL_MS, 'republishIntervalMs')
    this.lifetimeMs = positive(init.lifetimeMs, DEFAULT_RECORD_LIFETIME_MS, 'lifetimeMs')
    this.ttlMs = positive(init.ttlMs, DEFAULT_RECORD_TTL_MS, 'ttlMs')
    this.retryMs = positive(init.retryMs, DEFAULT_RETRY_MS, 'retryMs')
    this.timeoutMs = positive(init.timeoutMs, DEFAULT_TIMEOUT_MS, 'timeoutMs')
    const share = init.capacityShare ?? CAPACITY_CHANGE_SHARE
    if (!Number.isFinite(share) || share < 0 || share > 1) throw new InvalidConfigError('capacityShare must be a share between 0 and 1')
    this.capacityRule = { share, fixedQuota: init.fixedQuota ?? false }
  }

  isStarted (): boolean {
    return this.running
  }

  async start (): Promise<void> {
    if (this.running) return
    this.controller = new AbortController()
    this.stored = await this.load()
    this.running = true
    const published = this.state()
    if (published != null) this.schedule(published.publishedAt.getTime() + this.republishIntervalMs - Date.now())
    // in the background: a node must start (and serve) while the main server is away
    this.reconciled = this.reconcile()
    this.log.info({ ipns: this.name, sequence: this.stored.sequence }, 'IPNS publisher started')
  }

  async stop (): Promise<void> {
    if (!this.running) return
    this.running = false
    clearTimeout(this.timer)
    this.controller.abort()
    await this.reconciled
    await this.queue.catch(() => {})
  }

  state (): PublishedState | undefined {
    const p = this.stored.published
    if (p == null) return undefined
    return { name: this.name, sequence: BigInt(p.sequence), value: p.value, manifestCid: CID.parse(p.manifestCid), manifest: p.manifest, publishedAt: new Date(p.publishedAt) }
  }

  async update (fields: ManifestFields, options: AbortOptions = {}): Promise<PublishedState> {
    // checked now, so a bad field fails the caller instead of a background republish
    normalizeManifest({ ...fields, peerId: this.peerId.toString(), updatedAt: new Date().toISOString() })
    this.fields = { ...fields, capacity: { ...fields.capacity }, pinned: [...fields.pinned] }
    await this.reconciled
    const published = this.state()
    if (published != null && !this.dirty && !significantChange(published.manifest, fields, this.capacityRule)) return published
    return await this.publish(options)
  }

  async publish (options: AbortOptions = {}): Promise<PublishedState> {
    const run = this.queue.then(async () => await this.publishNow(options))
    this.queue = run.catch(() => {})
    return await run
  }

  async remote (options: AbortOptions = {}): Promise<IpnsRecordView | undefined> {
    this.requireStarted()
    const bytes = await this.getRecord(options.signal)
    if (bytes == null) return undefined
    const record = await validateIpnsRecord(this.name, bytes)
    if (record.sequence > this.remoteSequence) this.remoteSequence = record.sequence
    return record
  }

  /**
   * Asks the server what it holds: it may have lost our record (publish again on the next update) or hold a later
   * sequence (our datastore was reset: `remote()` notes it so the next number is above). Unreachable counts as lost.
   */
  private async reconcile (): Promise<void> {
    const published = this.state()
    try {
      const remote = await this.remote({ signal: AbortSignal.any([this.controller.signal, AbortSignal.timeout(this.timeoutMs)]) })
      if (published != null && (remote == null || remote.sequence < published.sequence)) this.dirty = true
    } catch (err) {
      if (published != null) this.dirty = true
      this.log.debug({ err }, 'could not read our IPNS record from the main server')
    }
  }

  private async publishNow (options: AbortOptions): Promise<PublishedState> {
    this.requireStarted()
    if (this.fields == null) throw new InvalidRequestError('nothing to publish yet: call update() with the manifest first')
    const previous = this.state()
    const now = new Date()
    const significant = previous == null || significantChange(previous.manifest, this.fields, this.capacityRule)
    const changed = significant || !sameCapacity(previous.manifest, this.fields)
    const manifest = normalizeManifest({
      ...this.fields,
      peerId: this.peerId.toString(),
      updatedAt: significant ? now.toISOString() : previous.manifest.updatedAt
    })
    const signal = AbortSignal.any([this.controller.signal, options.signal ?? new AbortController().signal, AbortSignal.timeout(this.timeoutMs * 3)])
    try {
      const manifestCid = changed || previous == null ? await storeManifest(this.peer.blockstore, manifest) : previous.manifestCid
      await this.pin(manifestCid)
      const sequence = maxBigInt(BigInt(this.stored.sequence), this.remoteSequence) + 1n
      // reserve the number before signing: a record signed and lost in a crash must not be re-used with new content
      this.stored = { ...this.stored, sequence: sequence.toString() }
      await this.save()
      const value = `/ipfs/${manifestCid.toString()}`
      const bytes = await signIpnsRecord(this.privateKey, value, sequence, { lifetimeMs: this.lifetimeMs, ttlMs: this.ttlMs })
      await this.putRecord(bytes, signal)
      this.stored = {
        sequence: sequence.toString(),
        published: { sequence: sequence.toString(), value, manifestCid: manifestCid.toString(), manifest, publishedAt: now.toISOString() }
      }
      await this.save()
      this.remoteSequence = maxBigInt(this.remoteSequence, sequence)
      this.dirty = false
      this.failures = 0
      if (previous != null && !previous.manifestCid.equals(manifestCid)) await this.unpin(previous.manifestCid)
      this.log.info({ ipns: this.name, sequence: sequence.toString(), value }, 'IPNS record published')
      this.schedule(this.republishIntervalMs)
      const state = this.state()
      if (state == null) throw new Error('publish state lost')
      return state
    } catch (err) {
      this.dirty = true
      this.failures++
      const delay = Math.min(this.retryMs * 2 ** (this.failures - 1), RETRY_MAX_MS, this.republishIntervalMs)
      this.log.warn({ err, name: this.name, retryInMs: delay }, 'IPNS publish failed')
      // a rejected put may mean the server holds a later sequence (our state was reset): learn it before retrying
      await this.remote({ signal: AbortSignal.timeout(this.timeoutMs) }).catch(() => undefined)
      this.schedule(delay)
      throw err
    }
  }

  private schedule (delayMs: number): void {
    clearTimeout(this.timer)
    if (!this.running) return
    this.timer = setTimeout(() => {
      if (!this.running || this.fields == null) {
        // nothing to publish until update() is called; it publishes when the server lacks our record
        this.dirty = true
        return
      }
      this.publish().catch(() => {})
    }, Math.max(0, delayMs))
    this.timer.unref()
  }

  private async pin (cid: CID): Promise<void> {
    try {
      // one local block: no signal, since an abort inside Helia's pin walk can surface as an unhandled rejection
      // when the node stops mid-publish
      if (await this.peer.pins.isPinned(cid)) return
      for await (const pinned of this.peer.pins.add(cid, { metadata: { cidcast: 'manifest' } })) void pinned
    } catch (err) {
      // an unpinned manifest still serves until a GC; publishing matters more
      this.log.warn({ err, cid: cid.toString() }, 'could not pin the manifest')
    }
  }

  private async unpin (cid: CID): Promise<void> {
    try {
      for await (const unpinned of this.peer.pins.rm(cid)) void unpinned
    } catch (err) {
      this.log.debug({ err, cid: cid.toString() }, 'could not unpin the old manifest')
    }
  }

  private async load (): Promise<StoredState> {
    try {
      const value = JSON.parse(new TextDecoder().decode(await this.peer.datastore.get(PUBLISHER_STATE_KEY))) as StoredState
      BigInt(value.sequence)
      return value
    } catch (err: any) {
      if (err?.name !== 'NotFoundError') this.log.warn({ err }, 'ignoring unreadable IPNS publisher state')
      return { sequence: '0' }
    }
  }

  private async save (): Promise<void> {
    await this.peer.datastore.put(PUBLISHER_STATE_KEY, new TextEncoder().encode(JSON.stringify(this.stored)))
  }

  private requireStarted (): void {
    if (!this.running) throw new InvalidRequestError('the IPNS publisher is not started')
  }

  /**
   * The record the main server's routing API holds for this node (`GET /routing/v1/ipns/{name}`), or undefined: a
   * 404, or an answer that is not an IPNS record, means it has none (IPIP-0513).
   */
  private async getRecord (signal?: AbortSignal): Promise<Uint8Array | undefined> {
    const answer = await this.send('GET', { Accept: IPNS_RECORD_CONTENT_TYPE }, undefined, signal)
    const status = answer.statusCode ?? 0
    const isRecord = String(answer.headers['content-type'] ?? '').includes(IPNS_RECORD_CONTENT_TYPE)
    if (status === 404 || (status === 200 && !isRecord)) {
      answer.destroy()
      return undefined
    }
    if (status !== 200) {
      answer.destroy()
      throw new ServerUnreachableError(`the main server's routing API answered ${status} for ${this.name}'s record`)
    }
    let read = 0
    const body = await readBody(answer, bytes => {
      read += bytes
      if (read > MAX_IPNS_RECORD_BYTES) throw new IpnsRecordTooLargeError(`the main server's record for ${this.name} is over ${MAX_IPNS_RECORD_BYTES} bytes`)
    })
    // the record's bytes as a plain Uint8Array (no copy), as the record store gives them
    return new Uint8Array(body.buffer, body.byteOffset, body.byteLength)
  }

  /** `PUT /routing/v1/ipns/{name}`: the routing API takes the record with a 200 and nothing else. */
  private async putRecord (record: Uint8Array, signal: AbortSignal): Promise<void> {
    const answer = await this.send('PUT', { 'Content-Type': IPNS_RECORD_CONTENT_TYPE }, record, signal)
    answer.resume()
    if (answer.statusCode !== 200) throw new ServerUnreachableError(`the main server's routing API answered ${answer.statusCode ?? 0} to ${this.name}'s record`)
  }

  /** One request to the routing API, within `timeoutMs` and until the publisher stops (node:http: core/http-request.ts). */
  private async send (method: string, headers: Record<string, string>, body: Uint8Array | undefined, signal: AbortSignal | undefined): Promise<IncomingMessage> {
    const url = new URL(`routing/v1/ipns/${this.peerId.toCID().toString()}`, this.routingUrl)
    const signals = [this.controller.signal, AbortSignal.timeout(this.timeoutMs), ...signal == null ? [] : [signal]]
    try {
      return await openHttp(url, { method, headers, body, signal: AbortSignal.any(signals) })
    } catch (err) {
      throw new ServerUnreachableError(`the main server's routing API did not answer ${method} ${url.pathname}: ${(err as Error).message}`, { cause: err })
    }
  }
}

/** When capacity figures count as a change: how far they must move, and whether the quota is the owner's. */
interface CapacityRule {
  share: number
  fixedQuota: boolean
}

/** Content that matters to readers changed: pinned roots, name, mode, URL, a set quota or capacity moved far. */
function significantChange (published: NodeManifest, fields: ManifestFields, rule: CapacityRule): boolean {
  const next = normalizeManifest({ ...fields, peerId: published.peerId, updatedAt: published.updatedAt })
  return published.name !== next.name || published.mode !== next.mode || published.url !== next.url ||
    published.pinned.join('\n') !== next.pinned.join('\n') || capacityMoved(published.capacity, next.capacity, rule)
}

/**
 * A quota the owner set that changed, or any figure that moved by more than `rule.share` of the quota. A quota that
 * follows the disk is used + the disk's free space, so it wiggles with every file written anywhere on that disk.
 */
function capacityMoved (before: NodeManifest['capacity'], after: NodeManifest['capacity'], rule: CapacityRule): boolean {
  if (rule.fixedQuota && before.quotaBytes !== after.quotaBytes) return true
  const limit = rule.share * Math.max(before.quotaBytes, after.quotaBytes)
  return Math.abs(after.quotaBytes - before.quotaBytes) > limit || Math.abs(after.usedBytes - before.usedBytes) > limit ||
    Math.abs(after.freeBytes - before.freeBytes) > limit
}

function sameCapacity (published: NodeManifest, fields: ManifestFields): boolean {
  return published.capacity.usedBytes === fields.capacity.usedBytes && published.capacity.freeBytes === fields.capacity.freeBytes
}

function maxBigInt (a: bigint, b: bigint): bigint {
  return a > b ? a : b
}

function positive (value: number | undefined, fallback: number, key: string): number {
  if (value == null) return fallback
  if (!Number.isFinite(value) || value <= 0) throw new InvalidConfigError(`${key} must be a positive number of ms`)
  return value
}
