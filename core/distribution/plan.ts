import type { DemandBoard } from './demand.ts'
import type { DistributionSettings } from '../config/index.ts'

/*
 * The distribution policy (issue 13, items 2 and 3), as one pure function of the network's state and the demand:
 * what to place where and what to evict, each with its rule and score. The main server's distributor builds the
 * state from the registry and the content index and carries the actions out; the simulator builds it from its model
 * and carries them out in memory. Both run this same code.
 *
 * - Factor: a title's decayed plays / `playsPerReplica`, rounded up, clamped to [min, max]; opportunistic: what can be
 *   placed is placed, what cannot is said.
 * - Placement: regions with no copy first (most played first), then nodes whose viewers played the title, then the
 *   most free cache room. A node through which `fallbackViewers` viewers started the title within the window gets it
 *   whatever the factor (up to max).
 * - Room: an automatic copy is made room for by evicting the node's automatic copies of lower value that are older
 *   than the minimum lifetime; value = plays through the node + plays in its region + a tenth of all plays, divided by
 *   the size (`gdsf`) or not (`lfu`). Explicit pins are never touched and never count against the cache budget.
 * - Trim: copies above 1.25 times the factor (and not wanted by their node's own viewers) go, from the fullest node first,
 *   once past their minimum lifetime; a node over its budget (it shrank) evicts its lowest values.
 */

/** A node as the policy sees it. */
export interface PlanNode {
  id: string
  region: string | null
  /** Online, shared, not revoked: it may be given automatic copies. */
  eligible: boolean
  /** Its disk is full: automatic copies may go before their minimum lifetime. */
  diskFull: boolean
  /** Bytes the node gives automatic copies. */
  cacheBytes: number
}

/** What a title is stored as (a rendition root): the unit placed and evicted. */
export interface PlanItem {
  key: string
  title: string
  bytes: number
}

/** A copy a node holds or is fetching. */
export interface PlanHolding {
  node: string
  key: string
  title: string
  bytes: number
  /** Placed by the policy (evictable); false: pinned by someone (never touched). */
  auto: boolean
  /** When it was placed (ms). */
  since: number
}

export interface PlanInput {
  now: number
  nodes: readonly PlanNode[]
  /** The item each demanded title is placed as; titles without one are skipped. */
  items: ReadonlyMap<string, PlanItem>
  holdings: readonly PlanHolding[]
  demand: DemandBoard
}

export type PlanRule = 'demand' | 'fallback' | 'room' | 'over-replicated' | 'over-budget'

/** One thing to do, and why. */
export interface PlanAction {
  kind: 'place' | 'evict'
  node: string
  key: string
  title: string
  bytes: number
  rule: PlanRule
  /** The value the decision weighed (plays, or plays per byte for `gdsf`). */
  score: number
  reason: string
}

/** A title whose factor could not be met, and why. */
export interface PlanShortfall {
  title: string
  key: string
  wanted: number
  holders: number
  reason: string
}

export interface Plan {
  actions: PlanAction[]
  shortfalls: PlanShortfall[]
}

/** Copies are trimmed only above this many times what demand asks (1.25: the simulator's best of 1, 1.25, 1.5, 2). */
const TRIM_SLACK = 1.25

/** Stops looking for room once this many titles in a row found none (the rest are played less). */
const GIVE_UP_AFTER = 50

/** What the policy does now, given the state. */
export function planDistribution (input: PlanInput, settings: DistributionSettings): Plan {
  return new Planner(input, settings).run()
}

class Planner {
  private readonly now: number
  private readonly nodes = new Map<string, PlanNode>()
  private readonly byRegion = new Map<string | null, PlanNode[]>()
  /** node -> key -> holding (what it holds after the actions so far) */
  private readonly held = new Map<string, Map<string, PlanHolding>>()
  /** key -> nodes holding it */
  private readonly holders = new Map<string, Set<string>>()
  private readonly autoUsed = new Map<string, number>()
  /** Each node's eviction order, computed once per change of what it holds (values do not move within a plan). */
  private readonly orders = new Map<string, Array<{ holding: PlanHolding, value: number }>>()
  private readonly actions: PlanAction[] = []
  private readonly shortfalls: PlanShortfall[] = []
  private readonly minLifetimeMs: number
  private readonly windowMs: number

