import { existsSync } from 'node:fs'
import { SingleBar } from 'cli-progress'
import { copyCatalog, migrateCatalog } from '../core/catalog/index.ts'
import { CONFIG_FILE, loadServerConfig } from '../core/config/index.ts'
import { describeDatabase, parseDatabase } from '../core/database-url.ts'
import { InvalidConfigError, PathNotFoundError } from '../core/errors.ts'
import { lockDataFolder } from '../core/net/index.ts'
import { join } from 'node:path'

/*
 * `cidcast db migrate` and `cidcast db copy`: the catalog's database, apart from a running server. Loaded only by
 * these verbs: they bring TypeORM. A SQLite catalog belongs to the server of its data folder, so both take that
 * folder's lock (a running server's catalog is refused); PostgreSQL is shared by design and guards its migrations
 * with an advisory lock of its own (core/catalog/data-source.ts).
 */

/** Where the verbs write: lines on `out`, a progress bar on `err` when it is a terminal. */
export interface DbOutput {
  out: NodeJS.WritableStream
  err: NodeJS.WritableStream & { isTTY?: boolean }
}

const STDIO: DbOutput = { out: process.stdout, err: process.stderr }

/** `cidcast db migrate [--database URL] [--data DIR]`: applies pending migrations, one line each. */
export async function dbMigrate (options: { data?: string, database?: string }, io: DbOutput = STDIO): Promise<void> {
  const config = await loadServerConfig({ data: options.data, database: options.database })
  const target = parseDatabase(config.database)
  const release = target.dialect === 'sqlite' ? await lockDataFolder(config.data) : undefined
  try {
    const { database, applied } = await migrateCatalog(target)
    for (const name of applied) io.out.write(`applied ${name}\n`)
    io.out.write(applied.length === 0 ? `${database} is up to date: nothing to apply\n` : `${database}: ${applied.length} migration(s) applied, up to date\n`)
  } finally {
    await release?.()
  }
}

/**
 * `cidcast db copy --to URL [--data DIR]`: copies the data folder's SQLite catalog (its server stopped) to an empty
 * PostgreSQL database, every table checked, then says how to switch.
 */
export async function dbCopy (options: { data?: string, to: string }, io: DbOutput = STDIO): Promise<void> {
  const config = await loadServerConfig({ data: options.data })
  const source = parseDatabase(config.database)
  if (source.dialect !== 'sqlite') throw new InvalidConfigError(`the data folder's database is already ${describeDatabase(source)}: db copy copies a SQLite catalog`)
  if (source.path === ':memory:' || !existsSync(source.path)) throw new PathNotFoundError(`no SQLite catalog at ${source.path}`)
  const target = parseDatabase(options.to, '--to')
  const release = await lockDataFolder(config.data)
  const bar = io.err.isTTY === true ? new SingleBar({ format: 'copying {table} [{bar}] {value}/{total}', stream: io.err, hideCursor: true }) : undefined
  let barTable: string | undefined
  try {
    io.out.write(`copying ${describeDatabase(source)} to ${describeDatabase(target)}\n`)
    const report = await copyCatalog(source, target, {
      onRows: (table, done, total) => {
        if (bar == null) return
        if (barTable !== table) {
          bar.stop()
          bar.start(total, 0, { table })
          barTable = table
        }
        bar.update(done)
      },
      onTable: ({ table, rows, checksum }) => {
        bar?.stop()
        barTable = undefined
        io.out.write(`${table}: ${rows} rows, checksum ${checksum} matches\n`)
      }
    }).finally(() => { bar?.stop() })
    if (report.migrated.length > 0) io.out.write(`(the SQLite catalog was migrated first: ${report.migrated.join(', ')})\n`)
    const rows = report.tables.reduce((sum, t) => sum + t.rows, 0)
    io.out.write(`copied ${report.tables.length} tables, ${rows} rows to ${report.target}: every row count and checksum matches\n`)
    io.out.write(`now set database to that URL (--database, CIDCAST_DATABASE, or "database" in ${join(config.data, CONFIG_FILE)}) and start the server; ${describeDatabase(source)} is left as it was\n`)
  } finally {
    await release()
  }
}
