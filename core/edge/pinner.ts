import { createOrderBook } from './order-book.ts'
import { createPinExecution } from './pin-execution.ts'
import type { Capacity } from './capacity.ts'
import type { AutoPins } from './auto-pins.ts'
import type { HeldMedia } from './held-media.ts'
import type { Collected } from './pin-collect.ts'
import type { LocalPinOptions, PinExecutionInit } from './pin-execution.ts'
import type { DagProgress } from './pin-fetch.ts'
import type { PinOrder, PinProvider, PinReport } from '../control/index.ts'
import type { BlockRepairer, VerifiedBlockstore, VerifyOptions, VerifyReport } from '../ipfs/index.ts'
import type { Logger } from '../logger.ts'
import type { Peer } from '../net/index.ts'
import type { CID } from 'multiformats/cid'

/**
 * A CDN node's side of replication: carries out the main server's pin orders (core/control/messages.ts) and reports
 * on each. A pin dials the providers the order names (the main server, other nodes), fetches the DAG many blocks at
 * a time from their trustless gateways, or, from providers with no gateway to ask, whole in one block stream
 * (pin-stream.ts), and over bitswap from any connected peer for what is still missing (pin-fetch.ts,
 * gateway-blocks.ts; every block is hashed on arrival, so a peer sending bad bytes is not believed and the block
 * comes from another), then records the pin with Helia. An unpin removes the pin and then the
 * DAG's blocks that no other pin holds (pin-collect.ts). Orders are kept in the node's datastore from the moment
 * they arrive until the server has seen their final state, so a pin cut by a crash or a restart starts again at
 * `start()` and, since blocks already here are not fetched twice, finishes where it stopped.
 *
 * Reporting: every order is reported in each heartbeat (`reports()`); a final one (`pinned`, `failed`, `unpinned`)
 * until a heartbeat reply no longer repeats its order (the server has recorded it), then it is forgotten. An order
 * whose id is already known is the same order: its state is reported again, nothing starts over.
 *
 * Two parts: the order book (order-book.ts: orders kept, run per root, reported, acknowledged) and the execution
 * (pin-execution.ts: one pin or unpin carried out, with its fetch slots, retries and space checks).
 */

export interface PinnerComponents {
  peer: Pick<Peer, 'blockstore' | 'datastore' | 'pins' | 'getCodec' | 'libp2p'>
  capacity: Pick<Capacity, 'measure' | 'last' | 'record' | 'invalidate'>
  logger: Logger
  /** The verified blockstore under the peer's Helia and the repairer `verify` fetches lost blocks with. */
  integrity: { store: Pick<VerifiedBlockstore, 'check' | 'read'>, repairer: Pick<BlockRepairer, 'repair'> }
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
  /** This node's credential header, shown to the holders' gateways (they serve nodes and viewers with tokens only). */
  credential?: () => Record<string, string> | undefined
  /** The media held here by id (held-media.ts): pins of a media's renditions are recorded there, unpins forgotten. */
  media?: Pick<HeldMedia, 'hold' | 'release'>
  /** Roots held on the distributor's orders, counted in the cache budget (auto-pins.ts). */
  auto?: Pick<AutoPins, 'add' | 'remove'>
}

export type PinnerInit = PinExecutionInit
export type { LocalPinOptions }

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
  /** Re-hashes the blocks of pinned DAGs (`cidcast pin verify`); damaged copies are removed (and memory caches told). */
  verify (options?: VerifyOptions): Promise<VerifyReport>
}

/** Creates the pinner of a CDN node. */
export function createPinner (components: PinnerComponents, init: PinnerInit = {}): Pinner {
  const { peer, capacity, logger } = components
  // the execution reports through the book, and the book runs orders through the execution
  const execution = createPinExecution({
    peer,
    capacity,
    logger,
    integrity: components.integrity,
    orders: { set: async (entry, state, error) => { await book.set(entry, state, error) } },
    findProviders: components.findProviders,
    onPinsChanged: components.onPinsChanged,
    origin: components.origin,
    credential: components.credential,
    media: components.media,
    auto: components.auto
  }, init)
  const book = createOrderBook({ datastore: peer.datastore, logger, onChange: components.onChange, execute: async entry => { await execution.run(entry) } })
  return {
    start: async () => { await book.start() },
    async stop () {
      book.stop()
      execution.releaseSlots()
      await book.settled()
    },
    apply: orders => { book.apply(orders) },
    reports: () => book.reports(),
    busy: () => book.busy(),
    pin: async (root, options) => await execution.pin(root, options),
    unpin: async (root, options) => await execution.unpin(root, options),
    verify: async options => await execution.verify(options)
  }
}
