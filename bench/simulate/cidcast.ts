import { createContinuations, createDemandBoard, crossedMarks, planDistribution, precacheSegments, precacheWanted } from '../../core/distribution/index.ts'
import { SEGMENT_SECONDS } from '../../core/media/index.ts'
import { Meter } from './metrics.ts'
import { NodeCache } from './node-cache.ts'
import { LAST, START } from './trace.ts'
import { CHUNK_BYTES, online } from './world.ts'
import type { DistributionSettings } from '../../core/config/index.ts'
import type { PlanHolding, PlanItem, PlanNode } from '../../core/distribution/index.ts'
import type { PolicyResult } from './metrics.ts'
import type { Trace } from './trace.ts'
import type { World } from './world.ts'

/*
 * cidcast's own policy, replayed: the real demand board gets a `play` for every title a viewer starts through a
 * node, the real planner runs every `evaluateSeconds` of simulated time and its actions are carried out (a place
 * fetches the chunks the node lacks from a peer holding the title when one is online, else from the origin; an evict
 * frees them), and each node does what a real node does on its own: serves a miss from a peer holding the title or
 * else from the origin, keeps what it served in the room its automatic copies leave (NodeCache), reads a few
 * segments ahead on a fallback stream, and pre-caches the start of the next episode / sequel when a viewer crosses
 * a mark of the title (crossedMarks, precacheWanted, precacheSegments).
 */

/** Segments a node fetches ahead of the player on a fallback stream. */
const READ_AHEAD_SEGMENTS = 3
/** How long a node holds the copies of a node that went away before the policy re-places them elsewhere. */
const GRACE_MS = 10 * 60_000
/** A pre-cached chunk nobody came for within this time is dropped first. */
const PRECACHE_STALE_MS = 60 * 60_000
/** Share of a node's cache it gives automatic copies (the planner's budget). */
const AUTO_SHARE = 0.8
/** A viewer's start of the next title within this time of crossing the threshold counts as going on. */
const CONTINUE_WINDOW_MS = 60 * 60_000

/** Replays the trace under the real policy with `settings`. */
export function runCidcast (world: World, trace: Trace, settings: DistributionSettings): PolicyResult {
  return new Replay(world, trace, settings).run()
}

class Replay {
  private readonly meter: Meter
  private readonly board
  private readonly continuations
  private readonly kindOf: string[]
  private prefetchSkipped = 0
  private readonly caches: NodeCache[]
  /** node -> title -> its automatic copy */
  private readonly auto: Array<Map<number, PlanHolding>>
  private readonly autoChunks: Int32Array
  /** title -> nodes with an automatic copy */
  private readonly holders: Array<Set<number>>
  private readonly planNodes: PlanNode[]
  private readonly items = new Map<string, PlanItem>()
  private readonly titleIndex = new Map<string, number>()
  private readonly downSince: Float64Array
  private placements = 0
  private placedBytes = 0
  private autoEvictions = 0
  private keptEvictions = 0
  private prefetchBytes = 0
  private prefetchHitBytes = 0
  private prefetchWasteBytes = 0
  private readAheadWasteBytes = 0
  private planMs = 0
  private plans = 0
  private shortfalls = 0
  private readonly rules = new Map<string, number>()

  constructor (private readonly world: World, private readonly trace: Trace, private readonly s: DistributionSettings) {
    const n = world.nodes.length
    this.meter = new Meter('cidcast', world.init.days * 24)
    this.board = createDemandBoard({ halfLifeMs: s.halfLifeHours * 3_600_000, viewerWindowMs: s.fallbackWindowMinutes * 60_000 })
    this.continuations = createContinuations({ halfLifeMs: s.halfLifeHours * 3_600_000, windowMs: CONTINUE_WINDOW_MS })
    this.caches = world.nodes.map(() => new NodeCache(s.halfLifeHours * 3_600_000, PRECACHE_STALE_MS))
    this.auto = world.nodes.map(() => new Map())
    this.autoChunks = new Int32Array(n)
    this.downSince = new Float64Array(n).fill(-1)
    this.holders = Array.from({ length: world.catalog.duration.length }, () => new Set())
    // the node gives automatic copies most of its cache, and keeps the rest for what it serves by fallback and pre-caches
    this.planNodes = world.nodes.map(node => ({ id: node.id, region: world.regionIds[node.region], eligible: true, diskFull: false, cacheBytes: Math.floor(node.cacheChunks * AUTO_SHARE) * CHUNK_BYTES }))
    this.kindOf = Array.from({ length: world.catalog.duration.length }, () => 'sequel')
    for (const work of world.catalog.works) if (work.kind === 'series') for (const t of work.titles) this.kindOf[t] = 'next-episode'
    world.catalog.titleIds.forEach((id, t) => {
      this.items.set(id, { key: `root-${t}`, title: id, bytes: world.catalog.bytes[t] })
      this.titleIndex.set(id, t)
    })
  }

