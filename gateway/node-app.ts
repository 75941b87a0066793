import Router from '@koa/router'
import Koa from 'koa'
import { createMissResolver } from '../core/edge/index.ts'
import { streamAccess } from './access/stream-access.ts'
import { errors } from './middleware/errors.ts'
import { mediaCors } from './middleware/media-cors.ts'
import { SOURCE_HEADER } from './media-http.ts'
import { apiProxyRoutes } from './routes/api-proxy.ts'
import { nodeIpfsRoutes } from './routes/node-ipfs.ts'
import { nodeMediaRoutes } from './routes/node-media.ts'
import { localPinRoutes } from './routes/local-pins.ts'
import { authorize, routeKeysOf } from './access/authorize.ts'
import { NODE_ROUTES } from './access/route-table.ts'
import { webUiFiles, webUiRoutes } from './web-ui.ts'
import type { DemandMeter, EdgeCache, FallbackMode, HeldMedia, MediaCache, MissResolver, NodeContent, NodeMetrics, OriginClient } from '../core/edge/index.ts'
import type { Logger } from '../core/logger.ts'
import type { LocalPinRouteComponents } from './routes/local-pins.ts'
import type { StreamAccessComponents, StreamAccessInit } from './access/stream-access.ts'
import type { WebUi } from './web-ui.ts'
import type { Middleware } from 'koa'

export interface NodeAppComponents {
  logger: Logger
  content: NodeContent
  cache: MediaCache
  /** The media whose renditions are pinned here: played from them when the main server is unreachable. */
  held?: HeldMedia
  origin: OriginClient
  metrics: NodeMetrics
  /** What `/media` and `/ipfs` served, per rendition root, for the heartbeats (the main server's demand scores). */
  served: Pick<DemandMeter, 'record'>
  /** What `/healthz` shows (besides `status` and `role`); any `reasons` make the status `degraded`. */
  health: () => Promise<Record<string, unknown> & { reasons: string[] }>
  /**
   * Stream tokens and node credentials, checked offline with the main server's public keys (the node's key ring):
   * `/media` and `/ipfs` serve nobody else, unless the main server marks its media public.
   */
  access: StreamAccessComponents & Pick<StreamAccessInit, 'onlyUser'> & { publicMedia: () => boolean }
  /** The node's pinner: `/pins` and `/pins/verify` (loopback only) exist only with it. */
  pinner?: LocalPinRouteComponents['pinner']
  /** The web UI's files: served at `/` only when given. */
  ui?: WebUi
  /** The index of what fallback answers kept: told of local hits. */
  kept?: Pick<EdgeCache, 'hit'>
  /** Whether the node can keep more now (read-ahead runs only then). */
  room?: () => Promise<boolean>
}

export interface NodeAppInit {
  /** What to do on a miss. @default 'origin' */
  fallback?: FallbackMode
  /** Deadline for peers when `fallback` is `peer`. @default 5000 */
  peerTimeoutMs?: number
  /** Playlists younger than this are served from the node's cache without asking the origin. @default 60000 */
  playlistTtlMs?: number
  /** Segments fetched ahead of a viewer streamed by fallback; 0: off. @default 3 */
  readAheadSegments?: number
}

/** Errors of a node that are worth naming in a 5xx body (the shared middleware hides 5xx details). */
const NAMED_5XX: Readonly<Record<string, number>> = { OriginUnavailableError: 502, UnverifiedContentError: 502, DataFolderFullError: 507 }

/** Names the node's own 5xx conditions in the body, so a viewer sees "the main server is down" and not "internal error". */
function nodeErrors (): Middleware {
  return async (ctx, next) => {
    try {
      await next()
    } catch (err) {
      const e = err as { name?: string, message?: string }
      const status = NAMED_5XX[e?.name ?? '']
      if (status == null) throw err
      ctx.status = status
      ctx.remove('Etag')
      ctx.set('Cache-Control', 'no-store')
      ctx.body = { error: e.name, message: e.message }
    }
  }
}

/** Counts content answers: active streams, bytes and status by route and source. */
function accounting (metrics: NodeMetrics): Middleware {
  return async (ctx, next) => {
    const route = ctx.path.startsWith('/media/') ? 'media' : ctx.path.startsWith('/ipfs/') ? 'ipfs' : undefined
    if (route == null) {
      await next()
      return
    }
    metrics.streams(1)
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      metrics.streams(-1)
      const bytes = ctx.method === 'HEAD' || ctx.status === 304 ? 0 : Number(ctx.response.length ?? 0)
      metrics.answered(route, ctx.response.get(SOURCE_HEADER) || 'none', bytes, ctx.status)
    }
    ctx.res.once('finish', finish)
    ctx.res.once('close', finish)
    await next()
  }
}

/** The CDN node's HTTP face: `/media` and `/ipfs` local-first for stream tokens, the UI, `/api/v1` passed to the main server, health and metrics. */
export function createNodeApp (components: NodeAppComponents, init: NodeAppInit = {}): Koa & { routes: () => string[], resolver: MissResolver } {
  const log = components.logger.child({ name: 'cidcast:node-http' })
  const app = new Koa()
  app.proxy = false
  app.silent = true
  app.use(mediaCors())
  app.use(accounting(components.metrics))
  app.use(errors(log))
  app.use(nodeErrors())
  app.use(streamAccess(components.access, { publicMedia: components.access.publicMedia, onlyUser: components.access.onlyUser }))

  const system = new Router()
    .get('/healthz', async ctx => {
      ctx.set('Cache-Control', 'no-store')
      const health = await components.health()
      ctx.body = { status: health.reasons.length === 0 ? 'ok' : 'degraded', role: 'node', ...health }
    })
    .get('/metrics', async ctx => {
      ctx.type = components.metrics.registry.contentType
      ctx.body = await components.metrics.registry.metrics()
    })

  const { content, cache, origin, metrics, logger, held, kept, room } = components
  const resolver = createMissResolver({ content, cache, origin, logger, held, kept, room }, { fallback: init.fallback, peerTimeoutMs: init.peerTimeoutMs, playlistTtlMs: init.playlistTtlMs, readAheadSegments: init.readAheadSegments })
  const routers = [
    system,
    apiProxyRoutes({ origin }),
    nodeMediaRoutes({ resolver, metrics, served: components.served }),
    nodeIpfsRoutes({ resolver, logger, served: components.served })
  ]
  if (components.pinner != null) routers.push(localPinRoutes({ pinner: components.pinner }))
  if (components.ui != null) routers.push(webUiRoutes(components.ui))
  // a node has no accounts: its owners are public, loopback, stream tokens and the main server (its API proxy)
  app.use(authorize({ routers, table: NODE_ROUTES, settings: () => ({ viewerReplication: false }), logger: components.logger }))
  for (const router of routers) {
    app.use(router.routes())
    app.use(router.allowedMethods())
  }
  if (components.ui != null) app.use(webUiFiles(components.ui))
  return Object.assign(app, { routes: () => routeKeysOf(routers), resolver })
}
