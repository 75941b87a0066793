import { createHash } from 'node:crypto'
import { MigrationExecutor } from 'typeorm'
import { describeDatabase } from '../database-url.ts'
import { InvalidConfigError } from '../errors.ts'
import { createDataSource } from './data-source.ts'
import { checkCollation, openCatalogDatabase, unavailable } from './dialect.ts'
import { CopyMismatchError, DatabaseNotEmptyError } from './errors.ts'
import type { DatabaseTarget } from '../database-url.ts'
import type { Database } from 'better-sqlite3'
import type { DataSource, EntityMetadata, QueryRunner } from 'typeorm'

/*
 * `cidcast db copy`: a SQLite catalog (a stopped server's: the caller holds its data folder's lock) copied into an
 * empty PostgreSQL database, all in one PostgreSQL transaction: the schema made by the PostgreSQL migrations, then
 * every table in dependency order (a table after those its foreign keys point at), then each table's row count and
 * checksum compared between the two. Anything wrong, a failed insert or a table that does not match, rolls the whole
 * transaction back: the target is left as empty as it was, never half-copied. The checksum is order-independent:
 * the sum, modulo 2^128, of a hash of each row's values normalised alike on both sides (integers as decimal text,
 * booleans as true/false, SQLite's 0/1 included, doubles as JavaScript prints them, null as null).
 */

/** A table as copied and checked. */
export interface CopiedTable {
  table: string
  rows: number
  /** The order-independent checksum both sides agreed on, 32 hex digits. */
  checksum: string
}

/** What a copy did. */
export interface CopyReport {
  source: string
  target: string
  /** Migrations the source needed first (a catalog left by an older release), oldest first. */
  migrated: string[]
  tables: CopiedTable[]
}

/** What a copy tells as it goes. */
export interface CopyProgress {
  /** Rows of `table` copied so far, of `total`. */
  onRows?: (table: string, done: number, total: number) => void
  /** A table copied and checked. */
  onTable?: (table: CopiedTable) => void
}

/** How a column's values are compared and sent. */
type Kind = 'boolean' | 'integer' | 'float' | 'text'

interface TablePlan {
  table: string
  columns: Array<{ name: string, kind: Kind }>
  primaryKey: string[]
  /** A column whose values a sequence gives (SERIAL): set past the copied rows afterwards. */
  serial?: string
}

/** Most parameters in one INSERT (PostgreSQL's limit is 65,535). */
const MAX_PARAMETERS = 30_000
/** Rows per INSERT and per page read back. */
const BATCH_ROWS = 1000
const MOD = 1n << 128n

/**
 * Copies the SQLite catalog `source` into the empty PostgreSQL database `target` (migrating the source first if an
 * older release left it) and checks every table; throws DatabaseNotEmptyError, CopyMismatchError,
 * CatalogUnavailableError or the failing statement's error, leaving the target untouched.
 */
export async function copyCatalog (source: DatabaseTarget, target: DatabaseTarget, progress: CopyProgress = {}): Promise<CopyReport> {
  if (source.dialect !== 'sqlite') throw new InvalidConfigError(`db copy copies a SQLite catalog; the source is ${describeDatabase(source)}`)
  if (target.dialect !== 'postgres') throw new InvalidConfigError('db copy copies to PostgreSQL: --to must be a postgres:// URL')
  const from = await openCatalogDatabase(source, { migrate: true })
  try {
    const to = createDataSource(target)
    try {
      await to.initialize()
    } catch (err) {
      throw unavailable(err, target.url, describeDatabase(target))
    }
    try {
      await checkCollation(to, describeDatabase(target))
      await refuseNonEmpty(to, describeDatabase(target))
      const tables = await copyInOneTransaction(from.dataSource, to, progress)
      // a table filled at once has neither planner statistics nor a visibility map until autovacuum comes by: without
      // them the first pages of a large library are sorted in full rather than walked along their index
      for (const { table } of tables) await to.query(`VACUUM ANALYZE "${table}"`)
      return { source: from.description, target: describeDatabase(target), migrated: from.applied, tables }
    } finally {
      await to.destroy()
    }
  } finally {
    await from.dataSource.destroy()
  }
}

