import { peerIdFromString } from '@libp2p/peer-id'
import { isOutOfSpace } from '../disk-space.ts'
import { DataFolderFullError } from './errors.ts'
import { gatewayBase, gatewayBlocks, gatewayMemory } from './gateway-blocks.ts'
import { collectDag, localRemover } from './pin-collect.ts'
import { DEFAULT_FETCH_CONCURRENCY, DEFAULT_STALL_TIMEOUT_MS, fetchDag } from './pin-fetch.ts'
import { connectProviders, describePeers } from './pin-providers.ts'
import { DEFAULT_STREAM_STALL_MS, streamDag } from './pin-stream.ts'
import { NODE_CREDENTIAL_HEADER } from '../access/index.ts'
import { leafSkippingWalker, verifyPins } from '../ipfs/index.ts'
import type { Capacity } from './capacity.ts'
import type { OrderBook, OrderEntry } from './order-book.ts'
import type { AutoPins } from './auto-pins.ts'
import type { HeldMedia } from './held-media.ts'
import type { Collected } from './pin-collect.ts'
import type { DagProgress } from './pin-fetch.ts'
import type { StreamedDag } from './pin-stream.ts'
import type { PinProvider } from '../control/index.ts'
import type { BlockRepairer, VerifiedBlockstore, VerifyOptions, VerifyReport } from '../ipfs/index.ts'
import type { Logger } from '../logger.ts'
import type { Peer } from '../net/index.ts'
import type { PeerId } from '@libp2p/interface'
import type { CID } from 'multiformats/cid'

/*
 * The pinner's execution: carries out one order of the book, or a pin of the node's own API. A pin checks the room
 * left, waits for one of a few fetch slots, dials the providers the order names (the main server, other nodes),
 * fetches the DAG many blocks at a time from their trustless gateways, or, when no gateway can be asked, asks them
 * in turn for the whole DAG over the block stream (pin-stream.ts), then over bitswap from any connected peer for
 * what is still missing (pin-fetch.ts, gateway-blocks.ts; every block is hashed on arrival, so a peer sending bad bytes is not
 * believed and the block comes from another), then records the pin with Helia;
 * transient failures are tried again after a growing wait. An unpin removes the pin and then the DAG's blocks that
 * no other pin holds (pin-collect.ts).
 */

export interface PinExecutionComponents {
  peer: Pick<Peer, 'blockstore' | 'pins' | 'getCodec' | 'libp2p'>
  capacity: Pick<Capacity, 'measure' | 'last' | 'record' | 'invalidate'>
  logger: Logger
  /** The verified blockstore under the peer's Helia and the repairer `verify` fetches lost blocks with. */
  integrity: { store: Pick<VerifiedBlockstore, 'check' | 'read'>, repairer: Pick<BlockRepairer, 'repair'> }
  /** Where an order's state goes (the order book). */
  orders: Pick<OrderBook, 'set'>
  /** Peers holding a root when an order names none (the main server's `/routing/v1/providers`). */
  findProviders?: (cid: CID, options: { signal: AbortSignal }) => Promise<PinProvider[]>
  /** The set of pinned roots changed (the node republishes its manifest). */
  onPinsChanged?: () => void
  /** The main server's peer ID (once known) and the URL this node reaches it by. */
  origin?: () => { peerId: string, url: string } | undefined
  /** This node's credential header for the holders' gateways (gateway-blocks.ts). */
  credential?: () => Record<string, string> | undefined
  /** The media held here by id: a pinned rendition of a media is recorded there, an unpinned one forgotten. */
  media?: Pick<HeldMedia, 'hold' | 'release'>
  /** Roots held on the distributor's orders (`PinOrder.auto`), counted in the cache budget. */
  auto?: Pick<AutoPins, 'add' | 'remove'>
}

export interface PinExecutionInit {
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
   * Ask the providers' trustless gateways before bitswap. Off, every block comes over the block stream or bitswap
   * inside the private network (encrypted with the swarm key; plain-http gateways are not). @default true
   */
  gateways?: boolean
  /** Ask the providers for the whole DAG over the block stream before anything else. @default true */
  blockStream?: boolean
  /** A holder's block stream with nothing for this long gives way to the next holder. @default 10000 */
  streamStallTimeoutMs?: number
}

export interface LocalPinOptions {
  signal?: AbortSignal
  /** Peers to dial first. */
  providers?: PinProvider[]
  onProgress?: (progress: DagProgress) => void
}

