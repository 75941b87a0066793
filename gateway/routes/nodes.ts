import Router from '@koa/router'
import { userOf } from '../access/caller.ts'
import type { Accounts } from '../../core/access/index.ts'
import type { NodeRegistry, NodeView } from '../../core/replication/index.ts'
import type { Context } from 'koa'

/** What a CDN node needs to reach the main server when it is given only the server's HTTP URL. */
export interface ServerInfo {
  peerId: string
  /** The main server's libp2p multiaddrs, each ending in `/p2p/<peerId>`. */
  addresses: string[]
  /** The DNS zone nodes are named in. */
  zone: string
  /** `HOST:PORT` of the zone's DNS server (UDP and TCP), null when it does not run. */
  dnsListen: string | null
  /** Whether this main server leads the ones sharing its catalog (always, alone on SQLite). */
  leader?: boolean
  /** Every live main server of the catalog (this one first): where nodes may register. */
  servers?: Array<{ peerId: string, url: string, addresses: string[], leader: boolean }>
}

export interface NodeRouteComponents {
  nodes: Pick<NodeRegistry, 'list' | 'revoke'>
  /** The users, to name nodes' owners. */
  users: Pick<Accounts, 'listUsers'>
  /** Read on every request: addresses and the DNS port are known only once everything listens. */
  serverInfo: () => ServerInfo
}

/** A node as other users see it: no multiaddrs or pin lists; its owner's name only when `owner` is given. */
function publicView (node: NodeView, owner?: string | null): Record<string, unknown> {
  return {
    ...(owner === undefined ? {} : { owner }),
    name: node.name,
    label: node.label,
    dnsName: node.dnsName,
    ipns: node.ipns,
    peerId: node.peerId,
    mode: node.mode,
    region: node.region,
    tags: node.tags,
    version: node.version,
    state: node.state,
    url: node.url,
    capacity: node.capacity,
    health: node.health,
    lastSeen: node.lastSeen,
    revoked: node.revoked
  }
}

/**
 * `GET /api/v1/nodes`: shared, unrevoked nodes and the caller's own local ones (`?all=1`, for admins: every node,
 * with addresses and pins); admins see every node's `owner` (a user name; null for none or a removed user), an owner
 * their own. `POST /api/v1/nodes/{name}/revoke` (admins); `GET /api/v1/server`.
 */
export function nodeRoutes ({ nodes, users, serverInfo }: NodeRouteComponents): Router {
  const router = new Router({ prefix: '/api/v1' })

  /** Who may read a node's owner, and the names of the users by id (read only for them). */
  const owners = async (ctx: Context): Promise<(node: NodeView) => string | null | undefined> => {
    const caller = userOf(ctx)
    if (caller == null) return () => undefined
    if (caller.role !== 'admin') return node => node.ownerId != null && node.ownerId === caller.userId ? caller.name : undefined
    const names = new Map((await users.listUsers()).map(user => [user.id, user.name]))
    return node => node.ownerId == null ? null : names.get(node.ownerId) ?? null
  }

  router.get('/nodes', async ctx => {
    ctx.set('Cache-Control', 'no-store')
    // who may ask for `all` is the route table's decision
    const all = ctx.query.all === '1' || ctx.query.all === 'true'
    const list = await nodes.list()
    const ownerOf = await owners(ctx)
    const userId = userOf(ctx)?.userId
    // a local node serves its owner alone, so it is listed to them alone (their node picker offers it)
    const listed = (node: NodeView): boolean => !node.revoked && (node.mode === 'shared' || (userId != null && node.ownerId === userId))
    ctx.body = {
      items: all ? list.map(node => ({ ...node, owner: ownerOf(node) ?? null })) : list.filter(listed).map(node => publicView(node, ownerOf(node)))
    }
  })

  router.post('/nodes/:name/revoke', async ctx => {
    const node = await nodes.revoke(ctx.params.name)
    ctx.body = publicView(node, (await owners(ctx))(node))
  })

  router.get('/server', ctx => {
    ctx.set('Cache-Control', 'no-store')
    ctx.body = serverInfo()
  })

  return router
}
