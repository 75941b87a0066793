import { performance } from 'node:perf_hooks'
import { getHeapStatistics, setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'

/*
 * Giving memory back once a daemon goes quiet. V8 grows its young generation to what a burst of work allocates (a
 * CDN node's start-up left it at 10 MB resident, 3 MB of it in use) and frees nothing until the next collection; a
 * collection that reduces memory (compacting, shrinking the young generation to its minimum, returning free pages)
 * is what Chrome asks V8 for when a tab goes idle, but Node never asks. This does, when the event loop has been
 * nearly idle for `quietMs` and the heap has grown by `growthBytes` since the last time (start-up counts): a quiet
 * node with nothing new to give back (heartbeats) is left alone. Measured on an idle CDN node: ~9 MB of RSS.
 *
 * Only start-up's growth is given back after a short quiet. Later, the quiet must last `laterQuietMs`: a crowd that
 * pauses between bursts found its heap shrunk each time and spent the next seconds growing it again (fresh pages,
 * each a page fault, and a young generation rebuilt from its minimum through long scavenges): bench n4's rounds after
 * a reduction had a p99 of 0.6-1.5 s and answers held up to 2 s, where the same rounds without one read 0.11-0.13 s.
 * Go's runtime gives idle memory back on a scale of minutes for the same reason. A node that works before it ever
 * goes quiet (a crowd arriving right after start-up) has grown past start-up, so its first quiet spell is such a pause
 * too: bench n4 found its first measured round behind the reduction that its warm-up's pause brought (p99 1.3-1.4 s
 * against 0.09-0.12 s without it).
 */

export interface IdleMemoryReducerInit {
  /** How long the event loop must stay nearly idle before the first reduction (start-up's growth). @default 2000 */
  quietMs?: number
  /** How long it must stay nearly idle before each later reduction (after work, more may come). @default 120000 */
  laterQuietMs?: number
  /** The event loop's busy time after which even the first reduction waits `laterQuietMs`: start-up is over, work came. @default 1000 */
  workMs?: number
  /** How often the event loop's use is sampled. @default 500 */
  sampleMs?: number
  /** The share of a sample the event loop may be busy and still count as quiet. @default 0.05 */
  quietShare?: number
  /** Growth of the heap (V8's resident pages and the memory of Buffers) since the last reduction worth one. @default 4 MiB */
  growthBytes?: number
  /**
   * Least time between two reductions: a node serving one viewer looks quiet between segments while each segment's
   * buffers grow the heap, and a full collection (20-100 ms) every few seconds would be a pause each time. @default 60000
   */
  minIntervalMs?: number
}

export interface IdleMemoryReducerComponents {
  /** Runs the memory-reducing collection. @default V8's, through its `gc` extension (see `reduceMemory`) */
  collect?: () => void
  /** The event loop's use since the last sample, 0 to 1. @default `performance.eventLoopUtilization()`'s */
  utilization?: () => number
  /** The heap's size now, in bytes. @default V8's resident heap pages plus external (Buffer) memory */
  heapBytes?: () => number
}

export interface IdleMemoryReducer {
  /** How many times memory was reduced. */
  readonly reductions: number
  stop: () => void
}

/** Starts sampling the event loop; memory is reduced when it has gone quiet with the heap grown since the last time. */
export function startIdleMemoryReducer (components: IdleMemoryReducerComponents = {}, init: IdleMemoryReducerInit = {}): IdleMemoryReducer {
  const quietMs = init.quietMs ?? 2000
  const laterQuietMs = init.laterQuietMs ?? 120_000
  const sampleMs = init.sampleMs ?? 500
  const quietShare = init.quietShare ?? 0.05
  const growthBytes = init.growthBytes ?? 4 * 1024 * 1024
  const minIntervalMs = init.minIntervalMs ?? 60_000
  const workMs = init.workMs ?? 1000
  let lastReductionMs = -Infinity
  let lastSampleMs = performance.now()
  let busyMs = 0
  const collect = components.collect ?? reduceMemory
  const utilization = components.utilization ?? eventLoopUtilization()
  const heapBytes = components.heapBytes ?? residentHeapBytes
  // start-up is growth: the first quiet spell after it reduces
  let baseline = 0
  let quietSinceMs: number | undefined
  let reductions = 0
  const timer = setInterval(() => {
    const now = performance.now()
    const share = utilization()
    busyMs += share * (now - lastSampleMs)
    lastSampleMs = now
    if (share > quietShare) {
      quietSinceMs = undefined
      return
    }
    quietSinceMs ??= now - sampleMs
    const startUp = reductions === 0 && busyMs < workMs
    if (now - quietSinceMs < (startUp ? quietMs : laterQuietMs) || now - lastReductionMs < minIntervalMs || heapBytes() - baseline < growthBytes) return
    lastReductionMs = now
    reductions++
    collect()
    baseline = heapBytes()
    // the collection's own time is not work the next sample should see
    utilization()
    lastSampleMs = performance.now()
  }, sampleMs)
  // never what keeps a process alive
  timer.unref()
  return {
    get reductions () { return reductions },
    stop () { clearInterval(timer) }
  }
}

function residentHeapBytes (): number {
  const heap = getHeapStatistics()
  return heap.total_physical_size + heap.external_memory
}

function eventLoopUtilization (): () => number {
  let last = performance.eventLoopUtilization()
  return () => {
    const now = performance.eventLoopUtilization()
    const share = performance.eventLoopUtilization(now, last).utilization
    last = now
    return share
  }
}

let gc: ((options: { type: 'major', execution: 'sync', flavor: 'last-resort' }) => void) | undefined

/**
 * One memory-reducing collection of V8's heap (its "last resort" flavour: full, compacting, young generation shrunk).
 * Node offers no call for it; V8's `gc` extension, enabled at run time, is installed in contexts made after that,
 * so one is made once for it.
 */
export function reduceMemory (): void {
  if (gc == null) {
    setFlagsFromString('--expose-gc')
    gc = runInNewContext('gc')
  }
  gc!({ type: 'major', execution: 'sync', flavor: 'last-resort' })
}
