import { randomBytes } from 'node:crypto'
import { peerIdFromString } from '@libp2p/peer-id'
import { uriToMultiaddr } from '@multiformats/uri-to-multiaddr'
import { CID } from 'multiformats/cid'
import { InvalidRequestError } from '../errors.ts'
import { findNode, NodeRevokedError, nudgeNode } from '../control/index.ts'
import { dagSizeOf } from './dag-size.ts'
import { parseReplicas, place } from './placement.ts'
import { createPreparer } from './prepare.ts'
import { PinNotFoundError, UnderReplicatedError } from './errors.ts'
import { candidate, resolvePinRoots, resolveRoots } from './targets.ts'
import { replicationView } from './views.ts'
import type { ContentIndex } from './content-index.ts'
import type { HeartbeatRequest, PinOrder, PinProvider } from '../control/index.ts'
import type { DagSize } from './dag-size.ts'
import type { ReplicationFactor } from './placement.ts'
import type { ReplicationGoal, ReplicationGoals } from './goals.ts'
import type { PreparationStore, PrepareRendition, Preparer, PreparingView } from './prepare.ts'
import type { Root } from './targets.ts'
import type { NodeRegistry, NodeView } from './registry.ts'
import type { ReplicationView, ViewSettings } from './views.ts'
import type { Logger } from '../logger.ts'
import type { ProviderSource, RoutingPeer } from '../routing/index.ts'
import type { Libp2p } from '@libp2p/interface'
import type { Blockstore } from 'interface-blockstore'

/*
 * The main server's side of replication (issue #4): turns requests (`POST /api/v1/replications`, `cidcast pin`)
 * into orders in the content index, hands them to nodes in heartbeat replies (with a nudge on
 * /cidcast/orders/1.0.0 so they do not wait for their next beat), takes the nodes' reports back into the index,
 * retries failed pins, and answers "who holds this root" for the routing API and the UI.
 */

/** A media's renditions as replication needs them (the library's MediaView has these fields). */
export interface ReplicableMedia {
  id: string
  renditions: Array<{ profile: string, state: string, root: string | null }>
}

