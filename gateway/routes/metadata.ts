import Router from '@koa/router'
import { InvalidRequestError } from '../../core/errors.ts'
import { scopeOf } from '../access/visibility.ts'
import type { MetadataService } from '../../core/metadata/index.ts'
import type { Match } from '../../core/metadata/index.ts'

export interface MetadataRouteComponents {
  metadata: MetadataService
}

const MAX_QUERY_CHARS = 200

function text (value: unknown, name: string): string | undefined {
  const v = Array.isArray(value) ? value[0] : value
  if (v == null || v === '') return undefined
  if (typeof v !== 'string' || v.length > MAX_QUERY_CHARS) throw new InvalidRequestError(`${name} must be text of at most ${MAX_QUERY_CHARS} characters`)
  return v
}

function whole (value: unknown, name: string, max: number): number | undefined {
  const v = text(value, name)
  if (v == null) return undefined
  const n = Number(v)
  if (!/^\d+$/.test(v) || !Number.isSafeInteger(n) || n > max) throw new InvalidRequestError(`${name} must be a whole number from 0 to ${max}`)
  return n
}

function matchOf (body: unknown): Pick<Match, 'provider' | 'kind' | 'id'> | undefined {
  if (body == null || (typeof body === 'object' && (body as { match?: unknown }).match == null)) return undefined
  const match = (body as { match?: unknown }).match as Record<string, unknown> | undefined
  if (match == null || typeof match !== 'object' || typeof match.provider !== 'string' || typeof match.id !== 'string' ||
    (match.kind !== 'movie' && match.kind !== 'series') || match.id.length > 64) {
    throw new InvalidRequestError('expected { "match": { "provider": "tmdb|tvdb|omdb", "kind": "movie|series", "id": "..." } } or no body')
  }
  return { provider: match.provider as Match['provider'], kind: match.kind, id: match.id }
}

/**
 * `/api/v1` metadata: edits and their history, identification, series, seasons, collections, next item, search. What
 * is listed is what the caller may see (`scopeOf`); a media named by id is checked before (access/visibility.ts).
 */
export function metadataRoutes ({ metadata }: MetadataRouteComponents): Router {
  const router = new Router({ prefix: '/api/v1' })

  router.get('/metadata/providers', ctx => {
    ctx.body = { providers: metadata.providerNames }
  })

  router.get('/media/:id/metadata', async ctx => {
    ctx.body = await metadata.get(ctx.params.id)
  })

  router.patch('/media/:id/metadata', async ctx => {
    ctx.body = await metadata.edit(ctx.params.id, ctx.request.body)
  })

  router.get('/media/:id/metadata/history', async ctx => {
    ctx.body = { items: await metadata.history(ctx.params.id) }
  })

  router.post('/media/:id/metadata/history/:entry/revert', async ctx => {
    const entry = whole(ctx.params.entry, 'entry', Number.MAX_SAFE_INTEGER)
    ctx.body = await metadata.revert(ctx.params.id, entry ?? -1)
  })

  router.get('/media/:id/matches', async ctx => {
    ctx.body = await metadata.matches(ctx.params.id, { query: text(ctx.query.query, 'query'), year: whole(ctx.query.year, 'year', 9999) })
  })

  router.post('/media/:id/identify', async ctx => {
    ctx.body = await metadata.identify(ctx.params.id, { match: matchOf(ctx.request.body) })
  })

  router.get('/media/:id/next', async ctx => {
    ctx.body = { next: await metadata.next(ctx.params.id, scopeOf(ctx)) }
  })

  router.get('/media/:id/extras', async ctx => {
    ctx.body = { items: await metadata.extras(ctx.params.id, scopeOf(ctx)) }
  })

  router.get('/series', async ctx => {
    ctx.body = { items: await metadata.listSeries(scopeOf(ctx)) }
  })

  router.get('/series/:id', async ctx => {
    ctx.body = await metadata.series(ctx.params.id, scopeOf(ctx))
  })

  router.get('/series/:id/seasons', async ctx => {
    ctx.body = { items: (await metadata.series(ctx.params.id, scopeOf(ctx))).seasons }
  })

  router.get('/series/:id/seasons/:number', async ctx => {
    const number = whole(ctx.params.number, 'season', 3000)
    ctx.body = await metadata.season(ctx.params.id, number ?? -1, scopeOf(ctx))
  })

  router.get('/series/:id/episodes', async ctx => {
    ctx.body = { items: await metadata.episodes(ctx.params.id, scopeOf(ctx)) }
  })

  router.get('/collections', async ctx => {
    ctx.body = { items: await metadata.listCollections(scopeOf(ctx)) }
  })

  router.get('/collections/:id', async ctx => {
    ctx.body = await metadata.collection(ctx.params.id, scopeOf(ctx))
  })

  router.get('/search', async ctx => {
    const q = text(ctx.query.q, 'q')
    if (q == null || q.trim().length === 0) throw new InvalidRequestError('q must name what to look for')
    ctx.body = await metadata.search(q.trim(), whole(ctx.query.limit, 'limit', 200) ?? 50, scopeOf(ctx))
  })

  return router
}