async function refuseNonEmpty (db: DataSource, description: string): Promise<void> {
  const rows = await db.query<Array<{ name: string }>>(
    "SELECT relname AS name FROM pg_class WHERE relnamespace = current_schema()::regnamespace AND relkind IN ('r', 'p', 'v', 'm', 'S', 'f') ORDER BY relname"
  )
  if (rows.length === 0) return
  const names = rows.slice(0, 5).map(r => r.name).join(', ') + (rows.length > 5 ? `, and ${rows.length - 5} more` : '')
  throw new DatabaseNotEmptyError(`${description} is not empty (it holds ${names}): db copy fills only an empty database, so that nothing in it is overwritten or mixed; create a new one`)
}

async function copyInOneTransaction (from: DataSource, to: DataSource, progress: CopyProgress): Promise<CopiedTable[]> {
  const sqlite = (from.driver as unknown as { databaseConnection: Database }).databaseConnection
  const runner = to.createQueryRunner()
  await runner.connect()
  try {
    await runner.startTransaction()
    try {
      // the schema, inside this transaction: PostgreSQL's DDL is transactional, so a rollback takes it away too
      const executor = new MigrationExecutor(to, runner)
      executor.transaction = 'none'
      await executor.executePendingMigrations()
      await sameMigrations(sqlite, runner)
      const copied: CopiedTable[] = []
      for (const plan of plans(to)) {
        const expected = await copyTable(sqlite, runner, plan, progress)
        const found = await checksumOf(runner, plan)
        if (found.rows !== expected.rows || found.checksum !== expected.checksum) {
          throw new CopyMismatchError(`table ${plan.table} does not match after the copy: ${expected.rows} rows (checksum ${expected.checksum}) in SQLite, ${found.rows} (checksum ${found.checksum}) in PostgreSQL; nothing was kept`)
        }
        const done = { table: plan.table, ...expected }
        copied.push(done)
        progress.onTable?.(done)
      }
      await runner.commitTransaction()
      return copied
    } catch (err) {
      await runner.rollbackTransaction()
      throw err
    }
  } finally {
    await runner.release()
  }
}

/** Refuses a source that ran migrations the target did not (a catalog of a newer release). */
async function sameMigrations (sqlite: Database, runner: QueryRunner): Promise<void> {
  const source = sqlite.prepare<[], { name: string }>('SELECT name FROM migrations ORDER BY id').all().map(r => r.name)
  const target = (await runner.query('SELECT name FROM migrations ORDER BY id') as Array<{ name: string }>).map(r => r.name)
  const unknown = source.filter(name => !target.includes(name))
  if (unknown.length > 0) throw new CopyMismatchError(`the SQLite catalog has migrations this release does not know (${unknown.join(', ')}): copy it with the release that made it`)
}

/**
 * Tables of running servers' state, not of the catalog: each main server's beat and its ffmpeg leases (issue 15).
 * Copied, they would name a server that stopped when the copy began.
 */
const NOT_COPIED: ReadonlySet<string> = new Set(['main_servers', 'transcode_leases'])

/** Every table of the catalog's entities (but NOT_COPIED), each after the tables its foreign keys point at. */
function plans (db: DataSource): TablePlan[] {
  const left = new Map(db.entityMetadatas.filter(m => !NOT_COPIED.has(m.tableName)).map(m => [m.tableName, m]))
  const ordered: EntityMetadata[] = []
  while (left.size > 0) {
    const ready = [...left.values()].filter(m => m.foreignKeys.every(fk => fk.referencedEntityMetadata.tableName === m.tableName || !left.has(fk.referencedEntityMetadata.tableName)))
    if (ready.length === 0) throw new Error(`foreign keys form a cycle among ${[...left.keys()].join(', ')}`)
    ready.sort((a, b) => a.tableName < b.tableName ? -1 : 1)
    for (const m of ready) {
      ordered.push(m)
      left.delete(m.tableName)
    }
  }
  return ordered.map(m => ({
    table: m.tableName,
    columns: m.columns.map(c => ({ name: c.databaseName, kind: kindOf(c.type) })),
    primaryKey: m.primaryColumns.map(c => c.databaseName),
    serial: m.columns.find(c => c.isGenerated && c.generationStrategy === 'increment')?.databaseName
  }))
}

function kindOf (type: unknown): Kind {
  if (type === Boolean || type === 'boolean') return 'boolean'
  if (type === Number || type === 'integer' || type === 'int' || type === 'bigint') return 'integer'
  if (type === 'float' || type === 'double precision') return 'float'
  return 'text'
}

