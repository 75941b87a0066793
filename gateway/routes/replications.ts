import Router from '@koa/router'
import { InvalidRequestError } from '../../core/errors.ts'
import { parseReplicas } from '../../core/replication/index.ts'
import type { Replication, ReplicationFactor, ReplicationRequest } from '../../core/replication/index.ts'
import type { Context } from 'koa'

export interface ReplicationRouteComponents {
  replication: Pick<Replication, 'pin' | 'unpin' | 'list' | 'goals' | 'locations' | 'preparing'>
}

const MAX_FIELD_CHARS = 300

function text (value: unknown, field: string): string | undefined {
  if (value == null || value === '') return undefined
  if (typeof value !== 'string') throw new InvalidRequestError(`${field} must be a string`)
  if (value.length > MAX_FIELD_CHARS) throw new InvalidRequestError(`${field} must be at most ${MAX_FIELD_CHARS} characters`)
  return value
}

function replicas (value: unknown): ReplicationFactor | undefined {
  if (value == null || value === '') return undefined
  try {
    if (typeof value === 'number') return parseReplicas(String(value))
    if (typeof value === 'string') return parseReplicas(value)
    if (typeof value === 'object') {
      const { min, max } = value as { min?: unknown, max?: unknown }
      return parseReplicas(`${String(min)}:${String(max ?? min)}`)
    }
  } catch (err) {
    throw new InvalidRequestError((err as Error).message)
  }
  throw new InvalidRequestError('replicas must be "MIN", "MIN:MAX" or { min, max }')
}

/** The fields every replication call takes, from a JSON body or the query string. */
function request (source: Record<string, unknown>): ReplicationRequest {
  return {
    media: text(source.media, 'media'),
    cid: text(source.cid, 'cid'),
    profile: text(source.profile, 'profile'),
    node: text(source.node, 'node')
  }
}

function query (ctx: Context): Record<string, unknown> {
  // a repeated parameter is a mistake, not a list
  return Object.fromEntries(Object.entries(ctx.query).map(([k, v]) => [k, Array.isArray(v) ? v[0] : v]))
}

/**
 * `POST /api/v1/replications` `{ media | cid, node | replicas, profile? }` (202, `{ items, preparing }`: the rows of
 * the targets and the renditions made first), `GET /api/v1/replications?node=&cid=&media=` (with `preparing` for a media), `DELETE /api/v1/replications?cid=|media=&node=` (unpin, 202),
 * `GET /api/v1/media/{id}/locations`. Rows carry state, progress and, for anything not pinned, the reason.
 */
export function replicationRoutes ({ replication }: ReplicationRouteComponents): Router {
  const router = new Router({ prefix: '/api/v1' })

  router.post('/replications', async ctx => {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>
    if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('the body must be a JSON object')
    const result = await replication.pin({ ...request(body), replicas: replicas(body.replicas) })
    ctx.status = 202
    ctx.set('Cache-Control', 'no-store')
    ctx.body = result
  })

  router.get('/replications', async ctx => {
    const q = request(query(ctx))
    ctx.set('Cache-Control', 'no-store')
    // renditions the main server makes before their pins exist, so a watcher of a media sees them coming. Read
    // before the rows: a preparation is listed until its pins are ordered, so a watcher sees one or the other, never
    // neither (read after, a preparation that ended while the rows were read would be in neither)
    const preparing = q.media == null ? undefined : replication.preparing(q.media)
    const items = await replication.list({ node: q.node, cid: q.cid, media: q.media })
    // the replication factors kept for those roots (IPFS Cluster's allocations), and whether they are met
    const goals = await replication.goals({ cid: q.cid, media: q.media })
    ctx.body = preparing == null ? { items, goals } : { items, goals, preparing }
  })

  router.delete('/replications', async ctx => {
    const items = await replication.unpin(request(query(ctx)))
    ctx.status = 202
    ctx.set('Cache-Control', 'no-store')
    ctx.body = { items }
  })

  router.get('/media/:id/locations', async ctx => {
    ctx.set('Cache-Control', 'no-store')
    ctx.body = await replication.locations(ctx.params.id)
  })

  return router
}