export interface ReplicationComponents {
  logger: Logger
  index: ContentIndex
  /** Replication factors kept per root (`replicas`), placed again when nodes holding the root are lost. */
  goals: ReplicationGoals
  nodes: Pick<NodeRegistry, 'list'>
  libp2p: Pick<Libp2p, 'dialProtocol' | 'getMultiaddrs' | 'peerId'>
  /** The main server's blocks: what it holds itself, and the size of a DAG before it is ordered. */
  blockstore: Pick<Blockstore, 'get' | 'has'>
  /** A media by id (throws MediaNotFoundError). */
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

/** What to replicate and where: a media (its finished renditions, or one profile) or a CID; a node or a factor. */
export interface ReplicationRequest {
  media?: string
  cid?: string
  profile?: string
  /** A node's label, name or peer ID. */
  node?: string
  replicas?: ReplicationFactor
}

export interface ReplicationFilter {
  node?: string
  cid?: string
  media?: string
}

/** Where a media's renditions are: the main server and every node with a row for their roots. */
export interface MediaLocations {
  media: string
  renditions: Array<{ profile: string, state: string, root: string | null, server: boolean, preparing: PreparingView | null, goal: GoalView | null, locations: ReplicationView[] }>
}

/** A replication factor and where it stands. */
export interface GoalView {
  cid: string
  min: number
  max: number
  mediaId: string | null
  profile: string | null
  /** Nodes that count: asked to pin it, not failed for good, online or offline for less than `repinAfterMs`. */
  holders: string[]
  state: 'met' | 'under-replicated'
  /** Why it is under-replicated (no node left to place it on), else null. */
  reason: string | null
}

/** What a pin request did: rows of the roots ordered, and renditions the main server makes first. */
export interface PinResult {
  items: ReplicationView[]
  preparing: PreparingView[]
}

export interface Replication {
  start (): Promise<void>
  stop (): Promise<void>
  /**
   * Orders pins (idempotent: a root already pinned or on its way is left alone); answers the rows of the targets.
   * A media's unfinished renditions (the one profile asked, or all when none is finished) are made first.
   */
  pin (request: ReplicationRequest): Promise<PinResult>
  /** Orders unpins on `node`, or on every node with a row for the roots. */
  unpin (request: Omit<ReplicationRequest, 'replicas'>): Promise<ReplicationView[]>
  list (filter?: ReplicationFilter): Promise<ReplicationView[]>
  /** The replication factors kept, of the roots of a filter (a CID or a media) or all. */
  goals (filter?: Omit<ReplicationFilter, 'node'>): Promise<GoalView[]>
  /** Renditions being made before their pin is ordered (of one media, or all). */
  preparing (mediaId?: string): PreparingView[]
  locations (mediaId: string): Promise<MediaLocations>
  /** The heartbeat hook (registry.ts): takes the node's reports, answers the orders it should run. */
  heartbeat (peerId: string, request: HeartbeatRequest): Promise<PinOrder[]>
  /** `/routing/v1/providers/{cid}`: nodes that hold `cid` pinned (online, shared), then the main server if it holds it. */
  providers: ProviderSource
}

/** Most orders in one heartbeat reply; the rest come with the next beats. */
export const MAX_ORDERS_PER_REPLY = 64
/** Providers named in one order, and addresses per provider (keeps replies far below the message limit). */
const MAX_ORDER_PROVIDERS = 4
const MAX_PROVIDER_ADDRS = 8
/** Waiting replications that nodes could not take yet are tried again after this. */
const RESUME_AGAIN_MS = 60_000
/** Errors a retry cannot fix. */
const NOT_RETRIED: ReadonlySet<string> = new Set(['DataFolderFullError', 'InvalidPinOrderError', 'InvalidControlMessageError'])

/** Creates the replication service; `start()` loads the index and begins retrying. */
export function createReplication (components: ReplicationComponents, init: ReplicationInit = {}): Replication {
  return new ReplicationService(components, init)
}

class ReplicationService implements Replication {
  private readonly log: Logger
  private readonly settings: ViewSettings
  private readonly retryDelayMs: number
  private readonly sweepMs: number
  private readonly sizes = new Map<string, Promise<DagSize | undefined>>()
  private readonly nudgedAt = new Map<string, number>()
  private readonly repinAfterMs: number
  private startedAtMs = Number.POSITIVE_INFINITY
  /** When waiting replications are to be taken up again (undefined: none left). */
  private resumeAtMs?: number
  /** Roots whose factor cannot be met now, with the reason (logged once when it starts). */
  private readonly shortOf = new Map<string, string>()
  private sweeper?: NodeJS.Timeout
  private sweeping = false
  private started = false
  private readonly preparer?: Preparer

  constructor (private readonly c: ReplicationComponents, init: ReplicationInit) {
    this.log = c.logger.child({ name: 'cidcast:replication' })
    this.settings = { maxAttempts: init.maxAttempts ?? 3, stallMs: init.stallMs ?? 60_000, heartbeatMs: init.heartbeatMs ?? 15_000, notRetried: NOT_RETRIED }
    this.retryDelayMs = init.retryDelayMs ?? 5000
    this.sweepMs = init.sweepMs ?? 1000
    this.repinAfterMs = init.repinAfterMs ?? 300_000
    if (c.prepare != null) this.preparer = createPreparer({ logger: c.logger, prepare: c.prepare, store: c.preparations })
  }

  async start (): Promise<void> {
    await this.c.index.start()
    await this.c.goals.start()
    this.startedAtMs = Date.now()
    this.started = true
    // after a heartbeat's time, when the nodes have come back (see resumePreparations)
    this.resumeAtMs = this.startedAtMs + this.settings.heartbeatMs
    this.sweeper = setInterval(() => { void this.sweep() }, this.sweepMs)
    this.sweeper.unref()
  }

  async stop (): Promise<void> {
    this.started = false
    this.preparer?.stop()
    clearInterval(this.sweeper)
    this.sweeper = undefined
  }

