import { bodyParser } from '@koa/bodyparser'
import { BodyTooLargeError, InvalidRequestError, UnsupportedMediaTypeError } from '../../core/errors.ts'
import type { Context, Middleware } from 'koa'

/*
 * Request bodies of `/api`: JSON in UTF-8 and nothing else. A body of another type is a 415 (not parsed into an
 * empty object that a route then reads as "field missing"), one over the limit a 413, and JSON that does not parse
 * a plain 400 that does not quote the parser. Other paths (Delegated Routing V1's IPNS records) read their own.
 */

const API_PATH = /^\/api\//

/** Parses JSON bodies of `/api` requests (or of `paths`); refuses other types (415), other charsets (415), big bodies (413). */
export function jsonBody (init: { limit: string, paths?: RegExp }): Middleware {
  const paths = init.paths ?? API_PATH
  const parse = bodyParser({
    enableTypes: ['json'],
    jsonLimit: init.limit,
    encoding: 'utf-8',
    onError: (err: Error & { status?: number }) => {
      if (err.status === 413) throw new BodyTooLargeError(`a request body may be at most ${init.limit}`)
      if (err.status === 415) throw new UnsupportedMediaTypeError('a JSON body must be UTF-8')
      throw new InvalidRequestError('the body is not valid JSON')
    }
  })
  return async (ctx, next) => {
    if (!paths.test(ctx.path)) return await next()
    const sized = ctx.request.length != null && ctx.request.length > 0
    if (sized || ctx.get('Transfer-Encoding') !== '') {
      if (ctx.is('application/json') === false) throw new UnsupportedMediaTypeError('a request body must be JSON (Content-Type: application/json)')
      const charset = ctx.request.charset.toLowerCase()
      if (charset !== '' && charset !== 'utf-8' && charset !== 'utf8') throw new UnsupportedMediaTypeError('a JSON body must be UTF-8')
    }
    await parse(ctx, next)
  }
}

/** The request's JSON body as an object; InvalidRequestError for anything else (an array, a string, none). */
export function objectBody (ctx: Context): Record<string, unknown> {
  const value = ctx.request.body
  if (value == null || typeof value !== 'object' || Array.isArray(value)) throw new InvalidRequestError('the body must be a JSON object')
  return value as Record<string, unknown>
}
