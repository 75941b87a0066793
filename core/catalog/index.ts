/*
 * core/catalog: the main server's database (TypeORM on better-sqlite3 or PostgreSQL: dialect.ts): the entities and their migrations, the
 * catalog of media, renditions, segments and playback progress, and the repositories other rooms keep their rows in
 * (metadata, the node registry, the content index, replication goals and preparations). Loading it loads TypeORM:
 * the CDN node and the client never do; the list options they name live in core/media-query.ts. Other folders
 * import this file only.
 */

export { createCatalog } from './catalog.ts'
export { registerCatalogMetrics } from './metrics.ts'
export type { Catalog, CatalogComponents, CatalogInit, CatalogLockStats, CatalogRepositories, ListOptions } from './catalog.ts'
export type { MediaInput, MediaRecord, ProgressRecord, RenditionInput, RenditionRecord, RenditionState, SegmentRecord } from './records.ts'
export { normalTitle, sortKey } from './sort-key.ts'
export { listColumns } from './media-list.ts'
export { searchText } from './search-text.ts'
export { FIELD_NAMES } from './metadata-repository.ts'
export type { AuditEntry, CollectionRecord, FieldChanges, FieldName, MetadataFields, MetadataRepository, SeasonRecord, SeriesRecord, StoredMetadata } from './metadata-repository.ts'
export type { AccessRepository, TokenRecord, UserRecord } from './access-repository.ts'
export type { InvitationRecord, InvitationRepository } from './invitation-repository.ts'
export type { NodeRecord, NodeRepository } from './node-repository.ts'
export type { LostSegmentRepository } from './lost-segments.ts'
export type { TranscodeLeaseClaim, TranscodeLeaseRepository } from './transcode-lease-repository.ts'
export type { ContentIndexRepository, IndexEntry, PinAction, PinState } from './content-index-repository.ts'
export type { GoalRecord, GoalRepository, PreparationRecord, PreparationRepository, RenditionRootRepository } from './replication-repositories.ts'
export { CatalogBusyError, CatalogNotStartedError, CatalogUnavailableError, CopyMismatchError, DatabaseNotEmptyError, IncompleteRenditionError, RenditionNotFoundError, UnsuitableDatabaseError } from './errors.ts'
export { migrateCatalog } from './dialect.ts'
export { copyCatalog } from './copy.ts'
export type { LeaderLock } from './leader-lock.ts'
export type { MainServerRecord, MainServerRepository, StreamKeyRecord, StreamKeyRepository } from './cluster-repository.ts'
export type { CopiedTable, CopyProgress, CopyReport } from './copy.ts'
