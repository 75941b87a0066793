import type { ReplicationFactor } from './placement.ts'
import type { GoalRepository } from '../catalog/index.ts'

/*
 * The replication factors the main server keeps (`--replicas MIN:MAX`), one per root, as IPFS Cluster keeps a
 * pin's replication factor in its shared state: the replication service places the pin again when fewer than MIN
 * nodes can still hold it. Kept in memory (the sweeper reads them every second) and written through to the catalog.
 */

/** A root's replication factor, with what it is a rendition of when known. Times are epoch milliseconds. */
export interface ReplicationGoal extends ReplicationFactor {
  cid: string
  mediaId: string | null
  profile: string | null
  /** Nodes (peer IDs) unpinned from the root by hand: never chosen for it again, until pinned there by hand. */
  excluded: string[]
  createdAtMs: number
  updatedAtMs: number
}

export interface ReplicationGoals {
  /** Loads the goals from the catalog. */
  start (): Promise<void>
  get (cid: string): ReplicationGoal | undefined
  list (): ReplicationGoal[]
  /** Sets (or replaces) the factor of a root; its excluded nodes stay unless given. */
  set (goal: Pick<ReplicationGoal, 'cid' | 'min' | 'max'> & { mediaId?: string | null, profile?: string | null, excluded?: string[] }): Promise<ReplicationGoal>
  /** Adds (`true`) or removes a node from the nodes never chosen for a root; nothing when the root has no factor. */
  exclude (cid: string, peerId: string, excluded: boolean): Promise<void>
  /** Forgets the factor of a root (unpinned from every node). */
  remove (cid: string): Promise<void>
}

export interface ReplicationGoalsComponents {
  /** The goals' rows in the catalog. */
  repository: GoalRepository
}

/** Creates the goals store over its rows in the catalog. */
export function createReplicationGoals (components: ReplicationGoalsComponents): ReplicationGoals {
  const goals = new Map<string, ReplicationGoal>()
  const { repository } = components
  // changes run one after another, memory updated after each write (a remove never races a set)
  let queue: Promise<unknown> = Promise.resolve()
  const exclusive = async <T>(fn: () => Promise<T>): Promise<T> => {
    const run = queue.then(fn)
    queue = run.catch(() => {})
    return await run
  }
  const copy = (goal: ReplicationGoal): ReplicationGoal => ({ ...goal, excluded: [...goal.excluded] })
  const write = async (goal: ReplicationGoal): Promise<void> => {
    await repository.put(goal)
    goals.set(goal.cid, goal)
  }
  return {
    async start () {
      const rows = await repository.all()
      goals.clear()
      for (const goal of rows) goals.set(goal.cid, goal)
    },
    get (cid) {
      const goal = goals.get(cid)
      return goal == null ? undefined : copy(goal)
    },
    list () {
      return [...goals.values()].sort((a, b) => a.createdAtMs - b.createdAtMs || a.cid.localeCompare(b.cid)).map(copy)
    },
    async set (input) {
      return await exclusive(async () => {
        const now = Date.now()
        const existing = goals.get(input.cid)
        const goal: ReplicationGoal = {
          cid: input.cid,
          min: input.min,
          max: input.max,
          mediaId: input.mediaId ?? existing?.mediaId ?? null,
          profile: input.profile ?? existing?.profile ?? null,
          excluded: [...(input.excluded ?? existing?.excluded ?? [])],
          createdAtMs: existing?.createdAtMs ?? now,
          updatedAtMs: now
        }
        await write(goal)
        return copy(goal)
      })
    },
    async exclude (cid, peerId, excluded) {
      await exclusive(async () => {
        const existing = goals.get(cid)
        if (existing == null || existing.excluded.includes(peerId) === excluded) return
        const list = excluded ? [...existing.excluded, peerId] : existing.excluded.filter(p => p !== peerId)
        await write({ ...existing, excluded: list, updatedAtMs: Date.now() })
      })
    },
    async remove (cid) {
      await exclusive(async () => {
        if (!goals.has(cid)) return
        await repository.remove(cid)
        goals.delete(cid)
      })
    }
  }
}
