/*
 * core/edge: the CDN node's side: the control agent (registration, heartbeats), the pinner that carries out the main
 * server's orders (its order book and execution, with their fetch, verify and collect parts), the miss resolver
 * that decides where the bytes of an answer come from (local -> peer -> origin, verified) with its read-ahead, the
 * node's content access, the cache of what fallback answers kept (budget, GDSF eviction), the origin client, the media
 * cache, the demand meter (what was served, per rendition root, for heartbeats), the record of media held here, block verification, the data folder's capacity and the node's
 * metrics. The main server never loads it. Other folders import this file only.
 */

export { AUTO_PINS_FILE, createAutoPins } from './auto-pins.ts'
export type { AutoPins } from './auto-pins.ts'
export { createPrefetchQueue } from './prefetch-queue.ts'
export type { PrefetchQueue } from './prefetch-queue.ts'
export { createNodeAgent } from './agent.ts'
export type { AgentControl, AgentState, AgentStatus, NodeAgent, NodeAgentComponents, NodeAgentInit } from './agent.ts'
export { createPinner } from './pinner.ts'
export type { LocalPinOptions, Pinner, PinnerComponents, PinnerInit } from './pinner.ts'
export { DEFAULT_FETCH_CONCURRENCY, fetchDag } from './pin-fetch.ts'
export type { DagProgress, FetchDagComponents, FetchDagOptions } from './pin-fetch.ts'
export { providerLookup } from './pin-providers.ts'
export type { Collected } from './pin-collect.ts'
export { createOriginClient, unreachableOrigin } from './origin-client.ts'
export type { OriginBody, OriginClient, OriginClientComponents, OriginClientInit, OriginMedia, OriginRequestKind, ServerInfo } from './origin-client.ts'
export { createMissResolver } from './miss-resolver.ts'
export type {
  ContentSource, FallbackMode, MediaAnswer, MissResolver, MissResolverComponents, MissResolverInit, PlaylistAnswer,
  Redirected, ResolveOptions, Served
} from './miss-resolver.ts'
export type { ContentNeed } from './content-need.ts'
export { createNodeContent } from './node-content.ts'
export type { KeptAs, NodeContent, NodeContentComponents, NodeContentInit } from './node-content.ts'
export { createEdgeCache, DEFAULT_CACHE_SHARE } from './edge-cache.ts'
export type { CachedFile, EdgeCache, EdgeCacheComponents, EdgeCacheInit, EdgeCacheMetrics, KeptFile } from './edge-cache.ts'
export { localRemover } from './pin-collect.ts'
export { createHeldMedia } from './held-media.ts'
export type { HeldMedia, HeldMediaComponents, HeldMediaEntry, HeldMediaInit } from './held-media.ts'
export { createMediaCache } from './media-cache.ts'
export type { CachedPlaylist, CachedRoots, MediaCache, MediaCacheComponents, MediaCacheInit } from './media-cache.ts'
export { verifyBlock, verifyFileBytes } from './block-verify.ts'
export type { VerifiedBlock } from './block-verify.ts'
export { createCapacity, fullReason } from './capacity.ts'
export type { Capacity, CapacityInit, CapacityReport } from './capacity.ts'
export { createDemandMeter } from './demand-meter.ts'
export type { DemandMeter, DemandMeterComponents, DemandMeterInit, ServedAnswer, ServedSource } from './demand-meter.ts'
export { createNodeMetrics } from './metrics.ts'
export type { NodeMetrics } from './metrics.ts'
export {
  DataFolderFullError, OriginUnavailableError, PrivateNetworkRefusedError, ServerDialFailedError, SwarmKeyMissingError,
  UnverifiedContentError
} from './errors.ts'
export { InvalidPinOrderError, NoProviderReachableError, PinCancelledError, PinStalledError } from './pin-errors.ts'