  constructor (private readonly input: PlanInput, private readonly s: DistributionSettings) {
    this.now = input.now
    this.minLifetimeMs = s.minLifetimeMinutes * 60_000
    this.windowMs = s.fallbackWindowMinutes * 60_000
    for (const node of input.nodes) {
      this.nodes.set(node.id, node)
      const list = this.byRegion.get(node.region) ?? []
      list.push(node)
      this.byRegion.set(node.region, list)
      this.held.set(node.id, new Map())
      this.autoUsed.set(node.id, 0)
    }
    for (const h of input.holdings) {
      if (!this.nodes.has(h.node)) continue
      this.add(h, false)
    }
  }

  run (): Plan {
    const titles = this.input.demand.titles(this.now, Math.min(this.s.minPlays, 0.01))
    let misses = 0
    for (const { title, plays } of titles) {
      const item = this.input.items.get(title)
      if (item == null) continue
      let placed = this.placeForViewers(item)
      if (plays >= this.s.minPlays) placed = this.placeForDemand(item, plays) || placed
      misses = placed || this.met(item, plays) ? 0 : misses + 1
      if (misses >= GIVE_UP_AFTER) break
    }
    this.trimOverReplicated(titles)
    this.enforceBudgets()
    return { actions: this.actions, shortfalls: this.shortfalls }
  }

  /** The factor a title's plays ask for. */
  private factor (plays: number): number {
    return Math.max(this.s.min, Math.min(this.s.max, Math.ceil(plays / this.s.playsPerReplica)))
  }

  private met (item: PlanItem, plays: number): boolean {
    return (this.holders.get(item.key)?.size ?? 0) >= this.factor(plays)
  }

  /** The fallback rule: nodes through which enough viewers started the title lately get it. */
  private placeForViewers (item: PlanItem): boolean {
    let placed = false
    for (const id of this.input.demand.startedThrough(item.title)) {
      const node = this.nodes.get(id)
      if (node == null || !node.eligible || this.holds(id, item.key)) continue
      if ((this.holders.get(item.key)?.size ?? 0) >= this.s.max) break
      const viewers = this.input.demand.viewersThrough(id, item.title, this.now)
      if (viewers < this.s.fallbackViewers) continue
      const why = `${viewers} viewers started it through this node within ${this.s.fallbackWindowMinutes} min`
      if (this.tryPlace(node, item, 'fallback', why)) placed = true
    }
    return placed
  }

  /** Places copies until the factor is met or no node can take one. */
  private placeForDemand (item: PlanItem, plays: number): boolean {
    const wanted = this.factor(plays)
    const tried = new Set<string>()
    let placed = false
    while ((this.holders.get(item.key)?.size ?? 0) < wanted) {
      const node = this.bestCandidate(item, tried)
      if (node == null) {
        const holders = this.holders.get(item.key)?.size ?? 0
        this.shortfalls.push({ title: item.title, key: item.key, wanted, holders, reason: `${wanted} copies wanted for ${plays.toFixed(1)} plays, ${holders} placed: no other node has room for ${mib(item.bytes)} among copies it values less` })
        break
      }
      tried.add(node.id)
      if (this.tryPlace(node, item, 'demand', `${plays.toFixed(1)} plays (half-life ${this.s.halfLifeHours} h) ask ${wanted} copies`)) placed = true
    }
    return placed
  }

