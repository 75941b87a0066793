import { CID } from 'multiformats/cid'
import { findNode, NodeRevokedError } from '../control/index.ts'
import { InvalidRequestError } from '../errors.ts'
import { newOrderId } from './delivery.ts'
import { PinNotFoundError } from './errors.ts'
import { parseReplicas, place } from './placement.ts'
import { candidate, resolvePinRoots, resolveRoots } from './targets.ts'
import { replicationView } from './views.ts'
import type { ContentIndex, IndexEntry } from './content-index.ts'
import type { DagSize } from './dag-size.ts'
import type { OrderDelivery } from './delivery.ts'
import type { ReplicationGoals } from './goals.ts'
import type { ReplicationFactor } from './placement.ts'
import type { PreparationStore, Preparer, PreparingView } from './prepare.ts'
import type { NodeRegistry, NodeView } from './registry.ts'
import type { Root, RootSources } from './targets.ts'
import type { GoalView, MediaLocations, PinResult, ReplicationFilter, ReplicationRequest } from './types.ts'
import type { Upkeep } from './upkeep.ts'
import type { ReplicationView, ViewSettings } from './views.ts'
import type { Logger } from '../logger.ts'

/*
 * Requests, the replication service's face to users (`POST /api/v1/replications`, `cidcast pin`): turns a pin or
 * unpin into orders in the content index (every placement decided before any order goes out), keeps the
 * replication factor a `replicas` request names, has unfinished renditions made first, and shows the rows, factors
 * and locations asked for.
 */

export interface ReplicationRequestsComponents extends RootSources {
  logger: Logger
  index: Pick<ContentIndex, 'get' | 'list' | 'order' | 'adopt' | 'claim'>
  goals: Pick<ReplicationGoals, 'get' | 'list' | 'set' | 'exclude' | 'remove'>
  nodes: Pick<NodeRegistry, 'list'>
  delivery: Pick<OrderDelivery, 'nudge'>
  upkeep: Pick<Upkeep, 'goalView' | 'goalOf'>
  /** The size of a root's DAG in the main server's blocks, when known. */
  size: (cid: string) => Promise<DagSize | undefined>
  /** Makes unfinished renditions; without it a request for one is refused. */
  preparer?: Preparer
  preparations?: PreparationStore
}

export interface ReplicationRequests {
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
  /** Takes up the replications that waited for a rendition when the server stopped; true when some are left. */
  resumePreparations (): Promise<boolean>
}

/** Creates the request side of the replication service. */
export function createReplicationRequests (components: ReplicationRequestsComponents, settings: ViewSettings): ReplicationRequests {
  return new Requests(components, settings)
}

class Requests implements ReplicationRequests {
  private readonly log: Logger

  constructor (private readonly c: ReplicationRequestsComponents, private readonly settings: ViewSettings) {
    this.log = c.logger.child({ name: 'cidcast:replication' })
  }

