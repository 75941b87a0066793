import Router from '@koa/router'
import { InvalidRequestError } from '../../core/errors.ts'
import { requireUser } from '../access/authenticate.ts'
import { scopeOf } from '../access/visibility.ts'
import { MEDIA_KINDS, MEDIA_SORTS, SORT_ORDERS, defaultOrder } from '../../core/media-query.ts'
import type { Catalog } from '../../core/catalog/index.ts'
import type { Distributor } from '../../core/distribution/index.ts'
import type { MediaListOptions } from '../../core/media-query.ts'
import type { Library } from '../../core/media/index.ts'
import type { Metrics } from '../../core/metrics.ts'
import type { Context } from 'koa'

export interface ApiRouteComponents {
  library: Library
  catalog: Catalog
  metrics: Metrics
  /** Told of every progress report: a viewer near the end of an episode pre-caches the next (issue 13). */
  distributor?: Pick<Distributor, 'progress'>
}

/** The signed-in user's id: progress and continue-watching are per account. */
function userOf (ctx: Context): string {
  return requireUser(ctx).userId
}

function intParam (value: unknown, name: string, fallback: number, max: number): number {
  if (value == null || value === '') return fallback
  const n = Number(value)
  if (typeof value !== 'string' || !/^\d+$/.test(value) || !Number.isSafeInteger(n) || n > max) throw new InvalidRequestError(`${name} must be an integer from 0 to ${max}`)
  return n
}

function choiceParam<T extends string> (value: unknown, name: string, choices: readonly T[]): T | undefined {
  if (value == null || value === '') return undefined
  if (typeof value !== 'string' || !(choices as readonly string[]).includes(value)) throw new InvalidRequestError(`${name} must be one of ${choices.join(', ')}`)
  return value as T
}

/** `GET /api/v1/media`'s query: a page (`limit`, `offset`), an order (`sort`, `order`) and a `kind`. */
function mediaListParams (query: Record<string, unknown>): Required<Omit<MediaListOptions, 'kind' | 'folders'>> & Pick<MediaListOptions, 'kind'> {
  const sort = choiceParam(query.sort, 'sort', MEDIA_SORTS) ?? 'added'
  return {
    limit: intParam(query.limit, 'limit', 100, 1000),
    offset: intParam(query.offset, 'offset', 0, Number.MAX_SAFE_INTEGER),
    sort,
    order: choiceParam(query.order, 'order', SORT_ORDERS) ?? defaultOrder(sort),
    kind: choiceParam(query.kind, 'kind', MEDIA_KINDS)
  }
}

/** `/api/v1`: the library, media details, adding files and playback progress. */
export function apiRoutes ({ library, catalog, metrics, distributor }: ApiRouteComponents): Router {
  const router = new Router({ prefix: '/api/v1' })

  router.get('/media', async ctx => {
    const params = mediaListParams(ctx.query)
    // a viewer limited to some library folders: counted and paged in the same query as the rest
    const scope = scopeOf(ctx)
    const [items, total] = await Promise.all([library.list({ ...params, ...scope }), library.count({ kind: params.kind, ...scope })])
    ctx.body = { items, total, ...params, kind: params.kind ?? null }
  })

  router.post('/media', async ctx => {
    const body = ctx.request.body as { path?: unknown } | undefined
    if (body == null || typeof body !== 'object' || typeof body.path !== 'string') {
      throw new InvalidRequestError('expected a JSON body { "path": "/absolute/path/to/file" }')
    }
    const { media, created } = await library.add(body.path)
    if (created) metrics.mediaAdded.inc()
    ctx.status = created ? 201 : 200
    ctx.body = { ...media, created, playlist: `/media/${media.id}/master.m3u8` }
  })

  router.get('/media/:id', async ctx => {
    const media = await library.get(ctx.params.id)
    ctx.body = { ...media, playlist: `/media/${media.id}/master.m3u8` }
  })

  router.get('/media/:id/progress', async ctx => {
    const media = await library.get(ctx.params.id)
    const progress = await catalog.getProgress(userOf(ctx), media.id)
    ctx.body = { positionSeconds: progress?.positionSeconds ?? null, updatedAt: progress?.updatedAt.toISOString() ?? null }
  })

  router.put('/media/:id/progress', async ctx => {
    const user = userOf(ctx)
    const media = await library.get(ctx.params.id)
    const position = (ctx.request.body as { positionSeconds?: unknown } | undefined)?.positionSeconds
    if (typeof position !== 'number' || !Number.isFinite(position) || position < 0 || position > media.durationSeconds + 1) {
      throw new InvalidRequestError(`positionSeconds must be a number from 0 to ${Math.ceil(media.durationSeconds)}`)
    }
    await catalog.setProgress(user, media.id, position)
    // the pre-cache decision needs the metadata: the viewer's answer does not wait for it
    void distributor?.progress(user, media.id, position, media.durationSeconds)
    ctx.status = 204
  })

  router.get('/progress', async ctx => {
    const rows = await catalog.listProgress(userOf(ctx), { limit: 50, ...scopeOf(ctx) })
    const items = []
    for (const row of rows) {
      const media = await catalog.getMedia(row.mediaId)
      if (media == null) continue
      items.push({ mediaId: row.mediaId, positionSeconds: row.positionSeconds, updatedAt: row.updatedAt.toISOString(), title: media.title, durationSeconds: media.durationSeconds })
    }
    ctx.body = { items }
  })

  return router
}
