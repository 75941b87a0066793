import { cpus, loadavg } from 'node:os'
import { fileURLToPath } from 'node:url'
import { fixture } from '../fixtures/media.ts'
import { tuneGarbageCollection } from '../core/gc-tuning.ts'
import { resolveFfmpeg } from '../core/media/index.ts'
import { barePlan } from './bare-ffmpeg.ts'
import { measureStartup } from './playback.ts'
import { measureFailover } from './failover.ts'
import { benchConnectionsInChild } from './protector.ts'
import { measureSegmentLookup } from './catalog.ts'
import { measureCatalogScale } from './catalog-scale.ts'
import { measureWholeRendition, wholeOnServer } from './rendition.ts'
import { measureNode } from './node.ts'
import { measureReplication } from './replication.ts'
import { measureAutoPlacement } from './distribution.ts'
import { measureServing } from './segment-throughput.ts'
import { measurePlayStart } from './play-start.ts'
import { measureTokenVerification } from './stream-token.ts'
import { measureVerification } from './verify.ts'
import { BUSY_CORES, othersBusyCores } from './cpu-time.ts'
import { measurePageFaultCost } from './machine.ts'
import { formatTable, ratioOf, writeJson } from './table.ts'
import { PROFILE, startBenchServer } from './server.ts'
import type { BenchServer } from './server.ts'
import type { Row } from './table.ts'

/**
 * `npm run bench`: issue #2's figures, each against a baseline measured in the same run, one figure after
 * another (never two at once: the machine has two cores). Prints one table and writes it to
 * bench/.cache/last.json. Knobs: BENCH_REPEATS (cold runs, 5); BENCH_WHOLE_REPEATS
 * (whole-rendition runs, 2); BENCH_ROUNDS and BENCH_SECONDS (throughput
 * rounds and seconds per target per round, 8 and 2); BENCH_CONNECTIONS (32); BENCH_PNET_MB (MiB through
 * the private-network connection, 256) and BENCH_PNET_ROUNDS (5, after one to warm up); BENCH_CHILD_NODE_OPTIONS (node flags for the server processes,
 * e.g. `--cpu-prof --cpu-prof-dir=...`). Issue #3's CDN node figures (n1-n4, bench/node.ts) and issue #14's single
 * executable beside them (n5-n7, bench/executable.ts) follow, on the
 * main server of the whole-rendition figure (or, when BENCH_ONLY leaves that out, one that makes the rendition first):
 * BENCH_NODE_CLIENTS (200), BENCH_NODE_SECONDS (30) and BENCH_NODE_ROUNDS (3, node and nginx in turn) size the
 * concurrent-clients run. Issue #4's replication figures (r1-r3, bench/replication.ts) come next, on the same main
 * server: BENCH_REPLICATION_ROUNDS (3), BENCH_REPLICATION_MB (128, node to node) and BENCH_REPLICATION_SWEEP_MB (64,
 * per setting of the sweep). Issue #13's automatic placement against a manual pin (d1, bench/distribution.ts: a main
 * server of its own with distribution on, two fresh nodes per round; BENCH_DISTRIBUTION_ROUNDS, 3) follows. The
 * catalog's segment lookup (c1, bench/catalog.ts), issue 15's catalog at scale (c2-c6, bench/catalog-scale.ts: list,
 * search and detail of a 100,000-media library through the API on SQLite and on PostgreSQL, its db copy, the ingest of
 * 10,000 files on each; BENCH_SCALE_MEDIA, BENCH_SCALE_FILES, BENCH_SCALE_REQUESTS) and the private-network connection (6) close the run, then issue #11's stream-token figures (a1-a3, bench/stream-token.ts: a few seconds in
 * process; a5, a5b, bench/play-start.ts: playback start signed in, and the login) and issue #12's cost of verifying blocks read from disk and scrub throughput (v1-v2, bench/verify.ts). BENCH_ONLY=ID,ID... runs only the figure groups holding one of those row ids (e.g. `BENCH_ONLY=a1`).
 */

