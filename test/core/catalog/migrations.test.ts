import test from 'ava'
import { DataSource } from 'typeorm'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from '../../../core/catalog/data-source.ts'
import { parseDatabase } from '../../../core/database-url.ts'
import { silentLogger } from '../../../core/logger.ts'
import { testDatabase } from '../../helpers/database.ts'
import type { Catalog } from '../../../core/catalog/catalog.ts'
import type { ExecutionContext } from 'ava'

/*
 * The migrations that compute values for rows already in a catalog (a release upgraded with its library in place),
 * on the test process's dialect (migrations.pg.test.ts runs them on PostgreSQL): a catalog as the release before left
 * it, filled with plain SQL, then opened by this release.
 */

/** A catalog's database migrated up to (not including) `before`, and a way to insert rows into it with plain SQL. */
async function catalogBefore (t: ExecutionContext, before: string): Promise<{ database: string, insert: (table: string, row: Record<string, unknown>) => Promise<void>, close: () => Promise<void> }> {
  const { database, remove } = await testDatabase()
  t.teardown(remove)
  const target = parseDatabase(database)
  const all = target.dialect === 'sqlite' ? SQLITE_MIGRATIONS : POSTGRES_MIGRATIONS
  const migrations = all.slice(0, all.findIndex(m => m.name === before))
  const dataSource = target.dialect === 'sqlite'
    ? new DataSource({ type: 'better-sqlite3', database: target.path, migrations })
    : new DataSource({ type: 'postgres', url: target.url, migrations })
  await dataSource.initialize()
  await dataSource.runMigrations()
  return {
    database,
    insert: async (table, row) => {
      const columns = Object.keys(row)
      const marks = columns.map((_, i) => target.dialect === 'sqlite' ? '?' : `$${i + 1}`)
      await dataSource.query(`INSERT INTO "${table}" (${columns.map(c => `"${c}"`).join(', ')}) VALUES (${marks.join(', ')})`, Object.values(row))
    },
    close: async () => { await dataSource.destroy() }
  }
}

async function openCatalog (t: ExecutionContext, database: string): Promise<Catalog> {
  const catalog = createCatalog({ logger: silentLogger() }, { database })
  await catalog.start()
  t.teardown(async () => { await catalog.stop() })
  return catalog
}

const media = (id: string, title: string, created = 1): Record<string, unknown> => ({ id, source_cid: `bafy-${id}`, path: `/${id}.mp4`, title, duration_seconds: 1, size_bytes: 1, probe: '{}', created_at: created, updated_at: created })
const metadata = (id: string, kind: string, title: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({ media_id: id, kind, title, folder: '/', locked: '[]', source: 'path', updated_at: 1, ...extra })

test('the sort-key migration gives media already in the database the key of their sort title or title', async t => {
  const before = await catalogBefore(t, 'MediaSortKey1796000000000')
  for (const [id, title] of [['m1', 'Movie 10'], ['m2', 'Movie 9'], ['m3', 'a-file-name'], ['m4', 'Zebra']]) await before.insert('media', media(id, title))
  // metadata names m3 "The Matrix" and gives m4 a sort title
  await before.insert('media_metadata', metadata('m3', 'movie', 'The Matrix'))
  await before.insert('media_metadata', metadata('m4', 'movie', 'Zebra', { sort_title: 'Aardvark' }))
  await before.close()
  const catalog = await openCatalog(t, before.database)
  t.deepEqual((await catalog.listMedia({ sort: 'title' })).map(m => m.id), ['m4', 'm3', 'm2', 'm1'])
})

test('the library-scale migration gives media already in the database their kind, other, year and search text from their metadata', async t => {
  const before = await catalogBefore(t, 'LibraryScale1796800000000')
  await before.insert('series', { id: 's1', title: 'Show', created_at: 1, updated_at: 1 })
  const rows: Array<[string, Record<string, unknown> | undefined]> = [
    ['movie-1999', metadata('movie-1999', 'movie', 'Matrix', { year: 1999 })],
    ['movie-2010', metadata('movie-2010', 'movie', 'Inception', { year: 2010 })],
    ['movie-none', metadata('movie-none', 'movie', 'Unknown year')],
    ['episode', metadata('episode', 'episode', 'Pilot', { series_id: 's1', season_number: 1, episode_number: 1, year: 2020 })],
    ['loose-episode', metadata('loose-episode', 'episode', 'No series')],
    ['extra', metadata('extra', 'extra', 'ÉMILE Trailer', { original_title: 'Bande-annonce' })],
    ['bare', undefined]
  ]
  for (const [i, [id, meta]] of rows.entries()) {
    await before.insert('media', media(id, id, i + 1))
    if (meta != null) await before.insert('media_metadata', meta)
  }
  await before.close()
  const catalog = await openCatalog(t, before.database)
  const ids = async (options: Parameters<Catalog['listMedia']>[0]): Promise<string[]> => (await catalog.listMedia(options)).map(m => m.id)
  t.deepEqual(await ids({ kind: 'movie', sort: 'year' }), ['movie-2010', 'movie-1999', 'movie-none'])
  t.deepEqual(await ids({ kind: 'movie', sort: 'year', order: 'asc' }), ['movie-1999', 'movie-2010', 'movie-none'])
  t.deepEqual(await ids({ kind: 'episode' }), ['loose-episode', 'episode'])
  t.deepEqual(await ids({ kind: 'other' }), ['bare', 'extra', 'loose-episode'])
  t.is(await catalog.countMedia({ kind: 'other' }), 3)
  t.deepEqual(await ids({ sort: 'year' }), ['episode', 'movie-2010', 'movie-1999', 'bare', 'extra', 'loose-episode', 'movie-none'])
  // every letter of a title folded (SQL's LOWER folds ASCII alone), and the original title searched too
  const found = async (text: string): Promise<string[]> => (await catalog.repositories.metadata.search(text, 10)).media.map(m => m.mediaId)
  t.deepEqual(await found('émile'), ['extra'])
  t.deepEqual(await found('BANDE'), ['extra'])
  t.deepEqual(await found('matrix'), ['movie-1999'])
})
