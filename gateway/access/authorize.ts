import { AuthenticationRequiredError, PermissionDeniedError } from '../../core/access/index.ts'
import { fromLoopback } from './loopback.ts'
import { callerOf } from './caller.ts'
import type { AccessSettings, Owner, Rule } from './route-table.ts'
import type { Logger } from '../../core/logger.ts'
import type Router from '@koa/router'
import type { Context, Middleware } from 'koa'

/*
 * The one place that decides whether a request may reach its route: it finds the route the routers will run (the
 * same matching they do), reads its owner in the route table, and lets the request through or answers 401/403.
 * Requests that match no route go on (to a 404, a 405 or the UI's files).
 */

export interface AuthorizeInit {
  routers: readonly Router[]
  table: Readonly<Record<string, Rule>>
  settings: () => AccessSettings
  logger: Logger
}

/** `METHOD PATH` of a route as the table names it (GET stands for HEAD too; `ALL` for a route of every method). */
export function routeKey (method: string, layer: { methods: string[], path: string | RegExp }): string {
  const path = typeof layer.path === 'string' ? layer.path : String(layer.path)
  if (layer.methods.length >= 7) return `ALL ${path}`
  return `${method === 'HEAD' ? 'GET' : method} ${path}`
}

/** A route as a router registered it. */
export type RouteLayer = ReturnType<Router['match']>['pathAndMethod'][number]

/** The route a request will reach (the same matching the routers do), or undefined when none matches its path and method. */
export function matchLayer (routers: readonly Router[], ctx: Pick<Context, 'path' | 'method'>): RouteLayer | undefined {
  for (const router of routers) {
    const matched = router.match(ctx.path, ctx.method)
    if (!matched.route) continue
    const layer = matched.pathAndMethod.find(l => l.methods.length > 0)
    if (layer != null) return layer
  }
  return undefined
}

/** The key of the route a request will reach, or undefined when none matches its path and method. */
export function matchRoute (routers: readonly Router[], ctx: Pick<Context, 'path' | 'method'>): string | undefined {
  const layer = matchLayer(routers, ctx)
  return layer == null ? undefined : routeKey(ctx.method, layer)
}

/** Whether a caller may reach a route of `owner`; throws the refusal. `stream` and `origin` are decided further on. */
export function allow (ctx: Context, owner: Owner): void {
  const caller = callerOf(ctx)
  switch (owner) {
    case 'public':
    case 'stream':
    case 'origin':
      return
    case 'loopback':
      if (!fromLoopback(ctx)) throw new PermissionDeniedError('only allowed from the machine this runs on')
      return
    case 'metrics':
      if (fromLoopback(ctx) || (caller.kind === 'user' && caller.role === 'admin')) return
      break
    case 'viewer':
      if (caller.kind === 'user') return
      // a registered node reads what viewers read (it can fetch every block over bitswap anyway), never writes
      if (caller.kind === 'node' && (ctx.method === 'GET' || ctx.method === 'HEAD')) return
      break
    case 'admin':
      if (caller.kind === 'user' && caller.role === 'admin') return
      break
  }
  if (caller.kind === 'anonymous') throw new AuthenticationRequiredError('log in first: this needs an account')
  throw new PermissionDeniedError(`this needs the ${owner} role`)
}

/** Every route key the routers register, in the table's spelling (what the route census compares with the table). */
export function routeKeysOf (routers: readonly Router[]): string[] {
  const keys = new Set<string>()
  for (const router of routers) {
    for (const layer of router.stack) {
      if (layer.methods.length === 0) continue
      const methods = layer.methods.length >= 7 ? ['ALL'] : layer.methods.filter(m => m !== 'HEAD')
      for (const method of methods) keys.add(method === 'ALL' ? routeKey('GET', layer) : routeKey(method, layer))
    }
  }
  return [...keys].sort()
}

/** The authorization middleware over an app's routers. */
export function authorize (init: AuthorizeInit): Middleware {
  const log = init.logger.child({ name: 'cidcast:access' })
  return async (ctx, next) => {
    const key = matchRoute(init.routers, ctx)
    if (key != null) {
      const rule = init.table[key]
      if (rule == null) {
        log.error({ route: key }, 'a route is missing from the route table: refused')
        throw new PermissionDeniedError('this route is not open to anyone yet')
      }
      const owner = typeof rule === 'function' ? rule(ctx, init.settings()) : rule
      allow(ctx, owner)
      ctx.state.owner = owner
    }
    await next()
  }
}
