import Router from '@koa/router'
import type { Distributor } from '../../core/distribution/index.ts'

/*
 * `GET /api/v1/distribution` (issue 13, item 5): what automatic distribution did lately and why (each placement,
 * eviction and pre-cache with its rule, score and reason), what it could not do, and its settings. Admins only: it
 * names nodes and what their viewers watch.
 */

export interface DistributionRouteComponents {
  distributor: Pick<Distributor, 'status'>
}

/** The distribution route. */
export function distributionRoutes ({ distributor }: DistributionRouteComponents): Router {
  return new Router().get('/api/v1/distribution', ctx => {
    ctx.set('Cache-Control', 'no-store')
    ctx.body = distributor.status()
  })
}