  async pin (request: ReplicationRequest): Promise<PinResult> {
    if ((request.node == null) === (request.replicas == null)) throw new InvalidRequestError('name a node, or give replicas MIN[:MAX] to let the server choose (not both)')
    const { roots, unfinished } = await resolvePinRoots(this.c, request, this.preparer != null)
    const nodes = await this.c.nodes.list()
    const preparing: PreparingView[] = []
    if (unfinished.length > 0) {
      // refused now rather than after the transcode, when nobody would hear of it
      let target: string
      if (request.node != null) {
        const node = findNode(nodes, request.node)
        if (node.revoked) throw new NodeRevokedError(`node ${node.label} is revoked`)
        target = node.label
      } else {
        const factor = request.replicas as ReplicationFactor
        place(`${request.media ?? ''} ${unfinished.join(', ')}`, nodes.map(node => candidate(node, undefined)), factor)
        target = `replicas ${factor.min}:${factor.max}`
      }
      for (const profile of unfinished) {
        preparing.push((this.preparer as Preparer).prepare(request.media as string, profile, target, async root => {
          await this.pin({ cid: root, node: request.node, replicas: request.replicas })
        }))
      }
    }
    const targets: Array<{ node: NodeView, root: Root, size?: DagSize }> = []
    // every placement is decided before any order goes out: a refusal leaves nothing half done
    for (const root of roots) {
      const size = await this.size(root.cid)
      if (request.node != null) {
        const node = findNode(nodes, request.node)
        if (node.revoked) throw new NodeRevokedError(`node ${node.label} is revoked`)
        targets.push({ node, root, size })
        continue
      }
      // nodes unpinned from the root by hand are not chosen again
      const excluded = new Set(this.c.goals.get(root.cid)?.excluded ?? [])
      const candidates = nodes.filter(node => !excluded.has(node.peerId)).map(node => candidate(node, this.c.index.get(node.peerId, root.cid)))
      const placement = place(root.cid, candidates, request.replicas as ReplicationFactor, size?.bytes)
      for (const c of [...placement.holding, ...placement.chosen]) targets.push({ node: nodes.find(n => n.peerId === c.peerId) as NodeView, root, size })
    }
    const nudge = new Set<string>()
    for (const { node, root, size } of targets) {
      const existing = this.c.index.get(node.peerId, root.cid)
      if (existing?.wanted === 'pin' && existing.state !== 'failed') continue
      if (existing?.wanted == null && existing?.state === 'pinned') {
        await this.c.index.adopt(node.peerId, root.cid, root)
        continue
      }
      const entry = await this.c.index.order({ peerId: node.peerId, cid: root.cid, action: 'pin', orderId: orderId(), mediaId: root.mediaId, profile: root.profile, blocksTotal: size?.blocks, bytesTotal: size?.bytes })
      this.log.info({ node: node.label, cid: root.cid, orderId: entry.orderId }, 'pin ordered')
      nudge.add(node.peerId)
    }
    if (request.replicas != null) {
      for (const root of roots) await this.c.goals.set({ cid: root.cid, min: request.replicas.min, max: request.replicas.max, mediaId: root.mediaId, profile: root.profile })
    } else {
      // pinned on a node by hand: that node may be chosen for the root again
      for (const { node, root } of targets) await this.c.goals.exclude(root.cid, node.peerId, false)
    }
    this.nudge(nodes, nudge)
    return { items: this.views(targets.map(t => [t.node.peerId, t.root.cid]), nodes), preparing }
  }

  async unpin (request: Omit<ReplicationRequest, 'replicas'>): Promise<ReplicationView[]> {
    const roots = await resolveRoots(this.c, request, false)
    const nodes = await this.c.nodes.list()
    const only = request.node == null ? undefined : findNode(nodes, request.node)
    const entries = roots.flatMap(root => this.c.index.list({ cid: root.cid, peerId: only?.peerId }))
    const kept = roots.filter(root => this.c.goals.get(root.cid) != null)
    if (entries.length === 0 && (only != null || kept.length === 0)) throw new PinNotFoundError(`${only == null ? 'no node' : `node ${only.label}`} holds or is ordered to hold ${roots.map(r => r.cid).join(', ')}`)
    // unpinned everywhere: the factor goes too; from one node only, it is kept and met with other nodes, never that one
    if (only == null) for (const root of kept) await this.c.goals.remove(root.cid)
    else for (const root of kept) await this.c.goals.exclude(root.cid, only.peerId, true)
    const nudge = new Set<string>()
    for (const entry of entries) {
      if (entry.wanted === 'unpin' && entry.state === 'unpinning') continue
      const next = await this.c.index.order({ peerId: entry.peerId, cid: entry.cid, action: 'unpin', orderId: orderId() })
      this.log.info({ peer: entry.peerId, cid: entry.cid, orderId: next.orderId }, 'unpin ordered')
      nudge.add(entry.peerId)
    }
    this.nudge(nodes, nudge)
    return this.views(entries.map(e => [e.peerId, e.cid]), nodes)
  }

