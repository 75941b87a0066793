import Router from '@koa/router'
import type { NodeRegistry, NodeView } from '../../core/replication/index.ts'

/** What a CDN node needs to reach the main server when it is given only the server's HTTP URL. */
export interface ServerInfo {
  peerId: string
  /** The main server's libp2p multiaddrs, each ending in `/p2p/<peerId>`. */
  addresses: string[]
  /** The DNS zone nodes are named in. */
  zone: string
  /** `HOST:PORT` of the zone's DNS server (UDP and TCP), null when it does not run. */
  dnsListen: string | null
}

export interface NodeRouteComponents {
  nodes: Pick<NodeRegistry, 'list' | 'revoke'>
  /** Read on every request: addresses and the DNS port are known only once everything listens. */
  serverInfo: () => ServerInfo
}

/** A node as other users see it: no multiaddrs or pin lists. */
function publicView (node: NodeView): Record<string, unknown> {
  return {
    name: node.name,
    label: node.label,
    dnsName: node.dnsName,
    ipns: node.ipns,
    peerId: node.peerId,
    mode: node.mode,
    state: node.state,
    url: node.url,
    capacity: node.capacity,
    health: node.health,
    lastSeen: node.lastSeen,
    revoked: node.revoked
  }
}

/**
 * `GET /api/v1/nodes`: shared, unrevoked nodes (`?all=1`, for admins: every node, with addresses and pins);
 * `POST /api/v1/nodes/{name}/revoke` (admins); `GET /api/v1/server`.
 */
export function nodeRoutes ({ nodes, serverInfo }: NodeRouteComponents): Router {
  const router = new Router({ prefix: '/api/v1' })

  router.get('/nodes', async ctx => {
    ctx.set('Cache-Control', 'no-store')
    // who may ask for `all` is the route table's decision
    const all = ctx.query.all === '1' || ctx.query.all === 'true'
    const list = await nodes.list()
    ctx.body = {
      items: all ? list : list.filter(node => node.mode === 'shared' && !node.revoked).map(publicView)
    }
  })

  router.post('/nodes/:name/revoke', async ctx => {
    ctx.body = publicView(await nodes.revoke(ctx.params.name))
  })

  router.get('/server', ctx => {
    ctx.set('Cache-Control', 'no-store')
    ctx.body = serverInfo()
  })

  return router
}
