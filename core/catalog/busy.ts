import { setTimeout as sleep } from 'node:timers/promises'
import { asDiskFull } from '../disk-space.ts'
import { CATALOG_RETRY_AFTER_SECONDS, CatalogBusyError } from './errors.ts'
import type { DataSource, EntityManager } from 'typeorm'

/*
 * Another process holding the catalog's SQLite file (a backup, an sqlite3 shell, a migration run by hand) makes
 * statements fail with SQLITE_BUSY or SQLITE_LOCKED. better-sqlite3 waits out a lock *synchronously* (SQLite's busy
 * handler sleeps in the calling thread), which would stall the whole server, every request and heartbeat, for as
 * long as the lock lasts: so its busy timeout is kept short, and the long wait happens here, between attempts, on
 * timers. Each attempt is one transaction (the catalog's write queue wraps every call in one), so one that fails
 * is rolled back whole and the next starts clean; past the bound the call fails with CatalogBusyError having
 * changed nothing.
 */

/** SQLite's own wait for a lock, per statement; it blocks the event loop, so it only absorbs short contention. */
export const SQLITE_BUSY_TIMEOUT_MS = 25
/** The first pause between two attempts; it doubles up to `MAX_RETRY_DELAY_MS`. */
const FIRST_RETRY_DELAY_MS = 10
/** The longest pause between two attempts: how late a call may notice that the lock is gone. */
const MAX_RETRY_DELAY_MS = 250

/** How many calls wait for the lock now, and how many have waited or given up since the catalog started. */
export interface CatalogLockStats {
  /** Calls waiting now for a database another process holds locked. */
  waiting: number
  /** Calls that found the database locked and waited (whether they then went through or not). */
  waited: number
  /** Calls that gave up after waiting their whole bound (each a CatalogBusyError). */
  gaveUp: number
}

/**
 * PostgreSQL's SQLSTATEs for a transaction that lost a race for a lock and was rolled back whole, so trying it again
 * is safe: serialization_failure, deadlock_detected, lock_not_available.
 */
const POSTGRES_BUSY = new Set(['40001', '40P01', '55P03'])

/**
 * Whether `err` (better-sqlite3's SqliteError, node-postgres's error, or TypeORM's QueryFailedError around one) says
 * the database is locked, so the call may be tried again.
 */
export function isBusy (err: unknown): boolean {
  const e = err as { code?: unknown, driverError?: { code?: unknown } } | null
  const code = e?.code ?? e?.driverError?.code
  return typeof code === 'string' && (/^SQLITE_(BUSY|LOCKED)/.test(code) || POSTGRES_BUSY.has(code))
}

/** Socket errors of a connection to PostgreSQL that broke or could not be made. */
const NETWORK_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'EHOSTUNREACH', 'ENETUNREACH', 'ENOTFOUND', 'EAI_AGAIN'])

/**
 * Whether `err` says the database server is out of reach or going away, rather than refusing a statement: a socket
 * error, node-postgres's "Connection terminated", SQLSTATE class 08 (connection exception) or 57P01-57P03 (the server
 * shutting down, restarting, or not taking connections yet).
 */
export function isUnreachable (err: unknown): boolean {
  const e = err as { code?: unknown, message?: unknown, driverError?: { code?: unknown, message?: unknown } } | null
  const code = e?.code ?? e?.driverError?.code
  if (typeof code === 'string' && (NETWORK_CODES.has(code) || /^08/.test(code) || /^57P0[123]$/.test(code))) return true
  const message = String(e?.message ?? e?.driverError?.message ?? '')
  return /^Connection terminated|timeout exceeded when trying to connect|Client has encountered a connection error/.test(message)
}

/** Runs calls against a database that may be locked by another process, retrying each until its deadline. */
export interface LockWaiter {
  /**
   * Runs `attempt` (at least once), again while it fails because the database is locked, until `deadline`
   * (`performance.now()` milliseconds); then throws CatalogBusyError. Other errors pass through at once.
   */
  run: <T>(attempt: () => Promise<T>, deadline: number) => Promise<T>
  stats: () => CatalogLockStats
}

/** A lock waiter that counts its waits; `onWait` hears of each call that first finds the database locked. */
export function createLockWaiter (onWait: (waitMs: number) => void = () => {}): LockWaiter {
  const stats: CatalogLockStats = { waiting: 0, waited: 0, gaveUp: 0 }
  return {
    stats: () => ({ ...stats }),
    run: async (attempt, deadline) => {
      let delay = FIRST_RETRY_DELAY_MS
      let waiting = false
      try {
        for (;;) {
          try {
            return await attempt()
          } catch (err) {
            if (!isBusy(err)) throw err
            const left = deadline - performance.now()
            if (!waiting) {
              waiting = true
              stats.waiting++
              stats.waited++
              onWait(Math.max(0, Math.round(left)))
            }
            if (left <= 0) {
              stats.gaveUp++
              throw new CatalogBusyError(`the catalog is busy: its database is locked by another process; nothing was changed, try again in ${CATALOG_RETRY_AFTER_SECONDS} s`)
            }
            // the last pause ends at the deadline, so the final attempt is made then rather than given up early
            await sleep(Math.min(delay, left))
            delay = Math.min(delay * 2, MAX_RETRY_DELAY_MS)
          }
        }
      } finally {
        if (waiting) stats.waiting--
      }
    }
  }
}

/** The catalog's one write queue, and every call's wait for a database another process holds locked. */
export interface CatalogQueue {
  /**
   * Runs `fn` in one transaction after every earlier write has settled (TypeORM shares one connection, so an
   * interleaved write would join an open transaction). A locked database fails it whole and it is tried again until
   * `busyWaitMs` after the call: it is applied once, or not at all.
   */
  exclusive: <T>(db: DataSource, fn: (db: EntityManager) => Promise<T>) => Promise<T>
  /** Runs a read outside the queue, waiting out a locked database as writes do. */
  read: <T>(fn: () => Promise<T>) => Promise<T>
  /** Resolves once every write queued so far has settled. */
  idle: () => Promise<void>
  stats: () => CatalogLockStats
}

/** A write queue whose calls wait up to `busyWaitMs` each for a locked database; `onWait` as in createLockWaiter. */
export function createCatalogQueue (busyWaitMs: number, onWait?: (waitMs: number) => void): CatalogQueue {
  if (!(busyWaitMs >= 0)) throw new RangeError(`busyWaitMs must be >= 0, got ${busyWaitMs}`)
  const locks = createLockWaiter(onWait)
  let writes: Promise<unknown> = Promise.resolve()
  return {
    exclusive: async (db, fn) => {
      // the bound counts from the call: time queued behind a write that waits for the lock is part of it
      const deadline = performance.now() + busyWaitMs
      const run = writes.then(async () => await locks.run(async () => await db.manager.transaction(fn), deadline))
      writes = run.catch(() => {})
      // SQLITE_FULL: the transaction was rolled back whole; the caller learns the disk is full, not SQLite's name for it
      return await run.catch((err: unknown) => { throw asDiskFull(err, 'writing the catalog') })
    },
    read: async fn => await locks.run(fn, performance.now() + busyWaitMs).catch((err: unknown) => { throw asDiskFull(err, 'reading the catalog') }),
    idle: async () => { await writes },
    stats: locks.stats
  }
}
