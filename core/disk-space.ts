import { statfs } from 'node:fs/promises'
import { systemClock } from './clock.ts'
import { DiskFullError } from './errors.ts'
import type { Clock } from './clock.ts'

/*
 * Out of space, told one way on both sides. A full disk reaches us in many shapes: Node's ENOSPC/EDQUOT (`code`),
 * blockstore-fs's PutFailedError whose message is the stringified ENOSPC error (the code is lost), better-sqlite3's
 * SQLITE_FULL or PostgreSQL's 53100 (TypeORM's QueryFailedError around it, as `driverError`), ffmpeg's "No space left on device" on stderr,
 * or a DiskFullError of ours wrapping one of those. `outOfSpaceReason` recognises each and says it in words a user may
 * read; `diskFullError` turns one into the DiskFullError that the gateway answers 507. `createDiskSpace` watches a data
 * folder's file system (statfs, with a reserve) and remembers the last write refused for lack of space: what /healthz
 * reports.
 */

const BY_CODE: Readonly<Record<string, string>> = {
  ENOSPC: 'no space left on device',
  EDQUOT: 'disk quota exceeded',
  SQLITE_FULL: 'database or disk is full',
  // PostgreSQL's disk_full SQLSTATE, on node-postgres's error (TypeORM's `driverError`)
  53100: 'database or disk is full'
}

const BY_MESSAGE: ReadonlyArray<[RegExp, string]> = [
  [/\bENOSPC\b|no space left on device/i, BY_CODE.ENOSPC],
  [/\bEDQUOT\b|disk quota exceeded/i, BY_CODE.EDQUOT],
  [/\bSQLITE_FULL\b|database or disk is full/i, BY_CODE.SQLITE_FULL]
]

/** How deep causes are followed (errors wrapping errors). */
const MAX_DEPTH = 6

/** Why `err` means the disk is out of space, in a few plain words; undefined when it does not. */
export function outOfSpaceReason (err: unknown, depth = 0): string | undefined {
  if (err == null || typeof err !== 'object' || depth > MAX_DEPTH) return undefined
  const e = err as { code?: unknown, name?: unknown, message?: unknown, cause?: unknown, driverError?: unknown, errors?: unknown }
  if (typeof e.code === 'string' && BY_CODE[e.code] != null) return BY_CODE[e.code]
  for (const inner of [e.driverError, e.cause, ...(Array.isArray(e.errors) ? e.errors : [])]) {
    const reason = outOfSpaceReason(inner, depth + 1)
    if (reason != null) return reason
  }
  if (typeof e.message === 'string') {
    for (const [pattern, reason] of BY_MESSAGE) if (pattern.test(e.message)) return reason
  }
  return e.name === 'DiskFullError' ? 'the disk is full' : undefined
}

/** True when `err` (or an error it wraps) says the disk is out of space. */
export function isOutOfSpace (err: unknown): boolean {
  return outOfSpaceReason(err) != null
}

/** The DiskFullError for a write that failed for lack of space: `<what> failed: out of space (<reason>)`, the original as its cause. */
export function diskFullError (err: unknown, what: string): DiskFullError {
  return new DiskFullError(`${what} failed: out of space (${outOfSpaceReason(err) ?? 'the disk is full'}); try again once space is freed`, { cause: err })
}

/** `err` as a DiskFullError naming `what` when it means out of space, else `err` unchanged. */
export function asDiskFull (err: unknown, what: string): unknown {
  return isOutOfSpace(err) ? diskFullError(err, what) : err
}

/** Bytes an unprivileged writer may still use on the file system holding `dir`. */
export async function freeBytes (dir: string): Promise<number> {
  const fs = await statfs(dir)
  return Number(fs.bavail) * Number(fs.bsize)
}

export interface DiskSpaceInit {
  /** A folder on the file system to watch (the data folder). */
  dir: string
  /** Free bytes below which the disk counts as full. @default 67108864 */
  reserveBytes?: number
  /** A measurement younger than this is reused. @default 1000 */
  maxAgeMs?: number
  /** How long a write refused for lack of space keeps the disk reported full, unless space is freed first. @default 60000 */
  failureMemoryMs?: number
  /** @default systemClock */
  clock?: Pick<Clock, 'now'>
}

/** What the disk of a data folder looks like now. */
export interface DiskSpaceReport {
  freeBytes: number
  reserveBytes: number
  /** Less than the reserve is free, or a write was just refused for lack of space. */
  full: boolean
  /** Why it is full, in a sentence; undefined when it is not. */
  reason?: string
}

/** The data folder's disk, as /healthz tells it. */
export interface DiskSpace {
  /** Measures (or reuses a recent measurement) and says whether the disk is full and why. */
  check: () => Promise<DiskSpaceReport>
  /** Remembers a write refused for lack of space (ignored when `err` is about something else). */
  failed: (err: unknown) => void
}

const DEFAULT_RESERVE_BYTES = 64 * 1024 * 1024
/** Space freed after a refused write by at least this much ends the memory of it. */
const FREED_BYTES = 1024 * 1024

/** Watches the file system of `init.dir`: free space against a reserve, and the last write refused for lack of space. */
export function createDiskSpace (init: DiskSpaceInit): DiskSpace {
  const reserveBytes = init.reserveBytes ?? DEFAULT_RESERVE_BYTES
  const maxAgeMs = init.maxAgeMs ?? 1000
  const failureMemoryMs = init.failureMemoryMs ?? 60_000
  const clock = init.clock ?? systemClock
  let latest: { free: number, at: number } | undefined
  let failure: { reason: string, at: number, freeThen?: number } | undefined

  async function measure (): Promise<number> {
    if (latest != null && clock.now() - latest.at < maxAgeMs) return latest.free
    latest = { free: await freeBytes(init.dir), at: clock.now() }
    return latest.free
  }

  return {
    async check () {
      const free = await measure()
      const refused = failure
      if (refused != null) {
        // forgotten once space was freed since (a measurement after it shows more), or after a while without another
        if (clock.now() - refused.at > failureMemoryMs || (refused.freeThen != null && free >= refused.freeThen + FREED_BYTES)) failure = undefined
        else refused.freeThen ??= free
      }
      const reasons: string[] = []
      if (free < reserveBytes) reasons.push(`the data folder's disk has ${megabytes(free)} free, less than the ${megabytes(reserveBytes)} kept in reserve`)
      if (failure != null) reasons.push(`a write was refused ${Math.round((clock.now() - failure.at) / 1000)} s ago: out of space (${failure.reason})`)
      return { freeBytes: free, reserveBytes, full: reasons.length > 0, ...(reasons.length > 0 ? { reason: reasons.join('; ') } : {}) }
    },
    failed (err) {
      const reason = outOfSpaceReason(err)
      if (reason == null) return
      failure = { reason, at: clock.now() }
      // measured now: only space freed after this refusal ends it
      latest = undefined
      const noted = failure
      freeBytes(init.dir).then(free => { noted.freeThen ??= free }, () => {})
    }
  }
}

/** Bytes as mebibytes with one decimal, for messages. */
export function megabytes (bytes: number): string {
  return `${(bytes / 1024 / 1024).toFixed(1)} MiB`
}
