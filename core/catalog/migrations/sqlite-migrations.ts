import { InitialSchema1764115200000 } from './sqlite/1764115200000-initial-schema.ts'
import { Nodes1795654800000 } from './sqlite/1795654800000-nodes.ts'
import { Metadata1795740000000 } from './sqlite/1795740000000-metadata.ts'
import { ContentIndex1795830000000 } from './sqlite/1795830000000-content-index.ts'
import { ReplicationGoals1795900000000 } from './sqlite/1795900000000-replication-goals.ts'
import { MediaSortKey1796000000000 } from './sqlite/1796000000000-media-sort-key.ts'
import { Accounts1796100000000 } from './sqlite/1796100000000-accounts.ts'
import { NodeOwner1796200000000 } from './sqlite/1796200000000-node-owner.ts'
import { ImageCidIndex1796300000000 } from './sqlite/1796300000000-image-cid-index.ts'
import { NodeRegion1796400000000 } from './sqlite/1796400000000-node-region.ts'
import { ContentIndexAuto1796500000000 } from './sqlite/1796500000000-content-index-auto.ts'
import { NodeInvitations1796600000000 } from './sqlite/1796600000000-node-invitations.ts'
import { NodeVersion1796700000000 } from './sqlite/1796700000000-node-version.ts'
import { LibraryScale1796800000000 } from './sqlite/1796800000000-library-scale.ts'
import { TranscodeLeases1796900000000 } from './sqlite/1796900000000-transcode-leases.ts'
import { Cluster1797000000000 } from './sqlite/1797000000000-cluster.ts'

/** The SQLite migrations, oldest first; postgres-migrations.ts has one of the same name for each (a test checks). */
export const SQLITE_MIGRATIONS = [InitialSchema1764115200000, Nodes1795654800000, Metadata1795740000000, ContentIndex1795830000000, ReplicationGoals1795900000000, MediaSortKey1796000000000, Accounts1796100000000, NodeOwner1796200000000, ImageCidIndex1796300000000, NodeRegion1796400000000, ContentIndexAuto1796500000000, NodeInvitations1796600000000, NodeVersion1796700000000, LibraryScale1796800000000, TranscodeLeases1796900000000, Cluster1797000000000]