  async list (filter: ReplicationFilter = {}): Promise<ReplicationView[]> {
    const nodes = await this.c.nodes.list()
    const peerId = filter.node == null ? undefined : findNode(nodes, filter.node).peerId
    const cids = await this.rootsOf(filter)
    const entries = this.c.index.list({ peerId }).filter(e => cids == null || cids.has(e.cid))
    return this.views(entries.map(e => [e.peerId, e.cid]), nodes)
  }

  async goals (filter: Omit<ReplicationFilter, 'node'> = {}): Promise<GoalView[]> {
    const cids = await this.rootsOf(filter)
    const nodes = await this.c.nodes.list()
    return this.c.goals.list().filter(g => cids == null || cids.has(g.cid)).map(goal => this.goalView(goal, nodes, Date.now()))
  }

  /** The root CIDs a filter names (a CID, or a media's renditions); undefined when it names none (all roots). */
  private async rootsOf (filter: Omit<ReplicationFilter, 'node'>): Promise<Set<string> | undefined> {
    if (filter.cid == null && filter.media == null) return undefined
    return new Set((await resolveRoots(this.c, { cid: filter.cid, media: filter.media }, false)).map(r => r.cid))
  }

  preparing (mediaId?: string): PreparingView[] {
    return this.preparer?.list(mediaId) ?? []
  }

  async locations (mediaId: string): Promise<MediaLocations> {
    const media = await this.c.media(mediaId)
    const nodes = await this.c.nodes.list()
    const preparing = this.preparing(media.id)
    const renditions = []
    for (const r of media.renditions) {
      const entries = r.root == null ? [] : this.c.index.list({ cid: r.root })
      renditions.push({
        profile: r.profile,
        state: r.state,
        root: r.root,
        server: r.root != null && await this.c.blockstore.has(CID.parse(r.root)),
        preparing: preparing.find(p => p.profile === r.profile) ?? null,
        goal: r.root == null ? null : this.goalOf(r.root, nodes),
        locations: this.views(entries.map(e => [e.peerId, e.cid]), nodes)
      })
    }
    return { media: media.id, renditions }
  }

  async heartbeat (peerId: string, request: HeartbeatRequest): Promise<PinOrder[]> {
    // reports that come before the index is loaded are not lost: orders are repeated until a final state comes back
    if (!this.started) return []
    const changed = await this.c.index.report(peerId, request.pins ?? [], request.pinned)
    for (const entry of changed) {
      if (entry.state === 'failed' && entry.wanted === 'pin' && entry.retryAtMs == null) {
        this.log.warn({ peer: peerId, cid: entry.cid, error: entry.error, attempts: entry.attempts }, 'pin failed')
        if (entry.attempts < this.settings.maxAttempts && !NOT_RETRIED.has(entry.error?.name ?? '')) {
          await this.c.index.planRetry(peerId, entry.cid, Date.now() + this.retryDelayMs * 2 ** (entry.attempts - 1))
        }
      } else if (entry.state === 'pinned' && entry.wanted === 'pin' && entry.orderId != null) {
        this.log.info({ peer: peerId, cid: entry.cid, orderId: entry.orderId }, 'pinned')
      }
    }
    return await this.ordersFor(peerId)
  }

  readonly providers: ProviderSource = cid => this.providersOf(cid)

  private async * providersOf (cid: CID): AsyncGenerator<RoutingPeer> {
    const forms = new Set([cid.toString(), cid.toV1().toString()])
    const nodes = await this.c.nodes.list()
    for (const form of forms) {
      for (const entry of this.c.index.list({ cid: form })) {
        if (entry.state !== 'pinned') continue
        const node = nodes.find(n => n.peerId === entry.peerId)
        if (node == null || node.state !== 'online' || node.revoked || node.mode !== 'shared') continue
        yield gatewayPeer(node)
      }
    }
    if (await this.c.blockstore.has(cid)) yield this.self()
  }

