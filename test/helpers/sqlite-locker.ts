import { fileURLToPath } from 'node:url'
import Database from 'better-sqlite3'
import { announceReady, startChild } from './child.ts'

/*
 * Another process holding a SQLite file locked, as a backup tool or an sqlite3 shell would:
 * `node --import=tsx test/helpers/sqlite-locker.ts <file>` takes the write lock (BEGIN EXCLUSIVE), announces
 * READY and keeps the lock until SIGTERM, then rolls back and exits. Run as a module, it only exports `lockSqlite`.
 */

const SCRIPT = fileURLToPath(import.meta.url)

/** A lock held by another process; `release()` ends that process, and with it the lock. */
export interface HeldLock {
  release: () => Promise<void>
}

/** Has another process take and hold the write lock of the SQLite file `database`; resolves once it holds it. */
export async function lockSqlite (database: string): Promise<HeldLock> {
  const child = await startChild<{ locked: string }>(SCRIPT, [database], 20_000)
  return { release: async () => { await child.stop() } }
}

if (process.argv[1] === SCRIPT) {
  const database = process.argv[2]
  if (database == null || database === '') throw new Error('usage: sqlite-locker.ts <file>')
  // no busy wait: a file already locked is a test's mistake, better said at once
  const db = new Database(database, { timeout: 0, fileMustExist: true })
  db.exec('BEGIN EXCLUSIVE')
  // nothing else keeps the process (and so the lock) alive
  const alive = setInterval(() => {}, 60_000)
  process.on('SIGTERM', () => {
    clearInterval(alive)
    db.exec('ROLLBACK')
    db.close()
    process.exit(0)
  })
  announceReady({ locked: database })
}
