import { systemClock } from '../clock.ts'
import { createContinuations } from './continuations.ts'
import { createDemandBoard } from './demand.ts'
import { planDistribution } from './plan.ts'
import { crossedMarks, precacheSegments, precacheWanted } from './predict.ts'
import type { PrecacheMark } from './predict.ts'
import type { Continuations } from './continuations.ts'
import type { DemandBoard } from './demand.ts'
import type { PlanAction, PlanHolding, PlanItem, PlanNode, PlanShortfall } from './plan.ts'
import type { Clock } from '../clock.ts'
import type { DistributionSettings } from '../config/index.ts'
import type { NodeCapacity, NodeHealth, PrefetchOrder } from '../control/index.ts'
import type { Logger } from '../logger.ts'

/*
 * The distributor (issue 13) on the main server: takes the demand it sees (play URLs asked, progress, what nodes
 * report serving), runs the policy (plan.ts) every `evaluateSeconds` and soon after a play, and carries its actions
 * out through the replication service as automatic pins and unpins (content index rows marked `auto`); pre-caches
 * the next episode on the node a viewer uses. It keeps the last decisions, with their reasons, for the API.
 */

/** A node as the registry shows it (the fields the distributor reads). */
export interface DistributorNode {
  peerId: string
  label: string
  mode: 'shared' | 'local'
  state: 'online' | 'offline'
  revoked: boolean
  region?: string | null
  /** ISO time of its last registration or heartbeat. */
  lastSeen?: string | null
  capacity: NodeCapacity & { cacheBytes?: number }
  health: Pick<NodeHealth, 'full'> | null
}

/** A content index row (the fields the distributor reads). */
export interface DistributorRow {
  peerId: string
  cid: string
  state: string
  wanted: 'pin' | 'unpin' | null
  auto: boolean
  mediaId: string | null
  bytesTotal: number | null
  orderedAtMs: number | null
  createdAtMs: number
}

/** A media as the library shows it (the fields the distributor reads). */
export interface DistributorMedia {
  id: string
  durationSeconds: number
  renditions: ReadonlyArray<{ profile: string, state: string, root: string | null, height?: number }>
}

export interface DistributorComponents {
  logger: Logger
  clock?: Clock
  nodes: () => Promise<DistributorNode[]>
  rows: () => DistributorRow[]
  /** A media, or undefined when it is gone. */
  media: (id: string) => Promise<DistributorMedia | undefined>
  /** Bytes of a DAG the main server holds. */
  size: (cid: string) => Promise<number | undefined>
  /** Orders an automatic pin of a root on a node (the replication service, `auto: true`). */
  pin: (request: { cid: string, node: string }) => Promise<void>
  /** Orders an automatic unpin (touches only automatic rows). */
  unpin: (request: { cid: string, node: string }) => Promise<void>
  /** The media to watch after this one (next episode, sequel), if any, and its kind (`episode`, `movie`...). */
  next: (mediaId: string) => Promise<{ id: string, kind: string } | undefined>
  /** Makes the node heartbeat now (it has a pre-cache order waiting). */
  nudge: (peerId: string) => void
  /**
   * A node offline this long no longer counts as holding what it held: its share is placed again (the replication
   * factors' `repinAfterSeconds`). @default 300000
   */
  lostAfterMs?: number
}

/** One decision, as the API shows it. */
export interface DistributionDecision {
  at: string
  kind: 'place' | 'evict' | 'precache'
  node: string
  mediaId: string
  cid: string | null
  rule: PlanAction['rule'] | 'next-episode'
  score: number
  reason: string
}

export interface DistributionStatus {
  settings: DistributionSettings
  lastRunAt: string | null
  decisions: DistributionDecision[]
  shortfalls: PlanShortfall[]
}

export interface DistributionCounters {
  /** Automatic placements and evictions carried out, by rule. */
  placements: Record<string, number>
  evictions: Record<string, number>
  /** Pre-cache orders given to nodes. */
  precache: number
  /** Plays counted (the same viewer, media and node within 30 min count once), here or relayed from another main server. */
  plays: number
  /** Bytes each node reported serving, and how many of them came from its own blocks (its hit ratio). */
  served: Map<string, { bytes: number, local: number }>
}