/** Copies one table's rows in batches; the source side's count and checksum. */
async function copyTable (sqlite: Database, runner: QueryRunner, plan: TablePlan, progress: CopyProgress): Promise<{ rows: number, checksum: string }> {
  const names = plan.columns.map(c => `"${c.name}"`).join(', ')
  const total = Number(sqlite.prepare<[], { n: number }>(`SELECT count(*) AS n FROM "${plan.table}"`).get()?.n ?? 0)
  // safe integers: a bigint beyond 2^53 reaches PostgreSQL as written, not rounded
  const rows = sqlite.prepare(`SELECT ${names} FROM "${plan.table}"`).raw(true).safeIntegers(true)
  const perBatch = Math.max(1, Math.min(BATCH_ROWS, Math.floor(MAX_PARAMETERS / plan.columns.length)))
  const sum = createSum()
  let batch: unknown[][] = []
  let done = 0
  const flush = async (): Promise<void> => {
    if (batch.length === 0) return
    const values: unknown[] = []
    const tuples = batch.map(row => `(${row.map(value => { values.push(value); return `$${values.length}` }).join(', ')})`)
    await runner.query(`INSERT INTO "${plan.table}" (${names}) VALUES ${tuples.join(', ')}`, values)
    done += batch.length
    batch = []
    progress.onRows?.(plan.table, done, total)
  }
  for (const raw of rows.iterate() as IterableIterator<unknown[]>) {
    sum.add(plan.columns.map((c, i) => normal(c.kind, raw[i])))
    batch.push(plan.columns.map((c, i) => toPostgres(c.kind, raw[i])))
    if (batch.length >= perBatch) await flush()
  }
  await flush()
  if (plan.serial != null) {
    // the next id the sequence gives follows the copied ones
    await runner.query(`SELECT setval(pg_get_serial_sequence('"${plan.table}"', '${plan.serial}'), COALESCE((SELECT MAX("${plan.serial}") FROM "${plan.table}"), 0) + 1, false)`)
  }
  return { rows: done, checksum: sum.hex() }
}

/** A table's count and checksum as PostgreSQL holds it, read back page by page in key order. */
async function checksumOf (runner: QueryRunner, plan: TablePlan): Promise<{ rows: number, checksum: string }> {
  const names = plan.columns.map(c => `"${c.name}"`).join(', ')
  const key = plan.primaryKey.map(c => `"${c}"`).join(', ')
  const keyAt = plan.primaryKey.map(c => plan.columns.findIndex(col => col.name === c))
  const sum = createSum()
  let rows = 0
  let last: unknown[] | undefined
  for (;;) {
    const after = last == null ? '' : `WHERE (${key}) > (${last.map((_, i) => `$${i + 1}`).join(', ')}) `
    const page = await runner.query(`SELECT ${names} FROM "${plan.table}" ${after}ORDER BY ${key} LIMIT ${BATCH_ROWS}`, last ?? []) as Array<Record<string, unknown>>
    for (const row of page) sum.add(plan.columns.map(c => normal(c.kind, row[c.name])))
    rows += page.length
    if (page.length < BATCH_ROWS) break
    const end = page[page.length - 1]
    last = keyAt.map(i => end[plan.columns[i].name])
  }
  return { rows, checksum: sum.hex() }
}

/** A value as the checksum sees it, the same from either driver. */
function normal (kind: Kind, value: unknown): string | null {
  if (value == null) return null
  switch (kind) {
    case 'boolean': return value === true || value === 1 || value === 1n || value === '1' || value === 't' ? 'true' : 'false'
    case 'integer': return typeof value === 'bigint' ? value.toString() : String(value)
    case 'float': return String(Number(value))
    case 'text': return String(value)
  }
}

/** A SQLite value as node-postgres should send it. */
function toPostgres (kind: Kind, value: unknown): unknown {
  if (value == null) return null
  switch (kind) {
    case 'boolean': return value === 1n || value === 1 || value === true
    case 'integer': return typeof value === 'bigint' ? value.toString() : value
    case 'float': return typeof value === 'bigint' ? Number(value) : value
    case 'text': return typeof value === 'bigint' ? value.toString() : value
  }
}

/** The order-independent sum of row hashes. */
function createSum (): { add: (row: Array<string | null>) => void, hex: () => string } {
  let total = 0n
  return {
    add: row => {
      const digest = createHash('sha256').update(JSON.stringify(row)).digest('hex').slice(0, 32)
      total = (total + BigInt(`0x${digest}`)) % MOD
    },
    hex: () => total.toString(16).padStart(32, '0')
  }
}