  run (): PolicyResult {
    const { trace } = this
    const stepMs = this.s.evaluateSeconds * 1000
    let nextPlan = stepMs
    let nextPrune = 3_600_000
    for (let i = 0; i < trace.count; i++) {
      const now = trace.time[i] * 1000
      while (now >= nextPlan) {
        this.plan(nextPlan)
        nextPlan += stepMs
        if (nextPlan >= nextPrune) {
          this.board.prune(nextPrune)
          this.continuations.prune(nextPrune)
          nextPrune += 3_600_000
        }
      }
      this.request(i, now)
    }
    // pre-cached chunks still waiting at the end are neither watched nor wasted yet
    const end = this.world.init.days * 86_400_000
    let pending = 0
    for (const cache of this.caches) {
      for (const since of cache.prefetched.values()) {
        if (end - since >= PRECACHE_STALE_MS) this.prefetchWasteBytes += CHUNK_BYTES
        else pending += CHUNK_BYTES
      }
    }
    const settled = this.prefetchBytes - pending
    return this.meter.result({
      evictionValue: this.s.evictionValue,
      placements: this.placements,
      placedBytes: this.placedBytes,
      autoEvictedChunks: this.autoEvictions,
      keptEvictedChunks: this.keptEvictions,
      prefetchBytes: this.prefetchBytes,
      prefetchHitBytes: this.prefetchHitBytes,
      prefetchWasteBytes: this.prefetchWasteBytes,
      prefetchWasteRatio: settled > 0 ? this.prefetchWasteBytes / settled : 0,
      readAheadWasteBytes: this.readAheadWasteBytes,
      prefetchSkipped: this.prefetchSkipped,
      plans: this.plans,
      planMsAverage: this.plans > 0 ? this.planMs / this.plans : 0,
      shortfalls: this.shortfalls,
      ...Object.fromEntries([...this.rules].map(([rule, count]) => [`actions.${rule}`, count]))
    })
  }

  private request (i: number, now: number): void {
    const { trace, world } = this
    const { catalog } = world
    const node = trace.node[i]
    const chunk = trace.chunk[i]
    const flags = trace.flags[i]
    const title = catalog.titleOfChunk[chunk]
    if ((flags & START) !== 0) {
      this.continuations.started(`viewer-${trace.viewer[i]}`, catalog.titleIds[title], now)
      this.board.play({ viewer: `viewer-${trace.viewer[i]}`, title: catalog.titleIds[title], node: world.nodes[node].id, region: world.regionIds[world.nodes[node].region], at: now })
    }
    const cache = this.caches[node]
    let hit = this.auto[node].has(title)
    if (!hit && cache.prefetched.has(chunk)) {
      hit = true
      cache.remove(chunk)
      cache.keep(chunk, now)
      this.prefetchHitBytes += CHUNK_BYTES
    } else if (!hit && cache.kept.has(chunk)) {
      hit = true
      cache.touch(chunk, now)
    }
    this.meter.serve(trace.time[i], flags, hit)
    const index = chunk - catalog.firstChunk[title]
    const chunkSeconds = catalog.duration[title] / catalog.chunks[title]
    if (!hit) {
      const fromPeer = this.peerHolds(title, node, now)
      if (fromPeer) this.meter.peerServed += CHUNK_BYTES
      else this.meter.origin += CHUNK_BYTES
      if (this.makeRoom(node, 1, now)) cache.keep(chunk, now)
      if ((flags & LAST) !== 0 && index < catalog.chunks[title] - 1) {
        // the viewer stopped: the segments read ahead of the player were fetched for nothing
        const waste = Math.round(Math.min(CHUNK_BYTES, READ_AHEAD_SEGMENTS * SEGMENT_SECONDS * CHUNK_BYTES / chunkSeconds))
        this.readAheadWasteBytes += waste
        this.meter.fill(waste, fromPeer)
      }
    }
    const next = catalog.next[title]
    if (next < 0) return
    const marks = crossedMarks(index * chunkSeconds, Math.min(catalog.duration[title], (index + 1) * chunkSeconds), catalog.duration[title], this.s)
    let wanted = false
    for (const mark of marks) {
      // learned per kind of next title (the next episode, the sequel) and mark: viewers go on at very different rates
      const group = `${this.kindOf[title]}@${mark}`
      // the share before this crossing is counted: a first viewer is given the prior, not judged by itself
      const share = this.continuations.share(group, now)
      this.continuations.crossed(`viewer-${trace.viewer[i]}`, group, catalog.titleIds[next], now)
      wanted ||= precacheWanted(mark, share, this.s)
    }
    if (marks.length === 0) return
    if (wanted) this.precache(node, next, now)
    else this.prefetchSkipped++
  }