export interface Distributor {
  /** A viewer asked to play a media through a node (its peer ID) or the main server (null). */
  play (viewer: string, mediaId: string, node: string | null): void
  /** A viewer's position in a media moved (the progress API); resolves once any pre-cache decision it led to is made. */
  progress (viewer: string, mediaId: string, positionSeconds: number, durationSeconds: number): Promise<void>
  /** Bytes a node served of a root since its last beat (`local`: of them, from its own blocks). */
  served (peerId: string, reports: ReadonlyArray<{ root?: string, bytes: number, local?: number }>): void
  /** Pre-cache orders waiting for a node (taken: each is given once). */
  takePrefetch (peerId: string): PrefetchOrder[]
  /** Nodes came, went or changed: the policy runs again soon (a node that joins takes its share). */
  networkChanged (): void
  /** Runs the policy now (tests, and soon after a play). */
  evaluate (): Promise<void>
  status (): DistributionStatus
  /** Counts since start, for `/metrics`. */
  counters (): DistributionCounters
  start (): void
  stop (): Promise<void>
}

/** The segment grid of every rendition (core/media's 2 s keyframe grid). */
const SEGMENT_SECONDS = 2
/** A play URL asked again by the same viewer for the same media and node within this time is the same play. */
const SAME_PLAY_MS = 30 * 60_000
/** How long the distributor remembers where a viewer is in a title (the continuation window: a day). */
const WATCHING_MS = 24 * 3_600_000
const KEPT_DECISIONS = 200
/**
 * A play is acted on this soon (plays come in bursts: one run takes them all). A play that gives a node the viewers
 * the fallback rule asks for is acted on at once: it places a copy whatever the rest of the burst does, and its
 * viewers are streaming by fallback meanwhile (bench d1: 1335 ms from that play to the copy pinned with the wait, 282
 * ms without, against 294-321 ms for a manual pin).
 */
export const AFTER_PLAY_MS = 1000

/** Creates the distributor; `start()` begins the periodic runs. */
export function createDistributor (components: DistributorComponents, settings: DistributionSettings): Distributor {
  return new MainDistributor(components, settings)
}

class MainDistributor implements Distributor {
  private readonly log: Logger
  private readonly clock: Clock
  private readonly board: DemandBoard
  /** How often viewers go on to the next episode / sequel: pre-caching where few do is waste (precacheMinShare). */
  private readonly continuations: Continuations
  /** viewer + media + node -> when its play URL was last asked */
  private readonly lastPlay = new Map<string, number>()
  /** viewer + media -> where they watch it, how far they got, and whether its next title was ordered for them */
  private readonly watching = new Map<string, { node: string | null, position: number | null, at: number, ordered: boolean }>()
  private readonly prefetch = new Map<string, PrefetchOrder[]>()
  private readonly decisions: DistributionDecision[] = []
  private shortfalls: PlanShortfall[] = []
  private regions = new Map<string, string | null>()
  private lastRunAt: number | null = null
  private running: Promise<void> | null = null
  private again = false
  private timer: ReturnType<typeof setInterval> | undefined
  private soon: ReturnType<typeof setTimeout> | undefined
  /** When `soon` fires (epoch ms, the timer's own clock). */
  private soonAt = 0
  private stopped = false
  private readonly counts: DistributionCounters = { placements: {}, evictions: {}, precache: 0, plays: 0, served: new Map() }

  constructor (private readonly c: DistributorComponents, private readonly settings: DistributionSettings) {
    this.log = c.logger.child({ name: 'cidcast:distributor' })
    this.clock = c.clock ?? systemClock
    // a viewer who starts the next title within a day of crossing counts as going on
    this.continuations = createContinuations({ halfLifeMs: settings.halfLifeHours * 3_600_000, windowMs: WATCHING_MS })
    this.board = createDemandBoard({ halfLifeMs: settings.halfLifeHours * 3_600_000, viewerWindowMs: settings.fallbackWindowMinutes * 60_000 })
  }

