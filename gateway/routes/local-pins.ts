import Router from '@koa/router'
import { ForbiddenError } from '../../core/control/index.ts'
import { fromLoopback } from './nodes.ts'
import type { Pinner } from '../../core/edge/index.ts'

/*
 * A daemon's own pin endpoints, for its owner on the same machine (`cidcast pin verify --node URL`):
 * - `GET /pins` (CDN nodes): the replication orders the node is running or has just finished, as its heartbeats
 *   report them;
 * - `POST /pins/verify[?repair=1]` (nodes and the main server): re-hashes every block of every pinned DAG and lists
 *   the missing or damaged ones (with `repair`, fetched again over bitswap from the connected peers).
 * Loopback only (decided by the socket's address): reading every block is work a stranger must not start.
 */

export interface LocalPinRouteComponents {
  /** `verify` runs `POST /pins/verify`; `reports`, when given, answers `GET /pins`. */
  pinner: Pick<Pinner, 'verify'> & Partial<Pick<Pinner, 'reports'>>
}

/** The loopback-only pin routes. */
export function localPinRoutes ({ pinner }: LocalPinRouteComponents): Router {
  const router = new Router()
    .use(async (ctx, next) => {
      if (!fromLoopback(ctx)) throw new ForbiddenError('the pin endpoints answer only on this machine')
      ctx.set('Cache-Control', 'no-store')
      await next()
    })
    .post('/pins/verify', async ctx => {
      const repair = ctx.query.repair === '1' || ctx.query.repair === 'true'
      ctx.body = await pinner.verify({ repair })
    })
  const { reports } = pinner
  if (reports != null) router.get('/pins', ctx => { ctx.body = { items: reports() } })
  return router
}
