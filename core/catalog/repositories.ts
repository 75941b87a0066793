import { createAccessRepository } from './access-repository.ts'
import { createInvitationRepository } from './invitation-repository.ts'
import { createMainServerRepository, createStreamKeyRepository } from './cluster-repository.ts'
import type { MainServerRepository, StreamKeyRepository } from './cluster-repository.ts'
import { createContentIndexRepository } from './content-index-repository.ts'
import { createLostSegmentRepository } from './lost-segments.ts'
import { createMetadataRepository } from './metadata-repository.ts'
import { createNodeRepository } from './node-repository.ts'
import { createTranscodeLeaseRepository } from './transcode-lease-repository.ts'
import { createGoalRepository, createPreparationRepository, createRenditionRootRepository } from './replication-repositories.ts'
import type { InvitationRepository } from './invitation-repository.ts'
import type { AccessRepository } from './access-repository.ts'
import type { ContentIndexRepository } from './content-index-repository.ts'
import type { RunExclusive, RunRead } from './exclusive.ts'
import type { LostSegmentRepository } from './lost-segments.ts'
import type { MetadataRepository } from './metadata-repository.ts'
import type { NodeRepository } from './node-repository.ts'
import type { TranscodeLeaseRepository } from './transcode-lease-repository.ts'
import type { GoalRepository, PreparationRepository, RenditionRootRepository } from './replication-repositories.ts'

/**
 * The stores other rooms keep in the catalog's database, in their own terms (no ORM type in any signature).
 * Every write queues behind the catalog's writes; what must be atomic runs in one transaction inside one call.
 */
export interface CatalogRepositories {
  /** The node registry's rows (core/replication/registry.ts). */
  nodes: NodeRepository
  /** The content index's rows (core/replication/content-index.ts). */
  contentIndex: ContentIndexRepository
  /** Replication factors (core/replication/goals.ts). */
  goals: GoalRepository
  /** Replications waiting for a rendition (core/replication/prepare.ts). */
  preparations: PreparationRepository
  /** Which rendition a root CID is. */
  renditionRoots: RenditionRootRepository
  /** Media metadata, series, collections, the audit trail and stored images (core/metadata). */
  metadata: MetadataRepository
  /** Users and their tokens (core/access/accounts.ts). */
  access: AccessRepository
  /** Invitations for CDN nodes to join (core/access/invitations.ts). */
  invitations: InvitationRepository
  /** Segments lost for good, forgotten so they are made again (the main server's segment store). */
  lostSegments: LostSegmentRepository
  /** The main servers sharing this database (core/cluster). */
  servers: MainServerRepository
  /** The stream signing keys they share (core/access/signing-keys.ts). */
  streamKeys: StreamKeyRepository
  /** Leases on ffmpeg sessions, so main servers sharing the database do not make the same segments twice (core/media's transcoder). */
  transcodeLeases: TranscodeLeaseRepository
}

/** Builds every repository on the catalog's write queue; the hot reads (metadata, accounts) run beside it (`read`). */
export function createRepositories (exclusive: RunExclusive, read: RunRead): CatalogRepositories {
  return {
    nodes: createNodeRepository(exclusive),
    contentIndex: createContentIndexRepository(exclusive),
    goals: createGoalRepository(exclusive),
    preparations: createPreparationRepository(exclusive),
    renditionRoots: createRenditionRootRepository(exclusive),
    metadata: createMetadataRepository(exclusive, read),
    access: createAccessRepository(exclusive, read),
    invitations: createInvitationRepository(exclusive),
    lostSegments: createLostSegmentRepository(exclusive),
    servers: createMainServerRepository(exclusive, read),
    streamKeys: createStreamKeyRepository(exclusive),
    transcodeLeases: createTranscodeLeaseRepository(exclusive)
  }
}