  /** The orders a node should be running now, oldest first, each with fresh providers. */
  private async ordersFor (peerId: string): Promise<PinOrder[]> {
    const pending = this.c.index.list({ peerId })
      .filter(e => e.orderId != null && ((e.wanted === 'pin' && (e.state === 'queued' || e.state === 'pinning')) || (e.wanted === 'unpin' && e.state === 'unpinning')))
      .sort((a, b) => (a.orderedAtMs ?? 0) - (b.orderedAtMs ?? 0))
      .slice(0, MAX_ORDERS_PER_REPLY)
    if (pending.length === 0) return []
    const nodes = await this.c.nodes.list()
    const orders: PinOrder[] = []
    for (const entry of pending) {
      const order: PinOrder = { cid: entry.cid, action: entry.wanted as 'pin' | 'unpin', orderId: entry.orderId as string }
      if (entry.wanted === 'pin') {
        order.providers = await this.orderProviders(entry.cid, peerId, nodes)
        if (entry.bytesTotal != null) order.bytesTotal = entry.bytesTotal
        if (entry.blocksTotal != null) order.blocksTotal = entry.blocksTotal
      }
      orders.push(order)
    }
    return orders
  }

  /** Online nodes that hold the root pinned (not the one asking), then the main server if it holds it. */
  private async orderProviders (cid: string, asking: string, nodes: NodeView[]): Promise<PinProvider[]> {
    const providers: PinProvider[] = []
    for (const entry of this.c.index.list({ cid })) {
      if (entry.peerId === asking || entry.state !== 'pinned') continue
      const node = nodes.find(n => n.peerId === entry.peerId)
      if (node == null || node.state !== 'online' || node.revoked) continue
      const provider: PinProvider = { peerId: node.peerId, addrs: node.addresses.slice(0, MAX_PROVIDER_ADDRS) }
      // a local-only node serves nobody else over HTTP (its gateway listens on loopback)
      if (node.mode === 'shared') provider.gateway = node.url
      providers.push(provider)
    }
    const held = await Promise.resolve(this.c.blockstore.has(CID.parse(cid))).catch(() => false)
    const list = providers.slice(0, held ? MAX_ORDER_PROVIDERS - 1 : MAX_ORDER_PROVIDERS)
    if (held) {
      const self = this.self()
      // no gateway here: the server cannot know the URL nodes reach it by, and each node has it (pinner.ts)
      list.push({ peerId: self.peerId, addrs: self.addrs.slice(0, MAX_PROVIDER_ADDRS) })
    }
    return list
  }

  private self (): RoutingPeer {
    return { peerId: this.c.libp2p.peerId.toString(), addrs: this.c.libp2p.getMultiaddrs().map(String), protocols: ['transport-bitswap'] }
  }

  private async size (cid: string): Promise<DagSize | undefined> {
    let size = this.sizes.get(cid)
    if (size == null) {
      size = dagSizeOf(this.c.blockstore, CID.parse(cid)).catch(() => undefined)
      this.sizes.set(cid, size)
      // only a known size is worth keeping (the server may get the blocks later)
      void size.then(known => { if (known == null) this.sizes.delete(cid) })
    }
    return await size
  }

  private views (pairs: Array<[string, string]>, nodes: NodeView[]): ReplicationView[] {
    const seen = new Set<string>()
    const views: ReplicationView[] = []
    const now = Date.now()
    for (const [peerId, cid] of pairs) {
      if (seen.has(`${peerId} ${cid}`)) continue
      seen.add(`${peerId} ${cid}`)
      const entry = this.c.index.get(peerId, cid)
      if (entry != null) views.push(replicationView(entry, nodes.find(n => n.peerId === peerId), this.settings, now))
    }
    return views
  }

  /** Asks online nodes to heartbeat now; failures only cost them their next beat. */
  private nudge (nodes: NodeView[], peers: Iterable<string>): void {
    for (const peerId of peers) {
      const node = nodes.find(n => n.peerId === peerId)
      if (node == null || node.state !== 'online') continue
      this.nudgedAt.set(peerId, Date.now())
      void nudgeNode(this.c.libp2p, peerIdFromString(peerId)).then(ok => {
        if (!ok) this.log.debug({ node: node.label }, 'nudge not acknowledged; the order waits for the next heartbeat')
      })
    }
  }

