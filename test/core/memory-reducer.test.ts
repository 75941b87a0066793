import { getHeapStatistics } from 'node:v8'
import test from 'ava'
import { reduceMemory, startIdleMemoryReducer } from '../../core/memory-reducer.ts'
import { waitFor } from '../helpers/tmp.ts'

const SAMPLE_MS = 5
const QUIET_MS = 20
const MIB = 1024 * 1024

/** A reducer on a scripted event loop and heap: the test sets how busy the loop is and how big the heap is. */
function scripted (minIntervalMs = 0, laterQuietMs = QUIET_MS, workMs = Infinity): { busy: { share: number }, heap: { bytes: number }, samples: () => number, collections: () => number, collectedAt: number[], stop: () => void } {
  const busy = { share: 0 }
  const heap = { bytes: 0 }
  let samples = 0
  // when each reduction ran, taken in the reducer's own call: a poll notices it later than it happened
  const collectedAt: number[] = []
  const reducer = startIdleMemoryReducer({
    utilization: () => { samples++; return busy.share },
    heapBytes: () => heap.bytes,
    collect: () => { collectedAt.push(performance.now()) }
  }, { sampleMs: SAMPLE_MS, quietMs: QUIET_MS, laterQuietMs, growthBytes: 4 * MIB, minIntervalMs, workMs })
  return { busy, heap, samples: () => samples, collections: () => collectedAt.length, collectedAt, stop: reducer.stop }
}

test('memory is reduced once the event loop has gone quiet after start-up, and again only after the heap grew by the threshold', async t => {
  const r = scripted()
  t.teardown(r.stop)
  r.heap.bytes = 40 * MIB
  await waitFor(() => r.collections() === 1, 5000, 'the first reduction')
  // quiet, and the heap grew by less than the threshold: nothing to give back
  r.heap.bytes += 3 * MIB
  const seen = r.samples()
  await waitFor(() => r.samples() > seen + 3 * QUIET_MS / SAMPLE_MS, 5000, 'samples past the quiet time')
  t.is(r.collections(), 1)
  r.heap.bytes += 2 * MIB
  await waitFor(() => r.collections() === 2, 5000, 'the second reduction')
})

test('two reductions are at least the least interval apart, however much the heap grew between them', async t => {
  const r = scripted(300)
  t.teardown(r.stop)
  r.heap.bytes = 40 * MIB
  await waitFor(() => r.collections() === 1, 5000, 'the first reduction')
  r.heap.bytes += 40 * MIB
  await waitFor(() => r.collections() === 2, 5000, 'the second reduction')
  const apart = r.collectedAt[1] - r.collectedAt[0]
  // the reducer reads its clock a moment before it collects: a millisecond covers that, not a poll's lag
  t.true(apart >= 299, `the second came ${apart} ms after the first`)
})

test('after the first reduction, memory a burst of work grew is given back only once the loop has been quiet for the later quiet time', async t => {
  // long beside the pauses below (a dozen 5 ms samples), so a loaded machine that stretches them cannot reach it
  const LATER_QUIET_MS = 2000
  const r = scripted(0, LATER_QUIET_MS)
  t.teardown(r.stop)
  r.heap.bytes = 40 * MIB
  await waitFor(() => r.collections() === 1, 5000, 'the first reduction')
  // a burst of work grows the heap, then pauses for less than the later quiet time, twice: nothing is given back
  let quietFrom = 0
  for (let burst = 0; burst < 2; burst++) {
    r.busy.share = 0.5
    r.heap.bytes += 20 * MIB
    const busySamples = r.samples()
    await waitFor(() => r.samples() > busySamples + 2, 5000, 'busy samples')
    r.busy.share = 0
    quietFrom = performance.now()
    const quietSamples = r.samples()
    await waitFor(() => r.samples() > quietSamples + 3 * QUIET_MS / SAMPLE_MS, 5000, 'samples past the first quiet time')
    t.is(r.collections(), 1, `a reduction in pause ${burst + 1}`)
  }
  await waitFor(() => r.collections() === 2, 15_000, 'the reduction after the later quiet time')
  // the reducer counts a quiet sample's whole span as quiet, so it may credit one sample before quietFrom
  const waited = r.collectedAt[1] - quietFrom
  t.true(waited >= LATER_QUIET_MS - SAMPLE_MS - 1, `the second reduction came ${waited.toFixed(0)} ms into the quiet`)
})

test('a node that worked before it ever went quiet waits the later quiet time for its first reduction too', async t => {
  const LATER_QUIET_MS = 2000
  const r = scripted(0, LATER_QUIET_MS, 40)
  t.teardown(r.stop)
  // a crowd right after start-up: the loop busy for well over 40 ms in all
  r.busy.share = 0.9
  r.heap.bytes = 200 * MIB
  const busySamples = r.samples()
  await waitFor(() => r.samples() > busySamples + 20, 5000, 'busy samples')
  r.busy.share = 0
  const quietFrom = performance.now()
  const quietSamples = r.samples()
  await waitFor(() => r.samples() > quietSamples + 3 * QUIET_MS / SAMPLE_MS, 5000, 'samples past the first quiet time')
  t.is(r.collections(), 0, 'the pause after the burst was taken for the end of start-up')
  await waitFor(() => r.collections() === 1, 15_000, 'the reduction after the later quiet time')
  const waited = r.collectedAt[0] - quietFrom
  t.true(waited >= LATER_QUIET_MS - SAMPLE_MS - 1, `the reduction came ${waited.toFixed(0)} ms into the quiet`)
})

test('a busy event loop is never interrupted by a reduction, however large its heap grows', async t => {
  const r = scripted()
  t.teardown(r.stop)
  r.busy.share = 0.5
  r.heap.bytes = 400 * MIB
  await waitFor(() => r.samples() > 3 * QUIET_MS / SAMPLE_MS, 5000, 'samples past the quiet time')
  t.is(r.collections(), 0)
  // a busy sample starts the quiet time over
  r.busy.share = 0
  await waitFor(() => r.collections() === 1, 5000, 'the reduction once quiet')
})

test('V8\'s memory-reducing collection gives back the heap a burst of allocation grew', t => {
  let burst: number[][] | undefined = Array.from({ length: 200_000 }, (_, i) => [i, i + 1, i + 2])
  const grown = getHeapStatistics().total_physical_size
  t.true(burst.length > 0)
  burst = undefined
  reduceMemory()
  const after = getHeapStatistics().total_physical_size
  t.true(after < grown - 8 * MIB, `${(grown / MIB).toFixed(1)} MiB -> ${(after / MIB).toFixed(1)} MiB`)
})