  play (viewer: string, mediaId: string, node: string | null): void {
    const now = this.clock.now()
    this.continuations.started(viewer, mediaId, now)
    const watching = this.watching.get(viewer + '\n' + mediaId)
    if (watching == null) this.watching.set(viewer + '\n' + mediaId, { node, position: null, at: now, ordered: false })
    else Object.assign(watching, { node, at: now })
    const key = `${viewer}\n${mediaId}\n${node ?? ''}`
    const last = this.lastPlay.get(key)
    this.lastPlay.set(key, now)
    if (last != null && now - last < SAME_PLAY_MS) return
    this.counts.plays++
    const viewersBefore = node == null ? 0 : this.board.viewersThrough(node, mediaId, now)
    this.board.play({ viewer, title: mediaId, node, region: node == null ? null : this.regions.get(node) ?? null, at: now })
    const crossed = node != null && this.settings.auto && viewersBefore < this.settings.fallbackViewers &&
      this.board.viewersThrough(node, mediaId, now) >= this.settings.fallbackViewers
    this.schedule(crossed ? 0 : AFTER_PLAY_MS)
  }

  async progress (viewer: string, mediaId: string, positionSeconds: number, durationSeconds: number): Promise<void> {
    if (!this.settings.auto) return
    const now = this.clock.now()
    const key = viewer + '\n' + mediaId
    let watching = this.watching.get(key)
    if (watching == null) this.watching.set(key, watching = { node: null, position: null, at: now, ordered: false })
    const before = watching.position
    watching.position = positionSeconds
    watching.at = now
    const marks = crossedMarks(before, positionSeconds, durationSeconds, this.settings)
    if (marks.length === 0 || watching.node == null || this.settings.precacheSeconds <= 0) return
    await this.precacheNext(viewer, mediaId, watching, marks).catch(err => { this.log.warn({ err, mediaId }, 'cannot pre-cache the next title') })
  }

  served (peerId: string, reports: ReadonlyArray<{ root?: string, bytes: number, local?: number }>): void {
    const at = this.clock.now()
    const total = this.counts.served.get(peerId) ?? { bytes: 0, local: 0 }
    for (const r of reports) {
      total.bytes += r.bytes
      total.local += r.local ?? 0
      if (r.root != null) this.board.served({ node: peerId, key: r.root, bytes: r.bytes, at })
    }
    this.counts.served.set(peerId, total)
  }

  counters (): DistributionCounters {
    return this.counts
  }

  networkChanged (): void {
    this.schedule(AFTER_PLAY_MS)
  }

  takePrefetch (peerId: string): PrefetchOrder[] {
    const orders = this.prefetch.get(peerId) ?? []
    this.prefetch.delete(peerId)
    return orders
  }

  start (): void {
    // started again when this main server takes the lead again (issue 15)
    this.stopped = false
    clearInterval(this.timer)
    this.timer = setInterval(() => { this.schedule(0) }, this.settings.evaluateSeconds * 1000)
    this.timer.unref?.()
  }

  async stop (): Promise<void> {
    this.stopped = true
    clearInterval(this.timer)
    clearTimeout(this.soon)
    await this.running?.catch(() => {})
  }

  status (): DistributionStatus {
    return { settings: this.settings, lastRunAt: this.lastRunAt == null ? null : new Date(this.lastRunAt).toISOString(), decisions: [...this.decisions].reverse(), shortfalls: this.shortfalls }
  }

  async evaluate (): Promise<void> {
    if (this.running != null) {
      this.again = true
      return await this.running
    }
    this.running = this.run().finally(() => { this.running = null })
    await this.running
    if (this.again && !this.stopped) {
      this.again = false
      await this.evaluate()
    }
  }

