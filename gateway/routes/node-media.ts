import Router from '@koa/router'
import { CID } from 'multiformats/cid'
import { UnverifiedContentError, verifyFileBytes } from '../../core/edge/index.ts'
import { MediaNotFoundError, NotCachedError, ProfileNotFoundError, SegmentNotFoundError } from '../../core/errors.ts'
import { INIT_NAME, MASTER_NAME, PLAYLIST_NAME } from '../../core/media/playlists.ts'
import { isProfileName } from '../../core/media/profiles.ts'
import { isMissing, SOURCE_HEADER } from '../node-content.ts'
import { sendFile } from '../send-file.ts'
import type { MediaCache, NodeMetrics, OriginClient } from '../../core/edge/index.ts'
import type { Logger } from '../../core/logger.ts'
import type { ContentReader } from '../../core/ipfs/index.ts'
import type { ContentSource, FallbackMode, NodeContent } from '../node-content.ts'
import type { Context } from 'koa'

/**
 * `/media/{id}/...` on a CDN node, the same paths as on the main server. A file (`init.mp4`, `{n}.m4s`, a
 * complete rendition's `index.m3u8`) is served from local blocks when its CID is known and every block is here:
 * the CID comes from what the node learned before (the origin's Etags) or from the rendition's root directory.
 * On a miss the node asks the origin for the same path and serves the bytes only once they hash to the Etag (the
 * CID), or redirects, or asks connected peers first (`fallback`). Playlists are kept on disk, so they outlive
 * an unreachable main server.
 */

export interface NodeMediaComponents {
  content: NodeContent
  cache: MediaCache
  origin: OriginClient
  metrics: NodeMetrics
  logger: Logger
}

export interface NodeMediaInit {
  /** @default 'origin' */
  fallback?: FallbackMode
  /** A cached playlist younger than this is served without asking the origin. @default 60000 */
  playlistTtlMs?: number
  /** How long to wait for peers before falling back to the origin (`fallback: 'peer'`). @default 5000 */
  peerTimeoutMs?: number
  /** Rendition roots are asked for again at most this often while a rendition is incomplete. @default 10000 */
  rootsTtlMs?: number
}

const PLAYLIST_TYPE = 'application/vnd.apple.mpegurl'
const SEGMENT_CACHE = 'public, max-age=86400'
const PLAYLIST_CACHE = 'public, max-age=60'
const SEGMENT_FILE = /^(0|[1-9]\d{0,6})\.m4s$/
const MEDIA_ID = /^[0-9a-f]{16}$/

function onlyIfCached (ctx: Context): boolean {
  return /\bonly-if-cached\b/i.test(ctx.get('Cache-Control'))
}

function checkId (id: string): string {
  if (!MEDIA_ID.test(id)) throw new MediaNotFoundError(`no media ${JSON.stringify(id.slice(0, 64))}`)
  return id
}

function checkProfile (profile: string): string {
  if (!isProfileName(profile)) throw new ProfileNotFoundError(`unknown profile ${JSON.stringify(profile.slice(0, 64))}`)
  return profile
}

function checkFile (file: string): string {
  if (file !== INIT_NAME && !SEGMENT_FILE.test(file)) throw new SegmentNotFoundError(`no segment ${JSON.stringify(file.slice(0, 64))}`)
  return file
}

/** The CID in an Etag the main server sends (`"<cid>"`), or undefined. */
export function etagCid (etag: string | null): CID | undefined {
  const text = /^(?:W\/)?"([a-z0-9]+)"$/i.exec(etag ?? '')?.[1]
  if (text == null) return undefined
  try {
    return CID.parse(text)
  } catch {
    return undefined
  }
}

