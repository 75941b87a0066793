import { join } from 'node:path'
import test from 'ava'
import { DataSource, Table, TableForeignKey } from 'typeorm'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { createDataSource, migrate, SQLITE_MIGRATIONS } from '../../../core/catalog/data-source.ts'
import { CATALOG_ENTITIES } from '../../../core/catalog/all-entities.ts'
import { silentLogger } from '../../../core/logger.ts'
import { tempDir } from '../../helpers/tmp.ts'

/** An initialised, migrated DataSource on a SQLite file (or ':memory:'). */
async function openSqlite (path: string): Promise<DataSource> {
  const dataSource = createDataSource({ dialect: 'sqlite', path })
  await dataSource.initialize()
  await migrate(dataSource)
  return dataSource
}

const TABLES = ['access_tokens', 'collections', 'content_index', 'images', 'main_servers', 'media', 'media_metadata', 'media_search', 'metadata_audit', 'migrations', 'node_invitations', 'nodes', 'playback_progress', 'renditions', 'replication_goals', 'replication_preparations', 'seasons', 'segments', 'series', 'stream_keys', 'transcode_leases', 'users']

test('migrations create the schema on a fresh file with WAL and foreign keys', async t => {
  const dir = await tempDir('cidcast-catalog-')
  t.teardown(dir.remove)
  const dataSource = await openSqlite(join(dir.path, 'sub', 'catalog.sqlite'))
  t.teardown(async () => { await dataSource.destroy() })

  const tables: Array<{ name: string }> = await dataSource.query(
    "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name"
  )
  t.deepEqual(tables.map(table => table.name), TABLES)
  t.deepEqual(await dataSource.query('PRAGMA journal_mode'), [{ journal_mode: 'wal' }])
  t.deepEqual(await dataSource.query('PRAGMA synchronous'), [{ synchronous: 1 }]) // 1 = NORMAL
  t.deepEqual(await dataSource.query('PRAGMA foreign_keys'), [{ foreign_keys: 1 }])
})

test('after the migrations the entities need no schema change', async t => {
  const dataSource = await openSqlite(':memory:')
  t.teardown(async () => { await dataSource.destroy() })
  const pending = await dataSource.driver.createSchemaBuilder().log()
  t.deepEqual(pending.upQueries.map(query => query.query), [])
})

test('the migrations revert to an empty database', async t => {
  const dataSource = await openSqlite(':memory:')
  t.teardown(async () => { await dataSource.destroy() })
  for (let i = 0; i < SQLITE_MIGRATIONS.length; i++) await dataSource.undoLastMigration()
  const tables: Array<{ name: string }> = await dataSource.query(
    "SELECT name FROM sqlite_master WHERE name NOT LIKE 'sqlite_%' ORDER BY name"
  )
  t.deepEqual(tables.map(table => table.name), ['migrations'])
})

test('starting twice, and again on the same file, is harmless', async t => {
  const dir = await tempDir('cidcast-catalog-')
  t.teardown(dir.remove)
  const database = join(dir.path, 'catalog.sqlite')
  const first = createCatalog({ logger: silentLogger() }, { database })
  await Promise.all([first.start(), first.start()])
  await first.start()
  await first.upsertMedia({ id: 'm1', sourceCid: 'bafy-1', path: '/a.mp4', title: 'a', durationSeconds: 1, sizeBytes: 1, probe: {} })
  await first.stop()
  await first.stop()

  const second = createCatalog({ logger: silentLogger() }, { database })
  await second.start()
  t.is((await second.listMedia()).length, 1)
  await second.stop()

  const dataSource = await openSqlite(database)
  t.teardown(async () => { await dataSource.destroy() })
  t.deepEqual(await dataSource.query('SELECT name FROM migrations ORDER BY id'), SQLITE_MIGRATIONS.map(migration => ({ name: migration.name })))
})

test('the entities map to portable types on PostgreSQL', async t => {
  // No PostgreSQL here: build the metadata against TypeORM's Postgres driver (a stub stands in for `pg`, never
  // called) and render its DDL without executing it. This validates every column type against that driver.
  const dataSource = new DataSource({ type: 'postgres', driver: {}, entities: CATALOG_ENTITIES })
  // buildMetadatas is protected; calling it is the one way to validate entities without a server
  await (dataSource as unknown as { buildMetadatas: () => Promise<void> }).buildMetadatas()
  const runner = dataSource.driver.createQueryRunner('master')
  runner.enableSqlMemory()
  for (const metadata of dataSource.entityMetadatas) {
    const table = Table.create(metadata, dataSource.driver)
    await runner.createTable(table, false, false, true)
    for (const foreignKey of metadata.foreignKeys) {
      await runner.createForeignKey(table, TableForeignKey.create(foreignKey, dataSource.driver))
    }
  }
  const sql = runner.getMemorySql().upQueries.map(query => query.query).join(';\n')
  t.log(sql)
  t.regex(sql, /"duration_seconds" double precision NOT NULL/)
  t.regex(sql, /"position_seconds" double precision NOT NULL/)
  t.regex(sql, /"size_bytes" bigint NOT NULL/)
  t.regex(sql, /"created_at" bigint NOT NULL/)
  t.regex(sql, /CONSTRAINT "pk_segments" PRIMARY KEY \("rendition_key", "segment_index"\)/)
  t.regex(sql, /"fk_segments_rendition" FOREIGN KEY \("rendition_key"\) REFERENCES "renditions"\("key"\) ON DELETE CASCADE/)
  t.regex(sql, /"fk_renditions_media" FOREIGN KEY \("media_id"\) REFERENCES "media"\("id"\) ON DELETE CASCADE/)
  t.regex(sql, /"fk_playback_progress_media" FOREIGN KEY \("media_id"\) REFERENCES "media"\("id"\) ON DELETE CASCADE/)
})
