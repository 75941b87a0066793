import test from 'ava'
import { DataSource } from 'typeorm'
import { createCatalog } from '../../../core/catalog/catalog.ts'
import { createDataSource, migrate, POSTGRES_MIGRATIONS, SQLITE_MIGRATIONS } from '../../../core/catalog/data-source.ts'
import { CATALOG_ENTITIES } from '../../../core/catalog/all-entities.ts'
import { silentLogger } from '../../../core/logger.ts'
import { createPostgresDatabase, postgresServer, withClient } from '../../helpers/postgres.ts'
import { postgresSchema, sqliteSchema } from '../../helpers/schema.ts'
import type { MigrationInterface } from 'typeorm'

/*
 * The catalog's two migration sets (core/catalog/migrations/sqlite/ and postgres/) kept in step: one of the same name
 * for every change, each step making the same schema on both, TypeORM finding nothing left to change on PostgreSQL
 * (schema.test.ts checks SQLite), every step undone. And what only PostgreSQL has: its collation checked, its
 * migrations applied once by processes starting together, a password that never shows.
 */

type MigrationClass = new () => MigrationInterface

/** A migration class's name (`InitialSchema1764115200000`). */
function nameOf (Migration: MigrationClass): string {
  return new Migration().name ?? Migration.name
}

/** A DataSource on `url` (PostgreSQL) or `path` (SQLite) knowing only `migrations`, initialised. */
async function open (dialect: 'sqlite' | 'postgres', where: string, migrations: MigrationClass[]): Promise<DataSource> {
  const dataSource = dialect === 'sqlite'
    ? new DataSource({ type: 'better-sqlite3', database: where, entities: CATALOG_ENTITIES, migrations })
    : new DataSource({ type: 'postgres', url: where, entities: CATALOG_ENTITIES, migrations })
  await dataSource.initialize()
  return dataSource
}

test('every SQLite migration has a PostgreSQL twin of the same name, in the same order', t => {
  t.deepEqual(POSTGRES_MIGRATIONS.map(nameOf), SQLITE_MIGRATIONS.map(nameOf))
  t.true(SQLITE_MIGRATIONS.every((m, i) => m !== POSTGRES_MIGRATIONS[i]), 'each dialect has its own classes')
})

test('each migration makes the same schema on SQLite and PostgreSQL: columns, types, nullability, defaults, keys, indexes, foreign keys', async t => {
  const url = await createPostgresDatabase()
  const sqlite = await open('sqlite', ':memory:', [])
  t.teardown(async () => { await sqlite.destroy() })
  for (let step = 1; step <= SQLITE_MIGRATIONS.length; step++) {
    // each step on its own, as a server upgraded release by release would have run them
    const onSqlite = await open('sqlite', ':memory:', SQLITE_MIGRATIONS.slice(0, step))
    const onPostgres = await open('postgres', url, POSTGRES_MIGRATIONS.slice(0, step))
    try {
      await onPostgres.runMigrations()
      await onSqlite.runMigrations()
      const name = nameOf(SQLITE_MIGRATIONS[step - 1])
      t.deepEqual(await postgresSchema(onPostgres), await sqliteSchema(onSqlite), `after ${name}`)
    } finally {
      await onSqlite.destroy()
      await onPostgres.destroy()
    }
  }
  // the last comparison covered every table; make sure it was not two empty schemas agreeing
  const last = await open('postgres', url, [])
  t.teardown(async () => { await last.destroy() })
  const tables = Object.keys(await postgresSchema(last))
  t.true(tables.includes('media_metadata') && tables.includes('node_invitations') && tables.includes('migrations'), tables.join(' '))
  t.deepEqual(await last.query('SELECT name, timestamp::text AS timestamp FROM migrations ORDER BY id'), SQLITE_MIGRATIONS.map(m => ({ name: nameOf(m), timestamp: nameOf(m).slice(-13) })))
})

test('after the PostgreSQL migrations the entities need no schema change', async t => {
  const dataSource = createDataSource({ dialect: 'postgres', url: await createPostgresDatabase() })
  await dataSource.initialize()
  t.teardown(async () => { await dataSource.destroy() })
  t.deepEqual(await migrate(dataSource), POSTGRES_MIGRATIONS.map(nameOf))
  const pending = await dataSource.driver.createSchemaBuilder().log()
  t.deepEqual(pending.upQueries.map(query => query.query), [])
  t.deepEqual(await migrate(dataSource), [], 'a second run applies nothing')
})

