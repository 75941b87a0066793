import { ContentIndexEntry } from './replication-entities.ts'
import { dateOf, msOf } from './exclusive.ts'
import type { RunExclusive } from './exclusive.ts'

/** The states of the content index, IPFS Cluster's minus its "remote": a node that cannot be reached is shown as such. */
export type PinState = 'queued' | 'pinning' | 'pinned' | 'failed' | 'unpinning'
export type PinAction = 'pin' | 'unpin'

/** One (node, root) row of the content index (core/replication/content-index.ts). Times are epoch milliseconds. */
export interface IndexEntry {
  peerId: string
  cid: string
  state: PinState
  /** What the main server wants; null for a root the node holds without an order of ours. */
  wanted: PinAction | null
  /** The order in flight or last sent. */
  orderId: string | null
  mediaId: string | null
  profile: string | null
  /** Placed by the distributor on its own (evictable by it); false for a pin someone asked for. */
  auto: boolean
  blocksDone: number
  bytesDone: number
  blocksTotal: number | null
  bytesTotal: number | null
  /** Why it failed, or the last transient error the node reported while it keeps trying. */
  error: { name: string, message: string } | null
  /** Orders sent for the current wish. */
  attempts: number
  retryAtMs: number | null
  orderedAtMs: number | null
  /** The node's last word on this root; null while an order waits for the node to take it. */
  reportedAtMs: number | null
  progressAtMs: number | null
  createdAtMs: number
  updatedAtMs: number
}

/** The content index's rows in the catalog's database (table `content_index`). */
export interface ContentIndexRepository {
  /** Every row. */
  all (): Promise<IndexEntry[]>
  /** Writes `puts` (insert or replace) and deletes `removals`, all in one transaction. */
  save (puts: readonly IndexEntry[], removals: ReadonlyArray<Pick<IndexEntry, 'peerId' | 'cid'>>): Promise<void>
}

/** The content index repository on the catalog's write queue. */
export function createContentIndexRepository (exclusive: RunExclusive): ContentIndexRepository {
  return {
    async all () {
      const rows = await exclusive(async db => db.getRepository(ContentIndexEntry).find())
      return rows.map(toIndexEntry)
    },
    async save (puts, removals) {
      if (puts.length === 0 && removals.length === 0) return
      await exclusive(async db => {
        await db.transaction(async tx => {
          const repository = tx.getRepository(ContentIndexEntry)
          if (puts.length > 0) await repository.upsert(puts.map(toIndexRow), { conflictPaths: ['peerId', 'cid'], skipUpdateIfNoValuesChanged: false })
          for (const { peerId, cid } of removals) await repository.delete({ peerId, cid })
        })
      })
    }
  }
}

/** An IndexEntry as the values of its row. */
function toIndexRow (entry: IndexEntry): ContentIndexEntry {
  const { error, retryAtMs, orderedAtMs, reportedAtMs, progressAtMs, createdAtMs, updatedAtMs, ...same } = entry
  return Object.assign(new ContentIndexEntry(), {
    ...same,
    errorName: error?.name ?? null,
    errorMessage: error?.message ?? null,
    retryAt: dateOf(retryAtMs),
    orderedAt: dateOf(orderedAtMs),
    reportedAt: dateOf(reportedAtMs),
    progressAt: dateOf(progressAtMs),
    createdAt: new Date(createdAtMs),
    updatedAt: new Date(updatedAtMs)
  })
}

const STATES: ReadonlySet<string> = new Set<PinState>(['queued', 'pinning', 'pinned', 'failed', 'unpinning'])

/** A `content_index` row as an IndexEntry. */
function toIndexEntry (row: ContentIndexEntry): IndexEntry {
  return {
    peerId: row.peerId,
    cid: row.cid,
    // only the content index writes the column; anything else is read as a failure to look at, not trusted as pinned
    state: STATES.has(row.state) ? row.state as PinState : 'failed',
    wanted: row.wanted === 'pin' || row.wanted === 'unpin' ? row.wanted : null,
    orderId: row.orderId,
    mediaId: row.mediaId,
    profile: row.profile,
    auto: row.auto === true || (row.auto as unknown) === 1,
    blocksDone: row.blocksDone,
    bytesDone: row.bytesDone,
    blocksTotal: row.blocksTotal,
    bytesTotal: row.bytesTotal,
    error: row.errorName == null ? null : { name: row.errorName, message: row.errorMessage ?? '' },
    attempts: row.attempts,
    retryAtMs: msOf(row.retryAt),
    orderedAtMs: msOf(row.orderedAt),
    reportedAtMs: msOf(row.reportedAt),
    progressAtMs: msOf(row.progressAt),
    createdAtMs: row.createdAt.getTime(),
    updatedAtMs: row.updatedAt.getTime()
  }
}
