import { Node as NodeEntity } from '../catalog/entities.ts'
import type { NodeCapacity, NodeHealth, NodeMode } from '../control/index.ts'
import type { Catalog } from '../catalog/catalog.ts'

/** One registered node as the registry keeps it in memory (plain values; times in epoch milliseconds). */
export interface NodeRecord {
  peerId: string
  name: string
  label: string
  ipns: string
  mode: NodeMode
  url: string
  addresses: string[]
  capacity: NodeCapacity
  health: NodeHealth | null
  pinned: string[]
  lastSeenMs: number | null
  revokedAtMs: number | null
  createdAtMs: number
  updatedAtMs: number
}

/** The registry's rows in the catalog's database (table `nodes`). */
export interface NodeStore {
  all (): Promise<NodeRecord[]>
  /** Inserts or replaces the row of `record.peerId`. */
  put (record: NodeRecord): Promise<void>
  /** Peer IDs revoked so far, for the connection gater before the peer starts. */
  revokedPeerIds (): Promise<string[]>
}

/** A NodeStore on the catalog; every call goes through the catalog's one write queue. */
export function createNodeStore (components: { catalog: Pick<Catalog, 'exclusive'> }): NodeStore {
  const { catalog } = components
  return {
    async all () {
      const rows = await catalog.exclusive(async db => db.getRepository(NodeEntity).find({ order: { label: 'ASC' } }))
      return rows.map(toRecord)
    },
    async put (record) {
      await catalog.exclusive(async db => {
        await db.getRepository(NodeEntity).upsert(toEntity(record), { conflictPaths: ['peerId'], skipUpdateIfNoValuesChanged: false })
      })
    },
    async revokedPeerIds () {
      const rows = await catalog.exclusive(async db => db.getRepository(NodeEntity)
        .createQueryBuilder('node').select('node.peerId', 'peerId').where('node.revoked_at IS NOT NULL').getRawMany<{ peerId: string }>())
      return rows.map(row => row.peerId)
    }
  }
}

function toEntity (record: NodeRecord): NodeEntity {
  const row = new NodeEntity()
  row.peerId = record.peerId
  row.name = record.name
  row.label = record.label
  row.ipns = record.ipns
  row.mode = record.mode
  row.url = record.url
  row.addresses = JSON.stringify(record.addresses)
  row.quotaBytes = record.capacity.quotaBytes
  row.usedBytes = record.capacity.usedBytes
  row.freeBytes = record.capacity.freeBytes
  row.health = record.health == null ? null : JSON.stringify(record.health)
  row.pinned = JSON.stringify(record.pinned)
  row.lastSeen = record.lastSeenMs == null ? null : new Date(record.lastSeenMs)
  row.revokedAt = record.revokedAtMs == null ? null : new Date(record.revokedAtMs)
  row.createdAt = new Date(record.createdAtMs)
  row.updatedAt = new Date(record.updatedAtMs)
  return row
}

function json<T> (text: string | null, fallback: T): T {
  if (text == null) return fallback
  try {
    return JSON.parse(text) as T
  } catch {
    // only the registry writes these columns; a damaged one should not take the registry down
    return fallback
  }
}

function toRecord (row: NodeEntity): NodeRecord {
  return {
    peerId: row.peerId,
    name: row.name,
    label: row.label,
    ipns: row.ipns,
    // anything unexpected is treated as local: never listed, never in DNS
    mode: row.mode === 'shared' ? 'shared' : 'local',
    url: row.url,
    addresses: json<string[]>(row.addresses, []),
    capacity: { quotaBytes: row.quotaBytes, usedBytes: row.usedBytes, freeBytes: row.freeBytes },
    health: json<NodeHealth | null>(row.health, null),
    pinned: json<string[]>(row.pinned, []),
    lastSeenMs: row.lastSeen?.getTime() ?? null,
    revokedAtMs: row.revokedAt?.getTime() ?? null,
    createdAtMs: row.createdAt.getTime(),
    updatedAtMs: row.updatedAt.getTime()
  }
}