  /** Runs the policy in `delay` ms, or sooner if a run is already due sooner. */
  private schedule (delay: number): void {
    if (this.stopped) return
    const due = Date.now() + delay
    if (this.soon != null) {
      if (this.soonAt <= due) return
      clearTimeout(this.soon)
    }
    this.soonAt = due
    this.soon = setTimeout(() => {
      this.soon = undefined
      void this.evaluate().catch(err => { this.log.warn({ err }, 'distribution run failed; the next one tries again') })
    }, delay)
    this.soon.unref?.()
  }

  private async run (): Promise<void> {
    const now = this.clock.now()
    const nodes = await this.c.nodes()
    this.regions = new Map(nodes.map(n => [n.peerId, n.region ?? null]))
    const rows = this.c.rows()
    const planNodes: PlanNode[] = nodes.map(n => ({
      id: n.peerId,
      region: n.region ?? null,
      eligible: this.settings.auto && n.mode === 'shared' && n.state === 'online' && !n.revoked,
      diskFull: n.health?.full === true,
      cacheBytes: cacheBudget(n)
    }))
    // a node gone longer than the grace period holds nothing the plan counts on: its share goes elsewhere
    const lostAfter = this.c.lostAfterMs ?? 300_000
    const lost = new Set(nodes.filter(n => n.revoked || (n.state === 'offline' && now - Date.parse(n.lastSeen ?? '') > lostAfter)).map(n => n.peerId))
    const holdings: PlanHolding[] = []
    const titleOf = new Map<string, string>()
    for (const row of rows) {
      const held = (row.wanted === 'pin' && row.state !== 'failed') || (row.wanted == null && row.state === 'pinned')
      if (!held || lost.has(row.peerId)) continue
      const title = row.mediaId ?? row.cid
      titleOf.set(row.cid, title)
      holdings.push({ node: row.peerId, key: row.cid, title, bytes: row.bytesTotal ?? await this.c.size(row.cid) ?? 0, auto: row.auto && row.wanted === 'pin', since: row.orderedAtMs ?? row.createdAtMs })
    }
    const items = new Map<string, PlanItem>()
    for (const { title } of this.board.titles(now, 0.01)) {
      const item = await this.itemOf(title, nodes)
      if (item != null) items.set(title, item)
    }
    const plan = planDistribution({ now, nodes: planNodes, items, holdings, demand: this.board }, this.settings)
    this.shortfalls = plan.shortfalls
    const labels = new Map(nodes.map(n => [n.peerId, n.label]))
    // evictions first: they make the room the placements were planned into
    for (const action of [...plan.actions.filter(a => a.kind === 'evict'), ...plan.actions.filter(a => a.kind === 'place')]) {
      try {
        if (action.kind === 'place') await this.c.pin({ cid: action.key, node: action.node })
        else await this.c.unpin({ cid: action.key, node: action.node })
        const tally = action.kind === 'place' ? this.counts.placements : this.counts.evictions
        tally[action.rule] = (tally[action.rule] ?? 0) + 1
        this.remember({ at: new Date(now).toISOString(), kind: action.kind, node: labels.get(action.node) ?? action.node, mediaId: action.title, cid: action.key, rule: action.rule, score: action.score, reason: action.reason })
        this.log.info({ node: labels.get(action.node), cid: action.key, media: action.title, rule: action.rule, reason: action.reason }, action.kind === 'place' ? 'placed automatically' : 'evicted automatically')
      } catch (err) {
        this.log.warn({ err, node: labels.get(action.node), cid: action.key, kind: action.kind }, 'an automatic placement or eviction was refused')
      }
    }
    this.board.prune(now)
    this.continuations.prune(now)
    for (const [key, at] of this.lastPlay) if (now - at > SAME_PLAY_MS) this.lastPlay.delete(key)
    for (const [key, w] of this.watching) if (now - w.at > WATCHING_MS) this.watching.delete(key)
    this.lastRunAt = now
  }

