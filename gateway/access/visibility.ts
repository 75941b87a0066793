import { ContentNotFoundError, MediaNotFoundError } from '../../core/errors.ts'
import { inScope } from '../../core/media-query.ts'
import { parseIpfsPath } from '../routes/ipfs.ts'
import { matchLayer } from './authorize.ts'
import { userOf } from './caller.ts'
import type { Catalog } from '../../core/catalog/index.ts'
import type { ContentReader } from '../../core/ipfs/index.ts'
import type { LibraryScope } from '../../core/media-query.ts'
import type Router from '@koa/router'
import type { CID } from 'multiformats/cid'
import type { Context, Middleware } from 'koa'

/*
 * What a signed-in user may see of the library (issue 11, item 3): an admin may limit a viewer to some library
 * folders (Jellyfin's "enabled folders"). Decided here, from the caller, for every route of the main server:
 * - listings take the caller's scope down to the catalog's SQL (`scopeOf`), so totals and pages count only what the
 *   caller may see, and a series or a collection with nothing visible is absent;
 * - a route that names a media (`/api/v1/media/{id}...`, `/media/{id}/...`) or an `/ipfs` root that is a media's
 *   (a rendition's root or init segment, a media directory) answers a hidden one exactly as one that does not exist:
 *   404, never 403, which would tell that it exists (the middleware below, one check for every such route).
 * Admins, users without folders, and requests that are no user's (a stream token's) see everything. The folders are
 * read with the caller's credential on every request, so an admin's change applies to the next request.
 */

export interface VisibilityComponents {
  /** Media by id: their source path decides. */
  catalog: Pick<Catalog, 'getMedia'>
  /** The media a rendition of which has one of these CIDs as its root or init segment. */
  mediaOfCids: (cids: readonly string[]) => Promise<string[]>
  /** Reads a directory's links: a media directory is known by the rendition roots it links. */
  reader: Pick<ContentReader, 'stat' | 'list'>
}

/** Who sees which media. */
export interface Visibility {
  /** Refuses (404) a hidden media named by a route's `:id`, and an `/ipfs` root of hidden media. After authorization. */
  middleware: (routers: readonly Router[]) => Middleware
  /** Throws MediaNotFoundError for a media that exists and the caller may not see; an unknown id is left to the route. */
  assertMedia: (ctx: Context, mediaId: string) => Promise<void>
  /** Whether a CID is a rendition root, an init segment or the directory of media the caller may see none of. */
  hidesCid: (ctx: Context, cid: CID) => Promise<boolean>
  /** The rows whose media the caller may see (rows of no media stay). */
  filter: <T extends { mediaId: string | null }>(ctx: Context, rows: readonly T[]) => Promise<T[]>
}

/** A route that names a media by `:id`: the API's `/api/v1/media/:id...` and the streams' `/media/:id/...`. */
const MEDIA_ROUTE = /^(?:\/api\/v1)?\/media\/:id(?:\/|$)/
const IPFS_PATH = /^\/ipfs\//
/** dag-pb: the only codec a directory has. */
const DAG_PB = 0x70
/** Links read of a directory that is no rendition: a media directory has one per rendition and the master playlist. */
const MAX_DIRECTORY_LINKS = 32

/** The part of the library a request's caller may see: a viewer's folders, or everything. */
export function scopeOf (ctx: Context): LibraryScope {
  const user = userOf(ctx)
  if (user == null || user.role === 'admin' || user.folders == null) return {}
  return { folders: user.folders }
}

/** The visibility checks over the catalog. */
export function createVisibility (components: VisibilityComponents): Visibility {
  const { catalog, mediaOfCids, reader } = components

  /** Whether any of these media (ids) lies in the scope. */
  async function anyVisible (ids: readonly string[], scope: LibraryScope): Promise<boolean> {
    for (const id of ids) {
      const media = await catalog.getMedia(id)
      if (media != null && inScope(media.path, scope)) return true
    }
    return false
  }

  async function assertMedia (ctx: Context, mediaId: string): Promise<void> {
    const scope = scopeOf(ctx)
    if (scope.folders === undefined) return
    const media = await catalog.getMedia(mediaId)
    // the library's own words for an unknown id, so the two answers cannot be told apart
    if (media != null && !inScope(media.path, scope)) throw new MediaNotFoundError(`no media ${mediaId}`)
  }

  async function hidesCid (ctx: Context, cid: CID): Promise<boolean> {
    const scope = scopeOf(ctx)
    if (scope.folders === undefined) return false
    let owners = await mediaOfCids([cid.toString()])
    if (owners.length === 0 && cid.code === DAG_PB) owners = await mediaOfCids(await directoryLinks(cid))
    return owners.length > 0 && !await anyVisible(owners, scope)
  }

  /** The CIDs a directory links (the first few); none when the block is absent or no directory. */
  async function directoryLinks (cid: CID): Promise<string[]> {
    const links: string[] = []
    try {
      if ((await reader.stat(cid)).kind !== 'directory') return links
      for await (const entry of reader.list(cid)) {
        links.push(entry.cid.toString())
        if (links.length >= MAX_DIRECTORY_LINKS) break
      }
    } catch {
      // an absent or unreadable block: the route answers for it as it would for anyone
    }
    return links
  }

  return {
    middleware (routers) {
      return async (ctx, next) => {
        if (scopeOf(ctx).folders !== undefined) {
          const layer = matchLayer(routers, ctx)
          if (layer != null && typeof layer.path === 'string' && MEDIA_ROUTE.test(layer.path)) {
            // the router's own reading of the path (decoded as the route will see it)
            const id = layer.params(ctx.path, layer.captures(ctx.path)).id
            if (typeof id === 'string') await assertMedia(ctx, id)
          } else if (layer != null && IPFS_PATH.test(ctx.path)) {
            let root: CID | undefined
            try {
              root = parseIpfsPath(ctx.path).root
            } catch {
              // the route refuses it with its own error
            }
            // what the gateway says of a block it does not hold
            if (root != null && await hidesCid(ctx, root)) throw new ContentNotFoundError(`block ${root.toString()} is not available here`)
          }
        }
        await next()
      }
    },

    assertMedia,

    hidesCid,

    async filter (ctx, rows) {
      const scope = scopeOf(ctx)
      if (scope.folders === undefined) return [...rows]
      const seen = new Map<string, boolean>()
      const out: typeof rows[number][] = []
      for (const row of rows) {
        if (row.mediaId != null && !seen.has(row.mediaId)) seen.set(row.mediaId, await anyVisible([row.mediaId], scope))
        if (row.mediaId == null || seen.get(row.mediaId) === true) out.push(row)
      }
      return out
    }
  }
}
