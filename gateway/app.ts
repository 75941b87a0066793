import Router from '@koa/router'
import Koa from 'koa'
import { streamAccess } from './access/stream-access.ts'
import { imageRoutes } from './routes/images.ts'
import { errors } from './middleware/errors.ts'
import { jsonBody } from './middleware/json-body.ts'
import { mediaCors } from './middleware/media-cors.ts'
import { apiRoutes } from './routes/api.ts'
import { ipfsRoutes } from './routes/ipfs.ts'
import { localPinRoutes } from './routes/local-pins.ts'
import { keyRoutes } from './routes/keys.ts'
import { mediaRoutes } from './routes/media.ts'
import { metadataRoutes } from './routes/metadata.ts'
import { nodeRoutes } from './routes/nodes.ts'
import { invitationRoutes } from './routes/invitations.ts'
import { playRoutes } from './routes/play.ts'
import { distributionRoutes } from './routes/distribution.ts'
import { replicationRoutes } from './routes/replications.ts'
import { routingRoutes } from './routes/routing.ts'
import { authenticate } from './access/authenticate.ts'
import { authorize, routeKeysOf } from './access/authorize.ts'
import { forwardToLeader } from './middleware/leader-forward.ts'
import type { LeaderTarget } from './middleware/leader-forward.ts'
import { createVisibility } from './access/visibility.ts'
import { LEADER_ROUTES, SERVER_ROUTES } from './access/route-table.ts'
import { accountRoutes } from './routes/accounts.ts'
import { webUiFiles, webUiRoutes } from './web-ui.ts'
import type { AccessSettings } from './access/route-table.ts'
import type { StreamAccessComponents } from './access/stream-access.ts'
import type { KeyRouteComponents } from './routes/keys.ts'
import type { PlayRouteComponents } from './routes/play.ts'
import type { WebUi } from './web-ui.ts'
import type { Accounts, Invitations, LoginLimiter } from '../core/access/index.ts'
import type { Catalog } from '../core/catalog/index.ts'
import type { DiskSpace, DiskSpaceReport } from '../core/disk-space.ts'
import type { Distributor } from '../core/distribution/index.ts'
import type { NodeRegistry, Replication } from '../core/replication/index.ts'
import type { ContentReader } from '../core/ipfs/index.ts'
import type { Logger } from '../core/logger.ts'
import type { Library, Transcoder } from '../core/media/index.ts'
import type { MetadataService } from '../core/metadata/index.ts'
import type { Metrics } from '../core/metrics.ts'
import type { LocalPinRouteComponents } from './routes/local-pins.ts'
import type { ServerInfo } from './routes/nodes.ts'
import type { RoutingRouteComponents } from './routes/routing.ts'
import type { Blockstore } from 'interface-blockstore'
import type { CID } from 'multiformats/cid'

export interface HttpAppComponents {
  logger: Logger
  /** Users, sessions and API tokens: who a request speaks for. */
  accounts: Accounts
  /** Slows password guessing on login. */
  limiter: LoginLimiter
  /** Settings that move routes between owners (read on every request, so a change applies at once). */
  accessSettings: () => AccessSettings
  /** The folders the server watches for media: what an admin is offered when limiting a viewer's folders. */
  libraryFolders?: readonly string[]
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
  /** Node invitations (`/api/v1/nodes/invitations`, `/api/v1/nodes/join`), with the node registry. */
  invitations?: Invitations
  /** IPNS records and provider/peer sources: `/routing/v1` (Delegated Routing V1) exists only with them. */
  routing?: Omit<RoutingRouteComponents, 'logger'>
  /** Series, collections, edits and identification (core/metadata): the metadata routes exist only with it. */
  metadata?: MetadataService
  /** The content index and pin orders: `/api/v1/replications` and `/api/v1/media/{id}/locations` exist only with it. */
  replication?: Pick<Replication, 'pin' | 'unpin' | 'list' | 'goals' | 'locations' | 'preparing'>
  /** Automatic distribution: told of viewers' progress; `/api/v1/distribution` exists only with it. */
  distributor?: Pick<Distributor, 'progress' | 'status'>
  /** The web UI's files: served at `/` only when given. */
  ui?: WebUi
  /** Forgets a segment whose block is lost for good (damaged, no node had it), so `/media` makes it again. */
  segmentLost?: (cid: CID) => Promise<void>
  /** What `/healthz` says about stored blocks (hashing on read, damage found, repairs, the scrub). */
  integrity?: () => unknown
  /** Re-hashes every pinned block now (`POST /pins/verify`, loopback only: `cidcast pin verify --node <this URL>`). */
  verifyPins?: LocalPinRouteComponents['pinner']['verify']
  /** The data folder's disk: `/healthz` says `degraded` while it is full, and hears of every write refused for lack of space. */
  disk?: DiskSpace
  /** Signed play URLs: `GET /api/v1/media/{id}/play` exists only with it. */
  streamUrls?: PlayRouteComponents['streamUrls']
  /** Stream key rotation: `POST /api/v1/keys/rotate` exists only with it. */
  rotateStreamKeys?: KeyRouteComponents['rotate']
  /** Stream tokens and node credentials on `/media` and `/ipfs`, verified with the server's own signing keys. */
  access: StreamAccessComponents & {
    /** Media need no credential (an open site). */
    publicMedia: boolean
  }
  /** Several main servers on one catalog: where the leader is, for the routes only it answers (leader-forward.ts). */
  leader?: () => LeaderTarget
}

