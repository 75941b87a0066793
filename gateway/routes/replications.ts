import Router from '@koa/router'
import { CID } from 'multiformats/cid'
import { InvalidRequestError } from '../../core/errors.ts'
import { NothingToReplicateError, parseReplicas } from '../../core/replication/index.ts'
import type { Replication, ReplicationFactor, ReplicationRequest } from '../../core/replication/index.ts'
import type { Visibility } from '../access/visibility.ts'
import type { Context } from 'koa'

export interface ReplicationRouteComponents {
  replication: Pick<Replication, 'pin' | 'unpin' | 'list' | 'goals' | 'locations' | 'preparing'>
  /** What a viewer limited to some library folders may see: hidden media are neither listed nor ordered. */
  visibility: Pick<Visibility, 'assertMedia' | 'hidesCid' | 'filter'>
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
export function replicationRoutes ({ replication, visibility }: ReplicationRouteComponents): Router {
  const router = new Router({ prefix: '/api/v1' })

  /**
   * Refuses a media or a root the caller may not see, in the words the service has for one that does not exist, and
   * only once the request is well formed (what the service checks before it looks a media up): a malformed request
   * about a hidden media must fail as it would about an unknown one.
   */
  async function assertVisible (ctx: Context, q: ReplicationRequest): Promise<void> {
    if ((q.media == null) === (q.cid == null)) return
    if (q.media != null) {
      await visibility.assertMedia(ctx, q.media)
      return
    }
    let cid: CID
    try {
      cid = CID.parse(String(q.cid))
    } catch {
      return
    }
    if (await visibility.hidesCid(ctx, cid)) throw new NothingToReplicateError(`neither the main server nor any node holds ${cid.toString()}`)
  }

  router.post('/replications', async ctx => {
    const body = (ctx.request.body ?? {}) as Record<string, unknown>
    if (typeof body !== 'object' || Array.isArray(body)) throw new InvalidRequestError('the body must be a JSON object')
    const wanted = { ...request(body), replicas: replicas(body.replicas) }
    if ((wanted.node == null) !== (wanted.replicas == null)) await assertVisible(ctx, wanted)
    const result = await replication.pin(wanted)
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
    const items = await visibility.filter(ctx, await replication.list({ node: q.node, cid: q.cid, media: q.media }))
    // the replication factors kept for those roots (IPFS Cluster's allocations), and whether they are met
    const goals = await visibility.filter(ctx, await replication.goals({ cid: q.cid, media: q.media }))
    // rows of hidden media are left out; one named answers as an unknown media, which the service refuses only after
    // its other checks: so here, once they passed
    if (q.media != null) await visibility.assertMedia(ctx, q.media)
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