  /** Pre-caches the first `precacheSeconds` of `title` on `node`. */
  private precache (node: number, title: number, now: number): void {
    if (this.auto[node].has(title)) return
    const { catalog } = this.world
    const seconds = precacheSegments(this.s.precacheSeconds, SEGMENT_SECONDS) * SEGMENT_SECONDS
    const chunks = Math.min(catalog.chunks[title], Math.ceil(seconds / (catalog.duration[title] / catalog.chunks[title])))
    const cache = this.caches[node]
    const fromPeer = this.peerHolds(title, node, now)
    for (let c = catalog.firstChunk[title]; c < catalog.firstChunk[title] + chunks; c++) {
      if (cache.has(c) || !this.makeRoom(node, 1, now)) continue
      cache.prefetched.set(c, now)
      this.prefetchBytes += CHUNK_BYTES
      this.meter.fill(CHUNK_BYTES, fromPeer)
    }
  }

  /** Frees room in the node's kept area for `chunks` more; false when its automatic copies leave none. */
  private makeRoom (node: number, chunks: number, now: number): boolean {
    const capacity = Math.max(0, this.world.nodes[node].cacheChunks - this.autoChunks[node])
    if (chunks > 0 && chunks > capacity) return false
    const cache = this.caches[node]
    while (cache.size + chunks > capacity) {
      const dropped = cache.dropOne(now)
      if (dropped == null) return false
      this.dropped(dropped.unwatched)
    }
    return true
  }

  private dropped (unwatched: boolean): void {
    this.meter.evictions++
    this.keptEvictions++
    if (unwatched) this.prefetchWasteBytes += CHUNK_BYTES
  }

  /** Whether another online node holds an automatic copy of the title. */
  private peerHolds (title: number, node: number, now: number): boolean {
    for (const other of this.holders[title]) if (other !== node && online(this.world.nodes[other], now / 1000)) return true
    return false
  }

  /** Runs the real planner on the network as it is at `now` and carries its actions out. */
  private plan (now: number): void {
    const holdings: PlanHolding[] = []
    for (const node of this.world.nodes) {
      const up = online(node, now / 1000)
      this.planNodes[node.index].eligible = up
      if (up) this.downSince[node.index] = -1
      else if (this.downSince[node.index] < 0) this.downSince[node.index] = now
      // a node gone for longer than the grace period no longer counts as holding its copies
      if (!up && now - this.downSince[node.index] > GRACE_MS) continue
      for (const h of this.auto[node.index].values()) holdings.push(h)
    }
    const started = performance.now()
    const plan = planDistribution({ now, nodes: this.planNodes, items: this.items, holdings, demand: this.board }, this.s)
    this.planMs += performance.now() - started
    this.plans++
    this.shortfalls += plan.shortfalls.length
    for (const action of plan.actions) {
      const node = Number(action.node.slice(5))
      const title = this.titleIndex.get(action.title)
      if (title == null) continue
      this.rules.set(`${action.kind}:${action.rule}`, (this.rules.get(`${action.kind}:${action.rule}`) ?? 0) + 1)
      if (action.kind === 'evict') this.evict(node, title)
      else this.place(node, title, now)
    }
  }

  private place (node: number, title: number, now: number): void {
    if (this.auto[node].has(title)) return
    const { catalog } = this.world
    const cache = this.caches[node]
    const fromPeer = this.peerHolds(title, node, now)
    let fetched = 0
    for (let c = catalog.firstChunk[title]; c < catalog.firstChunk[title] + catalog.chunks[title]; c++) {
      // chunks the node kept or pre-cached become part of the copy; only the others are fetched
      if (cache.has(c)) cache.remove(c)
      else fetched++
    }
    this.meter.fill(fetched * CHUNK_BYTES, fromPeer)
    this.placements++
    this.placedBytes += fetched * CHUNK_BYTES
    this.auto[node].set(title, { node: this.world.nodes[node].id, key: `root-${title}`, title: catalog.titleIds[title], bytes: catalog.bytes[title], auto: true, since: now })
    this.holders[title].add(node)
    this.autoChunks[node] += catalog.chunks[title]
    this.makeRoom(node, 0, now)
  }

  private evict (node: number, title: number): void {
    if (!this.auto[node].delete(title)) return
    const chunks = this.world.catalog.chunks[title]
    this.holders[title].delete(node)
    this.autoChunks[node] -= chunks
    this.meter.evictions += chunks
    this.autoEvictions += chunks
  }
}