export interface PinExecution {
  /** Carries out an order of the book until it is final; throws when it fails. */
  run (entry: OrderEntry): Promise<void>
  /** Gives every waiting pin its fetch slot (the node is stopping: they see their aborted signal). */
  releaseSlots (): void
  /** A pin outside any order (the node's own API and tests); throws on failure, no retries. */
  pin (root: CID, options?: LocalPinOptions): Promise<DagProgress>
  /** Removes a pin and collects the blocks no other pin holds. */
  unpin (root: CID, options?: { signal?: AbortSignal }): Promise<Collected>
  /** Re-hashes the blocks of pinned DAGs. */
  verify (options?: VerifyOptions): Promise<VerifyReport>
}

/** Blocks fetched between two looks at the space left. */
const SPACE_CHECK_BLOCKS = 32
/** Errors worth another attempt: nobody answered, the network broke. Anything else fails the order at once. */
const PERMANENT_ERRORS: ReadonlySet<string> = new Set(['DataFolderFullError', 'PinCancelledError', 'InvalidPinOrderError', 'NotUnixFSError', 'UnknownCodecError'])

/** Creates the execution side of the pinner. */
export function createPinExecution (components: PinExecutionComponents, init: PinExecutionInit = {}): PinExecution {
  return new Execution(components, init)
}

function megabytes (bytes: number): string {
  return `${(bytes / 1e6).toFixed(1)} MB`
}

class Execution implements PinExecution {
  private readonly log: Logger
  private readonly slots: Array<() => void> = []
  /** Gateways put aside by one pin are skipped by the next ones (and by retries) for a while. */
  private readonly gatewaysAside = gatewayMemory()
  /** Block stream holders that sent a wrong block, the same way. */
  private readonly holdersAside = gatewayMemory()
  private freeSlots: number
  private readonly init: Required<Omit<PinExecutionInit, 'dataLabel'>> & { dataLabel: string }

  constructor (private readonly c: PinExecutionComponents, init: PinExecutionInit) {
    this.log = c.logger.child({ name: 'cidcast:pinner' })
    this.init = {
      fetchConcurrency: init.fetchConcurrency ?? DEFAULT_FETCH_CONCURRENCY,
      maxConcurrentPins: init.maxConcurrentPins ?? 2,
      stallTimeoutMs: init.stallTimeoutMs ?? DEFAULT_STALL_TIMEOUT_MS,
      maxAttempts: init.maxAttempts ?? 5,
      retryDelayMs: init.retryDelayMs ?? 2000,
      maxRetryDelayMs: init.maxRetryDelayMs ?? 60_000,
      dialTimeoutMs: init.dialTimeoutMs ?? 5000,
      gateways: init.gateways ?? true,
      blockStream: init.blockStream ?? true,
      streamStallTimeoutMs: init.streamStallTimeoutMs ?? DEFAULT_STREAM_STALL_MS,
      dataLabel: init.dataLabel ?? 'the data folder'
    }
    this.freeSlots = this.init.maxConcurrentPins
  }

  async run (entry: OrderEntry): Promise<void> {
    if (entry.order.action === 'pin') await this.executePin(entry)
    else await this.executeUnpin(entry)
  }

  releaseSlots (): void {
    for (const release of this.slots.splice(0)) release()
  }

  async pin (root: CID, options: LocalPinOptions = {}): Promise<DagProgress> {
    await this.roomFor(undefined)
    const providers = options.providers ?? []
    const gateways = this.gateways(providers)
    await this.connect(root, providers, gateways, options.signal)
    const progress = await this.fetchAndPin(root, { signal: options.signal, onProgress: options.onProgress, gateways, holders: this.holders(providers, gateways) })
    this.c.onPinsChanged?.()
    return progress
  }

  async unpin (root: CID, options: { signal?: AbortSignal } = {}): Promise<Collected> {
    const freed = await this.removePin(root, options.signal)
    this.c.onPinsChanged?.()
    return freed
  }

  async verify (options: VerifyOptions = {}): Promise<VerifyReport> {
    const report = await verifyPins({ ...this.c.integrity, pins: this.c.peer.pins, getCodec: this.c.peer.getCodec }, options)
    this.log.info({ roots: report.roots, blocks: report.blocks, broken: report.broken.length }, 'verified the pinned blocks')
    return report
  }