  /** The rendition a title is placed as: the one its viewers were served most, else its largest finished one. */
  private async itemOf (title: string, nodes: readonly DistributorNode[]): Promise<PlanItem | undefined> {
    const media = await this.c.media(title)
    if (media == null) return undefined
    const finished = media.renditions.filter(r => r.state === 'complete' && r.root != null)
    if (finished.length === 0) return undefined
    const now = this.clock.now()
    const servedOf = (root: string): number => nodes.reduce((sum, n) => sum + this.board.servedOn(n.peerId, root, now), 0)
    const ranked = finished.map(r => ({ r, served: servedOf(r.root as string) })).sort((a, b) => b.served - a.served || (b.r.height ?? 0) - (a.r.height ?? 0))
    const root = ranked[0]?.r.root as string
    const bytes = await this.c.size(root)
    return bytes == null ? undefined : { key: root, title, bytes }
  }

  /** Orders the first `precacheSeconds` of the next title on the viewer's node, where enough viewers past these marks go on. */
  private async precacheNext (viewer: string, mediaId: string, watching: { node: string | null, ordered: boolean }, marks: PrecacheMark[]): Promise<void> {
    const node = watching.node as string
    const found = await this.c.next(mediaId)
    if (found == null) return
    const nextId = found.id
    // learned per kind of next title, as the simulator showed: viewers go on to the next episode far more than to a sequel
    const kind = found.kind === 'episode' ? 'next-episode' : 'sequel'
    const now = this.clock.now()
    let wanted: { mark: PrecacheMark, share: number } | undefined
    for (const mark of marks) {
      // the share before this crossing: a first viewer is given the prior, not judged by itself
      const share = this.continuations.share(`${kind}@${mark}`, now)
      this.continuations.crossed(viewer, `${kind}@${mark}`, nextId, now)
      if (wanted == null && precacheWanted(mark, share, this.settings)) wanted = { mark, share }
    }
    if (wanted == null || watching.ordered) {
      if (wanted == null) this.log.debug({ mediaId, next: nextId, kind, marks }, 'too few viewers go on to this kind of next title from here: not pre-cached')
      return
    }
    watching.ordered = true
    const { mark, share } = wanted
    const at = mark === 'early' ? this.settings.precacheAt : this.settings.precacheLateAt
    const [current, next] = await Promise.all([this.c.media(mediaId), this.c.media(nextId)])
    if (next == null || next.renditions.length === 0) return
    // the profile being watched, or the nearest the next title has
    const watched = current?.renditions.find(r => r.state === 'complete')?.profile
    const profile = next.renditions.find(r => r.profile === watched)?.profile ?? next.renditions[0]?.profile as string
    const segments = Math.min(precacheSegments(this.settings.precacheSeconds, SEGMENT_SECONDS), Math.ceil(next.durationSeconds / SEGMENT_SECONDS))
    const order: PrefetchOrder = { id: nextId, profile, segments }
    const waiting = this.prefetch.get(node) ?? []
    if (!waiting.some(o => o.id === nextId && o.profile === profile)) waiting.push(order)
    this.prefetch.set(node, waiting)
    this.c.nudge(node)
    this.counts.precache++
    const label = (await this.c.nodes()).find(n => n.peerId === node)?.label ?? node
    this.remember({ at: new Date(this.clock.now()).toISOString(), kind: 'precache', node: label, mediaId: nextId, cid: null, rule: 'next-episode', score: at, reason: `a viewer passed ${Math.round(at * 100)}% of ${mediaId}: the first ${segments * SEGMENT_SECONDS} s of ${nextId} (${profile}) go to the node they watch on (${Math.round(share * 100)}% of viewers past that point go on to the ${kind === 'sequel' ? 'sequel' : 'next episode'})` })
  }

  private remember (decision: DistributionDecision): void {
    this.decisions.push(decision)
    if (this.decisions.length > KEPT_DECISIONS) this.decisions.splice(0, this.decisions.length - KEPT_DECISIONS)
  }
}

/** What a node gives automatic copies: what it says, else half its quota. */
function cacheBudget (node: DistributorNode): number {
  const said = node.capacity.cacheBytes
  if (typeof said === 'number' && said >= 0) return said
  return Math.floor(node.capacity.quotaBytes / 2)
}