test('the PostgreSQL migrations revert to an empty database', async t => {
  const dataSource = createDataSource({ dialect: 'postgres', url: await createPostgresDatabase() })
  await dataSource.initialize()
  t.teardown(async () => { await dataSource.destroy() })
  await migrate(dataSource)
  for (let i = 0; i < POSTGRES_MIGRATIONS.length; i++) await dataSource.undoLastMigration()
  const relations = await dataSource.query<Array<{ name: string, kind: string }>>(
    "SELECT relname AS name, relkind AS kind FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'i', 'S') ORDER BY relname"
  )
  t.deepEqual(relations, [{ name: 'migrations', kind: 'r' }, { name: 'migrations_id_seq', kind: 'S' }, { name: 'PK_8c82d7f526340ab734260ea46be', kind: 'i' }].sort((a, b) => a.name < b.name ? -1 : 1))
  t.deepEqual(await dataSource.query('SELECT name FROM migrations'), [])
})

test('starting twice, and again on the same PostgreSQL database, is harmless', async t => {
  const database = await createPostgresDatabase()
  const first = createCatalog({ logger: silentLogger() }, { database })
  await Promise.all([first.start(), first.start()])
  await first.upsertMedia({ id: 'm1', sourceCid: 'bafy-1', path: '/a.mp4', title: 'a', durationSeconds: 1, sizeBytes: 1, probe: {} })
  await first.stop()
  await first.stop()
  const second = createCatalog({ logger: silentLogger() }, { database })
  await second.start()
  t.teardown(async () => { await second.stop() })
  t.is((await second.listMedia()).length, 1)
  t.is(await withClient(database, async client => (await client.query<{ n: string }>('SELECT count(*) AS n FROM migrations')).rows[0].n), String(POSTGRES_MIGRATIONS.length))
})

test('catalogs starting together on a new PostgreSQL database apply each migration once', async t => {
  const database = await createPostgresDatabase()
  const catalogs = Array.from({ length: 3 }, () => createCatalog({ logger: silentLogger() }, { database }))
  await Promise.all(catalogs.map(async c => { await c.start() }))
  t.teardown(async () => { for (const c of catalogs) await c.stop() })
  const names = await withClient(database, async client => (await client.query<{ name: string }>('SELECT name FROM migrations ORDER BY id')).rows.map(r => r.name))
  t.deepEqual(names, POSTGRES_MIGRATIONS.map(nameOf))
})

test('a PostgreSQL database that sorts text otherwise than bytewise is refused, saying how to make one', async t => {
  const database = await createPostgresDatabase({ icuLocale: 'en-US' })
  const catalog = createCatalog({ logger: silentLogger() }, { database })
  const err = await t.throwsAsync(catalog.start(), { name: 'UnsuitableDatabaseError' })
  t.regex(err?.message ?? '', /collation C/)
  t.regex(err?.message ?? '', /CREATE DATABASE cidcast .* LOCALE 'C'/)
  t.false((err?.message ?? '').includes((await postgresServer()).password), 'no password in the message')
  // nothing was created in it
  t.deepEqual(await withClient(database, async client => (await client.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public'")).rows), [])
})

test('an unreachable or refusing PostgreSQL is CatalogUnavailableError naming the database without its password', async t => {
  const server = await postgresServer()
  const cases = [
    `postgres://cidcast:Secret-pw-1@127.0.0.1:${server.port}/no_such_database`,
    `postgres://postgres:Secret-pw-2@127.0.0.1:${server.port}/postgres`,
    'postgres://cidcast:Secret-pw-3@127.0.0.1:1/cidcast'
  ]
  for (const database of cases) {
    const catalog = createCatalog({ logger: silentLogger() }, { database })
    const err = await t.throwsAsync(catalog.start(), { name: 'CatalogUnavailableError' })
    t.log(err?.message)
    t.regex(err?.message ?? '', /^cannot open the catalog's database postgres:\/\/\w+@127\.0\.0\.1:\d+\/\w+: \S/)
    t.notRegex(err?.message ?? '', /Secret-pw/)
  }
})
