/*
 * core/replication: the main server's side of replication (issue #4), as IPFS Cluster gives the state, the
 * allocator and the peer monitor a package each: the registry of nodes (and its store), the content index, placement
 * and replication factors, the replication service that orders pins and takes the nodes' reports, and the views the
 * API shows. Other folders import this file only.
 */

export { createNodeRegistry, DEFAULT_ZONE, HEARTBEAT_INTERVAL_MS } from './registry.ts'
export type { NodeRegistry, NodeRegistryComponents, NodeRegistryInit, NodeView } from './registry.ts'
export { createContentIndex } from './content-index.ts'
export type { ContentIndex, ContentIndexComponents, IndexEntry, PinState } from './content-index.ts'
export { parseReplicas } from './placement.ts'
export type { ReplicationFactor } from './placement.ts'
export { createReplicationGoals } from './goals.ts'
export type { ReplicationGoal, ReplicationGoals, ReplicationGoalsComponents } from './goals.ts'
export type { PreparationStore, PrepareRendition, PreparingView } from './prepare.ts'
export { createReplication } from './replication.ts'
export type { Replication, ReplicationComponents, ReplicationInit } from './replication.ts'
export type { GoalView, MediaLocations, PinResult, ReplicableMedia, ReplicationFilter, ReplicationRequest } from './types.ts'
export type { ReplicationView } from './views.ts'
export { registerReplicationMetrics } from './metrics.ts'
export { NothingToReplicateError, PinNotFoundError, UnderReplicatedError } from './errors.ts'
