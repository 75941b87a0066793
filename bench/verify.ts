import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { unixfs } from '@helia/unixfs'
import { FsBlockstore } from 'blockstore-fs'
import { createHeliaLight } from 'helia'
import { CID } from 'multiformats/cid'
import * as raw from 'multiformats/codecs/raw'
import { sha256 } from 'multiformats/hashes/sha2'
import { createBlockReader, createVerifiedBlockstore, DEFAULT_SCRUB_BYTES_PER_SECOND, IMPORT_OPTIONS, verifyPins } from '../core/ipfs/index.ts'
import { silentLogger } from '../core/logger.ts'
import { startChild } from '../test/helpers/child.ts'
import { measureRounds } from './load.ts'
import { median, ratioOf } from './table.ts'
import type { LoadTarget } from './load.ts'
import type { Row } from './table.ts'
import type { BenchChild } from '../test/helpers/child.ts'

/**
 * Issue 12's figures (rows v1, v1b, v1c, v2): what verifying blocks read from disk costs, and how fast the scrub
 * goes. Segments are stand-ins of the size of a 720p segment (raw blocks of random bytes in a blockstore-fs folder:
 * hashing and reading cost the same whatever the bytes). v1 and v1b load `/ipfs/{cid}` of them (the main server's
 * routes and block reader, bench/blocks-server.ts, one process each) with verification on and off, interleaved:
 * v1 with the default block cache, v1b with none (every request reads its file, so verification is the verified
 * set's lookup once a block was hashed). v1c is the one-time cost: every block read once by a fresh reader, hashed
 * or not. v2 is a scrub pass with no rate bound over a pinned 64 MiB file, against reading and hashing the same
 * files by hand.
 */

const SCRIPT = fileURLToPath(new URL('./blocks-server.ts', import.meta.url))
const SEGMENTS = 48
const SEGMENT_BYTES = 750 * 1024
const CACHE_BYTES = 256 * 1024 * 1024
const SCRUB_MIB = 64
const GOAL_RATIO = 0.9
const REPEATS = 5

export interface VerifyBenchOptions {
  rounds: number
  roundSeconds: number
  connections: number
  log: (line: string) => void
}

/** Writes the stand-in segments; their CIDs. */
async function writeSegments (blocksDir: string): Promise<CID[]> {
  const store = new FsBlockstore(blocksDir)
  await store.open()
  const cids: CID[] = []
  for (let i = 0; i < SEGMENTS; i++) {
    const bytes = randomBytes(SEGMENT_BYTES)
    const cid = CID.createV1(raw.code, await sha256.digest(bytes))
    await store.put(cid, bytes)
    cids.push(cid)
  }
  return cids
}

/** MB/s of reading every block once through a fresh reader with no cache (so nothing is verified yet). */
async function firstReads (blocksDir: string, cids: CID[], verify: boolean): Promise<number> {
  const logger = silentLogger()
  const fs = new FsBlockstore(blocksDir)
  const reader = createBlockReader({ blockstore: createVerifiedBlockstore({ store: fs, logger }, { verify }), logger }, { cacheBytes: 0 })
  const started = performance.now()
  let bytes = 0
  for (const cid of cids) bytes += (await reader.get(cid)).byteLength
  return bytes / (performance.now() - started) / 1000
}

/** MB/s of an unbounded scrub pass (verifyPins) over a pinned file, and of reading + hashing its files by hand. */
async function scrubPass (dir: string): Promise<{ scrub: number[], byHand: number[], blocks: number, bytes: number }> {
  const logger = silentLogger()
  const fs = new FsBlockstore(join(dir, 'scrub'))
  await fs.open()
  const store = createVerifiedBlockstore({ store: fs, logger })
  const helia = createHeliaLight({ blockstore: store })
  await helia.start()
  try {
    const root = await unixfs(helia).addBytes(randomBytes(SCRUB_MIB * 1024 * 1024), IMPORT_OPTIONS)
    for await (const pinned of helia.pins.add(root)) void pinned
    const files = (await readdir(join(dir, 'scrub'), { recursive: true, withFileTypes: true })).filter(e => e.isFile() && e.name.endsWith('.data')).map(e => join(e.parentPath, e.name))
    const scrub: number[] = []
    const byHand: number[] = []
    let blocks = 0
    let bytes = 0
    for (let i = 0; i < REPEATS; i++) {
      const started = performance.now()
      const report = await verifyPins({ store, pins: helia.pins, getCodec: helia.getCodec })
      scrub.push(report.bytes / (performance.now() - started) / 1000)
      blocks = report.blocks
      bytes = report.bytes
      const handStarted = performance.now()
      let handBytes = 0
      for (const file of files) {
        const data = await readFile(file)
        createHash('sha256').update(data).digest()
        handBytes += data.byteLength
      }
      byHand.push(handBytes / (performance.now() - handStarted) / 1000)
    }
    return { scrub, byHand, blocks, bytes }
  } finally {
    await helia.stop()
  }
}

