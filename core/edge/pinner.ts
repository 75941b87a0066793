import { Key } from 'interface-datastore'
import { CID } from 'multiformats/cid'
import { MAX_PIN_REPORTS } from '../control/index.ts'
import { DataFolderFullError } from './errors.ts'
import { collectDag, localRemover } from './pin-collect.ts'
import { InvalidPinOrderError, PinCancelledError } from './pin-errors.ts'
import { DEFAULT_FETCH_CONCURRENCY, DEFAULT_STALL_TIMEOUT_MS, fetchDag } from './pin-fetch.ts'
import { gatewayBlocks, gatewayMemory } from './gateway-blocks.ts'
import { connectProviders, describePeers } from './pin-providers.ts'
import { leafSkippingWalker } from '../ipfs/index.ts'
import { verifyPins } from './pin-verify.ts'
import type { Capacity } from './capacity.ts'
import type { PinOrder, PinProvider, PinReport, PinReportState } from '../control/index.ts'
import type { Collected } from './pin-collect.ts'
import type { DagProgress } from './pin-fetch.ts'
import type { VerifyOptions, VerifyReport } from './pin-verify.ts'
import type { Logger } from '../logger.ts'
import type { Peer } from '../net/peer.ts'

/**
 * A CDN node's side of replication: carries out the main server's pin orders (core/control/messages.ts) and reports
 * on each. A pin dials the providers the order names (the main server, other nodes), fetches the DAG many blocks at
 * a time from their trustless gateways, or over bitswap from any connected peer for what the gateways do not give
 * (pin-fetch.ts, gateway-blocks.ts; every block is hashed on arrival, so a peer sending bad bytes is simply not
 * heard and the block comes from another), then records the pin with Helia. An unpin removes the pin and then the
 * DAG's blocks that no other pin holds (pin-collect.ts). Orders are kept in the node's datastore from the moment
 * they arrive until the server has seen their final state, so a pin cut by a crash or a restart starts again at
 * `start()` and, since blocks already here are not fetched twice, finishes where it stopped.
 *
 * Reporting: every order is reported in each heartbeat (`reports()`); a final one (`pinned`, `failed`, `unpinned`)
 * until a heartbeat reply no longer repeats its order (the server has recorded it), then it is forgotten. An order
 * whose id is already known is the same order: its state is reported again, nothing starts over.
 */

export interface PinnerComponents {
  peer: Pick<Peer, 'blockstore' | 'datastore' | 'pins' | 'getCodec' | 'libp2p'>
  capacity: Pick<Capacity, 'measure' | 'last' | 'record' | 'invalidate'>
  logger: Logger
  /** Peers holding a root when an order names none (the main server's `/routing/v1/providers`). */
  findProviders?: (cid: CID, options: { signal: AbortSignal }) => Promise<PinProvider[]>
  /** An order changed state (started, finished, failed, waits to retry): the node sends a heartbeat. */
  onChange?: (report: PinReport) => void
  /** The set of pinned roots changed (the node republishes its manifest). */
  onPinsChanged?: () => void
  /**
   * The main server's peer ID (once known) and the URL this node reaches it by: an order names the server without
   * a gateway (it cannot know that URL), and the pinner asks the server's gateway there.
   */
  origin?: () => { peerId: string, url: string } | undefined
}

export interface PinnerInit {
  /** Blocks wanted at once by one pin. @default 16 (DEFAULT_FETCH_CONCURRENCY) */
  fetchConcurrency?: number
  /** Pins fetching at once; more orders wait as `queued`. @default 2 */
  maxConcurrentPins?: number
  /** No new block for this long ends an attempt. @default 30000 */
  stallTimeoutMs?: number
  /** Attempts before an order fails for good. @default 5 */
  maxAttempts?: number
  /** Wait before the second attempt, doubled for each next one. @default 2000 */
  retryDelayMs?: number
  /** @default 60000 */
  maxRetryDelayMs?: number
  /** Deadline to dial one provider. @default 5000 */
  dialTimeoutMs?: number
  /** Words for the data folder in error messages. @default 'the data folder' */
  dataLabel?: string
  /**
   * Ask the providers' trustless gateways before bitswap. Off, every block comes over bitswap inside the private
   * network (encrypted with the swarm key; plain-http gateways are not). @default true
   */
  gateways?: boolean
}

