import { bodyParser } from '@koa/bodyparser'
import Router from '@koa/router'
import Koa from 'koa'
import { streamAccess } from './access/stream-access.ts'
import { errors } from './middleware/errors.ts'
import { mediaCors } from './middleware/media-cors.ts'
import { apiRoutes } from './routes/api.ts'
import { ipfsRoutes } from './routes/ipfs.ts'
import { keyRoutes } from './routes/keys.ts'
import { mediaRoutes } from './routes/media.ts'
import { metadataRoutes } from './routes/metadata.ts'
import { nodeRoutes } from './routes/nodes.ts'
import { playRoutes } from './routes/play.ts'
import { replicationRoutes } from './routes/replications.ts'
import { routingRoutes } from './routes/routing.ts'
import { serveWebUi } from './web-ui.ts'
import type { StreamAccessComponents } from './access/stream-access.ts'
import type { KeyRouteComponents } from './routes/keys.ts'
import type { PlayRouteComponents } from './routes/play.ts'
import type { WebUi } from './web-ui.ts'
import type { Catalog } from '../core/catalog/index.ts'
import type { NodeRegistry, Replication } from '../core/replication/index.ts'
import type { ContentReader } from '../core/ipfs/index.ts'
import type { Logger } from '../core/logger.ts'
import type { Library, Transcoder } from '../core/media/index.ts'
import type { MetadataService } from '../core/metadata/index.ts'
import type { Metrics } from '../core/metrics.ts'
import type { ServerInfo } from './routes/nodes.ts'
import type { RoutingRouteComponents } from './routes/routing.ts'
import type { Blockstore } from 'interface-blockstore'

export interface HttpAppComponents {
  logger: Logger
  library: Library
  catalog: Catalog
  transcoder: Transcoder
  reader: ContentReader
  metrics: Metrics
  blockstore: Pick<Blockstore, 'get' | 'has'>
  peerId: string
  /** The node registry and the server's own addresses: `/api/v1/nodes` and `/api/v1/server` exist only with both. */
  nodes?: Pick<NodeRegistry, 'list' | 'revoke'>
  serverInfo?: () => ServerInfo
  /** IPNS records and provider/peer sources: `/routing/v1` (Delegated Routing V1) exists only with them. */
  routing?: Omit<RoutingRouteComponents, 'logger'>
  /** Series, collections, edits and identification (core/metadata): the metadata routes exist only with it. */
  metadata?: MetadataService
  /** The content index and pin orders: `/api/v1/replications` and `/api/v1/media/{id}/locations` exist only with it. */
  replication?: Pick<Replication, 'pin' | 'unpin' | 'list' | 'goals' | 'locations' | 'preparing'>
  /** The web UI's files: served at `/` only when given. */
  ui?: WebUi
  /** Signed play URLs: `GET /api/v1/media/{id}/play` exists only with it. */
  streamUrls?: PlayRouteComponents['streamUrls']
  /** Stream key rotation: `POST /api/v1/keys/rotate` exists only with it. */
  rotateStreamKeys?: KeyRouteComponents['rotate']
  /** Stream tokens and node credentials on `/media` and `/ipfs`, verified with the server's own signing keys. */
  access: StreamAccessComponents & {
    publicMedia: boolean
    /**
     * Refuse `/media` and `/ipfs` requests that carry no credential (401). Off, they stay open as before, while a
     * token or node credential that is given is still checked and playlists still carry a token: until the main
     * server authenticates its users, turning this on would leave its own web UI unable to play. @default false
     */
    require?: boolean
  }
}

/** The main server's HTTP face: UI, `/api/v1`, `/media`, `/ipfs`, `/healthz`, `/metrics`. */
export function createHttpApp (components: HttpAppComponents): Koa {
  const log = components.logger.child({ name: 'cidcast:http' })
  const started = Date.now()
  const app = new Koa()
  app.proxy = false
  app.silent = true
  app.use(mediaCors())
  app.use(errors(log))
  app.use(bodyParser({ enableTypes: ['json'], jsonLimit: '64kb', encoding: 'utf-8' }))
  const { publicMedia, require, ...access } = components.access
  // a signed-in user (session or API token) needs no stream token on the main server
  app.use(streamAccess(access, { publicMedia: () => publicMedia, allowCaller: true, require: require ?? false }))

  const system = new Router()
    .get('/healthz', ctx => {
      ctx.set('Cache-Control', 'no-store')
      ctx.body = { status: 'ok', role: 'server', peerId: components.peerId, uptimeSeconds: Math.round((Date.now() - started) / 1000), sessions: components.transcoder.sessions().length }
    })
    .get('/metrics', async ctx => {
      ctx.type = components.metrics.registry.contentType
      ctx.body = await components.metrics.registry.metrics()
    })

  const routers = [system, apiRoutes(components), mediaRoutes(components), ipfsRoutes({ blockstore: components.blockstore, logger: components.logger, reader: components.reader })]
  if (components.nodes != null && components.serverInfo != null) routers.push(nodeRoutes({ nodes: components.nodes, serverInfo: components.serverInfo }))
  if (components.routing != null) routers.push(routingRoutes({ ...components.routing, logger: components.logger }))
  if (components.metadata != null) routers.push(metadataRoutes({ metadata: components.metadata }))
  if (components.replication != null) routers.push(replicationRoutes({ replication: components.replication }))
  if (components.streamUrls != null) routers.push(playRoutes({ streamUrls: components.streamUrls }))
  if (components.rotateStreamKeys != null) routers.push(keyRoutes({ rotate: components.rotateStreamKeys }))
  for (const router of routers) {
    app.use(router.routes())
    app.use(router.allowedMethods())
  }
  if (components.ui != null) serveWebUi(app, components.ui)
  return app
}
