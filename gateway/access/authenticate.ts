import { AuthenticationRequiredError, InvalidCredentialsError, NODE_CREDENTIAL_HEADER, PermissionDeniedError } from '../../core/access/index.ts'
import type { UserCaller } from './caller.ts'
import type { Accounts, Authenticated, NodeCredentialVerifier } from '../../core/access/index.ts'
import type { Context, Middleware } from 'koa'

/*
 * Who a request speaks for, decided once before any route runs: `Authorization: Bearer <token>` (the CLI, scripts,
 * a node's API proxy), else the web UI's session cookie. A bearer token that is not valid is a 401 on any route,
 * so a client learns its token is bad; a stale cookie is dropped and the request goes on as anonymous (the login
 * page must still load). A request that changes state with a cookie must come from a page of this origin (`Origin`,
 * else `Sec-Fetch-Site`), so another site cannot make a signed-in browser act (CSRF); bearer tokens are never sent
 * by a browser on its own and need no such check. A CDN node's own requests carry the credential the main server
 * gave it (`X-Cidcast-Node`, core/access/node-credential.ts): the node is then the caller. A bearer value that is no
 * account token is left to the stream access check on `/media` and `/ipfs` (a stream token may travel that way).
 */

/** The web UI's session cookie. */
export const SESSION_COOKIE = 'cidcast_session'
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
/** What an account's token looks like (core/access/accounts.ts); other bearer values on media paths are stream tokens. */
const ACCOUNT_TOKEN = /^cc[sa]_/
const STREAM_PATH = /^\/(?:media|ipfs)\//

export interface AuthenticateComponents {
  accounts: Pick<Accounts, 'authenticate'>
  /** Checks the credential a CDN node sends with its own requests (`X-Cidcast-Node`); none: the header is ignored. */
  nodes?: Pick<NodeCredentialVerifier, 'verify'>
}

/** The bearer token of a request's Authorization header; undefined when there is none; 401 when it is not Bearer. */
export function bearerOf (ctx: Context): string | undefined {
  const header = ctx.get('Authorization')
  if (header === '') return undefined
  const m = /^Bearer[ ]+([^\s]+)\s*$/i.exec(header)
  if (m == null) throw new InvalidCredentialsError('the Authorization header must be "Bearer <token>"')
  return m[1]
}

/** Sets `ctx.state.caller` from the request's credential. */
export function authenticate ({ accounts, nodes }: AuthenticateComponents): Middleware {
  return async (ctx, next) => {
    const credential = ctx.get(NODE_CREDENTIAL_HEADER)
    if (nodes != null && credential !== '') {
      ctx.state.caller = { kind: 'node', peerId: nodes.verify(credential).peerId }
      await next()
      return
    }
    const bearer = bearerOf(ctx)
    if (bearer != null && !ACCOUNT_TOKEN.test(bearer) && STREAM_PATH.test(ctx.path)) {
      await next()
      return
    }
    if (bearer != null) {
      const found = await accounts.authenticate(bearer)
      if (found == null) throw new InvalidCredentialsError('the token is unknown, revoked or expired: log in again')
      ctx.state.caller = callerOf(found, found.kind === 'session' ? 'session' : 'api-token')
      await next()
      return
    }
    const cookie = ctx.cookies.get(SESSION_COOKIE)
    if (cookie != null && cookie !== '') {
      const found = await accounts.authenticate(cookie)
      if (found == null) {
        clearSessionCookie(ctx)
      } else {
        if (!SAFE_METHODS.has(ctx.method) && !sameOrigin(ctx)) throw new PermissionDeniedError('a request that changes something must come from this site\'s own pages')
        ctx.state.caller = callerOf(found, 'session')
      }
    }
    await next()
  }
}

function callerOf (found: Authenticated, via: UserCaller['via']): UserCaller {
  return { kind: 'user', userId: found.user.id, name: found.user.name, role: found.user.role, folders: found.user.folders, via }
}

/** Whether a browser says the request comes from a page of this origin. */
export function sameOrigin (ctx: Context): boolean {
  const origin = ctx.get('Origin')
  // not ctx.origin: in Koa 3 that is the Origin header itself
  if (origin !== '') return origin === `${ctx.protocol}://${ctx.host}`
  return ctx.get('Sec-Fetch-Site') === 'same-origin'
}

/** Sets the session cookie: HttpOnly (no script reads it), SameSite=Lax, for the whole site, as long as the session. */
export function setSessionCookie (ctx: Context, token: string, expiresAt: Date): void {
  ctx.cookies.set(SESSION_COOKIE, token, { httpOnly: true, sameSite: 'lax', path: '/', expires: expiresAt, secure: ctx.secure, overwrite: true })
}

/** Removes the session cookie. */
export function clearSessionCookie (ctx: Context): void {
  ctx.cookies.set(SESSION_COOKIE, '', { httpOnly: true, sameSite: 'lax', path: '/', expires: new Date(0), secure: ctx.secure, overwrite: true })
}

/** The signed-in user, or AuthenticationRequiredError. */
export function requireUser (ctx: Context): UserCaller {
  const caller = (ctx.state as { caller?: UserCaller }).caller
  if (caller?.kind !== 'user') throw new AuthenticationRequiredError('log in first')
  return caller
}
