import { randomBytes } from 'node:crypto'
import { LessThanOrEqual } from 'typeorm'
import { databaseNowMs, lockUntilCommit } from './dialect.ts'
import { TranscodeLease } from './entities.ts'
import type { RunExclusive } from './exclusive.ts'

/*
 * Transcode leases (table `transcode_leases`): main servers sharing one database each record the segment range an
 * ffmpeg session of theirs is making, so another asked for a segment in that range waits for it rather than
 * starting ffmpeg too. A claim is one transaction that reads the key's leases and adds one: claims of one key from
 * several processes must not interleave, so on PostgreSQL it first takes an advisory lock on the key (dialect.ts);
 * on SQLite its first statement is a write (the expired leases' removal), which takes the file's one write lock.
 * A renewal is one UPDATE of its own row: on PostgreSQL (read committed) a claim removing that row as expired and the
 * renewal wait for each other's row lock, so either the renewal finds the row gone (the lease is lost) or the claim
 * sees it renewed (and is refused).
 */

/** The advisory lock space of transcode lease claims (the other key is a hash of the rendition key). */
const LEASE_LOCK_SPACE = 15_002

/** A claim's answer: the lease, or who is making that segment and how far they are. */
export type TranscodeLeaseClaim =
  | { granted: true, id: string }
  | {
    granted: false
    /** The server holding the lease that covers the segment. */
    owner: string
    /** That session's next segment as its last renewal said. */
    position: number
    /** How long the lease lasts unless renewed, by the database's clock. */
    expiresInMs: number
  }

/** Leases on ffmpeg sessions, shared by the main servers of one database (table `transcode_leases`). */
export interface TranscodeLeaseRepository {
  /**
   * Takes a lease on making segments of `key` from `index` on for `ttlMs`, unless a live lease of another owner
   * covers `index` (it starts at or before it and its position is at most `lookahead` segments short of it): then
   * says whose it is. Expired leases of the key are removed. Atomic across processes: of two claims at once for one
   * range, one is granted.
   */
  claim (key: string, index: number, owner: string, ttlMs: number, lookahead: number): Promise<TranscodeLeaseClaim>
  /** Records the session's position and extends the lease by `ttlMs` from now; false when the lease is gone (expired and taken over, or released). */
  renew (id: string, position: number, ttlMs: number): Promise<boolean>
  /** Removes a lease (its session ended); a lease already gone is no error. */
  release (id: string): Promise<void>
}

/** The transcode lease repository on the catalog's write queue. */
export function createTranscodeLeaseRepository (exclusive: RunExclusive): TranscodeLeaseRepository {
  return {
    claim: async (key, index, owner, ttlMs, lookahead) => {
      checkCount(index, 'index')
      checkCount(lookahead, 'lookahead')
      checkTtl(ttlMs)
      return await exclusive(async tx => {
        await lockUntilCommit(tx, LEASE_LOCK_SPACE, key)
        const now = await databaseNowMs(tx)
        const leases = tx.getRepository(TranscodeLease)
        await leases.delete({ renditionKey: key, expiresAt: LessThanOrEqual(now) })
        const holder = await leases.createQueryBuilder('lease')
          .where('lease.renditionKey = :key', { key })
          .andWhere('lease.owner <> :owner', { owner })
          .andWhere('lease.startIndex <= :index', { index })
          .andWhere('lease.position + :lookahead >= :index', { lookahead })
          .orderBy('lease.expiresAt', 'DESC')
          .getOne()
        if (holder != null) return { granted: false, owner: holder.owner, position: holder.position, expiresInMs: holder.expiresAt - now }
        const id = randomBytes(12).toString('hex')
        await leases.insert({ id, renditionKey: key, startIndex: index, position: index, owner, expiresAt: now + ttlMs })
        return { granted: true, id }
      })
    },
    renew: async (id, position, ttlMs) => {
      checkCount(position, 'position')
      checkTtl(ttlMs)
      return await exclusive(async tx => {
        const now = await databaseNowMs(tx)
        const result = await tx.getRepository(TranscodeLease).update({ id }, { position, expiresAt: now + ttlMs })
        return (result.affected ?? 0) > 0
      })
    },
    release: async id => {
      await exclusive(async tx => { await tx.getRepository(TranscodeLease).delete({ id }) })
    }
  }
}

function checkCount (value: number, name: string): void {
  if (!Number.isSafeInteger(value) || value < 0) throw new RangeError(`${name} must be a whole number >= 0, got ${value}`)
}

function checkTtl (ttlMs: number): void {
  if (!Number.isSafeInteger(ttlMs) || ttlMs < 1) throw new RangeError(`ttlMs must be a whole number of milliseconds >= 1, got ${ttlMs}`)
}
