import { In } from 'typeorm'
import { Rendition } from './entities.ts'
import { PreparationRow, ReplicationGoalRow } from './replication-entities.ts'
import type { RunExclusive } from './exclusive.ts'

/*
 * The smaller stores of the main server's replication (core/replication): replication factors, replications
 * waiting for a rendition, and which rendition a root CID is.
 */

/** A root's replication factor as kept in the catalog (table `replication_goals`). Times are epoch milliseconds. */
export interface GoalRecord {
  cid: string
  min: number
  max: number
  mediaId: string | null
  profile: string | null
  /** Nodes (peer IDs) never chosen for the root again. */
  excluded: string[]
  createdAtMs: number
  updatedAtMs: number
}

/** The replication factors' rows. */
export interface GoalRepository {
  all (): Promise<GoalRecord[]>
  /** Inserts or replaces the row of `goal.cid`. */
  put (goal: GoalRecord): Promise<void>
  remove (cid: string): Promise<void>
}

/** A replication that waits for a rendition to be made (table `replication_preparations`). */
export interface PreparationRecord {
  mediaId: string
  profile: string
  /** A node's label, or `replicas MIN:MAX`. */
  target: string
}

/** Where replications waiting for a rendition are kept across restarts. */
export interface PreparationRepository {
  /** Oldest first. */
  list (): Promise<PreparationRecord[]>
  add (mediaId: string, profile: string, target: string): Promise<void>
  /** Forgets a target waiting for (media, profile), or every one. */
  remove (mediaId: string, profile: string, target?: string): Promise<void>
}

/** Which rendition a root CID is. */
export interface RenditionRootRepository {
  /** The media and profile whose finished rendition has this root. */
  renditionOf (cid: string): Promise<{ mediaId: string, profile: string } | undefined>
  /** The media a rendition of which has one of these CIDs as its root or its init segment. */
  mediaOf (cids: readonly string[]): Promise<string[]>
}

/** The replication factors' repository on the catalog's write queue. */
export function createGoalRepository (exclusive: RunExclusive): GoalRepository {
  return {
    async all () {
      const rows = await exclusive(async db => await db.getRepository(ReplicationGoalRow).find())
      return rows.map(row => ({ cid: row.cid, min: row.min, max: row.max, mediaId: row.mediaId, profile: row.profile, excluded: row.excluded, createdAtMs: row.createdAt.getTime(), updatedAtMs: row.updatedAt.getTime() }))
    },
    async put (goal) {
      const { createdAtMs, updatedAtMs, ...same } = goal
      await exclusive(async db => {
        await db.getRepository(ReplicationGoalRow).upsert({ ...same, createdAt: new Date(createdAtMs), updatedAt: new Date(updatedAtMs) }, { conflictPaths: ['cid'], skipUpdateIfNoValuesChanged: false })
      })
    },
    async remove (cid) {
      await exclusive(async db => { await db.getRepository(ReplicationGoalRow).delete({ cid }) })
    }
  }
}

/** The preparations' repository on the catalog's write queue. */
export function createPreparationRepository (exclusive: RunExclusive): PreparationRepository {
  return {
    async list () {
      const rows = await exclusive(async db => await db.getRepository(PreparationRow).find({ order: { createdAt: 'ASC' } }))
      return rows.map(r => ({ mediaId: r.mediaId, profile: r.profile, target: r.target }))
    },
    async add (mediaId, profile, target) {
      await exclusive(async db => {
        await db.getRepository(PreparationRow).upsert({ mediaId, profile, target, createdAt: new Date() }, { conflictPaths: ['mediaId', 'profile', 'target'], skipUpdateIfNoValuesChanged: true })
      })
    },
    async remove (mediaId, profile, target) {
      await exclusive(async db => { await db.getRepository(PreparationRow).delete(target == null ? { mediaId, profile } : { mediaId, profile, target }) })
    }
  }
}

/** Rendition roots on the catalog's `renditions` table. */
export function createRenditionRootRepository (exclusive: RunExclusive): RenditionRootRepository {
  return {
    async renditionOf (cid) {
      const row = await exclusive(async db => await db.getRepository(Rendition).findOne({ where: { root: cid }, select: { mediaId: true, profile: true } }))
      return row == null ? undefined : { mediaId: row.mediaId, profile: row.profile }
    },
    async mediaOf (cids) {
      if (cids.length === 0) return []
      const rows = await exclusive(async db => await db.getRepository(Rendition).find({ where: [{ root: In([...cids]) }, { initCid: In([...cids]) }], select: { mediaId: true } }))
      return [...new Set(rows.map(row => row.mediaId))]
    }
  }
}