  async pin (request: ReplicationRequest): Promise<PinResult> {
    if ((request.node == null) === (request.replicas == null)) throw new InvalidRequestError('name a node, or give replicas MIN[:MAX] to let the server choose (not both)')
    const { roots, unfinished } = await resolvePinRoots(this.c, request, this.c.preparer != null)
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
        preparing.push((this.c.preparer as Preparer).prepare(request.media as string, profile, target, async root => {
          await this.pin({ cid: root, node: request.node, replicas: request.replicas, auto: request.auto })
        }))
      }
    }
    const targets: Array<{ node: NodeView, root: Root, size?: DagSize }> = []
    // every placement is decided before any order goes out: a refusal leaves nothing half done
    for (const root of roots) {
      const size = await this.c.size(root.cid)
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
      if (existing?.wanted === 'pin' && existing.state !== 'failed') {
        if (request.auto === true || !existing.auto) continue
        // asked for by someone where the distributor had placed it: no longer the distributor's to evict; once held,
        // an explicit order also takes it out of the node's cache budget (a root the node holds is confirmed at once)
        if (existing.state !== 'pinned') {
          await this.c.index.claim(node.peerId, root.cid)
          continue
        }
      }
      if (existing?.wanted == null && existing?.state === 'pinned') {
        if (request.auto === true) continue
        await this.c.index.adopt(node.peerId, root.cid, root)
        continue
      }
      const entry = await this.c.index.order({ peerId: node.peerId, cid: root.cid, action: 'pin', orderId: newOrderId(), mediaId: root.mediaId, profile: root.profile, blocksTotal: size?.blocks, bytesTotal: size?.bytes, auto: request.auto === true })
      this.log.info({ node: node.label, cid: root.cid, orderId: entry.orderId }, 'pin ordered')
      nudge.add(node.peerId)
    }
    if (request.replicas != null) {
      for (const root of roots) await this.c.goals.set({ cid: root.cid, min: request.replicas.min, max: request.replicas.max, mediaId: root.mediaId, profile: root.profile })
    } else if (request.auto !== true) {
      // pinned on a node by hand: that node may be chosen for the root again
      for (const { node, root } of targets) await this.c.goals.exclude(root.cid, node.peerId, false)
    }
    this.c.delivery.nudge(nodes, nudge)
    return { items: this.views(targets.map(t => [t.node.peerId, t.root.cid]), nodes), preparing }
  }

  async unpin (request: Omit<ReplicationRequest, 'replicas'>): Promise<ReplicationView[]> {
    const roots = await resolveRoots(this.c, request, false)
    const nodes = await this.c.nodes.list()
    const only = request.node == null ? undefined : findNode(nodes, request.node)
    // the distributor evicts only what it placed itself, and leaves factors alone
    const entries = roots.flatMap(root => this.c.index.list({ cid: root.cid, peerId: only?.peerId })).filter(e => request.auto !== true || (e.auto && e.wanted === 'pin'))
    if (request.auto === true) return await this.orderUnpins(entries, nodes)
    const kept = roots.filter(root => this.c.goals.get(root.cid) != null)
    if (entries.length === 0 && (only != null || kept.length === 0)) {
      const what = roots.length === 0 ? `media ${request.media ?? ''}${request.profile == null ? '' : ` ${request.profile}`} (no rendition of it is finished)` : roots.map(r => r.cid).join(', ')
      throw new PinNotFoundError(`${only == null ? 'no node' : `node ${only.label}`} holds or is ordered to hold ${what}`)
    }
    // unpinned everywhere: the factor goes too; from one node only, it is kept and met with other nodes, never that one
    if (only == null) for (const root of kept) await this.c.goals.remove(root.cid)
    else for (const root of kept) await this.c.goals.exclude(root.cid, only.peerId, true)
    return await this.orderUnpins(entries, nodes)
  }

  private async orderUnpins (entries: IndexEntry[], nodes: NodeView[]): Promise<ReplicationView[]> {
    const nudge = new Set<string>()
    for (const entry of entries) {
      if (entry.wanted === 'unpin' && entry.state === 'unpinning') continue
      const next = await this.c.index.order({ peerId: entry.peerId, cid: entry.cid, action: 'unpin', orderId: newOrderId() })
      this.log.info({ peer: entry.peerId, cid: entry.cid, orderId: next.orderId }, 'unpin ordered')
      nudge.add(entry.peerId)
    }
    this.c.delivery.nudge(nodes, nudge)
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
    return this.c.goals.list().filter(g => cids == null || cids.has(g.cid)).map(goal => this.c.upkeep.goalView(goal, nodes, Date.now()))
  }

  preparing (mediaId?: string): PreparingView[] {
    return this.c.preparer?.list(mediaId) ?? []
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
        goal: r.root == null ? null : this.c.upkeep.goalOf(r.root, nodes),
        locations: this.views(entries.map(e => [e.peerId, e.cid]), nodes)
      })
    }
    return { media: media.id, renditions }
  }

  /**
   * Takes up the replications that waited for a rendition when the server stopped: the rendition is made first
   * again, or the pin ordered at once when it was finished before the stop. Runs from the sweeper a heartbeat after
   * start (nodes are back by then); one the nodes cannot take yet (under-replicated) is tried again a minute later,
   * one that can never be met (the media or the node gone, the node revoked) is dropped with a warning. Answers
   * whether any is left to try again.
   */
  async resumePreparations (): Promise<boolean> {
    if (this.c.preparer == null || this.c.preparations == null) return false
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

  /** The root CIDs a filter names (a CID, or a media's renditions); undefined when it names none (all roots). */
  private async rootsOf (filter: Omit<ReplicationFilter, 'node'>): Promise<Set<string> | undefined> {
    if (filter.cid == null && filter.media == null) return undefined
    return new Set((await resolveRoots(this.c, { cid: filter.cid, media: filter.media }, false)).map(r => r.cid))
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
}
