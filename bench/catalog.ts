import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import Database from 'better-sqlite3'
import { createCatalog } from '../core/catalog/index.ts'
import { silentLogger } from '../core/logger.ts'
import { ratioOf } from './table.ts'
import type { Row } from './table.ts'

const SEGMENTS = 500
const RENDITION_KEY = 'r'.repeat(64)

/** Microseconds per call of `lookup` over `calls` calls, after a warm-up of a tenth as many. */
async function microsecondsPerCall (calls: number, lookup: (index: number) => Promise<number | undefined>): Promise<number> {
  for (let n = 0; n < calls / 10; n++) await lookup(n % SEGMENTS)
  const started = process.hrtime.bigint()
  for (let n = 0; n < calls; n++) {
    // checking each answer keeps the lookup from being a no-op and catches a wrong row
    if (await lookup(n % SEGMENTS) !== 1000 + (n % SEGMENTS)) throw new Error(`wrong segment ${n}`)
  }
  return Number(process.hrtime.bigint() - started) / 1000 / calls
}

/**
 * Row c1: the catalog's segment lookup (it runs on every segment request) against a bare better-sqlite3 prepared
 * statement reading the same row of the same file: the price of the catalog's layer over the driver.
 */
export async function measureSegmentLookup (calls = 20_000): Promise<Row> {
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-catalog-'))
  const database = join(dir, 'catalog.sqlite')
  const catalog = createCatalog({ logger: silentLogger() }, { database })
  await catalog.start()
  try {
    await catalog.upsertMedia({ id: 'm-0000000000001', sourceCid: 'bafkreigh2akiscaildcqabsyg3dfr6chu3fgpregiymsck7e7aqa4s52zy', path: '/videos/a.mp4', title: 'A', durationSeconds: 2000, sizeBytes: 1, probe: { container: 'mov,mp4' } })
    await catalog.ensureRendition({ key: RENDITION_KEY, mediaId: 'm-0000000000001', profile: '720p', fingerprint: 'bench', segmentCount: SEGMENTS })
    for (let index = 0; index < SEGMENTS; index++) await catalog.putSegment(RENDITION_KEY, index, `bafy-seg-${index}`, 1000 + index)

    const catalogUs = await microsecondsPerCall(calls, async index => (await catalog.getSegment(RENDITION_KEY, index))?.bytes)
    const raw = new Database(database, { readonly: true })
    let rawUs: number
    try {
      const statement = raw.prepare<[string, number], { bytes: number }>('SELECT cid, bytes FROM segments WHERE rendition_key = ? AND segment_index = ?')
      rawUs = await microsecondsPerCall(calls, async index => statement.get(RENDITION_KEY, index)?.bytes)
    } finally {
      raw.close()
    }
    return {
      id: 'c1',
      figure: `catalog segment lookup (getSegment), ${SEGMENTS} segments, ${calls} calls`,
      value: Number(catalogUs.toFixed(2)),
      unit: 'µs/call',
      baseline: Number(rawUs.toFixed(2)),
      baselineLabel: 'bare better-sqlite3 statement',
      ratio: ratioOf(catalogUs, rawUs),
      // a prepared statement is 3-6 µs here, TypeORM's findOne 28-38 µs: a ratio tells the two apart on a busy machine too
      goal: '< 3x the bare statement',
      pass: catalogUs < 3 * rawUs
    }
  } finally {
    await catalog.stop()
    await rm(dir, { recursive: true, force: true })
  }
}
