import Router from '@koa/router'
import { TokenMissingError } from '../../core/access/index.ts'
import { InvalidRequestError } from '../../core/errors.ts'
import { userOf } from '../access/caller.ts'
import type { StreamUrls } from '../../core/access/index.ts'
import type { Context } from 'koa'

/*
 * `GET /api/v1/media/{id}/play?node=NAME&ttl=SECONDS` (issue 11, item 4): a signed URL of the media's master
 * playlist, on that CDN node or on the main server, for the signed-in user. It plays in hls.js with no headers;
 * the player asks again before `expiresAt`.
 */

export interface PlayRouteComponents {
  streamUrls: Pick<StreamUrls, 'create'>
}

/** A single query value, or undefined; a repeated parameter is a 400 naming it. */
function single (ctx: Context, name: string): string | undefined {
  const value = ctx.query[name]
  if (Array.isArray(value)) throw new InvalidRequestError(`${name} may be given once`)
  return value === '' ? undefined : value
}

/** `ttl`: whole seconds (the service checks the range). */
function ttlOf (ctx: Context): number | undefined {
  const text = single(ctx, 'ttl')
  if (text === undefined) return undefined
  if (!/^\d{1,9}$/.test(text)) throw new InvalidRequestError('ttl must be a whole number of seconds')
  return Number(text)
}

/** The play route. */
export function playRoutes ({ streamUrls }: PlayRouteComponents): Router {
  return new Router().get('/api/v1/media/:id/play', async ctx => {
    const user = userOf(ctx)
    if (user == null) throw new TokenMissingError('log in first: a play URL is signed for a signed-in user')
    const played = await streamUrls.create({ userId: user.userId, mediaId: ctx.params.id, node: single(ctx, 'node'), ttlSeconds: ttlOf(ctx) })
    ctx.set('Cache-Control', 'no-store')
    ctx.body = { url: played.url, expiresAt: played.expiresAt.toISOString() }
  })
}