  /**
   * Takes up the replications that waited for a rendition when the server stopped: the rendition is made first
   * again, or the pin ordered at once when it was finished before the stop. Runs from the sweeper a heartbeat after
   * start (nodes are back by then); one the nodes cannot take yet (under-replicated) is tried again a minute later,
   * one that can never be met (the media or the node gone, the node revoked) is dropped with a warning. Answers
   * whether any is left to try again.
   */
  private async resumePreparations (): Promise<boolean> {
    if (this.preparer == null || this.c.preparations == null) return false
    let left = false
    for (const { mediaId, profile, target } of await this.c.preparations.list()) {
      const request: ReplicationRequest = { media: mediaId, profile }
      if (target.startsWith('replicas ')) request.replicas = parseReplicas(target.slice('replicas '.length))
      else request.node = target
      try {
        const result = await this.pin(request)
        // ordered at once: nothing waits any more (a rendition being made is forgotten when its pin is ordered)
        if (!result.preparing.some(p => p.profile === profile)) await this.c.preparations.remove(mediaId, profile, target)
        this.log.info({ media: mediaId, profile, target }, 'replication waiting for its rendition taken up again')
      } catch (err) {
        if ((err as Error)?.name === 'UnderReplicatedError') {
          left = true
          continue
        }
        this.log.warn({ err, media: mediaId, profile, target }, 'a replication waiting for its rendition cannot be taken up again')
        await this.c.preparations.remove(mediaId, profile, target).catch(() => {})
      }
    }
    return left
  }

  /**
   * Who counts toward a root's factor (asked to pin it or holding it unasked, not failed for good, online or not
   * offline for `repinAfterMs`), and the allocations that no longer do. Time offline counts from this service's
   * start at the earliest: after the main server itself was down, nodes get a fair chance to come back.
   */
  private allocations (cid: string, nodes: NodeView[], now: number): { holders: NodeView[], lost: Array<{ node: NodeView | undefined, peerId: string, failed: boolean }> } {
    const holders: NodeView[] = []
    const lost: Array<{ node: NodeView | undefined, peerId: string, failed: boolean }> = []
    for (const entry of this.c.index.list({ cid })) {
      const held = entry.wanted === 'pin' || (entry.wanted == null && entry.state === 'pinned')
      if (!held) continue
      const node = nodes.find(n => n.peerId === entry.peerId)
      const failed = entry.state === 'failed' && entry.retryAtMs == null
      const seenAt = Math.max(node?.lastSeen == null ? Number.NEGATIVE_INFINITY : Date.parse(node.lastSeen), this.startedAtMs)
      const reachable = node != null && !node.revoked && (node.state === 'online' || now - seenAt < this.repinAfterMs)
      if (failed || !reachable) lost.push({ node, peerId: entry.peerId, failed })
      else holders.push(node)
    }
    return { holders, lost }
  }

  private goalView (goal: ReplicationGoal, nodes: NodeView[], now: number): GoalView {
    const { holders } = this.allocations(goal.cid, nodes, now)
    const reason = holders.length < goal.min ? this.shortOf.get(goal.cid) ?? `${holders.length} of ${goal.min} replicas; placing more` : null
    return { cid: goal.cid, min: goal.min, max: goal.max, mediaId: goal.mediaId, profile: goal.profile, holders: holders.map(h => h.label).sort(), state: reason == null ? 'met' : 'under-replicated', reason }
  }

  private goalOf (cid: string, nodes: NodeView[]): GoalView | null {
    const goal = this.c.goals.get(cid)
    return goal == null ? null : this.goalView(goal, nodes, Date.now())
  }

  /**
   * Keeps a root's replication factor, as IPFS Cluster repins: when fewer than MIN nodes still count, other nodes
   * are chosen like a new placement (not the lost ones, nor nodes told to drop the root or unpinned from it by
   * hand). A lost node is told to unpin (carried out when it is back) only once MIN nodes hold the root pinned, so
   * copies never drop below what was there. Nothing moves while no replacement can be found.
   */
  private async keep (goal: ReplicationGoal, nodes: NodeView[], now: number, nudge: Set<string>): Promise<void> {
    const { holders, lost } = this.allocations(goal.cid, nodes, now)
    if (holders.length >= goal.min) {
      this.shortOf.delete(goal.cid)
      const pinned = holders.filter(h => this.c.index.get(h.peerId, goal.cid)?.state === 'pinned').length
      if (pinned < goal.min) return
      for (const { node, peerId, failed } of lost) {
        // a failed row says why on its own; a revoked or unknown node never comes back to hear it
        if (failed || node == null || node.revoked) continue
        if (this.c.goals.get(goal.cid) == null) return
        const entry = await this.c.index.order({ peerId, cid: goal.cid, action: 'unpin', orderId: orderId() })
        this.log.info({ cid: goal.cid, node: node.label, orderId: entry.orderId }, 'a lost node is to drop a pin placed elsewhere')
      }
      return
    }
    const holding = new Set(holders.map(h => h.peerId))
    const leaving = new Set([
      ...lost.map(l => l.peerId),
      ...this.c.index.list({ cid: goal.cid }).filter(e => e.wanted === 'unpin').map(e => e.peerId),
      ...goal.excluded
    ])
    const candidates = nodes.filter(n => !leaving.has(n.peerId)).map(n => ({ ...candidate(n, this.c.index.get(n.peerId, goal.cid)), holds: holding.has(n.peerId) }))
    let placement
    try {
      placement = place(goal.cid, candidates, goal, (await this.size(goal.cid))?.bytes)
    } catch (err) {
      if (!(err instanceof UnderReplicatedError)) throw err
      if (!this.shortOf.has(goal.cid)) this.log.warn({ cid: goal.cid, reason: err.message }, 'replication factor not met')
      this.shortOf.set(goal.cid, err.message)
      return
    }
    this.shortOf.delete(goal.cid)
    for (const chosen of placement.chosen) {
      // unpinned from every node meanwhile: the factor is gone, nothing more is placed
      if (this.c.goals.get(goal.cid) == null) return
      const entry = await this.c.index.order({ peerId: chosen.peerId, cid: goal.cid, action: 'pin', orderId: orderId(), mediaId: goal.mediaId, profile: goal.profile })
      nudge.add(chosen.peerId)
      this.log.info({ cid: goal.cid, node: chosen.label, orderId: entry.orderId, lost: lost.map(l => l.node?.label ?? l.peerId) }, 'pin placed again to keep its replication factor')
    }
  }

