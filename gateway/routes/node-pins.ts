import Router from '@koa/router'
import type { Pinner } from '../../core/edge/index.ts'

/*
 * A CDN node's own pin endpoints, for its owner on the same machine (`cidcast pin verify --node URL`):
 * - `GET /pins`: the replication orders the node is running or has just finished, as its heartbeats report them;
 * - `POST /pins/verify[?repair=1]`: re-hashes every block of every pinned DAG and lists the missing or damaged
 *   ones (with `repair`, fetched again over bitswap from the connected peers).
 * Loopback only (the route table's `loopback` owner): reading every block is work a stranger must not start.
 */

export interface NodePinRouteComponents {
  pinner: Pick<Pinner, 'verify' | 'reports'>
}

/** The node's loopback-only pin routes. */
export function nodePinRoutes ({ pinner }: NodePinRouteComponents): Router {
  return new Router()
    .get('/pins', ctx => {
      ctx.set('Cache-Control', 'no-store')
      ctx.body = { items: pinner.reports() }
    })
    .post('/pins/verify', async ctx => {
      ctx.set('Cache-Control', 'no-store')
      const repair = ctx.query.repair === '1' || ctx.query.repair === 'true'
      ctx.body = await pinner.verify({ repair })
    })
}
