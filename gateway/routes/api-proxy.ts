import { Readable } from 'node:stream'
import Router from '@koa/router'
import { InvalidRequestError } from '../../core/errors.ts'
import { MEDIA_ID_CHARS } from '../../core/hls/index.ts'
import { SOURCE_HEADER } from '../media-http.ts'
import type { OriginClient } from '../../core/edge/index.ts'
import type { Context } from 'koa'

/**
 * `/api/v1/*` on a CDN node, passed through to the main server, so the web UI works from the node's address:
 * reads (GET/HEAD), the viewer's playback progress (PUT) and replication orders (POST /replications: the player's
 * "Replicate here" on a node's own page). Adding media (POST /media) is never passed on: it names files on the main
 * server's disk and is for its owner only; neither are metadata edits, which stay on the main server's own UI.
 */

export interface ApiProxyComponents {
  origin: OriginClient
}

/** No dots or escapes: a path the origin would normalise (`/api/v1/../..`) never leaves `/api/v1`. */
const API_PATH = /^\/api\/v1\/[A-Za-z0-9_\-/]+$/
const PROGRESS_PATH = new RegExp(`^/api/v1/media/${MEDIA_ID_CHARS}/progress$`)
const REPLICATIONS_PATH = '/api/v1/replications'
/** Headers of the request passed on: what the API reads. */
const FORWARDED_REQUEST = ['accept', 'content-type', 'x-cidcast-user'] as const
const FORWARDED_RESPONSE = ['content-type', 'cache-control', 'etag', 'content-length'] as const
const MAX_BODY_BYTES = 64 * 1024

async function readBody (ctx: Context): Promise<Buffer> {
  const parts: Buffer[] = []
  let length = 0
  for await (const chunk of ctx.req) {
    length += (chunk as Buffer).byteLength
    if (length > MAX_BODY_BYTES) throw new InvalidRequestError(`a request body may be at most ${MAX_BODY_BYTES} bytes`)
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
    const body = ctx.method === 'PUT' || ctx.method === 'POST' ? await readBody(ctx) : undefined
    const response = await origin.open(ctx.url, { method: ctx.method, headers, body })
    ctx.status = response.status
    for (const name of FORWARDED_RESPONSE) {
      const value = response.headers.get(name)
      if (value != null) ctx.set(name, value)
    }
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
}
