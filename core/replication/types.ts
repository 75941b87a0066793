import type { ReplicationFactor } from './placement.ts'
import type { PreparingView } from './prepare.ts'
import type { ReplicationView } from './views.ts'

/* The shapes the replication service takes and answers, shared by its parts (requests, delivery, upkeep). */

/** A media's renditions as replication needs them (the library's MediaView has these fields). */
export interface ReplicableMedia {
  id: string
  renditions: Array<{ profile: string, state: string, root: string | null }>
  /** The media directory (master.m3u8 over the finished renditions), once one exists. */
  root?: string | null
}

/** What to replicate and where: a media (its finished renditions, or one profile) or a CID; a node or a factor. */
export interface ReplicationRequest {
  media?: string
  cid?: string
  profile?: string
  /** A node's label, name or peer ID. */
  node?: string
  replicas?: ReplicationFactor
  /**
   * The distributor's own placement or eviction (issue 13): a pin is marked evictable, an unpin touches only rows the
   * distributor placed; neither changes replication factors.
   */
  auto?: boolean
}

export interface ReplicationFilter {
  node?: string
  cid?: string
  media?: string
}

/** Where a media's renditions are: the main server and every node with a row for their roots. */
export interface MediaLocations {
  media: string
  renditions: Array<{ profile: string, state: string, root: string | null, server: boolean, preparing: PreparingView | null, goal: GoalView | null, locations: ReplicationView[] }>
}

/** A replication factor and where it stands. */
export interface GoalView {
  cid: string
  min: number
  max: number
  mediaId: string | null
  profile: string | null
  /** Nodes that count: asked to pin it, not failed for good, online or offline for less than `repinAfterMs`. */
  holders: string[]
  state: 'met' | 'under-replicated'
  /** Why it is under-replicated (no node left to place it on), else null. */
  reason: string | null
}

/** What a pin request did: rows of the roots ordered, and renditions the main server makes first. */
export interface PinResult {
  items: ReplicationView[]
  preparing: PreparingView[]
}
