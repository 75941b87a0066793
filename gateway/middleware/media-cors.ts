import type { Middleware } from 'koa'

/**
 * Lets a page of another origin read `/media`, `/ipfs` and `/healthz`: the web UI of the main server plays from a
 * CDN node the viewer picked (hls.js fetches playlists and segments with XHR), and a node's UI may fall back to
 * another node or the main server, and times `/healthz` to find the nearest one. GET and HEAD only, no cookies:
 * a stream token travels in the URL (or an `Authorization: Bearer` header, allowed in preflights). The API stays
 * same-origin.
 */

const PATHS = /^\/(?:media|ipfs)\/|^\/healthz$/
/** Response headers a page may read (the player shows where a file came from; Range answers need their range). */
const EXPOSED = 'X-Cidcast-Source, Etag, Content-Range, Content-Length, Accept-Ranges'

/** Adds CORS headers to content answers and answers their preflights (a Range request is not a simple request). */
export function mediaCors (): Middleware {
  return async (ctx, next) => {
    if (!PATHS.test(ctx.path)) {
      await next()
      return
    }
    if (ctx.method === 'OPTIONS' && ctx.get('Access-Control-Request-Method') !== '') {
      ctx.set('Access-Control-Allow-Origin', '*')
      ctx.set('Access-Control-Allow-Methods', 'GET, HEAD')
      ctx.set('Access-Control-Allow-Headers', 'Range, Cache-Control, Authorization')
      ctx.set('Access-Control-Max-Age', '86400')
      ctx.status = 204
      return
    }
    if (ctx.method === 'GET' || ctx.method === 'HEAD') {
      ctx.set('Access-Control-Allow-Origin', '*')
      ctx.set('Access-Control-Expose-Headers', EXPOSED)
    }
    await next()
  }
}
