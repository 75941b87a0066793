import { Readable } from 'node:stream'
import Router from '@koa/router'
import { BodyTooLargeError } from '../../core/errors.ts'
import { MEDIA_ID_CHARS } from '../../core/hls/index.ts'
import { PermissionDeniedError } from '../../core/access/index.ts'
import { clearSessionCookie, SESSION_COOKIE, sameOrigin } from '../access/authenticate.ts'
import { SOURCE_HEADER } from '../media-http.ts'
import type { OriginClient } from '../../core/edge/index.ts'
import type { Context } from 'koa'

/**
 * `/api/v1/*` on a CDN node, passed through to the main server, so the web UI works from the node's address:
 * reads (GET/HEAD), login and logout, the viewer's playback progress (PUT) and replication orders (POST
 * /replications: the player's "Replicate here" on a node's own page). Adding media (POST /media) is never passed
 * on: it names files on the main server's disk and is for its owner only; neither are metadata edits, which stay
 * on the main server's own UI. The main server decides who may do what, with the caller's own credential: their
 * bearer token, or the session cookie it set through this proxy (sent on as a bearer token, after the same-site
 * check the main server makes for cookies, since the main server sees the node, not the browser). A login carries no
 * credential, and a cookie the main server no longer accepts (401: the session ended, the password changed) is
 * dropped, as the main server drops its own stale cookie: else the node's site could never log in again.
 */

export interface ApiProxyComponents {
  origin: OriginClient
}

/** No dots or escapes: a path the origin would normalise (`/api/v1/../..`) never leaves `/api/v1`. */
const API_PATH = /^\/api\/v1\/[A-Za-z0-9_\-/]+$/
const PROGRESS_PATH = new RegExp(`^/api/v1/media/${MEDIA_ID_CHARS}/progress$`)
const REPLICATIONS_PATH = '/api/v1/replications'
const LOGIN_PATH = '/api/v1/auth/login'
/** Headers of the request passed on: what the API reads. */
const FORWARDED_REQUEST = ['accept', 'content-type', 'authorization'] as const
const FORWARDED_RESPONSE = ['content-type', 'cache-control', 'etag', 'content-length', 'www-authenticate', 'retry-after'] as const
const SAFE_METHODS = new Set(['GET', 'HEAD'])
const MAX_BODY_BYTES = 64 * 1024

/** The request body, refused with 413 (as the main server's own API does) when it declares or reaches more than the limit. */
async function readBody (ctx: Context): Promise<Buffer> {
  const tooLarge = (): BodyTooLargeError => new BodyTooLargeError(`a request body may be at most ${MAX_BODY_BYTES} bytes`)
  if ((ctx.request.length ?? 0) > MAX_BODY_BYTES) throw tooLarge()
  const parts: Buffer[] = []
  let length = 0
  for await (const chunk of ctx.req) {
    length += (chunk as Buffer).byteLength
    if (length > MAX_BODY_BYTES) throw tooLarge()
    parts.push(chunk as Buffer)
  }
  return Buffer.concat(parts)
}

/** The API proxy routes. */
export function apiProxyRoutes ({ origin }: ApiProxyComponents): Router {
  async function pass (ctx: Context): Promise<void> {
    const headers: Record<string, string> = {}
    for (const name of FORWARDED_REQUEST) {
      const value = ctx.get(name)
      if (value !== '') headers[name] = value
    }
    const session = ctx.cookies.get(SESSION_COOKIE)
    const fromCookie = headers.authorization == null && session != null && session !== '' && ctx.path !== LOGIN_PATH
    if (fromCookie) {
      if (!SAFE_METHODS.has(ctx.method) && !sameOrigin(ctx)) throw new PermissionDeniedError('a request that changes something must come from this site\'s own pages')
      headers.authorization = `Bearer ${session}`
    }
    const body = ctx.method === 'PUT' || ctx.method === 'POST' ? await readBody(ctx) : undefined
    const response = await origin.open(ctx.url, { method: ctx.method, headers, body })
    ctx.status = response.status
    for (const name of FORWARDED_RESPONSE) {
      const value = response.headers.get(name)
      if (value != null) ctx.set(name, value)
    }
    // the session cookie of a login or logout, for this site (the main server names no Domain)
    const cookies = response.headers.getSetCookie()
    if (cookies.length > 0) ctx.set('Set-Cookie', cookies)
    else if (fromCookie && response.status === 401) clearSessionCookie(ctx)
    ctx.set(SOURCE_HEADER, 'origin')
    if (response.body == null || ctx.method === 'HEAD' || response.status === 204 || response.status === 304) {
      await response.body?.cancel()
      return
    }
    // the web stream type of undici and of node:stream/web differ only in their declarations
    ctx.body = Readable.fromWeb(response.body as Parameters<typeof Readable.fromWeb>[0])
  }

  return new Router()
    .get(API_PATH, pass)
    .put(PROGRESS_PATH, pass)
    .post(REPLICATIONS_PATH, pass)
    .post(LOGIN_PATH, pass)
    .post('/api/v1/auth/logout', pass)
}
