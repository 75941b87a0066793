import { setFlagsFromString } from 'node:v8'

/**
 * Garbage collection for a process that moves media bytes. Every Buffer a socket read or a block fetch allocates
 * counts as V8 "external" memory, and by default V8 runs a full mark-compact each time that grows by a fixed 64 MB,
 * whatever the heap's size: a daemon moving 200 MB/s of blocks then spent a fifth to a third of its time in the
 * collector (profiled: bench r1, bitswap r1b). With external memory counted in V8's global heap limit instead (what
 * Chrome does), collections follow the heap's own growth heuristics: the node-to-node fetch ran ~2x faster for ~15%
 * more peak memory (bench r1). Idempotent; called by the daemons before they start anything.
 */
export function tuneGarbageCollection (): void {
  if (tuned) return
  tuned = true
  // the flag exists in the V8 of the Node the project brings (24: V8 13.x); another V8 may not know it (and would
  // print an error) or may do this by default
  const major = Number(process.versions.v8.split('.')[0])
  if (major < 12 || major > 13) return
  // read by V8 at each collection decision, so setting it at run time takes effect (`node --v8-options` lists it)
  setFlagsFromString('--external-memory-accounted-in-global-limit')
  // The next full collection once live memory (the heap and, with the flag above, Buffers) has grown 2.5 times. V8
  // picks that factor from its measured collector and mutator speeds, between 1.1 and 4, and a node whose block cache
  // keeps 100-250 MB of Buffers live could settle on the low end and stay there: each collection freed nothing, the
  // next came 200 ms later (bench r1b's holder, --trace-gc: 30 full collections in 10 rounds against 5, 600-800 ms of
  // CPU a round against 370-450, in about half of the runs). A fixed factor keeps every run in the good case.
  setFlagsFromString(`--heap-growing-percent=${HEAP_GROWING_PERCENT}`)
}

/** The factor by which live memory may grow before the next full collection, less 1, in percent. */
const HEAP_GROWING_PERCENT = 150

let tuned = false