const SOURCE = 'h264-aac-1080p-60s'
const JSON_PATH = fileURLToPath(new URL('./.cache/last.json', import.meta.url))

function envNumber (name: string, fallback: number): number {
  const value = Number(process.env[name] ?? fallback)
  if (!Number.isFinite(value) || value <= 0) throw new Error(`${name} must be a positive number`)
  return value
}

function log (line: string): void {
  process.stderr.write(`[bench ${((performance.now() - benchStarted) / 1000).toFixed(0).padStart(3)} s] ${line}\n`)
}

/** Runs one figure; a figure that throws becomes unmeasured rows naming the error, and the run goes on. */
async function figure (name: string, ids: string[], loads: Record<string, number>, work: () => Promise<Row[]>): Promise<Row[]> {
  if (only != null && !ids.some(id => only.includes(id))) return []
  loads[name] = Number(loadavg()[0].toFixed(2))
  log(`${name} (load average ${loads[name]})`)
  try {
    const { result: rows, cores } = await othersBusyCores(work)
    others[name] = Number(cores.toFixed(2))
    log(`${name}: other work kept ${cores.toFixed(2)} of ${cpus().length} cores busy meanwhile`)
    if (cores > BUSY_CORES) {
      for (const row of rows) {
        row.note = [row.note, `BUSY: other work kept ${cores.toFixed(2)} of ${cpus().length} cores busy while this ran, so this figure does not count (its baseline ran beside it, the ratio is less disturbed)`].filter(n => n != null).join('; ')
        row.details = { ...row.details, othersBusyCores: cores }
      }
    }
    return rows
  } catch (err) {
    log(`${name} failed: ${(err as Error).stack ?? String(err)}`)
    const note = `not measured: ${(err as Error).message}`
    return ids.map(id => ({ id, figure: name, value: null, unit: '', baseline: null, baselineLabel: '-', ratio: null, goal: '-', pass: null, note }))
  }
}

const benchStarted = performance.now()
const only = process.env.BENCH_ONLY?.split(',').map(id => id.trim()).filter(id => id !== '')
const repeats = envNumber('BENCH_REPEATS', 5)
const wholeRepeats = envNumber('BENCH_WHOLE_REPEATS', 2)
// many short rounds, interleaved: a neighbour's burst of work hits every target alike
const rounds = envNumber('BENCH_ROUNDS', 8)
const seconds = envNumber('BENCH_SECONDS', 2)
const connections = envNumber('BENCH_CONNECTIONS', 32)
const pnetBytes = envNumber('BENCH_PNET_MB', 256) * 1024 * 1024
const loads: Record<string, number> = {}
/** Cores other work kept busy during each figure group. */
const others: Record<string, number> = {}

// the harness runs as the daemons do, so the Node clients measuring baselines (nginx, raw TCP) collect alike
tuneGarbageCollection()
const ffmpeg = await resolveFfmpeg()
log(`generating or finding the ${SOURCE} fixture`)
const source = await fixture(SOURCE)
const bare = await barePlan(source)
const faults = measurePageFaultCost()
const faultNote = faults == null ? 'page-fault cost not measured' : `a page fault ${faults.microsPerFault.toFixed(1)} µs (fresh memory at ${faults.freshMbPerSecond.toFixed(0)} MB/s)`
log(`${cpus().length} cores, ${cpus()[0]?.model ?? 'unknown cpu'}; ${faultNote}; ffmpeg ${ffmpeg.version} (${ffmpeg.source}); load average ${loadavg().map(l => l.toFixed(2)).join(' ')}`)

const rows: Row[] = []
rows.push(...await figure('first segment, cold and after a seek; second viewer', ['1', '2', '3'], loads, async () =>
  await measureStartup(source, bare, { repeats })))