export interface LocalPinOptions {
  signal?: AbortSignal
  /** Peers to dial first. */
  providers?: PinProvider[]
  onProgress?: (progress: DagProgress) => void
}

export interface Pinner {
  /** Loads the orders kept in the datastore and resumes the unfinished ones. */
  start (): Promise<void>
  /** Stops the running orders where they are (they resume at the next start). */
  stop (): Promise<void>
  /** Takes the orders of a heartbeat reply (all of them, also when empty: that is how reports are acknowledged). */
  apply (orders: PinOrder[]): void
  /** What the next heartbeat says about orders. */
  reports (): PinReport[]
  /** True while an order is queued or running (heartbeats then come every PIN_PROGRESS_INTERVAL_MS). */
  busy (): boolean
  /** Pins a root outside any order (the node's own API and tests); throws on failure, no retries. */
  pin (root: CID, options?: LocalPinOptions): Promise<DagProgress>
  /** Removes a pin and collects the blocks no other pin holds. */
  unpin (root: CID, options?: { signal?: AbortSignal }): Promise<Collected>
  /** Re-hashes the blocks of pinned DAGs (`cidcast pin verify`). */
  verify (options?: VerifyOptions): Promise<VerifyReport>
}

/** Creates the pinner of a CDN node. */
export function createPinner (components: PinnerComponents, init: PinnerInit = {}): Pinner {
  return new OrderPinner(components, init)
}

const FINAL: ReadonlySet<PinReportState> = new Set(['pinned', 'failed', 'unpinned'])
const RECORD_PREFIX = '/cidcast/pinner/'
/** Blocks fetched between two looks at the space left. */
const SPACE_CHECK_BLOCKS = 32
const MAX_MESSAGE_CHARS = 1000
/** Errors worth another attempt: nobody answered, the network broke. Anything else fails the order at once. */
const PERMANENT_ERRORS: ReadonlySet<string> = new Set(['DataFolderFullError', 'PinCancelledError', 'InvalidPinOrderError', 'NotUnixFSError', 'UnknownCodecError'])

interface Progress {
  blocksDone: number
  bytesDone: number
  blocksTotal?: number
  bytesTotal?: number
}

/** What the datastore keeps per order. */
interface OrderRecord {
  order: PinOrder
  state: PinReportState
  progress: Progress
  error?: { name: string, message: string }
  attempts: number
  updatedAt: string
}

interface Entry extends OrderRecord {
  root: CID
  controller: AbortController
  /** Included in the last reports() while final: a reply that no longer repeats the order acknowledges it. */
  finalSent: boolean
}

function errorOf (err: unknown): { name: string, message: string } {
  const e = err as { name?: string, message?: string }
  const name = typeof e?.name === 'string' && /^[A-Za-z]{1,64}$/.test(e.name) ? e.name : 'Error'
  return { name, message: String(e?.message ?? err).slice(0, MAX_MESSAGE_CHARS) }
}

