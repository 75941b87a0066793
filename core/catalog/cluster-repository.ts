import { MainServerRow, StreamKeyRow } from './cluster-entities.ts'
import { parseJson } from './exclusive.ts'
import type { RunExclusive, RunRead } from './exclusive.ts'
import type { EntityManager } from 'typeorm'

/** One main server on this database, as its last beat said (times in epoch milliseconds). */
export interface MainServerRecord {
  peerId: string
  url: string
  addresses: string[]
  dns: string | null
  version: string
  /** Its swarm key's fingerprint. */
  swarm: string
  startedAtMs: number
  seenAtMs: number
  /** Since when it leads, as its last beat said; null: it does not. */
  leadingSinceMs: number | null
}

/** The main servers sharing this database (table `main_servers`). */
export interface MainServerRepository {
  /** Inserts or replaces the row of `record.peerId` (a server's beat). */
  beat (record: MainServerRecord): Promise<void>
  /** Every row, the oldest started first. */
  all (): Promise<MainServerRecord[]>
  /** Drops a server's row (it stopped cleanly) and rows not beaten since `staleBeforeMs`. */
  remove (peerId: string, staleBeforeMs?: number): Promise<void>
}

/** A signing key as the shared ring keeps it (core/access/signing-keys.ts; times in epoch milliseconds). */
export interface StreamKeyRecord {
  id: string
  publicKey: string
  privateKey: string
  createdAtMs: number
  retiredAtMs: number | null
}

/** The stream signing keys shared by the main servers of one database (table `stream_keys`). */
export interface StreamKeyRepository {
  all (): Promise<StreamKeyRecord[]>
  /**
   * Reads every key and replaces them with what `change` makes of them, in one transaction that holds the table
   * locked on PostgreSQL, so two servers rotating at once do not both make a current key.
   */
  update (change: (keys: StreamKeyRecord[]) => StreamKeyRecord[]): Promise<StreamKeyRecord[]>
}

/** The main server rows on the catalog's write queue; reads beside it. */
export function createMainServerRepository (exclusive: RunExclusive, read: RunRead): MainServerRepository {
  return {
    async beat (record) {
      await exclusive(async db => {
        await db.getRepository(MainServerRow).upsert(Object.assign(new MainServerRow(), {
          peerId: record.peerId,
          url: record.url,
          addresses: JSON.stringify(record.addresses),
          dns: record.dns,
          version: record.version,
          swarm: record.swarm,
          startedAt: record.startedAtMs,
          seenAt: record.seenAtMs,
          leadingSince: record.leadingSinceMs
        }), { conflictPaths: ['peerId'], skipUpdateIfNoValuesChanged: false })
      })
    },
    async all () {
      const rows = await read(async db => await db.getRepository(MainServerRow).find({ order: { startedAt: 'ASC', peerId: 'ASC' } }))
      return rows.map(row => ({
        peerId: row.peerId,
        url: row.url,
        addresses: parseJson<string[]>(row.addresses, []),
        dns: row.dns,
        version: row.version,
        swarm: row.swarm,
        startedAtMs: row.startedAt,
        seenAtMs: row.seenAt,
        leadingSinceMs: row.leadingSince
      }))
    },
    async remove (peerId, staleBeforeMs) {
      await exclusive(async db => {
        const rows = db.getRepository(MainServerRow)
        await rows.delete({ peerId })
        if (staleBeforeMs != null) await rows.createQueryBuilder().delete().where('seen_at < :before', { before: staleBeforeMs }).execute()
      })
    }
  }
}

/** The shared stream keys on the catalog's write queue. */
export function createStreamKeyRepository (exclusive: RunExclusive): StreamKeyRepository {
  const load = async (db: EntityManager): Promise<StreamKeyRecord[]> =>
    (await db.getRepository(StreamKeyRow).find({ order: { createdAt: 'DESC', id: 'ASC' } }))
      .map(row => ({ id: row.id, publicKey: row.publicKey, privateKey: row.privateKey, createdAtMs: row.createdAt, retiredAtMs: row.retiredAt }))
  return {
    all: async () => await exclusive(load),
    async update (change) {
      return await exclusive(async db => {
        if (db.connection.options.type === 'postgres') await db.query('LOCK TABLE "stream_keys" IN SHARE ROW EXCLUSIVE MODE')
        const before = await load(db)
        const after = change(before)
        if (after === before) return before
        const rows = db.getRepository(StreamKeyRow)
        const kept = new Set(after.map(key => key.id))
        for (const key of before) if (!kept.has(key.id)) await rows.delete({ id: key.id })
        const values = after.map(key => Object.assign(new StreamKeyRow(), { id: key.id, publicKey: key.publicKey, privateKey: key.privateKey, createdAt: key.createdAtMs, retiredAt: key.retiredAtMs }))
        if (values.length > 0) await rows.upsert(values, { conflictPaths: ['id'] })
        return after
      })
    }
  }
}
