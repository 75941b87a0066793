import { urlWithToken } from './access/playlist-token.ts'
import type { StreamAccessState } from './access/stream-access.ts'
import type { Context } from 'koa'

/*
 * HTTP details shared by the main server's `/media` routes and the CDN node's content routes: one set of cache
 * headers and types, and the header in which a node says where an answer's bytes came from.
 */

export const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl'
/** A URL names a rendition of this build; after an ffmpeg upgrade the same URL may carry other bytes. */
export const SEGMENT_CACHE = 'public, max-age=86400'
/** Playlists of renditions being made grow; a minute keeps players and nodes close to the origin. */
export const PLAYLIST_CACHE = 'public, max-age=60'
/** Where the bytes of a node's answer came from: `local`, `peer` or `origin` (redirects say `origin`). */
export const SOURCE_HEADER = 'X-Cidcast-Source'

/** The client takes only what this server holds (`Cache-Control: only-if-cached`). */
export function onlyIfCached (ctx: Context): boolean {
  return /\bonly-if-cached\b/i.test(ctx.get('Cache-Control'))
}

/** Sends the client to the same content on the origin (with its stream token); a redirect is the node's choice of the moment, not cached. */
export function redirectToOrigin (ctx: Context, location: string): void {
  ctx.set(SOURCE_HEADER, 'origin')
  ctx.set('Cache-Control', 'no-store')
  const token = (ctx.state as StreamAccessState).streamToken
  ctx.redirect(token === undefined ? location : urlWithToken(location, token))
}
