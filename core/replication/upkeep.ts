import { UnderReplicatedError } from './errors.ts'
import { newOrderId } from './delivery.ts'
import { place } from './placement.ts'
import { candidate } from './targets.ts'
import type { ContentIndex } from './content-index.ts'
import type { DagSize } from './dag-size.ts'
import type { OrderDelivery } from './delivery.ts'
import type { ReplicationGoal, ReplicationGoals } from './goals.ts'
import type { NodeRegistry, NodeView } from './registry.ts'
import type { GoalView } from './types.ts'
import type { Logger } from '../logger.ts'

/*
 * Upkeep, the replication service's sweeper (every `sweepMs`): sends the planned retries of failed pins, nudges
 * again nodes that have not taken an order within a few seconds, keeps each root's replication factor as IPFS
 * Cluster repins, and takes up the replications that waited for a rendition when the server stopped.
 */

export interface UpkeepComponents {
  logger: Logger
  index: Pick<ContentIndex, 'get' | 'list' | 'order' | 'planRetry'>
  goals: Pick<ReplicationGoals, 'get' | 'list'>
  nodes: Pick<NodeRegistry, 'list'>
  delivery: Pick<OrderDelivery, 'nudge' | 'nudgedAt'>
  /** The size of a root's DAG in the main server's blocks, when known. */
  size: (cid: string) => Promise<DagSize | undefined>
  /** Takes up waiting replications; answers whether any is left to try again later. */
  resume: () => Promise<boolean>
}

export interface UpkeepInit {
  sweepMs: number
  /** The nodes' heartbeat interval: waiting replications are taken up one beat after start; re-nudges at half. */
  heartbeatMs: number
  /** A node offline this long no longer counts toward a replication factor. */
  repinAfterMs: number
}

export interface Upkeep {
  /** Starts sweeping; time offline counts from now at the earliest. */
  start (): void
  stop (): void
  /** A factor and where it stands. */
  goalView (goal: ReplicationGoal, nodes: NodeView[], now: number): GoalView
  /** The factor kept for `cid` and where it stands, or null. */
  goalOf (cid: string, nodes: NodeView[]): GoalView | null
}

/** Waiting replications that nodes could not take yet are tried again after this. */
const RESUME_AGAIN_MS = 60_000

interface Lost {
  node: NodeView | undefined
  peerId: string
  failed: boolean
}

/** Creates the replication service's sweeper. */
export function createUpkeep (components: UpkeepComponents, init: UpkeepInit): Upkeep {
  return new Sweeper(components, init)
}

class Sweeper implements Upkeep {
  private readonly log: Logger
  private startedAtMs = Number.POSITIVE_INFINITY
  /** When waiting replications are to be taken up again (undefined: none left). */
  private resumeAtMs?: number
  /** Roots whose factor cannot be met now, with the reason (logged once when it starts). */
  private readonly shortOf = new Map<string, string>()
  private sweeper?: NodeJS.Timeout
  private sweeping = false

  constructor (private readonly c: UpkeepComponents, private readonly init: UpkeepInit) {
    this.log = c.logger.child({ name: 'cidcast:replication' })
  }

  start (): void {
    this.startedAtMs = Date.now()
    // after a heartbeat's time, when the nodes have come back (see resumePreparations in requests.ts)
    this.resumeAtMs = this.startedAtMs + this.init.heartbeatMs
    this.sweeper = setInterval(() => { void this.sweep() }, this.init.sweepMs)
    this.sweeper.unref()
  }

  stop (): void {
    clearInterval(this.sweeper)
    this.sweeper = undefined
  }

  goalView (goal: ReplicationGoal, nodes: NodeView[], now: number): GoalView {
    const { holders } = this.allocations(goal.cid, nodes, now)
    const reason = holders.length < goal.min ? this.shortOf.get(goal.cid) ?? `${holders.length} of ${goal.min} replicas; placing more` : null
    return { cid: goal.cid, min: goal.min, max: goal.max, mediaId: goal.mediaId, profile: goal.profile, holders: holders.map(h => h.label).sort(), state: reason == null ? 'met' : 'under-replicated', reason }
  }

  goalOf (cid: string, nodes: NodeView[]): GoalView | null {
    const goal = this.c.goals.get(cid)
    return goal == null ? null : this.goalView(goal, nodes, Date.now())
  }

  /**
   * Who counts toward a root's factor (asked to pin it or holding it unasked, not failed for good, online or not
   * offline for `repinAfterMs`), and the allocations that no longer do. Time offline counts from this service's
   * start at the earliest: after the main server itself was down, nodes get a fair chance to come back.
   */
  private allocations (cid: string, nodes: NodeView[], now: number): { holders: NodeView[], lost: Lost[] } {
    const holders: NodeView[] = []
    const lost: Lost[] = []
    for (const entry of this.c.index.list({ cid })) {
      const held = entry.wanted === 'pin' || (entry.wanted == null && entry.state === 'pinned')
      if (!held) continue
      const node = nodes.find(n => n.peerId === entry.peerId)
      const failed = entry.state === 'failed' && entry.retryAtMs == null
      const seenAt = Math.max(node?.lastSeen == null ? Number.NEGATIVE_INFINITY : Date.parse(node.lastSeen), this.startedAtMs)
      const reachable = node != null && !node.revoked && (node.state === 'online' || now - seenAt < this.init.repinAfterMs)
      if (failed || !reachable) lost.push({ node, peerId: entry.peerId, failed })
      else holders.push(node)
    }
    return { holders, lost }
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
        const entry = await this.c.index.order({ peerId, cid: goal.cid, action: 'unpin', orderId: newOrderId() })
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
      placement = place(goal.cid, candidates, goal, (await this.c.size(goal.cid))?.bytes)
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
      const entry = await this.c.index.order({ peerId: chosen.peerId, cid: goal.cid, action: 'pin', orderId: newOrderId(), mediaId: goal.mediaId, profile: goal.profile })
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
        if (await this.c.resume()) this.resumeAtMs = now + RESUME_AGAIN_MS
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
        const next = await this.c.index.order({ peerId: entry.peerId, cid: entry.cid, action: 'pin', orderId: newOrderId(), retry: true })
        this.log.info({ peer: entry.peerId, cid: entry.cid, attempt: next.attempts }, 'pin retried')
        nudge.add(entry.peerId)
      }
      const again = Math.min(5000, this.init.heartbeatMs / 2)
      for (const entry of waiting) {
        if (now - (entry.orderedAtMs ?? now) >= again && now - (this.c.delivery.nudgedAt(entry.peerId) ?? 0) >= again) nudge.add(entry.peerId)
      }
      this.c.delivery.nudge(nodes, nudge)
    } catch (err) {
      this.log.error({ err }, 'replication sweep failed')
    } finally {
      this.sweeping = false
    }
  }
}