// the main server with its complete rendition stays up for the CDN node figures below
let rendered: BenchServer | undefined
rows.push(...await figure('whole rendition, then serving it', ['5', '3b', '4', '4b'], loads, async () => {
  const { row, server } = await measureWholeRendition(source, bare, wholeRepeats)
  rendered = server
  return [row, ...await measureServing(server, bare.grid.starts.length, { rounds, roundSeconds: seconds, connections, log })]
}))

/** The whole-rendition figure's main server, or (that group left out by BENCH_ONLY) one that makes the rendition now. */
async function renderedServer (): Promise<BenchServer> {
  if (rendered != null) return rendered
  log(`no whole-rendition figure in this run: making the ${PROFILE} rendition on a main server of its own`)
  const server = await startBenchServer(source)
  try {
    await wholeOnServer(server, bare.grid.starts.length)
  } catch (err) {
    await server.stop()
    throw err
  }
  rendered = server
  return server
}

rows.push(...await figure('CDN node holding the rendition', ['n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'a4'], loads, async () =>
  await measureNode(await renderedServer(), bare.grid.starts.length, {
    repeats,
    rounds,
    roundSeconds: seconds,
    connections,
    log,
    clients: envNumber('BENCH_NODE_CLIENTS', 200),
    clientSeconds: envNumber('BENCH_NODE_SECONDS', 30),
    clientRounds: envNumber('BENCH_NODE_ROUNDS', 3)
  })))

// issue #4: replication between nodes, and of the main server's rendition (still up from the figures above)
rows.push(...await figure('replication', ['r1', 'r1b', 'r1c', 'r2', 'r3a', 'r3b', 'r3c', 'r3d', 'r3e', 'r3f', 'r3g'], loads, async () =>
  await measureReplication(rendered, { log, rounds: envNumber('BENCH_REPLICATION_ROUNDS', 3), mib: envNumber('BENCH_REPLICATION_MB', 128), sweepMib: envNumber('BENCH_REPLICATION_SWEEP_MB', 64) })))
await rendered?.stop()

// issue #13: automatic placement against a manual pin, on a main server of its own
rows.push(...await figure('automatic distribution', ['d1'], loads, async () =>
  await measureAutoPlacement({ log, rounds: envNumber('BENCH_DISTRIBUTION_ROUNDS', 3) })))

rows.push(...await figure('catalog', ['c1'], loads, async () => [await measureSegmentLookup()]))

// issue 15: the catalog at scale, on SQLite and on PostgreSQL
rows.push(...await figure('catalog at scale', ['c2', 'c2p', 'c3', 'c3p', 'c4', 'c4p', 'c5', 'c5p', 'c6'], loads, async () =>
  await measureCatalogScale({ log, media: envNumber('BENCH_SCALE_MEDIA', 100_000), files: envNumber('BENCH_SCALE_FILES', 10_000), requests: envNumber('BENCH_SCALE_REQUESTS', 300) })))

// issue 15: the leader of two main servers killed, a viewer playing through a node meanwhile
rows.push(...await figure('failover', ['f1', 'f2'], loads, async () => await measureFailover({ log })))

rows.push(...await figure('private network connection', ['6', '6b'], loads, async () => {
  const { protector: pnet, secured } = await benchConnectionsInChild(pnetBytes, envNumber('BENCH_PNET_ROUNDS', 5))
  const ratio = ratioOf(pnet.mbPerSecond, pnet.rawMbPerSecond)
  return [{
    id: '6',
    figure: `one pnet-protected connection, ${Math.round(pnet.bytes / 1024 / 1024)} MiB one way`,
    value: pnet.mbPerSecond,
    unit: 'MB/s',
    baseline: pnet.rawMbPerSecond,
    baselineLabel: 'raw loopback TCP',
    ratio,
    goal: '>= 0.6x (issue #16)',
    pass: ratio != null && ratio >= 0.6,
    note: `medians of ${pnet.rounds.length} rounds after one to warm up, each raw TCP then the protector back to back, both ends in one process (its allocator keeping freed memory: bench/protector.ts); without keystream made ahead on a worker thread ${pnet.noPrefetchMbPerSecond.toFixed(0)} MB/s (${(ratioOf(pnet.noPrefetchMbPerSecond, pnet.rawMbPerSecond) ?? 0).toFixed(2)}x); the JavaScript Salsa20 core (@noble/ciphers) carries ${pnet.jsMbPerSecond.toFixed(0)} MB/s (${(ratioOf(pnet.jsMbPerSecond, pnet.rawMbPerSecond) ?? 0).toFixed(2)}x)`,
    details: { ...pnet }
  }, {
    id: '6b',
    figure: `the same with noise on top (pnet + noise, no muxer), ${Math.round(secured.bytes / 1024 / 1024)} MiB one way`,
    value: secured.mbPerSecond,
    unit: 'MB/s',
    baseline: secured.defaultMbPerSecond,
    baselineLabel: 'noise\'s default crypto',
    ratio: ratioOf(secured.mbPerSecond, secured.defaultMbPerSecond),
    goal: 'info',
    pass: null,
    note: `medians of ${secured.rounds.length} rounds, cidcast's noise crypto (core/net/noise-crypto.ts) then the default back to back; ${(ratioOf(secured.mbPerSecond, pnet.rawMbPerSecond) ?? 0).toFixed(2)}x raw loopback TCP (row 6's baseline)`,
    details: { ...secured }
  }]
}))

// issue #11: in process, a few seconds
rows.push(...await figure('stream tokens', ['a1', 'a2', 'a3'], loads, async () => await measureTokenVerification()))
rows.push(...await figure('playback start signed in', ['a5', 'a5b'], loads, async () => await measurePlayStart()))

// issue #12: verifying blocks read from disk, and the scrub
rows.push(...await figure('stored-block verification', ['v1', 'v1b', 'v1c', 'v2'], loads, async () =>
  await measureVerification({ rounds, roundSeconds: seconds, connections, log })))

const order = ['1', '2', '3', '3b', '4', '4b', '5', '6', '6b', 'c1', 'c2', 'c2p', 'c3', 'c3p', 'c4', 'c4p', 'c5', 'c5p', 'c6', 'f1', 'f2', 'n1', 'n2', 'n3', 'n4', 'n5', 'n6', 'n7', 'r1', 'r1b', 'r1c', 'r2', 'r3a', 'r3b', 'r3c', 'r3d', 'r3e', 'r3f', 'r3g', 'd1', 'a1', 'a2', 'a3', 'a4', 'a5', 'a5b', 'v1', 'v1b', 'v1c', 'v2']
rows.sort((a, b) => order.indexOf(a.id) - order.indexOf(b.id))
const totalSeconds = (performance.now() - benchStarted) / 1000
const busy = Object.entries(others).filter(([, cores]) => cores > BUSY_CORES)
process.stdout.write(`\ncidcast bench: ${SOURCE}, ${cpus().length} cores, ${faultNote}, ffmpeg ${ffmpeg.version}, ${totalSeconds.toFixed(0)} s\n\n${formatTable(rows)}\n`)
if (busy.length > 0) {
  process.stdout.write(`\nwarning: other work kept the machine busy during ${busy.map(([name, cores]) => `${name} (${cores} cores)`).join(', ')}: their rows say BUSY and their figures do not count; figures and their baselines ran back to back, so ratios suffer less\n`)
}
await writeJson(JSON_PATH, rows, {
  date: new Date().toISOString(),
  source: SOURCE,
  cores: cpus().length,
  cpu: cpus()[0]?.model,
  pageFault: faults,
  ffmpeg: { version: ffmpeg.version, source: ffmpeg.source },
  settings: { repeats, wholeRepeats, rounds, seconds, connections, pnetBytes },
  loadAverageAtStart: loads,
  othersBusyCores: others,
  totalSeconds
})
log(`wrote ${JSON_PATH}`)
if (rows.some(r => r.value == null)) process.exitCode = 1
