import { LeaderUnavailableError } from '../../core/errors.ts'
import { matchRoute } from '../access/authorize.ts'
import type Router from '@koa/router'
import type { Middleware } from 'koa'

/*
 * Several main servers on one catalog (issue 15): the routes that read or change what the leader alone keeps (the
 * node registry, the content index, the distributor) are passed on to the leader as they came, credentials included
 * (the leader checks them again against the shared accounts), and its answer goes back unchanged: any server can be
 * asked anything, as Vault's standbys forward to the active node. Only routes the caller may reach get here (the
 * middleware runs after authorization); a request already forwarded once is never forwarded again.
 */

/** Where the leader is: here (serve the request), at `url`, or nowhere right now. */
export type LeaderTarget = { here: true } | { here: false, url: string | undefined }

/** The header that marks a forwarded request. */
export const FORWARDED_HEADER = 'x-cidcast-forwarded'
const FORWARD_TIMEOUT_MS = 30_000
const PASSED_HEADERS = ['authorization', 'cookie', 'accept', 'content-type', 'user-agent']
const ANSWER_HEADERS = ['content-type', 'cache-control', 'retry-after', 'location']

/** Passes requests for `routes` on to the leader when this server does not lead. */
export function forwardToLeader (init: { routers: readonly Router[], routes: ReadonlySet<string>, leader: () => LeaderTarget }): Middleware {
  return async (ctx, next) => {
    const key = matchRoute(init.routers, ctx)
    if (key == null || !init.routes.has(key)) return await next()
    const target = init.leader()
    if (target.here) return await next()
    if (ctx.get(FORWARDED_HEADER) !== '' || target.url == null) throw new LeaderUnavailableError('no main server leads right now; try again in a few seconds')
    const headers: Record<string, string> = { [FORWARDED_HEADER]: '1' }
    for (const name of PASSED_HEADERS) {
      const value = ctx.get(name)
      if (value !== '') headers[name] = value
    }
    const body = ctx.method === 'GET' || ctx.method === 'HEAD' || ctx.request.body == null ? undefined : JSON.stringify(ctx.request.body)
    if (body !== undefined) headers['content-type'] = 'application/json'
    let answer: Response
    let bytes: Buffer
    try {
      answer = await fetch(new URL(ctx.originalUrl, target.url), { method: ctx.method, headers, body, redirect: 'manual', signal: AbortSignal.timeout(FORWARD_TIMEOUT_MS) })
      bytes = Buffer.from(await answer.arrayBuffer())
    } catch {
      throw new LeaderUnavailableError('the leading main server did not answer; try again in a few seconds')
    }
    ctx.status = answer.status
    for (const name of ANSWER_HEADERS) {
      const value = answer.headers.get(name)
      if (value != null) ctx.set(name, value)
    }
    ctx.body = bytes
  }
}
