import { Meter } from './metrics.ts'
import { CHUNK_BYTES } from './world.ts'
import type { PolicyResult } from './metrics.ts'
import type { Trace } from './trace.ts'
import type { World } from './world.ts'

/*
 * Belady's MIN per node, the offline optimum of caching on miss: a missed chunk is kept only if some cached chunk
 * is next asked later than it (that one goes), else it is served and not kept. With fixed-size chunks this is the
 * exact upper bound of the byte hit ratio of any policy that caches what a node serves.
 */

const NEVER = 0x7fffffff

/** Replays each node's requests with MIN. */
export function runBelady (world: World, trace: Trace): PolicyResult {
  const meter = new Meter('belady', world.init.days * 24)
  const order = byNode(trace, world.nodes.length)
  const lastSeen = new Int32Array(world.catalog.totalChunks).fill(NEVER)
  /** chunk -> its next use while cached, NEVER+1 when not cached */
  const cachedNext = new Int32Array(world.catalog.totalChunks).fill(-1)
  let start = 0
  for (const node of world.nodes) {
    const end = order.ends[node.index]
    const n = end - start
    const next = new Int32Array(n)
    for (let p = n - 1; p >= 0; p--) {
      const chunk = trace.chunk[order.index[start + p]]
      next[p] = lastSeen[chunk]
      lastSeen[chunk] = p
    }
    const heap = new MaxHeap(n + 1)
    let size = 0
    const capacity = node.cacheChunks
    for (let p = 0; p < n; p++) {
      const i = order.index[start + p]
      const chunk = trace.chunk[i]
      const hit = cachedNext[chunk] >= 0
      meter.serve(trace.time[i], trace.flags[i], hit)
      if (hit) {
        cachedNext[chunk] = next[p]
        heap.push(next[p], chunk)
        continue
      }
      meter.origin += CHUNK_BYTES
      if (capacity === 0 || next[p] === NEVER) continue
      if (size >= capacity) {
        // the farthest next use among cached chunks (stale heap entries skipped)
        while (cachedNext[heap.topValue()] !== heap.topKey()) heap.pop()
        if (heap.topKey() <= next[p]) continue
        cachedNext[heap.topValue()] = -1
        heap.pop()
        size--
        meter.evictions++
      }
      cachedNext[chunk] = next[p]
      heap.push(next[p], chunk)
      size++
    }
    for (let p = 0; p < n; p++) {
      const chunk = trace.chunk[order.index[start + p]]
      lastSeen[chunk] = NEVER
      cachedNext[chunk] = -1
    }
    start = end
  }
  return meter.result()
}

/** Trace indexes grouped by node, each group in time order; `ends[node]` is where the node's group ends. */
export function byNode (trace: Trace, nodes: number): { index: Int32Array, ends: Int32Array } {
  const ends = new Int32Array(nodes)
  for (let i = 0; i < trace.count; i++) ends[trace.node[i]]++
  for (let k = 1; k < nodes; k++) ends[k] += ends[k - 1]
  const cursor = new Int32Array(nodes)
  for (let k = 1; k < nodes; k++) cursor[k] = ends[k - 1]
  const index = new Int32Array(trace.count)
  for (let i = 0; i < trace.count; i++) index[cursor[trace.node[i]]++] = i
  return { index, ends }
}

/** A binary max-heap of (key, value) int pairs. */
class MaxHeap {
  private keys: Int32Array
  private values: Int32Array
  private size = 0

  constructor (capacity: number) {
    this.keys = new Int32Array(Math.max(16, capacity))
    this.values = new Int32Array(Math.max(16, capacity))
  }

  topKey (): number { return this.keys[0] }
  topValue (): number { return this.values[0] }

  push (key: number, value: number): void {
    if (this.size === this.keys.length) {
      const keys = new Int32Array(this.size * 2)
      const values = new Int32Array(this.size * 2)
      keys.set(this.keys)
      values.set(this.values)
      this.keys = keys
      this.values = values
    }
    let i = this.size++
    while (i > 0) {
      const parent = (i - 1) >> 1
      if (this.keys[parent] >= key) break
      this.keys[i] = this.keys[parent]
      this.values[i] = this.values[parent]
      i = parent
    }
    this.keys[i] = key
    this.values[i] = value
  }

  pop (): void {
    const last = --this.size
    const key = this.keys[last]
    const value = this.values[last]
    let i = 0
    for (;;) {
      let child = 2 * i + 1
      if (child >= last) break
      if (child + 1 < last && this.keys[child + 1] > this.keys[child]) child++
      if (this.keys[child] <= key) break
      this.keys[i] = this.keys[child]
      this.values[i] = this.values[child]
      i = child
    }
    this.keys[i] = key
    this.values[i] = value
  }
}
