import { DataSource } from 'typeorm'
import { CATALOG_ENTITIES } from './all-entities.ts'
import { SQLITE_BUSY_TIMEOUT_MS } from './busy.ts'
import { POSTGRES_MIGRATIONS } from './migrations/postgres-migrations.ts'
import { SQLITE_MIGRATIONS } from './migrations/sqlite-migrations.ts'
import type { DatabaseTarget } from '../database-url.ts'
import type { Database } from 'better-sqlite3'

export { POSTGRES_MIGRATIONS } from './migrations/postgres-migrations.ts'
export { SQLITE_MIGRATIONS } from './migrations/sqlite-migrations.ts'

/*
 * The catalog's TypeORM DataSource on either database (core/database-url.ts names them): the same entities, each
 * dialect's own migrations (migrations/sqlite/, migrations/postgres/: one of the same name per change). Migrations are
 * applied by `migrate`, never by `initialize()`, so `cidcast db migrate` can say what it applied and PostgreSQL can
 * apply them under a lock.
 */

/**
 * The key of the PostgreSQL advisory lock held while migrations run: several main servers on one database (or a
 * server and `cidcast db migrate`) starting together apply each migration once.
 */
const MIGRATION_LOCK_KEY = '4242001500'
/** How long a connection attempt to PostgreSQL may take before the catalog gives up on it. */
const POSTGRES_CONNECT_TIMEOUT_MS = 10_000

/** How a catalog's DataSource is built. */
export interface DataSourceOptions {
  /** SQLite: how long SQLite itself waits for another process's lock, blocking the thread (core/catalog/busy.ts). */
  busyTimeoutMs?: number
  /** PostgreSQL: hears errors of idle pooled connections (the server restarted, the network dropped). */
  onPoolError?: (err: Error) => void
}

/** A DataSource for the catalog on `target`, not initialised; `migrate` applies its migrations. */
export function createDataSource (target: DatabaseTarget, options: DataSourceOptions = {}): DataSource {
  if (target.dialect === 'postgres') {
    return new DataSource({
      type: 'postgres',
      url: target.url,
      entities: CATALOG_ENTITIES,
      migrations: POSTGRES_MIGRATIONS,
      migrationsRun: false,
      // the schema is only ever changed by migrations outside tests
      synchronize: false,
      applicationName: 'cidcast',
      connectTimeoutMS: POSTGRES_CONNECT_TIMEOUT_MS,
      poolErrorHandler: (err: Error) => { options.onPoolError?.(err) }
    })
  }
  return new DataSource({
    type: 'better-sqlite3',
    database: target.path,
    timeout: options.busyTimeoutMs ?? SQLITE_BUSY_TIMEOUT_MS,
    entities: CATALOG_ENTITIES,
    migrations: SQLITE_MIGRATIONS,
    migrationsRun: false,
    synchronize: false,
    enableWAL: true,
    prepareDatabase: (db: Database) => {
      // WAL + NORMAL: durable at checkpoints, no fsync per commit; a crash loses at most the last commits,
      // which the transcoder re-creates (segments are deterministic)
      db.pragma('synchronous = NORMAL')
      db.pragma('foreign_keys = ON')
    }
  })
}

/**
 * Applies the pending migrations of an initialised DataSource, all in one transaction; the names of those applied,
 * oldest first. On PostgreSQL under an advisory lock, so processes starting together on one database apply each once.
 */
export async function migrate (dataSource: DataSource): Promise<string[]> {
  if (dataSource.options.type !== 'postgres') return names(await dataSource.runMigrations({ transaction: 'all' }))
  const runner = dataSource.createQueryRunner()
  await runner.connect()
  try {
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY])
    try {
      return names(await dataSource.runMigrations({ transaction: 'all' }))
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY])
    }
  } finally {
    await runner.release()
  }
}

function names (migrations: Array<{ name: string }>): string[] {
  return migrations.map(migration => migration.name)
}
