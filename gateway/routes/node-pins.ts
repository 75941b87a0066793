import Router from '@koa/router'
import { ForbiddenError } from '../../core/control/index.ts'
import { fromLoopback } from './nodes.ts'
import type { Pinner } from '../../core/edge/index.ts'

/*
 * A CDN node's own pin endpoints, for its owner on the same machine (`cidcast pin verify --node URL`):
 * - `GET /pins`: the replication orders the node is running or has just finished, as its heartbeats report them;
 * - `POST /pins/verify[?repair=1]`: re-hashes every block of every pinned DAG and lists the missing or damaged
 *   ones (with `repair`, fetched again over bitswap from the connected peers).
 * Loopback only (decided by the socket's address): reading every block is work a stranger must not start.
 */

export interface NodePinRouteComponents {
  pinner: Pick<Pinner, 'verify' | 'reports'>
}

/** The node's loopback-only pin routes. */
export function nodePinRoutes ({ pinner }: NodePinRouteComponents): Router {
  return new Router()
    .use(async (ctx, next) => {
      if (!fromLoopback(ctx)) throw new ForbiddenError('the node\'s pin endpoints answer only on its own machine')
      ctx.set('Cache-Control', 'no-store')
      await next()
    })
    .get('/pins', ctx => {
      ctx.body = { items: pinner.reports() }
    })
    .post('/pins/verify', async ctx => {
      const repair = ctx.query.repair === '1' || ctx.query.repair === 'true'
      ctx.body = await pinner.verify({ repair })
    })
}