  private async executePin (entry: OrderEntry): Promise<void> {
    const { signal } = entry.controller
    const orders = this.c.orders
    for (;;) {
      signal.throwIfAborted()
      const held = await this.isPinned(entry.root)
      if (!held) await this.roomFor(entry.order.bytesTotal != null ? entry.order.bytesTotal - entry.progress.bytesDone : undefined)
      const release = held ? () => {} : await this.slot(signal)
      try {
        if (held) {
          if (entry.progress.blocksTotal != null) entry.progress.blocksDone = entry.progress.blocksTotal
          if (entry.progress.bytesTotal != null) entry.progress.bytesDone = entry.progress.bytesTotal
        } else {
          entry.attempts++
          await orders.set(entry, 'pinning', entry.error)
          const providers = entry.order.providers != null && entry.order.providers.length > 0
            ? entry.order.providers
            : await this.c.findProviders?.(entry.root, { signal }).catch(() => []) ?? []
          const gateways = this.gateways(providers)
          await this.connect(entry.root, providers, gateways, signal)
          await this.fetchAndPin(entry.root, {
            signal,
            gateways,
            holders: this.holders(providers, gateways),
            onProgress: progress => {
              entry.progress = { blocksDone: progress.blocksDone, bytesDone: progress.bytesDone, blocksTotal: progress.blocksTotal ?? entry.progress.blocksTotal, bytesTotal: progress.bytesTotal ?? entry.progress.bytesTotal }
            }
          })
        }
        // a rendition of a media is pinned with what playing it needs without the main server (held-media.ts);
        // an order for a root held already still brings the media's directory as it is now
        if (entry.order.media != null) await this.c.media?.hold(entry.order.media, entry.root, { signal })
        if (entry.order.auto === true) await this.c.auto?.add(entry.root.toString(), entry.progress.bytesTotal ?? entry.progress.bytesDone)
        else await this.c.auto?.remove(entry.root.toString())
        await orders.set(entry, 'pinned')
        if (held) return
        this.log.info({ orderId: entry.order.orderId, cid: entry.order.cid, blocks: entry.progress.blocksDone, bytes: entry.progress.bytesDone }, 'pinned')
        this.c.onPinsChanged?.()
        return
      } catch (err) {
        const name = (err as Error)?.name
        if (signal.aborted) throw signal.reason
        // only the media directory failed: that is an attempt too
        if (held) entry.attempts++
        if (PERMANENT_ERRORS.has(name) || entry.attempts >= this.init.maxAttempts) {
          throw Object.assign(err as Error, { message: `${(err as Error).message} (attempt ${entry.attempts} of ${this.init.maxAttempts})` })
        }
        const delayMs = Math.min(this.init.maxRetryDelayMs, this.init.retryDelayMs * 2 ** (entry.attempts - 1))
        this.log.info({ err, orderId: entry.order.orderId, attempt: entry.attempts, retryInMs: delayMs }, 'pin attempt failed; retrying')
        await orders.set(entry, 'pinning', Object.assign(new Error(`${(err as Error).message} (attempt ${entry.attempts} of ${this.init.maxAttempts}; next in ${Math.round(delayMs / 1000)} s)`), { name }))
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

  private async executeUnpin (entry: OrderEntry): Promise<void> {
    entry.attempts++
    await this.c.orders.set(entry, 'unpinning')
    const freed = await this.removePin(entry.root, entry.controller.signal)
    entry.progress = { blocksDone: freed.blocks, bytesDone: freed.bytes, blocksTotal: freed.blocks, bytesTotal: freed.bytes }
    await this.c.orders.set(entry, 'unpinned')
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

  /**
   * The providers (not this node) to ask for the block stream, in the order given: only when no gateway can be asked
   * (none named, all put aside, or gateways off). A gateway is faster where there is one: plain HTTP, where the
   * stream pays for the private network's two ciphers at both ends (bench r1b against r1c).
   */
  private holders (providers: PinProvider[], gateways: string[]): PeerId[] {
    if (!this.init.blockStream) return []
    if (gateways.some(url => { const base = gatewayBase(url); return base != null && this.gatewaysAside.aside(base) == null })) return []
    const self = this.c.peer.libp2p.peerId.toString()
    const holders: PeerId[] = []
    for (const provider of providers) {
      if (provider.peerId === self || holders.some(h => h.toString() === provider.peerId)) continue
      try {
        holders.push(peerIdFromString(provider.peerId))
      } catch {}
    }
    return holders
  }

  private async connect (root: CID, providers: PinProvider[], gateways: string[], signal?: AbortSignal): Promise<void> {
    const { failures } = await connectProviders(this.c.peer.libp2p, root, providers, { signal, timeoutMs: this.init.dialTimeoutMs, gateways: gateways.length })
    if (failures.length > 0) this.log.info({ root: root.toString(), failures }, 'some providers could not be dialled')
  }

  /** Fetches the DAG (counting space as blocks arrive), then records the pin over local blocks. */
  private async fetchAndPin (root: CID, options: { signal?: AbortSignal, onProgress?: (progress: DagProgress) => void, gateways: string[], holders: PeerId[] }): Promise<DagProgress> {
    const { peer, capacity } = this.c
    let fetched = 0
    const room = (): number => capacity.last()?.freeBytes ?? Number.POSITIVE_INFINITY
    const noRoom = (): Error => new DataFolderFullError(this.fullMessage(`became full while pinning ${root.toString()}`))
    const onFetched = async (_cid: CID, bytes: number): Promise<void> => {
      // `record` keeps the last measurement current block by block; the folder is walked again now and then
      capacity.record(bytes)
      const space = ++fetched % SPACE_CHECK_BLOCKS === 0 ? await capacity.measure() : capacity.last()
      if (space?.full === true) throw new DataFolderFullError(this.fullMessage(`became full while pinning ${root.toString()}`))
    }
    let gateways: ReturnType<typeof gatewayBlocks> | undefined
    try {
      let streamed: StreamedDag | undefined
      if (options.holders.length > 0) {
        streamed = await streamDag({ libp2p: peer.libp2p, blockstore: peer.blockstore, getCodec: peer.getCodec, logger: this.c.logger }, root, options.holders, {
          signal: options.signal,
          credential: this.c.credential?.()?.[NODE_CREDENTIAL_HEADER],
          stallTimeoutMs: this.init.streamStallTimeoutMs,
          memory: this.holdersAside,
          onProgress: options.onProgress,
          onFetched,
          room,
          noRoom
        })
        if (!streamed.complete) this.log.info({ root: root.toString(), holders: streamed.attempts }, 'the block stream left blocks to fetch another way')
      }
      let progress: DagProgress
      if (streamed?.complete === true) {
        progress = streamed.progress
      } else {
        gateways = options.gateways.length > 0 ? gatewayBlocks({ logger: this.c.logger, credential: this.c.credential }, { gateways: options.gateways, connections: this.init.fetchConcurrency, memory: this.gatewaysAside }) : undefined
        // what the stream brought is here now: fetchDag finds it and fetches the rest
        progress = await fetchDag({ blockstore: peer.blockstore, getCodec: peer.getCodec, gateways }, root, {
          signal: options.signal,
          concurrency: this.init.fetchConcurrency,
          stallTimeoutMs: this.init.stallTimeoutMs,
          describePeers: () => describePeers(this.c.peer.libp2p),
          canWant: () => this.c.peer.libp2p.getConnections().length > 0,
          onProgress: options.onProgress,
          room,
          noRoom,
          onFetched
        })
        if (streamed != null) {
          progress.bytesFetched += streamed.progress.bytesFetched
          progress.bytesFromStream = streamed.progress.bytesFromStream
        }
      }
      try {
        for await (const cid of peer.pins.add(root, { signal: options.signal, metadata: { cidcast: 'content' }, walker: leafSkippingWalker() })) void cid
      } catch (err) {
        // pinned meanwhile (another order on the same root, or the node's own API)
        if ((err as Error)?.name !== 'AlreadyPinnedError') throw err
      }
      if (progress.bytesFetched > 0) this.log.info({ root: root.toString(), bytes: progress.bytesFetched, fromStream: progress.bytesFromStream, fromGateways: progress.bytesFromGateways }, 'fetched')
      return progress
    } catch (err) {
      // the disk filled before a measurement said so (another writer, a stale figure): a full folder all the same
      if (!isOutOfSpace(err)) throw err
      capacity.invalidate()
      throw new DataFolderFullError(this.fullMessage(`became full while pinning ${root.toString()}`), { cause: err })
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
    // forgotten first: a media is never served as held from a rendition being deleted
    await this.c.media?.release(root)
    await this.c.auto?.remove(root.toString())
    try {
      return await collectDag({ blockstore: peer.blockstore, remove: localRemover(peer.blockstore, peer.pins), pins: peer.pins, getCodec: peer.getCodec }, root, { signal })
    } finally {
      this.c.capacity.invalidate()
    }
  }
}