  /** Regions with no copy first (most played first), then the node's own plays, then free room. */
  private bestCandidate (item: PlanItem, tried: Set<string>): PlanNode | undefined {
    const covered = new Set<string | null>()
    for (const id of this.holders.get(item.key) ?? []) covered.add(this.nodes.get(id)?.region ?? null)
    const regions = [...this.byRegion.keys()].map(region => ({ region, covered: covered.has(region), plays: this.input.demand.regionPlays(region, item.title, this.now) }))
    regions.sort((a, b) => Number(a.covered) - Number(b.covered) || b.plays - a.plays)
    for (const { region } of regions) {
      let best: PlanNode | undefined
      let bestPlays = -1
      let bestRoom = -Infinity
      for (const node of this.byRegion.get(region) ?? []) {
        if (!node.eligible || tried.has(node.id) || this.holds(node.id, item.key)) continue
        const room = this.room(node)
        if (room < item.bytes && this.evictable(node, item) < item.bytes - room) continue
        const plays = this.input.demand.nodePlays(node.id, item.title, this.now)
        if (plays > bestPlays || (plays === bestPlays && room > bestRoom)) {
          best = node
          bestPlays = plays
          bestRoom = room
        }
      }
      if (best != null) return best
    }
    return undefined
  }

  /** Places `item` on `node`, evicting lower-valued automatic copies for room; false when there is no room. */
  private tryPlace (node: PlanNode, item: PlanItem, rule: PlanRule, why: string): boolean {
    const value = this.value(node, item.title, item.bytes)
    const need = item.bytes - this.room(node)
    if (need > 0) {
      const victims = this.victims(node, need, value)
      if (victims == null) return false
      for (const v of victims) this.evict(v, 'room', this.value(node, v.title, v.bytes), `room for ${item.title} (${mib(item.bytes)}), worth more here`)
    }
    this.add({ node: node.id, key: item.key, title: item.title, bytes: item.bytes, auto: true, since: this.now })
    this.actions.push({ kind: 'place', node: node.id, key: item.key, title: item.title, bytes: item.bytes, rule, score: value, reason: why })
    return true
  }

  /** The node's automatic copies to evict, lowest value first, to free `need` bytes for something worth `above`. */
  private victims (node: PlanNode, need: number, above: number): PlanHolding[] | undefined {
    const out: PlanHolding[] = []
    let freed = 0
    for (const { holding, value } of this.evictionOrder(node)) {
      if (value >= above) break
      out.push(holding)
      freed += holding.bytes
      if (freed >= need) return out
    }
    return undefined
  }

  /** Bytes the node could free for `item` (evictable copies worth less). */
  private evictable (node: PlanNode, item: PlanItem): number {
    const above = this.value(node, item.title, item.bytes)
    let bytes = 0
    for (const { holding, value } of this.evictionOrder(node)) {
      if (value >= above) break
      bytes += holding.bytes
    }
    return bytes
  }

  /** The node's evictable automatic copies, lowest value first. */
  private evictionOrder (node: PlanNode): Array<{ holding: PlanHolding, value: number }> {
    const cached = this.orders.get(node.id)
    if (cached != null) return cached
    const out: Array<{ holding: PlanHolding, value: number }> = []
    for (const h of this.held.get(node.id)?.values() ?? []) {
      if (!h.auto || !this.pastLifetime(node, h)) continue
      if ((this.holders.get(h.key)?.size ?? 0) <= this.s.min) continue
      out.push({ holding: h, value: this.value(node, h.title, h.bytes) })
    }
    out.sort((a, b) => a.value - b.value || a.holding.since - b.holding.since)
    this.orders.set(node.id, out)
    return out
  }

  private pastLifetime (node: PlanNode, h: PlanHolding): boolean {
    return node.diskFull || this.now - h.since >= this.minLifetimeMs
  }