  /** Sends planned retries, and nudges again nodes that have not taken an order within a few seconds. */
  private async sweep (): Promise<void> {
    if (this.sweeping) return
    this.sweeping = true
    try {
      const now = Date.now()
      const due = this.c.index.list().filter(e => e.retryAtMs != null && e.retryAtMs <= now)
      const waiting = this.c.index.list().filter(e => e.orderId != null && e.reportedAtMs == null && (e.state === 'queued' || e.state === 'unpinning'))
      if (this.resumeAtMs != null && now >= this.resumeAtMs) {
        this.resumeAtMs = undefined
        if (await this.resumePreparations()) this.resumeAtMs = now + RESUME_AGAIN_MS
      }
      const goals = this.c.goals.list()
      if (due.length === 0 && waiting.length === 0 && goals.length === 0) return
      const nodes = await this.c.nodes.list()
      const nudge = new Set<string>()
      for (const goal of goals) {
        // one goal that cannot be kept does not stop the others, nor the retries below
        await this.keep(goal, nodes, now, nudge).catch((err: unknown) => { this.log.error({ err, cid: goal.cid }, 'keeping a replication factor failed') })
      }
      for (const entry of due) {
        if (entry.state !== 'failed' || entry.wanted !== 'pin') {
          await this.c.index.planRetry(entry.peerId, entry.cid, null)
          continue
        }
        const next = await this.c.index.order({ peerId: entry.peerId, cid: entry.cid, action: 'pin', orderId: orderId(), retry: true })
        this.log.info({ peer: entry.peerId, cid: entry.cid, attempt: next.attempts }, 'pin retried')
        nudge.add(entry.peerId)
      }
      const again = Math.min(5000, this.settings.heartbeatMs / 2)
      for (const entry of waiting) {
        if (now - (entry.orderedAtMs ?? now) >= again && now - (this.nudgedAt.get(entry.peerId) ?? 0) >= again) nudge.add(entry.peerId)
      }
      this.nudge(nodes, nudge)
    } catch (err) {
      this.log.error({ err }, 'replication sweep failed')
    } finally {
      this.sweeping = false
    }
  }
}

function orderId (): string {
  return randomBytes(12).toString('base64url')
}

/**
 * A shared node as a provider record: its libp2p addresses for bitswap and its gateway as an `/http` multiaddr
 * (`transport-ipfs-gateway-http`), the form stock Helia's trustless-gateway broker and the pinner read.
 */
function gatewayPeer (node: Pick<NodeView, 'peerId' | 'addresses' | 'url'>): RoutingPeer {
  let gateway: string | undefined
  try {
    gateway = uriToMultiaddr(node.url).toString()
  } catch {}
  return gateway == null
    ? { peerId: node.peerId, addrs: node.addresses, protocols: ['transport-bitswap'] }
    : { peerId: node.peerId, addrs: [...node.addresses, gateway], protocols: ['transport-bitswap', 'transport-ipfs-gateway-http'] }
}
