import { Node as NodeEntity } from './entities.ts'
import { dateOf, msOf, parseJson } from './exclusive.ts'
import type { RunExclusive } from './exclusive.ts'
import type { NodeCapacity, NodeHealth, NodeMode } from '../control/index.ts'

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
  /** The user id of its owner (`--owner USER`, resolved at registration), or null. */
  owner: string | null
  /** Where the node says it is (`--region`), or null; its tags (`--tags`). As its last registration sent them. */
  region: string | null
  tags: string[]
  /** The cidcast version it registered with, or null. */
  version: string | null
  createdAtMs: number
  updatedAtMs: number
}

/** The node registry's rows in the catalog's database (table `nodes`). */
export interface NodeRepository {
  /** Every node, by label. */
  all (): Promise<NodeRecord[]>
  /** Inserts or replaces the row of `record.peerId`. */
  put (record: NodeRecord): Promise<void>
  /** Peer IDs revoked so far, for the connection gater before the peer starts. */
  revokedPeerIds (): Promise<string[]>
}

/** The node repository on the catalog's write queue. */
export function createNodeRepository (exclusive: RunExclusive): NodeRepository {
  return {
    async all () {
      const rows = await exclusive(async db => db.getRepository(NodeEntity).find({ order: { label: 'ASC' } }))
      return rows.map(toNodeRecord)
    },
    async put (record) {
      await exclusive(async db => {
        await db.getRepository(NodeEntity).upsert(toNodeRow(record), { conflictPaths: ['peerId'], skipUpdateIfNoValuesChanged: false })
      })
    },
    async revokedPeerIds () {
      const rows = await exclusive(async db => db.getRepository(NodeEntity)
        .createQueryBuilder('node').select('node.peerId', 'peerId').where('node.revoked_at IS NOT NULL').getRawMany<{ peerId: string }>())
      return rows.map(row => row.peerId)
    }
  }
}

/** A NodeRecord as the values of its row. */
function toNodeRow (record: NodeRecord): NodeEntity {
  const { capacity, addresses, health, pinned, lastSeenMs, revokedAtMs, createdAtMs, updatedAtMs, ...same } = record
  return Object.assign(new NodeEntity(), {
    ...same,
    quotaBytes: capacity.quotaBytes,
    usedBytes: capacity.usedBytes,
    freeBytes: capacity.freeBytes,
    addresses: JSON.stringify(addresses),
    health: health == null ? null : JSON.stringify(health),
    pinned: JSON.stringify(pinned),
    lastSeen: dateOf(lastSeenMs),
    revokedAt: dateOf(revokedAtMs),
    createdAt: new Date(createdAtMs),
    updatedAt: new Date(updatedAtMs)
  })
}

/** A `nodes` row as a NodeRecord. */
function toNodeRecord (row: NodeEntity): NodeRecord {
  return {
    peerId: row.peerId,
    name: row.name,
    label: row.label,
    ipns: row.ipns,
    // anything unexpected is treated as local: never listed, never in DNS
    mode: row.mode === 'shared' ? 'shared' : 'local',
    url: row.url,
    // only the registry writes these columns; a damaged one should not take the registry down
    addresses: parseJson<string[]>(row.addresses, []),
    capacity: { quotaBytes: row.quotaBytes, usedBytes: row.usedBytes, freeBytes: row.freeBytes },
    health: parseJson<NodeHealth | null>(row.health, null),
    pinned: parseJson<string[]>(row.pinned, []),
    lastSeenMs: msOf(row.lastSeen),
    revokedAtMs: msOf(row.revokedAt),
    owner: row.owner ?? null,
    region: row.region ?? null,
    tags: row.tags,
    version: row.version ?? null,
    createdAtMs: row.createdAt.getTime(),
    updatedAtMs: row.updatedAt.getTime()
  }
}
