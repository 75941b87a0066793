import { Counter, Gauge, Registry, collectDefaultMetrics } from 'prom-client'
import type { EdgeCacheMetrics } from './edge-cache.ts'

/** A CDN node's Prometheus metrics (one registry per node, so tests can run several in one process). */
export interface NodeMetrics {
  registry: Registry
  /** HLS segments served, by source (the main server's metric of the same name counts its own). */
  segmentsServed: Counter<'source'>
  /** Requests this node sent to the main server's HTTP face, by purpose. */
  originRequests: Counter<'kind'>
  /** Records one finished content answer (`/media`, `/ipfs`): its route, source, bytes and status. */
  answered (route: string, source: string, bytes: number, status: number): void
  /** A content answer starts (+1) or ends (-1) being written. */
  streams (delta: number): void
  /** Plain totals for heartbeats. */
  totals (): { bytesServed: number, errors: number, activeStreams: number }
  /** The fallback cache's counters (core/edge/edge-cache.ts). */
  cache: EdgeCacheMetrics
  /** Where the cache gauges read the budget and the bytes kept. */
  observeCache (figures: () => { cacheBytes: number, cacheUsedBytes: number }): void
}

/** Creates the node's registry and metrics. */
export function createNodeMetrics (): NodeMetrics {
  const registry = new Registry()
  collectDefaultMetrics({ register: registry, prefix: 'cidcast_' })
  let bytes = 0
  let errorCount = 0
  let active = 0
  const requests = new Counter({ name: 'cidcast_node_requests_total', help: '/media and /ipfs answers, by route and source', labelNames: ['route', 'source'], registers: [registry] })
  const bytesServed = new Counter({ name: 'cidcast_node_bytes_served_total', help: 'bytes of /media and /ipfs answers, by source', labelNames: ['source'], registers: [registry] })
  const errors = new Counter({ name: 'cidcast_node_errors_total', help: 'answers with a 5xx status', registers: [registry] })
  void new Gauge({ name: 'cidcast_node_active_streams', help: 'content answers being written now', registers: [registry], collect () { this.set(active) } })
  let cacheFigures = (): { cacheBytes: number, cacheUsedBytes: number } => ({ cacheBytes: 0, cacheUsedBytes: 0 })
  void new Gauge({ name: 'cidcast_node_cache_bytes', help: 'bytes of files kept from fallback answers', registers: [registry], collect () { this.set(cacheFigures().cacheUsedBytes) } })
  void new Gauge({ name: 'cidcast_node_cache_budget_bytes', help: 'most bytes of files kept from fallback answers', registers: [registry], collect () { this.set(cacheFigures().cacheBytes) } })
  const cache: EdgeCacheMetrics = {
    hits: new Counter({ name: 'cidcast_node_cache_hits_total', help: 'answers served from files kept from fallback answers', registers: [registry] }),
    evictions: new Counter({ name: 'cidcast_node_cache_evictions_total', help: 'files kept from fallback answers evicted', registers: [registry] }),
    evictedBytes: new Counter({ name: 'cidcast_node_cache_evicted_bytes_total', help: 'bytes of blocks removed by evictions', registers: [registry] }),
    readAheadBytes: new Counter({ name: 'cidcast_node_read_ahead_bytes_total', help: 'bytes of segments fetched ahead of viewers streamed by fallback', registers: [registry] }),
    readAheadHits: new Counter({ name: 'cidcast_node_read_ahead_hits_total', help: 'segments read ahead that a viewer then asked for (served locally)', registers: [registry] }),
    prefetchBytes: new Counter({ name: 'cidcast_node_prefetch_bytes_total', help: 'bytes pre-cached for viewers likely to come (the next episode)', registers: [registry] }),
    prefetchHits: new Counter({ name: 'cidcast_node_prefetch_hits_total', help: 'pre-cached files a viewer then asked for (served locally)', registers: [registry] }),
    prefetchWastedBytes: new Counter({ name: 'cidcast_node_prefetch_wasted_bytes_total', help: 'pre-cached bytes evicted before any viewer asked for them', registers: [registry] })
  }
  return {
    cache,
    observeCache (figures) {
      cacheFigures = figures
    },
    registry,
    segmentsServed: new Counter({ name: 'cidcast_segments_served_total', help: 'HLS segments served, by source', labelNames: ['source'], registers: [registry] }),
    originRequests: new Counter({ name: 'cidcast_node_origin_requests_total', help: 'HTTP requests sent to the main server, by purpose', labelNames: ['kind'], registers: [registry] }),
    answered (route, source, n, status) {
      requests.inc({ route, source })
      if (n > 0) {
        bytes += n
        bytesServed.inc({ source }, n)
      }
      if (status >= 500) {
        errorCount++
        errors.inc()
      }
    },
    streams (delta) {
      active += delta
    },
    totals: () => ({ bytesServed: bytes, errors: errorCount, activeStreams: active })
  }
}