/** The node's `/media` routes. */
export function nodeMediaRoutes (components: NodeMediaComponents, init: NodeMediaInit = {}): Router {
  const { content, cache, origin, metrics } = components
  const log = components.logger.child({ name: 'cidcast:node-media' })
  const fallback = init.fallback ?? 'origin'
  const playlistTtlMs = init.playlistTtlMs ?? 60_000
  const peerTimeoutMs = init.peerTimeoutMs ?? 5000
  const rootsTtlMs = init.rootsTtlMs ?? 10_000
  const reader = content.reader
  const router = new Router({ prefix: '/media/:id' })

  function source (ctx: Context, from: ContentSource): void {
    ctx.set(SOURCE_HEADER, from)
  }

  function redirect (ctx: Context, path: string): void {
    source(ctx, 'origin')
    ctx.set('Cache-Control', 'no-store')
    ctx.redirect(origin.url + path)
  }

  /** Origin fetches in flight by path, so a burst of viewers of one new segment costs one fetch. */
  const fetching = new Map<string, Promise<{ cid: CID, reader: ContentReader }>>()

  async function fetchVerified (path: string, id: string, profile: string, file: string, known: CID | undefined): Promise<{ cid: CID, reader: ContentReader }> {
    const answer = await origin.get(path, 'segment')
    const etag = etagCid(answer.headers.get('etag'))
    if (etag == null) throw new UnverifiedContentError(`the main server sent ${path} without a CID Etag; not serving unverified bytes`)
    if (known != null && etag.toString() !== known.toString()) log.warn({ path, was: known.toString(), now: etag.toString() }, 'the origin has other bytes for a path than before')
    const blocks = await verifyFileBytes(etag, answer.body)
    const served = await content.keep(blocks)
    await cache.setFile(id, profile, file, etag.toString())
    return { cid: etag, reader: served }
  }

  /** Asks the origin for the rendition roots of `id` and remembers them; false when it cannot be reached. */
  async function refreshRoots (id: string): Promise<boolean> {
    try {
      const media = await origin.media(id)
      await cache.setRoots(id, Object.fromEntries(media.renditions.map(r => [r.profile, r.root])))
      return true
    } catch (err) {
      if ((err as Error).name === 'MediaNotFoundError') throw err
      log.debug({ err, id }, 'cannot refresh rendition roots')
      return false
    }
  }

  /** The CID of a file of a rendition, from what was learned or from the rendition's root directory (local). */
  async function knownCid (ctx: Context, id: string, profile: string, file: string): Promise<CID | undefined> {
    const learned = await cache.file(id, profile, file)
    if (learned != null) return CID.parse(learned)
    let roots = await cache.roots(id)
    const stale = roots == null || (roots.roots[profile] == null && Date.now() - roots.fetchedAt > rootsTtlMs)
    if (stale && !onlyIfCached(ctx) && await refreshRoots(id)) roots = await cache.roots(id)
    const root = roots?.roots[profile]
    if (root == null) return undefined
    let cid: CID | undefined
    try {
      cid = await reader.child(CID.parse(root), file)
    } catch (err) {
      if (!isMissing(err)) throw err
      if (fallback !== 'peer' || onlyIfCached(ctx)) return undefined
      // the root directory is not here: a peer that holds the rendition has it
      cid = await content.network.child(CID.parse(root), file, { signal: AbortSignal.timeout(peerTimeoutMs) }).catch(() => undefined)
    }
    if (cid != null) await cache.setFile(id, profile, file, cid.toString())
    return cid
  }

  /** A playlist from the disk cache when fresh (or when the origin is unreachable), else from the origin. */
  async function playlist (ctx: Context, id: string, key: string, path: string): Promise<void> {
    const cached = await cache.playlist(id, key)
    let text: string | undefined
    let from: ContentSource = 'local'
    if (cached != null && (Date.now() - cached.fetchedAt < playlistTtlMs || onlyIfCached(ctx))) {
      text = cached.text
    } else if (onlyIfCached(ctx)) {
      throw new NotCachedError(`the playlist ${ctx.path} is not held by this node`)
    } else {
      // never redirected, even with `fallback: 'redirect'`: a player resolves the playlist's relative URLs
      // against where it got it, so a redirected playlist would move the whole session to the main server
      try {
        const [answer] = await Promise.all([
          origin.get(path, 'playlist'),
          // the master playlist is the first thing a player asks for: learn the roots with it
          key === 'master' ? refreshRoots(id) : undefined
        ])
        text = answer.body.toString('utf8')
        await cache.setPlaylist(id, key, text)
        from = 'origin'
      } catch (err) {
        if (cached == null || (err as Error).name !== 'OriginUnavailableError') throw err
        log.debug({ path: ctx.path }, 'origin unreachable: serving the cached playlist')
        text = cached.text
      }
    }
    source(ctx, from)
    ctx.type = PLAYLIST_TYPE
    ctx.set('Cache-Control', PLAYLIST_CACHE)
    ctx.body = text
  }

  /** Serves `file` of a rendition: local blocks, else peers or the origin (verified), per `fallback`. */
  async function serveFile (ctx: Context, id: string, profile: string, file: string): Promise<ContentSource | undefined> {
    const path = `/media/${id}/${profile}/${file}`
    const cid = await knownCid(ctx, id, profile, file)
    if (cid != null) {
      const entry = await content.localFile(cid)
      if (entry != null) {
        source(ctx, 'local')
        await sendFile(ctx, reader, entry, file, { cacheControl: SEGMENT_CACHE })
        return 'local'
      }
    }
    if (onlyIfCached(ctx)) throw new NotCachedError(`${ctx.path} is not held by this node`)
    if (fallback === 'redirect') {
      redirect(ctx, path)
      return undefined
    }
    if (fallback === 'peer' && cid != null) {
      try {
        const entry = await content.fromPeers(cid, peerTimeoutMs)
        source(ctx, 'peer')
        await sendFile(ctx, reader, entry, file, { cacheControl: SEGMENT_CACHE })
        return 'peer'
      } catch (err) {
        log.debug({ err, cid: cid.toString() }, 'no peer had the blocks in time: asking the origin')
      }
    }
    let pending = fetching.get(path)
    if (pending == null) {
      pending = fetchVerified(path, id, profile, file, cid).finally(() => fetching.delete(path))
      fetching.set(path, pending)
    }
    const fetched = await pending
    source(ctx, 'origin')
    await sendFile(ctx, fetched.reader, fetched.cid, file, { cacheControl: SEGMENT_CACHE })
    return 'origin'
  }

  router.get(`/${MASTER_NAME}`, async ctx => {
    const id = checkId(ctx.params.id)
    await playlist(ctx, id, 'master', `/media/${id}/${MASTER_NAME}`)
  })

  router.get(`/:profile/${PLAYLIST_NAME}`, async ctx => {
    const id = checkId(ctx.params.id)
    const profile = checkProfile(ctx.params.profile)
    // a complete rendition holds its playlist: served like any file, by CID
    const cid = await knownCid(ctx, id, profile, PLAYLIST_NAME)
    const entry = cid == null ? undefined : await content.localFile(cid)
    if (entry != null) {
      source(ctx, 'local')
      await sendFile(ctx, reader, entry, PLAYLIST_NAME, { cacheControl: PLAYLIST_CACHE, type: PLAYLIST_TYPE })
      return
    }
    await playlist(ctx, id, profile, `/media/${id}/${profile}/${PLAYLIST_NAME}`)
  })

  router.get('/:profile/:file', async ctx => {
    const id = checkId(ctx.params.id)
    const profile = checkProfile(ctx.params.profile)
    const file = checkFile(ctx.params.file)
    const from = await serveFile(ctx, id, profile, file)
    if (from != null && file !== INIT_NAME) metrics.segmentsServed.inc({ source: from })
  })

  return router
}
