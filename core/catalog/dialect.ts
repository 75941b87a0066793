import { createHash } from 'node:crypto'
import { describeDatabase } from '../database-url.ts'
import { createDataSource, migrate } from './data-source.ts'
import { CatalogUnavailableError, UnsuitableDatabaseError } from './errors.ts'
import type { DatabaseDialect, DatabaseTarget } from '../database-url.ts'
import type { DataSourceOptions } from './data-source.ts'
import type { Database } from 'better-sqlite3'
import type { DataSource, EntityManager } from 'typeorm'

/*
 * Where the catalog's two databases differ, decided in one place. The entities, repositories and queries are the same
 * on both (TypeORM writes each dialect's SQL; the few hand-written fragments are portable: `substr`, `LOWER ... LIKE
 * ... ESCAPE`, `CASE`); what is not:
 * - opening: SQLite is a file, PostgreSQL a server that may be unreachable or refuse us (CatalogUnavailableError,
 *   whose message shows the URL without its password);
 * - text order: SQLite compares bytewise (BINARY), and sort keys, titles and ids are ordered by the database, so a
 *   PostgreSQL database must sort the same way, collation C (UnsuitableDatabaseError says how to make one);
 * - the segment lookup on every segment request: a prepared better-sqlite3 statement called synchronously, a named
 *   prepared statement on PostgreSQL's pool;
 * - locks (core/catalog/busy.ts) and a full disk (core/disk-space.ts) each recognise both drivers' error codes;
 * - what several main servers must agree on (transcode leases): a transaction that must not run beside another on the
 *   same key takes a PostgreSQL advisory lock (SQLite's one writer serialises them already), and time is the
 *   database's clock on PostgreSQL (servers on several machines share it), the process's on SQLite (one machine).
 */

/** What the catalog uses of node-postgres's pool, which TypeORM's driver keeps (`pg` ships no types). */
interface PgPool {
  query: <R>(config: { name: string, text: string, values: unknown[] }) => Promise<{ rows: R[] }>
}

/** A segment's row as getSegment reads it. */
export interface SegmentRow {
  cid: string
  bytes: number
}

/** An open catalog database. */
export interface CatalogDatabase {
  dialect: DatabaseDialect
  dataSource: DataSource
  /** The database as logs may show it (no password). */
  description: string
  /** Segment `index` of a rendition: synchronous on SQLite (throws a busy error to wait out), a promise on PostgreSQL. */
  segment: (renditionKey: string, index: number) => SegmentRow | undefined | Promise<SegmentRow | undefined>
  /** Migrations applied by this open, oldest first. */
  applied: string[]
}

const SEGMENT_SQL = {
  sqlite: 'SELECT cid, bytes FROM segments WHERE rendition_key = ? AND segment_index = ?',
  postgres: 'SELECT cid, bytes FROM segments WHERE rendition_key = $1 AND segment_index = $2'
}

/** Collations that order text by its bytes (UTF-8 byte order is code point order), as SQLite's BINARY does. */
const BYTEWISE_COLLATIONS = /^(C|POSIX|C\.UTF-?8)$/i

/**
 * Opens the catalog's database, applies pending migrations when `migrate` is set, and checks that it can hold the
 * catalog; throws CatalogUnavailableError when PostgreSQL cannot be reached, UnsuitableDatabaseError when its
 * collation would order text otherwise than SQLite.
 */