/** The main server's HTTP face: UI, `/api/v1`, `/media`, `/ipfs`, `/healthz`, `/metrics`; `routes` lists its route keys. */
export function createHttpApp (components: HttpAppComponents): Koa & { routes: () => string[] } {
  const log = components.logger.child({ name: 'cidcast:http' })
  const started = Date.now()
  const app = new Koa()
  app.proxy = false
  app.silent = true
  app.use(mediaCors())
  app.use(errors(log))
  const { disk } = components
  if (disk != null) app.use(noteDiskFull(disk))
  app.use(authenticate({ accounts: components.accounts, nodes: components.access.nodes }))
  app.use(jsonBody({ limit: '64kb' }))
  const { publicMedia, ...access } = components.access
  // a signed-in user (session or API token) needs no stream token on the main server; nobody passes without a credential
  app.use(streamAccess(access, { publicMedia: () => publicMedia, allowCaller: true }))

  const system = new Router()
    .get('/healthz', async ctx => {
      ctx.set('Cache-Control', 'no-store')
      const { reasons, space } = await diskHealth(disk)
      ctx.body = {
        status: reasons.length === 0 ? 'ok' : 'degraded',
        reasons,
        role: 'server',
        peerId: components.peerId,
        uptimeSeconds: Math.round((Date.now() - started) / 1000),
        sessions: components.transcoder.sessions().length,
        integrity: components.integrity?.(),
        ...(space == null ? {} : { disk: { freeBytes: space.freeBytes, reserveBytes: space.reserveBytes, full: space.full } })
      }
    })
    .get('/metrics', async ctx => {
      ctx.type = components.metrics.registry.contentType
      ctx.body = await components.metrics.registry.metrics()
    })

  // a viewer limited to some library folders sees nothing of what lies outside them (access/visibility.ts)
  const visibility = createVisibility({ catalog: components.catalog, mediaOfCids: async cids => await components.catalog.repositories.renditionRoots.mediaOf(cids), reader: components.reader })
  const routers = [system, accountRoutes({ accounts: components.accounts, limiter: components.limiter, settings: components.accessSettings, libraryFolders: components.libraryFolders }), apiRoutes(components), mediaRoutes(components), ipfsRoutes({ blockstore: components.blockstore, logger: components.logger, reader: components.reader })]
  if (components.invitations != null) routers.push(invitationRoutes({ invitations: components.invitations, limiter: components.limiter }))
  if (components.nodes != null && components.serverInfo != null) routers.push(nodeRoutes({ nodes: components.nodes, users: components.accounts, serverInfo: components.serverInfo }))
  if (components.routing != null) routers.push(routingRoutes({ ...components.routing, logger: components.logger }))
  if (components.metadata != null) routers.push(metadataRoutes({ metadata: components.metadata }), imageRoutes({ images: components.catalog.repositories.metadata, reader: components.reader }))
  if (components.replication != null) routers.push(replicationRoutes({ replication: components.replication, visibility }))
  if (components.distributor != null) routers.push(distributionRoutes({ distributor: components.distributor }))
  if (components.verifyPins != null) routers.push(localPinRoutes({ pinner: { verify: components.verifyPins } }))
  if (components.streamUrls != null) routers.push(playRoutes({ streamUrls: components.streamUrls }))
  if (components.rotateStreamKeys != null) routers.push(keyRoutes({ rotate: components.rotateStreamKeys }))
  if (components.ui != null) routers.push(webUiRoutes(components.ui))
  app.use(authorize({ routers, table: SERVER_ROUTES, settings: components.accessSettings, logger: components.logger }))
  app.use(visibility.middleware(routers))
  if (components.leader != null) app.use(forwardToLeader({ routers, routes: LEADER_ROUTES, leader: components.leader }))
  for (const router of routers) {
    app.use(router.routes())
    app.use(router.allowedMethods())
  }
  if (components.ui != null) app.use(webUiFiles(components.ui))
  return Object.assign(app, { routes: () => routeKeysOf(routers) })
}

/** Tells the disk watch of every request that failed for lack of space (the error goes on to the error middleware). */
function noteDiskFull (disk: DiskSpace): Koa.Middleware {
  return async (_ctx, next) => {
    try {
      await next()
    } catch (err) {
      disk.failed(err)
      throw err
    }
  }
}

/** What the data folder's disk adds to `/healthz`: why it is degraded (nothing when it is fine), and its figures. */
async function diskHealth (disk: DiskSpace | undefined): Promise<{ reasons: string[], space?: DiskSpaceReport }> {
  if (disk == null) return { reasons: [] }
  try {
    const space = await disk.check()
    return { reasons: space.reason == null ? [] : [space.reason], space }
  } catch (err) {
    return { reasons: [`the data folder's disk cannot be measured (${(err as NodeJS.ErrnoException).code ?? 'unknown error'})`] }
  }
}
