import { join } from 'node:path'
import { createPostgresDatabase } from './postgres.ts'
import { tempDir } from './tmp.ts'

/*
 * The catalog's database for a test, in the test process's dialect: a SQLite file in a temporary folder (the default),
 * or a new database on the process's PostgreSQL server (test/helpers/postgres.ts). A test file that touches the
 * catalog asks `testDatabase()` for its setting; its PostgreSQL twin (`<name>.pg.test.ts`) is three lines:
 * `useDialect('postgres')`, then `await import('./<name>.test.ts')`, so the same tests run on both.
 */

export type Dialect = 'sqlite' | 'postgres'

let dialect: Dialect = 'sqlite'

/** Sets the dialect of every `testDatabase()` of this process (call it before importing the tests). */
export function useDialect (value: Dialect): void {
  dialect = value
}

/** The dialect `testDatabase()` gives. */
export function testDialect (): Dialect {
  return dialect
}

/** A fresh, empty catalog database: its `database` setting and its removal (a PostgreSQL one goes with its server). */
export async function testDatabase (): Promise<{ database: string, dialect: Dialect, remove: () => Promise<void> }> {
  if (dialect === 'postgres') return { database: await createPostgresDatabase(), dialect, remove: async () => {} }
  const dir = await tempDir('cidcast-catalog-')
  return { database: join(dir.path, 'catalog.sqlite'), dialect, remove: dir.remove }
}

/**
 * The `database` option of a main server started by a test: none on SQLite (the data folder's catalog.sqlite, as by
 * default), a new PostgreSQL database otherwise.
 */
export async function serverDatabase (): Promise<{ database?: string }> {
  return dialect === 'postgres' ? { database: await createPostgresDatabase() } : {}
}