export async function openCatalogDatabase (target: DatabaseTarget, options: DataSourceOptions & { migrate: boolean }): Promise<CatalogDatabase> {
  const description = describeDatabase(target)
  const dataSource = createDataSource(target, options)
  if (target.dialect === 'sqlite') {
    await dataSource.initialize()
    const applied = options.migrate ? await migrate(dataSource).catch(async (err: unknown) => { await dataSource.destroy(); throw err }) : []
    // the better-sqlite3 driver exposes its one connection; statements stay valid until it closes
    const connection = (dataSource.driver as unknown as { databaseConnection: Database }).databaseConnection
    const statement = connection.prepare<[string, number], SegmentRow>(SEGMENT_SQL.sqlite)
    return { dialect: 'sqlite', dataSource, description, applied, segment: (key, index) => statement.get(key, index) }
  }
  try {
    await dataSource.initialize()
  } catch (err) {
    throw unavailable(err, target.url, description)
  }
  try {
    await checkCollation(dataSource, description)
    const applied = options.migrate ? await migrate(dataSource) : []
    // the pool behind TypeORM: one round trip per lookup, the statement parsed once per connection
    const pool = (dataSource.driver as unknown as { master: PgPool }).master
    const segment = async (key: string, index: number): Promise<SegmentRow | undefined> =>
      (await pool.query<SegmentRow>({ name: 'cidcast-segment', text: SEGMENT_SQL.postgres, values: [key, index] })).rows[0]
    return { dialect: 'postgres', dataSource, description, applied, segment }
  } catch (err) {
    await dataSource.destroy()
    throw err
  }
}

/** Refuses a PostgreSQL database whose collation orders text otherwise than bytewise. */
export async function checkCollation (dataSource: DataSource, description: string): Promise<void> {
  // datlocprovider exists from PostgreSQL 15 on: read through to_jsonb so older servers answer too
  const [row] = await dataSource.query<Array<{ collate: string, provider: string | null }>>(
    "SELECT d.datcollate AS collate, to_jsonb(d) ->> 'datlocprovider' AS provider FROM pg_database d WHERE d.datname = current_database()"
  )
  // 'c': the C library's locales; 'b': PostgreSQL 17's builtin provider, whose C and C.UTF-8 are code point order
  const bytewise = row != null && (row.provider == null || row.provider === 'c' || row.provider === 'b') && BYTEWISE_COLLATIONS.test(row.collate)
  if (bytewise) return
  const name = row?.provider === 'i' ? `the ICU locale of ${row.collate}` : `collation ${row?.collate ?? 'unknown'}`
  throw new UnsuitableDatabaseError(
    `the catalog needs a database that sorts text bytewise, as SQLite does (collation C); ${description} uses ${name}. ` +
    'Create one with: CREATE DATABASE cidcast OWNER cidcast TEMPLATE template0 ENCODING \'UTF8\' LOCALE \'C\''
  )
}

/** Applies the pending migrations of the catalog's database and closes it (`cidcast db migrate`): their names, oldest first. */
export async function migrateCatalog (target: DatabaseTarget): Promise<{ database: string, applied: string[] }> {
  const database = await openCatalogDatabase(target, { migrate: true })
  await database.dataSource.destroy()
  return { database: database.description, applied: database.applied }
}

/** A failure to connect as CatalogUnavailableError, the password kept out of its message. */
export function unavailable (err: unknown, url: string, description: string): CatalogUnavailableError {
  let message = (err as Error)?.message ?? String(err)
  const password = passwordOf(url)
  if (password !== '') message = message.split(password).join('***')
  return new CatalogUnavailableError(`cannot open the catalog's database ${description}: ${message.split('\n')[0]}`)
}

function passwordOf (url: string): string {
  try {
    return decodeURIComponent(new URL(url).password)
  } catch {
    return ''
  }
}

/**
 * Holds, until the transaction of `db` ends, PostgreSQL's advisory lock on (`space`, a hash of `key`): transactions of
 * other processes taking the same one wait for it. On SQLite it does nothing: the transaction's first write takes the
 * file's one write lock, so such a transaction should write before it reads.
 */
export async function lockUntilCommit (db: EntityManager, space: number, key: string): Promise<void> {
  if (db.connection.options.type !== 'postgres') return
  // the two-key form: its keys never meet the one-key form's (the migration lock)
  await db.query('SELECT pg_advisory_xact_lock($1, $2)', [space, createHash('sha256').update(key).digest().readInt32BE(0)])
}

/** Epoch milliseconds by the database's clock on PostgreSQL, by the process's on SQLite (whose file is on this machine). */
export async function databaseNowMs (db: EntityManager): Promise<number> {
  if (db.connection.options.type !== 'postgres') return Date.now()
  const [row] = await db.query<Array<{ now: string }>>('SELECT floor(extract(epoch FROM clock_timestamp()) * 1000)::bigint AS now')
  return Number(row.now)
}
