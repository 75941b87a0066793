import { createOrderDelivery } from './delivery.ts'
import { dagSizes } from './dag-size.ts'
import { createPreparer } from './prepare.ts'
import { createReplicationRequests } from './requests.ts'
import { createUpkeep } from './upkeep.ts'
import type { ContentIndex } from './content-index.ts'
import type { DagSize } from './dag-size.ts'
import type { ReplicationGoals } from './goals.ts'
import type { PreparationStore, PrepareRendition } from './prepare.ts'
import type { NodeRegistry } from './registry.ts'
import type { ReplicationRequests } from './requests.ts'
import type { ReplicableMedia } from './types.ts'
import type { ViewSettings } from './views.ts'
import type { HeartbeatRequest, PinOrder } from '../control/index.ts'
import type { Logger } from '../logger.ts'
import type { ProviderSource } from '../routing/index.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

/*
 * The main server's side of replication (issue #4): turns requests (`POST /api/v1/replications`, `cidcast pin`)
 * into orders in the content index, hands them to nodes in heartbeat replies (with a nudge on
 * /cidcast/orders/1.0.0 so they do not wait for their next beat), takes the nodes' reports back into the index,
 * retries failed pins, and answers "who holds this root" for the routing API and the UI.
 *
 * Three parts, each in its own file: requests (`requests.ts`: pin, unpin and the views), order delivery
 * (`delivery.ts`: heartbeats, orders, nudges, providers) and upkeep (`upkeep.ts`: retries, re-nudges, replication
 * factors, replications waiting for a rendition). This file assembles them and runs their lifecycle.
 */

export interface ReplicationComponents {
  logger: Logger
  index: ContentIndex
  /** Replication factors kept per root (`replicas`), placed again when nodes holding the root are lost. */
  goals: ReplicationGoals
  nodes: Pick<NodeRegistry, 'list'>
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getMultiaddrs' | 'peerId'>
  /** The main server's blocks: what it holds itself, and the size of a DAG before it is ordered. */
  blockstore: Pick<Blockstore, 'get' | 'has'>
  /** A media by id (throws MediaNotFoundError), with its media directory (`root`) for the orders that pin its renditions. */
  media: (id: string) => Promise<ReplicableMedia>
  /** The media and profile a root is the rendition of, when it is one. */
  renditionOf?: (cid: string) => Promise<{ mediaId: string, profile: string } | undefined>
  /** Makes an unfinished rendition whole (transcoder + library); without it such a request is refused. */
  prepare?: PrepareRendition
  /** Where requests waiting for `prepare` are kept across restarts; in memory only without it. */
  preparations?: PreparationStore
}

export interface ReplicationInit {
  /** Orders sent for one wish before a failed pin stays failed. @default 3 */
  maxAttempts?: number
  /** Wait before the first automatic retry; doubled for each next one. @default 5000 */
  retryDelayMs?: number
  /** A pin whose progress has not moved for this long is called stalled. @default 60000 */
  stallMs?: number
  /** The nodes' heartbeat interval (for reasons and re-nudges). @default 15000 */
  heartbeatMs?: number
  /** How often retries, re-nudges and replication factors are looked at. @default 1000 */
  sweepMs?: number
  /**
   * A node offline this long no longer counts toward a replication factor: its pins are placed on other nodes (and
   * an unpin waits for it). IPFS Cluster repins as soon as a peer's metrics expire; a longer wait spares a restart
   * or a short outage the traffic of a new copy. @default 300000
   */
  repinAfterMs?: number
}

/** The service: its requests (requests.ts) and what the registry and the routing API call. */
export interface Replication extends Omit<ReplicationRequests, 'resumePreparations'> {
  start (): Promise<void>
  stop (): Promise<void>
  /** The heartbeat hook (registry.ts): takes the node's reports, answers the orders it should run. */
  heartbeat (peerId: string, request: HeartbeatRequest): Promise<PinOrder[]>
  /** `/routing/v1/providers/{cid}`: nodes that hold `cid` pinned (online, shared), then the main server if it holds it. */
  providers: ProviderSource
  /** Asks nodes to heartbeat now (something waits for them in the next reply). */
  nudge (peerIds: Iterable<string>): Promise<void>
  /** Blocks and bytes of a DAG the main server holds (undefined when a block is missing here). */
  size (cid: string): Promise<DagSize | undefined>
}

/** Errors a retry cannot fix. */
const NOT_RETRIED: ReadonlySet<string> = new Set(['DataFolderFullError', 'InvalidPinOrderError', 'InvalidControlMessageError'])

/** Creates the replication service; `start()` loads the index and begins retrying. */
export function createReplication (components: ReplicationComponents, init: ReplicationInit = {}): Replication {
  const { logger, index, goals, nodes, libp2p, blockstore } = components
  const settings: ViewSettings = { maxAttempts: init.maxAttempts ?? 3, stallMs: init.stallMs ?? 60_000, heartbeatMs: init.heartbeatMs ?? 15_000, notRetried: NOT_RETRIED }
  const size = dagSizes(blockstore)
  const preparer = components.prepare == null ? undefined : createPreparer({ logger, prepare: components.prepare, store: components.preparations })
  const delivery = createOrderDelivery({ logger, index, nodes, libp2p, blockstore, media: components.media }, { maxAttempts: settings.maxAttempts, retryDelayMs: init.retryDelayMs ?? 5000, notRetried: NOT_RETRIED })
  // upkeep takes up waiting replications through the request side, which reads the factors upkeep keeps
  const upkeep = createUpkeep({ logger, index, goals, nodes, delivery, size, resume: async () => await requests.resumePreparations() }, {
    sweepMs: init.sweepMs ?? 1000,
    heartbeatMs: settings.heartbeatMs,
    repinAfterMs: init.repinAfterMs ?? 300_000
  })
  const requests: ReplicationRequests = createReplicationRequests({ ...components, delivery, upkeep, size, preparer }, settings)
  let started = false

  return {
    async start () {
      await index.start()
      await goals.start()
      upkeep.start()
      started = true
    },
    async stop () {
      started = false
      preparer?.stop()
      upkeep.stop()
    },
    pin: async request => await requests.pin(request),
    unpin: async request => await requests.unpin(request),
    list: async filter => await requests.list(filter),
    goals: async filter => await requests.goals(filter),
    preparing: mediaId => requests.preparing(mediaId),
    locations: async mediaId => await requests.locations(mediaId),
    async heartbeat (peerId, request) {
      // reports that come before the index is loaded are not lost: orders are repeated until a final state comes back
      if (!started) return []
      return await delivery.heartbeat(peerId, request)
    },
    providers: delivery.providers,
    async nudge (peerIds) {
      delivery.nudge(await nodes.list(), peerIds)
    },
    size
  }
}