  /** Copies above the factor go from the fullest node first, unless their node's own viewers want them. */
  private trimOverReplicated (titles: Array<{ title: string, plays: number }>): void {
    const playsOf = new Map(titles.map(t => [t.title, t.plays]))
    for (const [key, nodes] of this.holders) {
      if (nodes.size <= this.s.min) continue
      const first = nodes.values().next()
      const sample = first.done === true ? undefined : this.held.get(first.value)?.get(key)
      if (sample == null) continue
      const plays = playsOf.get(sample.title) ?? 0
      const wanted = this.factor(plays)
      // a band above the factor stays: demand that swings with the time of day would otherwise have the same copies
      // placed every evening and trimmed every night; a title nobody plays any more (factor 0) gives all its room back
      const keep = Math.max(this.s.min, Math.min(this.s.max, TRIM_SLACK * Math.ceil(plays / this.s.playsPerReplica)))
      if (nodes.size <= keep) continue
      const autos = [...nodes].map(id => ({ node: this.nodes.get(id), h: this.held.get(id)?.get(key) }))
        .filter((x): x is { node: PlanNode, h: PlanHolding } => x.node != null && x.h?.auto === true && this.pastLifetime(x.node, x.h))
        .filter(x => this.input.demand.viewersThrough(x.node.id, x.h.title, this.now) < this.s.fallbackViewers)
        .sort((a, b) => this.fill(b.node) - this.fill(a.node))
      for (const { node, h } of autos) {
        if ((this.holders.get(key)?.size ?? 0) <= keep) break
        this.evict(h, 'over-replicated', this.value(node, h.title, h.bytes), `${nodes.size} copies where ${plays.toFixed(1)} plays ask ${wanted} (trimmed above ${keep}); this node is the fullest`)
      }
    }
  }

  /** A node whose automatic copies outgrew its budget (it shrank) lets its lowest values go. */
  private enforceBudgets (): void {
    for (const node of this.nodes.values()) {
      if (this.room(node) >= 0) continue
      for (const { holding, value } of this.evictionOrder(node)) {
        if (this.room(node) >= 0) break
        this.evict(holding, 'over-budget', value, `the node's automatic copies (${mib(this.autoUsed.get(node.id) ?? 0)}) are over its budget (${mib(node.cacheBytes)})`)
      }
    }
  }

  /** What a copy of `title` is worth on `node`. */
  private value (node: PlanNode, title: string, bytes: number): number {
    const d = this.input.demand
    const plays = d.nodePlays(node.id, title, this.now) + d.regionPlays(node.region, title, this.now) + d.plays(title, this.now) / 10
    return this.s.evictionValue === 'gdsf' ? plays / Math.max(bytes, 1) : plays
  }

  private room (node: PlanNode): number {
    return node.cacheBytes - (this.autoUsed.get(node.id) ?? 0)
  }

  private fill (node: PlanNode): number {
    return node.cacheBytes > 0 ? (this.autoUsed.get(node.id) ?? 0) / node.cacheBytes : Infinity
  }

  /** A copy of `key` came or went: eviction orders that list it (the min rule counts its copies) are stale. */
  private changed (key: string): void {
    for (const node of this.holders.get(key) ?? []) this.orders.delete(node)
  }

  private holds (node: string, key: string): boolean {
    return this.held.get(node)?.has(key) === true
  }

  /** Records a copy; `stale`: eviction orders computed so far may list it (false while the state is read in: none are). */
  private add (h: PlanHolding, stale = true): void {
    this.held.get(h.node)?.set(h.key, h)
    let set = this.holders.get(h.key)
    if (set == null) this.holders.set(h.key, set = new Set())
    set.add(h.node)
    if (stale) this.changed(h.key)
    if (h.auto) this.autoUsed.set(h.node, (this.autoUsed.get(h.node) ?? 0) + h.bytes)
  }

  private evict (h: PlanHolding, rule: PlanRule, score: number, reason: string): void {
    this.changed(h.key)
    this.held.get(h.node)?.delete(h.key)
    this.holders.get(h.key)?.delete(h.node)
    if (h.auto) this.autoUsed.set(h.node, (this.autoUsed.get(h.node) ?? 0) - h.bytes)
    this.actions.push({ kind: 'evict', node: h.node, key: h.key, title: h.title, bytes: h.bytes, rule, score, reason })
  }
}

function mib (bytes: number): string {
  return `${(bytes / 2 ** 20).toFixed(1)} MiB`
}