function megabytes (bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

class OrderPinner implements Pinner {
  private readonly c: PinnerComponents
  private readonly log: Logger
  private readonly entries = new Map<string, Entry>()
  /** Per root: the tail of the orders on it, which run one after another. */
  private readonly chains = new Map<string, Promise<void>>()
  private readonly slots: Array<() => void> = []
  /** Gateways put aside by one pin are skipped by the next ones (and by retries) for a while. */
  private readonly gatewaysAside = gatewayMemory()
  private freeSlots: number
  private stopping = false
  private readonly init: Required<Omit<PinnerInit, 'dataLabel'>> & { dataLabel: string }

  constructor (components: PinnerComponents, init: PinnerInit) {
    this.c = components
    this.log = components.logger.child({ name: 'cidcast:pinner' })
    this.init = {
      fetchConcurrency: init.fetchConcurrency ?? DEFAULT_FETCH_CONCURRENCY,
      maxConcurrentPins: init.maxConcurrentPins ?? 2,
      stallTimeoutMs: init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      maxAttempts: init.maxAttempts ?? 5,
      retryDelayMs: init.retryDelayMs ?? 2000,
      maxRetryDelayMs: init.maxRetryDelayMs ?? 60_000,
      dialTimeoutMs: init.dialTimeoutMs ?? 5000,
      gateways: init.gateways ?? true,
      dataLabel: init.dataLabel ?? 'the data folder'
    }
    this.freeSlots = this.init.maxConcurrentPins
  }

  async start (): Promise<void> {
    this.stopping = false
    for await (const { key, value } of this.c.peer.datastore.query({ prefix: RECORD_PREFIX })) {
      let record: OrderRecord
      let root: CID
      try {
        record = JSON.parse(new TextDecoder().decode(value)) as OrderRecord
        root = CID.parse(record.order.cid)
      } catch (err) {
        this.log.warn({ err, key: key.toString() }, 'dropping an unreadable order record')
        await this.c.peer.datastore.delete(key)
        continue
      }
      const entry: Entry = { ...record, root, controller: new AbortController(), finalSent: false }
      this.entries.set(record.order.orderId, entry)
      if (!FINAL.has(entry.state)) {
        this.log.info({ orderId: record.order.orderId, cid: record.order.cid, action: record.order.action, state: record.state }, 'resuming an order')
        this.schedule(entry)
      }
    }
  }

  async stop (): Promise<void> {
    this.stopping = true
    for (const entry of this.entries.values()) {
      if (!FINAL.has(entry.state)) entry.controller.abort(new PinCancelledError('the node is stopping'))
    }
    for (const release of this.slots.splice(0)) release()
    await Promise.allSettled([...this.chains.values()])
  }

  apply (orders: PinOrder[]): void {
    const repeated = new Set(orders.map(o => o.orderId))
    for (const [id, entry] of this.entries) {
      if (FINAL.has(entry.state) && entry.finalSent && !repeated.has(id)) {
        this.entries.delete(id)
        Promise.resolve(this.c.peer.datastore.delete(this.key(id))).catch((err: unknown) => { this.log.warn({ err }, 'cannot forget an order') })
      }
    }
    if (this.stopping) return
    for (const order of orders) {
      const known = this.entries.get(order.orderId)
      if (known != null) {
        known.finalSent = false
        continue
      }
      let root: CID
      try {
        root = CID.parse(order.cid)
        if (order.action !== 'pin' && order.action !== 'unpin') throw new InvalidPinOrderError(`unknown action ${String(order.action)}`)
      } catch (err) {
        this.log.warn({ err, order }, 'ignoring an order that cannot be carried out')
        continue
      }
      const entry: Entry = {
        order,
        root,
        state: order.action === 'pin' ? 'queued' : 'unpinning',
        progress: { blocksDone: 0, bytesDone: 0, blocksTotal: order.blocksTotal, bytesTotal: order.bytesTotal },
        attempts: 0,
        updatedAt: new Date().toISOString(),
        controller: new AbortController(),
        finalSent: false
      }
      this.entries.set(order.orderId, entry)
      this.log.info({ orderId: order.orderId, cid: order.cid, action: order.action }, 'order received')
      void this.save(entry)
      this.schedule(entry)
    }
  }

  reports (): PinReport[] {
    // running orders first: when there are too many to say, the finished ones wait for the next heartbeat
    const entries = [...this.entries.values()].sort((a, b) => Number(FINAL.has(a.state)) - Number(FINAL.has(b.state)))
    return entries.slice(0, MAX_PIN_REPORTS).map(entry => {
      if (FINAL.has(entry.state)) entry.finalSent = true
      return this.report(entry)
    })
  }

  busy (): boolean {
    for (const entry of this.entries.values()) if (!FINAL.has(entry.state)) return true
    return false
  }

  async pin (root: CID, options: LocalPinOptions = {}): Promise<DagProgress> {
    await this.roomFor(undefined)
    const providers = options.providers ?? []
    const gateways = this.gateways(providers)
    await this.connect(root, providers, gateways, options.signal)
    const progress = await this.fetchAndPin(root, { signal: options.signal, onProgress: options.onProgress, gateways })
    this.c.onPinsChanged?.()
    return progress
  }

  async unpin (root: CID, options: { signal?: AbortSignal } = {}): Promise<Collected> {
    const freed = await this.removePin(root, options.signal)
    this.c.onPinsChanged?.()
    return freed
  }

  async verify (options: VerifyOptions = {}): Promise<VerifyReport> {
    const report = await verifyPins({ blockstore: this.c.peer.blockstore, remove: localRemover(this.c.peer.blockstore), pins: this.c.peer.pins, getCodec: this.c.peer.getCodec }, options)
    this.log.info({ roots: report.roots, blocks: report.blocks, broken: report.broken.length }, 'verified the pinned blocks')
    return report
  }

  private key (orderId: string): Key {
    return new Key(`${RECORD_PREFIX}${orderId}`)
  }

  private report (entry: Entry): PinReport {
    const report: PinReport = { cid: entry.order.cid, orderId: entry.order.orderId, state: entry.state, blocksDone: entry.progress.blocksDone, bytesDone: entry.progress.bytesDone }
    if (entry.progress.blocksTotal != null) report.blocksTotal = entry.progress.blocksTotal
    if (entry.progress.bytesTotal != null) report.bytesTotal = entry.progress.bytesTotal
    if (entry.error != null) report.error = entry.error
    return report
  }

  private async save (entry: Entry): Promise<void> {
    entry.updatedAt = new Date().toISOString()
    const record: OrderRecord = { order: entry.order, state: entry.state, progress: entry.progress, error: entry.error, attempts: entry.attempts, updatedAt: entry.updatedAt }
    try {
      // an order the server has acknowledged meanwhile stays forgotten
      if (this.entries.get(entry.order.orderId) !== entry) return
      await this.c.peer.datastore.put(this.key(entry.order.orderId), new TextEncoder().encode(JSON.stringify(record)))
    } catch (err) {
      this.log.warn({ err, orderId: entry.order.orderId }, 'cannot save an order')
    }
  }

  /** Moves an order to `state` (with or without an error), saves it and tells the node. */
  private async set (entry: Entry, state: PinReportState, error?: unknown): Promise<void> {
    entry.state = state
    entry.error = error == null ? undefined : errorOf(error)
    await this.save(entry)
    this.c.onChange?.(this.report(entry))
  }

  /** Runs the order after the orders before it on the same root. */
  private schedule (entry: Entry): void {
    const key = entry.root.toString()
    if (entry.order.action === 'unpin') {
      // an unpin stops a pin of the same root that is still on its way
      for (const other of this.entries.values()) {
        if (other !== entry && other.order.action === 'pin' && other.order.cid === entry.order.cid && !FINAL.has(other.state)) {
          other.controller.abort(new PinCancelledError(`cancelled by unpin order ${entry.order.orderId}`))
        }
      }
    }
    const before = this.chains.get(key) ?? Promise.resolve()
    const run = before.then(async () => { await this.execute(entry) })
    this.chains.set(key, run)
    void run.finally(() => { if (this.chains.get(key) === run) this.chains.delete(key) })
  }

  private async execute (entry: Entry): Promise<void> {
    if (this.stopping) return
    try {
      if (entry.order.action === 'pin') await this.executePin(entry)
      else await this.executeUnpin(entry)
    } catch (err) {
      // stopping leaves the order as it was saved: it resumes at the next start
      if (this.stopping) return
      this.log.warn({ err, orderId: entry.order.orderId, cid: entry.order.cid }, 'order failed')
      await this.set(entry, 'failed', err)
    }
  }

  private async executePin (entry: Entry): Promise<void> {
    const { signal } = entry.controller
    for (;;) {
      signal.throwIfAborted()
      if (await this.isPinned(entry.root)) {
        if (entry.progress.blocksTotal != null) entry.progress.blocksDone = entry.progress.blocksTotal
        if (entry.progress.bytesTotal != null) entry.progress.bytesDone = entry.progress.bytesTotal
        await this.set(entry, 'pinned')
        return
      }
      await this.roomFor(entry.order.bytesTotal != null ? entry.order.bytesTotal - entry.progress.bytesDone : undefined)
      const release = await this.slot(signal)
      try {
        entry.attempts++
        await this.set(entry, 'pinning', entry.error)
        const providers = entry.order.providers != null && entry.order.providers.length > 0
          ? entry.order.providers
          : await this.c.findProviders?.(entry.root, { signal }).catch(() => []) ?? []
        const gateways = this.gateways(providers)
        await this.connect(entry.root, providers, gateways, signal)
        await this.fetchAndPin(entry.root, {
          signal,
          gateways,
          onProgress: progress => {
            entry.progress = { blocksDone: progress.blocksDone, bytesDone: progress.bytesDone, blocksTotal: progress.blocksTotal ?? entry.progress.blocksTotal, bytesTotal: progress.bytesTotal ?? entry.progress.bytesTotal }
          }
        })
        await this.set(entry, 'pinned')
        this.log.info({ orderId: entry.order.orderId, cid: entry.order.cid, blocks: entry.progress.blocksDone, bytes: entry.progress.bytesDone }, 'pinned')
        this.c.onPinsChanged?.()
        return
      } catch (err) {
        const name = (err as Error)?.name
        if (signal.aborted) throw signal.reason
        if (PERMANENT_ERRORS.has(name) || entry.attempts >= this.init.maxAttempts) {
          throw Object.assign(err as Error, { message: `${(err as Error).message} (attempt ${entry.attempts} of ${this.init.maxAttempts})` })
        }
        const delayMs = Math.min(this.init.maxRetryDelayMs, this.init.retryDelayMs * 2 ** (entry.attempts - 1))
        this.log.info({ err, orderId: entry.order.orderId, attempt: entry.attempts, retryInMs: delayMs }, 'pin attempt failed; retrying')
        await this.set(entry, 'pinning', Object.assign(new Error(`${(err as Error).message} (attempt ${entry.attempts} of ${this.init.maxAttempts}; next in ${Math.round(delayMs / 1000)} s)`), { name }))
        release()
        await new Promise<void>(resolve => {
          const timer = setTimeout(resolve, delayMs)
          signal.addEventListener('abort', () => { clearTimeout(timer); resolve() }, { once: true })
        })
      } finally {
        release()
      }
    }
  }

  private async executeUnpin (entry: Entry): Promise<void> {
    entry.attempts++
    await this.set(entry, 'unpinning')
    const freed = await this.removePin(entry.root, entry.controller.signal)
    entry.progress = { blocksDone: freed.blocks, bytesDone: freed.bytes, blocksTotal: freed.blocks, bytesTotal: freed.bytes }
    await this.set(entry, 'unpinned')
    this.log.info({ orderId: entry.order.orderId, cid: entry.order.cid, freedBlocks: freed.blocks, freedBytes: freed.bytes }, 'unpinned')
    this.c.onPinsChanged?.()
  }

  private async isPinned (root: CID): Promise<boolean> {
    for await (const pin of this.c.peer.pins.ls({ cid: root })) {
      if (pin.cid.equals(root)) return true
    }
    return false
  }

  /** Throws DataFolderFullError when the folder is full, or has less room than `bytes` (when known). */
  private async roomFor (bytes: number | undefined): Promise<void> {
    const space = await this.c.capacity.measure()
    if (space.full) throw new DataFolderFullError(`${this.init.dataLabel} is full (${megabytes(space.usedBytes)} used of ${megabytes(space.quotaBytes)}): no new pins`)
    if (bytes != null && bytes > space.freeBytes) {
      throw new DataFolderFullError(`${this.init.dataLabel} has ${megabytes(space.freeBytes)} free, the content needs ${megabytes(bytes)}`)
    }
  }

  /** Waits for one of the `maxConcurrentPins` fetch slots; the returned function gives it back (once). */
  private async slot (signal: AbortSignal): Promise<() => void> {
    if (this.freeSlots === 0) {
      await new Promise<void>((resolve, reject) => {
        const onAbort = (): void => {
          const i = this.slots.indexOf(grant)
          if (i >= 0) this.slots.splice(i, 1)
          reject(signal.reason)
        }
        const grant = (): void => { signal.removeEventListener('abort', onAbort); resolve() }
        this.slots.push(grant)
        signal.addEventListener('abort', onAbort, { once: true })
      })
    } else {
      this.freeSlots--
    }
    let released = false
    return () => {
      if (released) return
      released = true
      const next = this.slots.shift()
      if (next != null) next()
      else this.freeSlots++
    }
  }

  /** The gateways of the providers (not this node), the main server's at the URL this node knows it by. */
  private gateways (providers: PinProvider[]): string[] {
    if (!this.init.gateways) return []
    const self = this.c.peer.libp2p.peerId.toString()
    const origin = this.c.origin?.()
    const urls: string[] = []
    for (const provider of providers) {
      if (provider.peerId === self) continue
      const url = provider.gateway ?? (provider.peerId === origin?.peerId ? origin.url : undefined)
      if (url != null && !urls.includes(url)) urls.push(url)
    }
    return urls
  }

  private async connect (root: CID, providers: PinProvider[], gateways: string[], signal?: AbortSignal): Promise<void> {
    const { failures } = await connectProviders(this.c.peer.libp2p, root, providers, { signal, timeoutMs: this.init.dialTimeoutMs, gateways: gateways.length })
    if (failures.length > 0) this.log.info({ root: root.toString(), failures }, 'some providers could not be dialled')
  }

  /** Fetches the DAG (counting space as blocks arrive), then records the pin over local blocks. */
  private async fetchAndPin (root: CID, options: { signal?: AbortSignal, onProgress?: (progress: DagProgress) => void, gateways: string[] }): Promise<DagProgress> {
    const { peer, capacity } = this.c
    let fetched = 0
    const gateways = options.gateways.length > 0 ? gatewayBlocks({ logger: this.c.logger }, { gateways: options.gateways, connections: this.init.fetchConcurrency, memory: this.gatewaysAside }) : undefined
    try {
      const progress = await fetchDag({ blockstore: peer.blockstore, getCodec: peer.getCodec, gateways }, root, {
        signal: options.signal,
        concurrency: this.init.fetchConcurrency,
        stallTimeoutMs: this.init.stallTimeoutMs,
        describePeers: () => describePeers(this.c.peer.libp2p),
        canWant: () => this.c.peer.libp2p.getConnections().length > 0,
        onProgress: options.onProgress,
        room: () => capacity.last()?.freeBytes ?? Number.POSITIVE_INFINITY,
        noRoom: () => new DataFolderFullError(this.fullMessage(`became full while pinning ${root.toString()}`)),
        onFetched: async (_cid, bytes) => {
          // `record` keeps the last measurement current block by block; the folder is walked again now and then
          capacity.record(bytes)
          const space = ++fetched % SPACE_CHECK_BLOCKS === 0 ? await capacity.measure() : capacity.last()
          if (space?.full === true) throw new DataFolderFullError(this.fullMessage(`became full while pinning ${root.toString()}`))
        }
      })
      try {
        for await (const cid of peer.pins.add(root, { signal: options.signal, metadata: { cidcast: 'content' }, walker: leafSkippingWalker() })) void cid
      } catch (err) {
        // pinned meanwhile (another order on the same root, or the node's own API)
        if ((err as Error)?.name !== 'AlreadyPinnedError') throw err
      }
      if (progress.bytesFetched > 0) this.log.info({ root: root.toString(), bytes: progress.bytesFetched, fromGateways: progress.bytesFromGateways }, 'fetched')
      return progress
    } finally {
      gateways?.close()
      if (fetched > 0) capacity.invalidate()
    }
  }

  private fullMessage (what: string): string {
    const space = this.c.capacity.last()
    return `${this.init.dataLabel} ${what}${space != null ? ` (${megabytes(space.usedBytes)} used of ${megabytes(space.quotaBytes)})` : ''}`
  }

  private async removePin (root: CID, signal?: AbortSignal): Promise<Collected> {
    const { peer } = this.c
    if (await this.isPinned(root)) {
      for await (const cid of peer.pins.rm(root, { signal, walker: leafSkippingWalker({ forRemoval: true }) })) void cid
    }
    try {
      return await collectDag({ blockstore: peer.blockstore, remove: localRemover(peer.blockstore, peer.pins), pins: peer.pins, getCodec: peer.getCodec }, root, { signal })
    } finally {
      this.c.capacity.invalidate()
    }
  }
}
