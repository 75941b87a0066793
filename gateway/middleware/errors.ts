import { CidcastError } from '../../core/errors.ts'
import { EXPOSED_5XX, statusOfError } from './error-status.ts'
import type { Logger } from '../../core/logger.ts'
import type { Middleware } from 'koa'

/** The one place that turns thrown errors into HTTP: `{ error, message }`, 5xx bodies hide internals. */
export function errors (log: Logger): Middleware {
  return async (ctx, next) => {
    try {
      await next()
      if (ctx.status === 404 && ctx.body == null) {
        ctx.status = 404
        ctx.body = { error: 'NotFoundError', message: `no route for ${ctx.method} ${ctx.path}` }
      } else if ((ctx.status === 405 || ctx.status === 501) && ctx.body == null) {
        // the routers' allowedMethods() set these with no body (Koa would send its plain-text reason)
        const status = ctx.status
        ctx.body = status === 405
          ? { error: 'MethodNotAllowedError', message: `${ctx.method} is not allowed on ${ctx.path} (allowed: ${ctx.response.get('Allow')})` }
          : { error: 'NotImplementedError', message: `the method ${ctx.method} is not implemented` }
        ctx.status = status
      }
    } catch (err: unknown) {
      const e = err as { name?: string, message?: string, status?: number, expose?: boolean, retryAfterSeconds?: unknown }
      const known = statusOfError(e?.name)
      let status = known ?? 500
      // koa/http-errors (bad JSON body, URI malformed) and errors relayed from the main server carry their own 4xx
      if (known == null && typeof e?.status === 'number' && e.status >= 400 && e.status < 500) status = e.status
      ctx.status = status
      ctx.remove('Content-Disposition')
      if (status !== 416) ctx.remove('Content-Range')
      ctx.remove('Etag')
      ctx.remove('Cache-Control')
      ctx.set('Cache-Control', 'no-store')
      // an error that knows when trying again makes sense (a busy catalog) says so, as RFC 9110 has 503 and 429 do
      const retryAfter = e?.retryAfterSeconds
      if ((status === 503 || status === 429) && typeof retryAfter === 'number' && Number.isSafeInteger(retryAfter) && retryAfter > 0) ctx.set('Retry-After', String(retryAfter))
      // RFC 6750: a 401 names the scheme that would have been accepted
      if (status === 401) ctx.set('WWW-Authenticate', 'Bearer realm="cidcast"')
      if (status >= 500) {
        if (EXPOSED_5XX.has(e?.name ?? '')) {
          ctx.body = { error: e.name, message: e.message }
          // a known condition (the database away, no leader): one line per request, not a stack each, or an outage floods the log
          log.warn({ path: ctx.path, error: e.name, reason: e.message }, 'request refused')
        } else {
          ctx.body = { error: 'InternalError', message: 'internal error' }
          log.error({ err, path: ctx.path }, 'request failed')
        }
      } else {
        // a CidcastError's name and message are meant for users; other 4xx (koa's) get a generic name
        const name = known != null || err instanceof CidcastError ? e.name : (status === 400 ? 'InvalidRequestError' : 'HttpError')
        ctx.body = { error: name, message: e?.message ?? 'bad request' }
      }
    }
  }
}
