import { byNode } from './belady.ts'
import { Meter } from './metrics.ts'
import { START } from './trace.ts'
import { CHUNK_BYTES, online } from './world.ts'
import type { PolicyResult } from './metrics.ts'
import type { Trace } from './trace.ts'
import type { World } from './world.ts'

/*
 * The baselines the policy is measured against, replayed on the same trace and the same node capacities:
 * - fallback: no caching, every byte from the origin;
 * - lru: each node keeps what it served on a miss and drops the least recently used chunk (Saturn, nginx);
 * - most-views: PeerTube's redundancy strategy: every check each node duplicates the most viewed title (views
 *   counted since the start) it lacks, one title per check, up to its budget; a duplicate older than the minimum
 *   lifetime gives way to a more viewed title; misses are not kept.
 */

/** PeerTube's redundancy check interval and minimum lifetime (its documented example values). */
const MOST_VIEWS_CHECK_S = 3600
const MOST_VIEWS_MIN_LIFETIME_S = 25 * 3600

/** Every byte from the origin. */
export function runFallback (world: World, trace: Trace): PolicyResult {
  const meter = new Meter('fallback', world.init.days * 24)
  for (let i = 0; i < trace.count; i++) {
    meter.serve(trace.time[i], trace.flags[i], false)
    meter.origin += CHUNK_BYTES
  }
  return meter.result()
}

/** LRU on miss, per node (nodes are independent: each replays its own requests, in a doubly linked list of slots). */
export function runLru (world: World, trace: Trace): PolicyResult {
  const meter = new Meter('lru', world.init.days * 24)
  const order = byNode(trace, world.nodes.length)
  const slotOf = new Int32Array(world.catalog.totalChunks).fill(-1)
  let start = 0
  for (const node of world.nodes) {
    const end = order.ends[node.index]
    const capacity = node.cacheChunks
    const chunkAt = new Int32Array(capacity)
    const prev = new Int32Array(capacity)
    const next = new Int32Array(capacity)
    let head = -1 // most recent
    let tail = -1 // least recent
    let used = 0
    const unlink = (slot: number): void => {
      if (prev[slot] >= 0) next[prev[slot]] = next[slot]
      else head = next[slot]
      if (next[slot] >= 0) prev[next[slot]] = prev[slot]
      else tail = prev[slot]
    }
    const toFront = (slot: number): void => {
      prev[slot] = -1
      next[slot] = head
      if (head >= 0) prev[head] = slot
      head = slot
      if (tail < 0) tail = slot
    }
    for (let p = start; p < end; p++) {
      const i = order.index[p]
      const chunk = trace.chunk[i]
      const slot = slotOf[chunk]
      meter.serve(trace.time[i], trace.flags[i], slot >= 0)
      if (slot >= 0) {
        unlink(slot)
        toFront(slot)
        continue
      }
      meter.origin += CHUNK_BYTES
      if (capacity === 0) continue
      let free: number
      if (used < capacity) {
        free = used++
      } else {
        free = tail
        unlink(free)
        slotOf[chunkAt[free]] = -1
        meter.evictions++
      }
      chunkAt[free] = chunk
      slotOf[chunk] = free
      toFront(free)
    }
    for (let s = 0; s < used; s++) slotOf[chunkAt[s]] = -1
    start = end
  }
  return meter.result()
}

/** PeerTube's most-views redundancy. */
export function runMostViews (world: World, trace: Trace): PolicyResult {
  const meter = new Meter('most-views', world.init.days * 24)
  const { catalog, nodes } = world
  const views = new Float64Array(catalog.duration.length)
  /** node -> title -> when placed (s) */
  const held = nodes.map(() => new Map<number, number>())
  const used = new Float64Array(nodes.length)
  const holders: Array<Set<number>> = Array.from({ length: views.length }, () => new Set())
  let nextCheck = MOST_VIEWS_CHECK_S
  let duplicated = 0
  const check = (now: number): void => {
    const ranked: number[] = []
    for (let t = 0; t < views.length; t++) if (views[t] > 0) ranked.push(t)
    ranked.sort((a, b) => views[b] - views[a] || a - b)
    for (const node of nodes) {
      if (!online(node, now)) continue
      const mine = held[node.index]
      const title = ranked.find(t => !mine.has(t))
      if (title == null) continue
      const chunks = catalog.chunks[title]
      if (chunks > node.cacheChunks) continue
      if (used[node.index] + chunks > node.cacheChunks) {
        // the least viewed duplicates past their lifetime make room for a more viewed title, or nothing moves
        const old = [...mine].filter(([t, since]) => now - since >= MOST_VIEWS_MIN_LIFETIME_S && views[t] < views[title]).sort((a, b) => views[a[0]] - views[b[0]])
        let free = node.cacheChunks - used[node.index]
        const victims: number[] = []
        for (const [t] of old) {
          if (free >= chunks) break
          victims.push(t)
          free += catalog.chunks[t]
        }
        if (free < chunks) continue
        for (const t of victims) {
          mine.delete(t)
          holders[t].delete(node.index)
          used[node.index] -= catalog.chunks[t]
          meter.evictions += catalog.chunks[t]
        }
      }
      let peer = false
      for (const other of holders[title]) if (online(nodes[other], now)) { peer = true; break }
      meter.fill(chunks * CHUNK_BYTES, peer)
      mine.set(title, now)
      holders[title].add(node.index)
      used[node.index] += chunks
      duplicated++
    }
  }
  for (let i = 0; i < trace.count; i++) {
    const time = trace.time[i]
    while (time >= nextCheck) {
      check(nextCheck)
      nextCheck += MOST_VIEWS_CHECK_S
    }
    const title = catalog.titleOfChunk[trace.chunk[i]]
    if ((trace.flags[i] & START) !== 0) views[title]++
    const hit = held[trace.node[i]].has(title)
    meter.serve(time, trace.flags[i], hit)
    if (!hit) meter.origin += CHUNK_BYTES
  }
  return meter.result({ duplicated })
}
