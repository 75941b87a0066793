import Router from '@koa/router'
import { InvitationNotFoundError } from '../../core/access/index.ts'
import { InvalidRequestError } from '../../core/errors.ts'
import { userOf } from '../access/caller.ts'
import { objectBody } from '../middleware/json-body.ts'
import type { Invitations, LoginLimiter } from '../../core/access/index.ts'
import type { Context } from 'koa'

export interface InvitationRouteComponents {
  invitations: Invitations
  /** Counts join attempts with a wrong secret as failed logins are counted: guessing is slowed down. */
  limiter: LoginLimiter
}

/**
 * Node invitations (issue 14): `POST /api/v1/nodes/invitations` (admins) makes one and answers its join token, once (with the
 * URL the admin reached the server at, or `url`);
 * `GET` lists them, `DELETE .../{id}` revokes one. `POST /api/v1/nodes/join` is how `cidcast-node join` spends one:
 * public, since the invitation's secret is the credential, and slowed down after wrong secrets like logins.
 */
export function invitationRoutes ({ invitations, limiter }: InvitationRouteComponents): Router {
  const router = new Router({ prefix: '/api/v1/nodes' })
  router.use((ctx, next) => {
    ctx.set('Cache-Control', 'no-store')
    return next()
  })

  router.post('/invitations', async ctx => {
    const body = objectBody(ctx)
    const { name, mode, owner, expiresInSeconds, url } = body
    if (name != null && typeof name !== 'string') throw new InvalidRequestError('name must be a string')
    if (mode != null && mode !== 'shared' && mode !== 'local') throw new InvalidRequestError('mode must be shared or local')
    if (owner != null && typeof owner !== 'string') throw new InvalidRequestError('owner must be a user name')
    if (expiresInSeconds != null && typeof expiresInSeconds !== 'number') throw new InvalidRequestError('expiresInSeconds must be a number')
    if (url != null && typeof url !== 'string') throw new InvalidRequestError('url must be the main server\'s HTTP URL')
    // the URL the admin reached this server at, unless told: a server listening on every address has no better one
    ctx.body = await invitations.invite({ url: url ?? `${ctx.protocol}://${ctx.host}`, name, mode: mode ?? undefined, owner, expiresInSeconds: expiresInSeconds ?? undefined, createdBy: userOf(ctx)?.userId ?? null })
    ctx.status = 201
  })

  router.get('/invitations', async ctx => {
    ctx.body = { items: await invitations.list() }
  })

  router.delete('/invitations/:id', async ctx => {
    ctx.body = await invitations.revoke(ctx.params.id)
  })

  router.post('/join', async ctx => {
    const { id, secret, peerId } = objectBody(ctx)
    if (typeof id !== 'string' || typeof secret !== 'string' || typeof peerId !== 'string' || peerId.length > 128) {
      throw new InvalidRequestError('expected a JSON body { "id": "...", "secret": "...", "peerId": "..." }')
    }
    const attempt = attemptOf(ctx, id)
    limiter.check(attempt)
    try {
      ctx.body = await invitations.spend(id, secret, peerId)
    } catch (err) {
      if (err instanceof InvitationNotFoundError) limiter.failed(attempt)
      throw err
    }
    limiter.succeeded(attempt)
  })
  return router
}

/** A join attempt as the limiter counts it: the invitation named and the socket's address. */
function attemptOf (ctx: Context, id: string): { account: string, address: string } {
  return { account: `invitation:${id.slice(0, 32)}`, address: ctx.req.socket.remoteAddress ?? '' }
}