/** Rows v1, v1b, v1c and v2. */
export async function measureVerification (options: VerifyBenchOptions): Promise<Row[]> {
  const { log } = options
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-verify-'))
  const children: Array<BenchChild<{ url: string, pid: number }>> = []
  try {
    const blocksDir = join(dir, 'blocks')
    const cids = await writeSegments(blocksDir)
    const paths = cids.map(cid => `/ipfs/${cid.toString()}`)
    const mb = SEGMENTS * SEGMENT_BYTES / 1e6

    log(`first reads of ${SEGMENTS} blocks (${mb.toFixed(1)} MB), hashed or not, ${REPEATS} times each`)
    const cold = { on: [] as number[], off: [] as number[] }
    for (let i = 0; i < REPEATS; i++) {
      cold.off.push(await firstReads(blocksDir, cids, false))
      cold.on.push(await firstReads(blocksDir, cids, true))
    }

    log(`/ipfs throughput with and without verification, block cache on and off: ${options.connections} connections, ${options.rounds} rounds of ${options.roundSeconds} s`)
    const targets: LoadTarget[] = []
    for (const [name, verify, cache] of [['on', '1', CACHE_BYTES], ['off', '0', CACHE_BYTES], ['on-nocache', '1', 0], ['off-nocache', '0', 0]] as const) {
      const child = await startChild<{ url: string, pid: number }>(SCRIPT, [blocksDir, verify, String(cache)])
      children.push(child)
      targets.push({ name, port: Number(new URL(child.ready.url).port), paths, pids: async () => [child.ready.pid] })
    }
    const measured = await measureRounds(targets, { rounds: options.rounds, roundSeconds: options.roundSeconds, connections: options.connections })
    for (const [name, figure] of measured) if (figure.errors > 0) throw new Error(`${figure.errors} requests to ${name} did not answer 200`)
    const throughputRow = (id: string, what: string, on: string, off: string): Row => {
      const a = measured.get(on)!
      const b = measured.get(off)!
      // the two ran back to back in every round: the median of the per-round ratios shrugs off a neighbour's burst
      const ratio = median(a.rounds.map((mbps, i) => mbps / b.rounds[i]))
      return {
        id,
        figure: `segment throughput /ipfs/{cid}, blocks verified on first read, ${what}`,
        value: a.medianMbPerSecond,
        unit: 'MB/s',
        baseline: b.medianMbPerSecond,
        baselineLabel: 'same, not verified',
        ratio,
        goal: `>= ${GOAL_RATIO}x`,
        pass: ratio == null ? null : ratio >= GOAL_RATIO,
        note: `medians of ${options.rounds} rounds (ratio: median of each round's ratio), ${SEGMENTS} raw blocks of ${SEGMENT_BYTES / 1024} KiB; ` +
          `server CPU s/GB ${a.cpuSecondsPerGB?.toFixed(2) ?? '?'} verified, ${b.cpuSecondsPerGB?.toFixed(2) ?? '?'} not`,
        details: { verified: a, unverified: b }
      }
    }

    log(`scrub pass over a pinned ${SCRUB_MIB} MiB file, no rate bound, ${REPEATS} times`)
    const scrub = await scrubPass(dir)
    const coldRatio = ratioOf(median(cold.on), median(cold.off))
    const scrubMb = median(scrub.scrub)
    return [
      throughputRow('v1', 'default block cache (256 MiB)', 'on', 'off'),
      throughputRow('v1b', 'no block cache (every request reads its file)', 'on-nocache', 'off-nocache'),
      {
        id: 'v1c',
        figure: 'first read of each block in a process (read + sha-256), no cache',
        value: median(cold.on),
        unit: 'MB/s',
        baseline: median(cold.off),
        baselineLabel: 'same, not verified',
        ratio: coldRatio,
        goal: 'informational (paid once per block per process)',
        pass: null,
        note: `median of ${REPEATS} passes over ${mb.toFixed(1)} MB; the sha-256 of blocks >= 64 KiB runs on libuv's thread pool`,
        details: cold
      },
      {
        id: 'v2',
        figure: `scrub pass, no rate bound, ${SCRUB_MIB} MiB pinned (${scrub.blocks} blocks)`,
        value: scrubMb,
        unit: 'MB/s',
        baseline: median(scrub.byHand),
        baselineLabel: 'readFile + sha-256 of the same files',
        ratio: ratioOf(scrubMb, median(scrub.byHand)),
        goal: 'informational',
        pass: null,
        note: `median of ${REPEATS}; the daemons bound the scrub to ${DEFAULT_SCRUB_BYTES_PER_SECOND / 1024 / 1024} MiB/s by default (${(1024 / (DEFAULT_SCRUB_BYTES_PER_SECOND / 1024 / 1024) / 60).toFixed(1)} min per GiB pinned)`,
        details: scrub
      }
    ]
  } finally {
    for (const child of children) await child.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
