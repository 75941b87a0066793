import { ACCESS_ENTITIES } from './access-entities.ts'
import { Media, Node, PlaybackProgress, Rendition, Segment, TranscodeLease } from './entities.ts'
import { METADATA_ENTITIES } from './metadata-entities.ts'
import { REPLICATION_ENTITIES } from './replication-entities.ts'
import { CLUSTER_ENTITIES } from './cluster-entities.ts'

/*
 * The list of every entity lives apart from the entities themselves: metadata-entities.ts points at Media, so
 * entities.ts gathering the metadata entities made an import circle.
 */

/** Every entity of the catalog, for a DataSource's `entities`. */
export const CATALOG_ENTITIES = [Media, Rendition, Segment, TranscodeLease, PlaybackProgress, Node, ...METADATA_ENTITIES, ...REPLICATION_ENTITIES, ...ACCESS_ENTITIES, ...CLUSTER_ENTITIES]
