import { objectBody } from '../middleware/json-body.ts'
import Router from '@koa/router'
import { InvalidCredentialsError } from '../../core/access/index.ts'
import { InvalidRequestError } from '../../core/errors.ts'
import { bearerOf, clearSessionCookie, requireUser, SESSION_COOKIE, setSessionCookie } from '../access/authenticate.ts'
import { replicationOrderOwner } from '../access/route-table.ts'
import type { AccessSettings } from '../access/route-table.ts'
import type { Accounts, LoginAttempt, LoginLimiter, Role, User } from '../../core/access/index.ts'
import type { Context } from 'koa'

/*
 * Accounts over HTTP. Who may call each route is the route table's decision (gateway/access/route-table.ts);
 * these handlers only narrow it to the caller's own things where a route serves viewers and admins alike.
 * - `POST /api/v1/auth/login {username, password}` -> `{ token, user, expiresAt }` and the session cookie;
 *   failures are slowed per account and per address (429 with Retry-After)
 * - `POST /api/v1/auth/logout`: ends the session (bearer or cookie) and clears the cookie
 * - `GET /api/v1/auth/me` (with `canReplicate`, what the web UI offers), `PUT /api/v1/auth/password {current, password}`
 * - `/api/v1/users` (admins): list (with the watched library folders, `libraryFolders`, as suggestions for a
 *   viewer's folders), one, add `{name, role, password?, folders?}`, change `{role?, folders?}`, remove,
 *   set a password (`PUT .../password {password?}`: a random one when none is given, returned once)
 * - `/api/v1/tokens`: a user's API tokens (`?all=1`: everyone's, admins), add `{name}` (the token is shown once), remove
 */

export interface AccountRouteComponents {
  accounts: Accounts
  limiter: LoginLimiter
  /** The settings the route table reads: what `/auth/me` tells the web UI a user may do. */
  settings: () => AccessSettings
  /** Folders the server watches for media (`library`): suggestions when an admin limits a viewer. @default [] */
  libraryFolders?: readonly string[]
}

/** The signed-in user as the web UI needs them: the account, and whether it may order "Replicate here". */
type Me = User & { canReplicate: boolean }

function role (value: unknown): Role | undefined {
  if (value == null) return undefined
  if (value !== 'admin' && value !== 'viewer') throw new InvalidRequestError('role must be admin or viewer')
  return value
}

function optionalText (value: unknown, field: string): string | undefined {
  if (value == null) return undefined
  if (typeof value !== 'string') throw new InvalidRequestError(`${field} must be a string`)
  return value
}

/** A login attempt as the limiter counts it: the account named and the socket's address (never a forwarding header). */
function attemptOf (ctx: Context, name: string): LoginAttempt {
  return { account: name, address: ctx.req.socket.remoteAddress ?? '' }
}

/** The accounts routes. */
export function accountRoutes ({ accounts, limiter, settings, libraryFolders = [] }: AccountRouteComponents): Router {
  const me = (user: User): Me => ({ ...user, canReplicate: user.role === 'admin' || replicationOrderOwner(settings()) === 'viewer' })
  const router = new Router({ prefix: '/api/v1' })
  router.use((ctx, next) => {
    ctx.set('Cache-Control', 'no-store')
    return next()
  })

  router.post('/auth/login', async ctx => {
    const { username, password } = objectBody(ctx)
    if (typeof username !== 'string' || typeof password !== 'string') throw new InvalidRequestError('expected a JSON body { "username": "...", "password": "..." }')
    const keys = attemptOf(ctx, username)
    limiter.check(keys)
    let session
    try {
      session = await accounts.login(username, password)
    } catch (err) {
      if (err instanceof InvalidCredentialsError) limiter.failed(keys)
      throw err
    }
    limiter.succeeded(keys)
    setSessionCookie(ctx, session.token, new Date(session.expiresAt))
    ctx.body = { ...session, user: me(session.user) }
  })

  router.post('/auth/logout', async ctx => {
    const token = bearerOf(ctx) ?? ctx.cookies.get(SESSION_COOKIE)
    if (token != null && token !== '') await accounts.logout(token)
    clearSessionCookie(ctx)
    ctx.status = 204
  })

  router.get('/auth/me', async ctx => {
    ctx.body = me(await accounts.getUser(requireUser(ctx).userId))
  })

  router.put('/auth/password', async ctx => {
    const user = requireUser(ctx)
    const { current, password } = objectBody(ctx)
    if (typeof current !== 'string' || typeof password !== 'string') throw new InvalidRequestError('expected a JSON body { "current": "...", "password": "..." }')
    const keys = attemptOf(ctx, user.name)
    limiter.check(keys)
    try {
      await accounts.login(user.name, current).then(async session => { await accounts.logout(session.token) })
    } catch (err) {
      if (err instanceof InvalidCredentialsError) limiter.failed(keys)
      throw err
    }
    await accounts.setPassword(user.userId, password)
    clearSessionCookie(ctx)
    ctx.status = 204
  })

  router.get('/users', async ctx => {
    ctx.body = { items: await accounts.listUsers(), libraryFolders }
  })

  router.get('/users/:name', async ctx => {
    ctx.body = await accounts.getUser(ctx.params.name)
  })

  router.post('/users', async ctx => {
    const input = objectBody(ctx)
    const made = await accounts.addUser({
      name: optionalText(input.name, 'name') ?? '',
      role: role(input.role) ?? 'viewer',
      password: optionalText(input.password, 'password'),
      folders: input.folders as string[] | null | undefined
    })
    ctx.status = 201
    ctx.body = { ...made.user, ...(input.password == null ? { password: made.password } : {}) }
  })

  router.patch('/users/:name', async ctx => {
    const input = objectBody(ctx)
    ctx.body = await accounts.updateUser(ctx.params.name, { role: role(input.role), folders: input.folders as string[] | null | undefined })
  })

  router.delete('/users/:name', async ctx => {
    ctx.body = await accounts.removeUser(ctx.params.name)
  })

  router.put('/users/:name/password', async ctx => {
    const given = optionalText(objectBody(ctx).password, 'password')
    const password = await accounts.setPassword(ctx.params.name, given)
    ctx.body = given == null ? { password } : {}
  })

  router.get('/tokens', async ctx => {
    const user = requireUser(ctx)
    const all = ctx.query.all === '1' || ctx.query.all === 'true'
    ctx.body = { items: await accounts.listTokens(all ? undefined : user.userId) }
  })

  router.post('/tokens', async ctx => {
    const user = requireUser(ctx)
    const name = optionalText(objectBody(ctx).name, 'name') ?? ''
    const issued = await accounts.addApiToken(user.userId, name)
    ctx.status = 201
    ctx.body = { ...issued.view, token: issued.token }
  })

  router.delete('/tokens/:id', async ctx => {
    const user = requireUser(ctx)
    // a viewer removes only their own tokens: another's reads as not found
    await accounts.removeToken(ctx.params.id, user.role === 'admin' ? undefined : user.userId)
    ctx.status = 204
  })

  return router
}
