import { copyFile, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { unixfs } from '@helia/unixfs'
import Database from 'better-sqlite3'
import { createHeliaLight } from 'helia'
import { copyCatalog, createCatalog, listColumns, searchText, sortKey } from '../core/catalog/index.ts'
import { parseDatabase } from '../core/database-url.ts'
import { hashFile } from '../core/ipfs/index.ts'
import { silentLogger } from '../core/logger.ts'
import { mediaId, probe, resolveFfmpeg } from '../core/media/index.ts'
import { createMetadata } from '../core/metadata/index.ts'
import { bearer } from '../test/helpers/auth.ts'
import { startChild } from '../test/helpers/child.ts'
import type { BenchChild } from '../test/helpers/child.ts'
import { fetchOk, newClient } from '../test/helpers/http.ts'
import { createPostgresDatabase } from '../test/helpers/postgres.ts'
import { fixture } from '../fixtures/media.ts'
import { percentile, ratioOf } from './table.ts'
import type { Row } from './table.ts'

/*
 * Issue 15's "catalog at scale": a library of 100,000 media with metadata (movies, episodes of 1,000 series, extras,
 * collections, unidentified files), served by a main server on SQLite and by one on PostgreSQL in the same run: the
 * API's list (a page of 50 in every sort and kind, at offsets anywhere in the library), search and detail, timed one
 * request at a time, each sent to both servers in turn (p50, p99; goal p99 < 50 ms). The library is written straight
 * into SQLite (one transaction), then moved to PostgreSQL with `db copy`, whose time is a figure too. Then the ingest
 * of 10,000 small files on each: what adding a file does after ffprobe (not run: the bench times the catalog, not
 * ffmpeg): hashing the file, the media row, its identification from the path and the metadata row with its audit
 * entry, and the view the API answers with, 4 files at a time as `cidcast add` sends them. PostgreSQL here is the
 * bench's own server (test/helpers/postgres.ts: local, fsync off, as SQLite's WAL at synchronous=NORMAL does not sync
 * each commit either).
 */

const SERVER_SCRIPT = fileURLToPath(new URL('../test/helpers/server-process.ts', import.meta.url))
const GOAL_P99_MS = 50
const PAGE = 50
const WORDS = ('amber anchor autumn bamboo beacon birch blossom breeze bridge canyon cedar cinder cliff clover comet coral crystal ' +
  'dawn delta desert dune echo ember falcon feather fern fjord flame forest fossil frost garden glacier granite harbor ' +
  'hazel heron horizon island ivory jade jasmine jungle lagoon lantern lark lotus marble meadow meteor mirror mist ' +
  'monsoon moss nebula nectar oasis ocean onyx orchid otter pebble pepper pine planet prairie quartz rain raven reef ' +
  'ripple river saffron sage sapphire shadow shore silver sparrow spruce stone storm summit sunset thistle thunder ' +
  'tide timber topaz tundra valley velvet violet willow winter').split(' ')

export interface CatalogScaleOptions {
  /** Media in the library. @default 100000 */
  media?: number
  /** Files ingested on each database. @default 10000 */
  files?: number
  /** Timed requests of each kind. @default 300 */
  requests?: number
  log: (line: string) => void
}

/** A deterministic pseudo-random source (mulberry32), so both databases hold the same library and get the same requests. */
function random (seed: number): () => number {
  let s = seed >>> 0
  return () => {
    s = (s + 0x6d2b79f5) >>> 0
    let t = s
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** Rows c2-c6: list, search and detail on both databases, the copy to PostgreSQL, and ingest on both. */
export async function measureCatalogScale (options: CatalogScaleOptions): Promise<Row[]> {
  const count = options.media ?? 100_000
  const files = options.files ?? 10_000
  const requests = options.requests ?? 300
  const { log } = options
  const dir = await mkdtemp(join(tmpdir(), 'cidcast-bench-scale-'))
  try {
    const sqliteData = join(dir, 'sqlite')
    const postgresData = join(dir, 'postgres')
    const source = join(dir, 'seed.sqlite')
    const probed = await probe((await resolveFfmpeg()).ffprobe, await fixture('h264-aac-10s'))
    log(`catalog at scale: writing ${count} media into SQLite`)
    const seeded = await seed(source, count, JSON.stringify(probed))
    await mkdir(sqliteData, { recursive: true })
    await copyFile(source, join(sqliteData, 'catalog.sqlite'))
    const postgres = await createPostgresDatabase()
    log('catalog at scale: copying it to PostgreSQL (db copy)')
    const copyStarted = performance.now()
    const copied = await copyCatalog(parseDatabase(source), parseDatabase(postgres))
    const copySeconds = (performance.now() - copyStarted) / 1000
    const copiedRows = copied.tables.reduce((sum, t) => sum + t.rows, 0)

    const rows: Row[] = []
    const api: Record<string, Record<string, number[]>> = {}
    // both servers at once, each request sent to one then the other: a neighbour's burst of work hits both alike
    log('catalog at scale: the API on SQLite and on PostgreSQL, request by request')
    const children: Array<BenchChild<{ url: string, token: string }>> = []
    try {
      for (const [data, env] of [[sqliteData, {}], [postgresData, { CIDCAST_DATABASE: postgres }]] as const) {
        children.push(await startChild<{ url: string, token: string }>(SERVER_SCRIPT, [data], 120_000, { env }))
      }
      const [sqlite, pg] = await timeApi(children.map(c => c.ready), seeded.ids, requests)
      Object.assign(api, { sqlite, postgres: pg })
    } finally {
      for (const child of children) await child.stop()
    }
    for (const [id, what, key] of [['c2', 'list a page of 50 (every sort and kind, any offset)', 'list'], ['c3', 'search (a word of the titles, 50 results)', 'search'], ['c4', 'media detail', 'detail']] as const) {
      for (const dialect of ['sqlite', 'postgres'] as const) {
        const samples = api[dialect][key]
        const p99 = percentile(samples, 99)
        const p50 = percentile(samples, 50)
        rows.push({
          id: dialect === 'sqlite' ? id : `${id}p`,
          figure: `${count} media on ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'}: ${what}, p99 over ${samples.length} requests`,
          value: Number(p99.toFixed(2)),
          unit: 'ms',
          baseline: Number(p50.toFixed(2)),
          baselineLabel: 'p50 of the same requests',
          ratio: ratioOf(p99, p50),
          goal: `p99 < ${GOAL_P99_MS} ms`,
          pass: p99 < GOAL_P99_MS,
          details: { p50, p90: percentile(samples, 90), p99, max: Math.max(...samples) }
        })
      }
    }
    rows.push({
      id: 'c6',
      figure: `db copy of the ${count}-media catalog to PostgreSQL (${copiedRows} rows, ${copied.tables.length} tables, checked)`,
      value: Number(copySeconds.toFixed(1)),
      unit: 's',
      baseline: null,
      baselineLabel: '-',
      ratio: null,
      goal: '-',
      pass: null,
      note: `${Math.round(copiedRows / copySeconds)} rows/s, counts and checksums compared in the same transaction`
    })

    const ingest: Record<string, number> = {}
    for (const [dialect, database] of [['sqlite', join(dir, 'ingest.sqlite')], ['postgres', await createPostgresDatabase()]] as const) {
      log(`catalog at scale: ingesting ${files} files on ${dialect}`)
      ingest[dialect] = await timeIngest(database, join(dir, `files-${dialect}`), files, JSON.stringify(probed))
    }
    for (const dialect of ['sqlite', 'postgres'] as const) {
      rows.push({
        id: dialect === 'sqlite' ? 'c5' : 'c5p',
        figure: `ingest of ${files} small files on ${dialect === 'sqlite' ? 'SQLite' : 'PostgreSQL'} (hash, media row, identification from the path, metadata and audit rows, the API's view; 4 at a time; no ffprobe)`,
        value: Number(ingest[dialect].toFixed(0)),
        unit: 'files/s',
        baseline: dialect === 'sqlite' ? null : Number(ingest.sqlite.toFixed(0)),
        baselineLabel: dialect === 'sqlite' ? '-' : 'SQLite, same run',
        ratio: dialect === 'sqlite' ? null : ratioOf(ingest.postgres, ingest.sqlite),
        goal: '-',
        pass: null
      })
    }
    return rows
  } finally {
    await rm(dir, { recursive: true, force: true })
  }
}

/** Writes the library into a new SQLite catalog at `path` in one transaction; the media ids. */
export async function seed (path: string, count: number, probeJson: string): Promise<{ ids: string[] }> {
  const catalog = createCatalog({ logger: silentLogger() }, { database: path })
  await catalog.start()
  await catalog.stop()
  const db = new Database(path)
  const next = random(15)
  const pick = <T>(list: readonly T[]): T => list[Math.floor(next() * list.length)]
  const name = (words: number): string => Array.from({ length: words }, () => pick(WORDS)).map(w => w[0].toUpperCase() + w.slice(1)).join(' ')
  const ids: string[] = []
  const media = db.prepare('INSERT INTO media (id, source_cid, path, title, sort_key, kind, other, year_rank, duration_seconds, size_bytes, probe, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)')
  const meta = db.prepare('INSERT INTO media_metadata (media_id, kind, title, year, series_id, season_number, episode_number, collection_id, folder, poster_cid, still_cid, updated_at, locked, source) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, \'[]\', \'path\')')
  const search = db.prepare('INSERT INTO media_search (media_id, title, text) VALUES (?, ?, ?)')
  const rendition = db.prepare('INSERT INTO renditions (key, media_id, profile, fingerprint, state, segment_count, created_at, updated_at) VALUES (?, ?, \'720p\', \'bench\', \'partial\', 5, ?, ?)')
  const series = Array.from({ length: 1000 }, (_, i) => ({ id: `s${i.toString(16).padStart(15, '0')}`, title: name(2) }))
  const collections = Array.from({ length: 500 }, (_, i) => ({ id: `c${i.toString(16).padStart(15, '0')}`, title: `${name(2)} Collection` }))
  const started = 1_700_000_000_000
  db.transaction(() => {
    for (const s of series) {
      db.prepare('INSERT INTO series (id, title, year, folder, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)').run(s.id, s.title, 1990 + Math.floor(next() * 35), `/library/TV/${s.title}`, started, started)
      for (let n = 1; n <= 3; n++) db.prepare('INSERT INTO seasons (series_id, number, title) VALUES (?, ?, ?)').run(s.id, n, `Season ${n}`)
    }
    for (const c of collections) db.prepare('INSERT INTO collections (id, title, created_at, updated_at) VALUES (?, ?, ?, ?)').run(c.id, c.title, started, started)
    for (let i = 0; i < count; i++) {
      const id = i.toString(16).padStart(16, '0')
      const roll = next()
      const year = 1950 + Math.floor(next() * 75)
      const at = started + i * 1000
      let title: string
      let path: string
      let row: unknown[] | undefined
      if (roll < 0.3) {
        const s = series[i % series.length]
        const [season, episode] = [1 + Math.floor(next() * 3), 1 + Math.floor(i / series.length) % 40]
        title = `${s.title} ${name(1)}`
        path = `/library/TV/${s.title}/Season ${season}/${s.title} - S0${season}E${episode}.mkv`
        row = [id, 'episode', title, year, s.id, season, episode, null, `/library/TV/${s.title}`, null, `bafkreistill${i}`, at]
      } else if (roll < 0.9) {
        title = `${name(2 + Math.floor(next() * 2))} ${i % 7 === 0 ? i : ''}`.trim()
        path = `/library/Movies/${title} (${year})/${title} (${year}).mkv`
        const collection = next() < 0.1 ? pick(collections).id : null
        row = [id, 'movie', title, year, null, null, null, collection, `/library/Movies/${title} (${year})`, `bafkreiposter${i}`, null, at]
      } else if (roll < 0.95) {
        title = `${name(2)} trailer`
        path = `/library/Movies/extras/${title}-trailer.mkv`
        row = [id, 'extra', title, null, null, null, null, null, '/library/Movies/extras', `bafkreiposter${i}`, null, at]
      } else {
        // a file nothing identified: no metadata row
        title = `VID_${20200101 + i}`
        path = `/library/Unsorted/${title}.mp4`
      }
      // the list columns the metadata repository keeps in step (written here as it would)
      const list = listColumns(row == null ? undefined : { kind: row[1] as string, year: row[3] as number | null, series: row[4] as string | null, season: row[5] as number | null })
      media.run(id, `bafkreibench${i}`, path, title, sortKey(title), list.kind, list.other ? 1 : 0, list.yearRank, 600 + next() * 6000, Math.floor(1e8 + next() * 4e9), probeJson, at, at)
      if (row != null) {
        meta.run(...row)
        search.run(id, title, searchText(title, null))
      }
      if (next() < 0.2) rendition.run(`${id}`.padEnd(64, 'r'), id, at, at)
      ids.push(id)
    }
  })()
  db.close()
  return { ids }
}

/**
 * Times list, search and detail requests one at a time, each sent to every server in turn (the same requests, in the
 * same order); per server, milliseconds per request by kind.
 */
async function timeApi (servers: Array<{ url: string, token: string }>, ids: string[], requests: number): Promise<Array<Record<string, number[]>>> {
  const clients = servers.map(() => newClient())
  const next = random(42)
  const get = async (i: number, path: string): Promise<unknown> =>
    JSON.parse((await fetchOk(`${servers[i].url}${path}`, clients[i], { headers: bearer(servers[i].token) })).body.toString('utf8'))
  const totals: Record<string, number> = {}
  for (const kind of ['', 'movie', 'episode', 'extra', 'other']) totals[kind] = ((await get(0, `/api/v1/media?limit=1${kind === '' ? '' : `&kind=${kind}`}`)) as { total: number }).total
  const paths: Record<string, () => string> = {
    list: () => {
      const kind = ['', 'movie', 'episode', 'other'][Math.floor(next() * 4)]
      const sort = ['added', 'title', 'year'][Math.floor(next() * 3)]
      const offset = Math.floor(next() * Math.max(1, totals[kind] - PAGE))
      return `/api/v1/media?limit=${PAGE}&sort=${sort}&offset=${offset}${kind === '' ? '' : `&kind=${kind}`}`
    },
    search: () => `/api/v1/search?q=${WORDS[Math.floor(next() * WORDS.length)]}&limit=${PAGE}`,
    detail: () => `/api/v1/media/${ids[Math.floor(next() * ids.length)]}`
  }
  const samples = servers.map(() => ({} as Record<string, number[]>))
  for (const [kind, path] of Object.entries(paths)) {
    // a few untimed first: connections, caches and the JIT warm up
    for (let i = 0; i < 20; i++) {
      const target = path()
      for (let s = 0; s < servers.length; s++) await get(s, target)
    }
    for (const own of samples) own[kind] = []
    for (let i = 0; i < requests; i++) {
      const target = path()
      for (let s = 0; s < servers.length; s++) {
        const started = performance.now()
        await get(s, target)
        samples[s][kind].push(performance.now() - started)
      }
    }
  }
  for (const client of clients) client.destroy()
  return samples
}

/** Adds `files` small files to a fresh catalog as the library does after ffprobe; files per second. */
async function timeIngest (database: string, dir: string, files: number, probeJson: string): Promise<number> {
  const logger = silentLogger()
  const catalog = createCatalog({ logger }, { database })
  await catalog.start()
  const helia = createHeliaLight({})
  await helia.start()
  const metadata = createMetadata({ logger, catalog, unixfs: unixfs(helia), pins: helia.pins }, { providers: [], keys: {}, urls: {}, imageHosts: {}, language: 'en-US', writeNfo: false, fetchImages: false })
  await metadata.start()
  try {
    const paths: string[] = []
    for (let i = 0; i < files; i++) {
      const folder = join(dir, `Movie ${i} (${1950 + (i % 75)})`)
      await mkdir(folder, { recursive: true })
      const path = join(folder, `Movie ${i} (${1950 + (i % 75)}).mkv`)
      await writeFile(path, `cidcast bench file ${i}\n`)
      paths.push(path)
    }
    const probed = JSON.parse(probeJson) as { durationSeconds: number }
    let nextFile = 0
    const started = performance.now()
    await Promise.all(Array.from({ length: 4 }, async () => {
      while (nextFile < paths.length) {
        const path = paths[nextFile++]
        const sourceCid = (await hashFile(path)).toString()
        const { media, created } = await catalog.upsertMedia({ id: mediaId(sourceCid), sourceCid, path, title: path, durationSeconds: probed.durationSeconds, sizeBytes: 20, probe: probed })
        await metadata.added(media, created)
        // what the API answers with: the renditions and the metadata view
        await catalog.listRenditions(media.id)
        await metadata.describe(media)
      }
    }))
    return files / ((performance.now() - started) / 1000)
  } finally {
    await metadata.stop()
    await helia.stop()
    await catalog.stop()
  }
}
