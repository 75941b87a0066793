import Router from '@koa/router'
import { CID } from 'multiformats/cid'
import { ContentNotFoundError, InvalidCIDError } from '../../core/errors.ts'
import { sendFile } from '../send-file.ts'
import type { MetadataRepository } from '../../core/catalog/index.ts'
import type { ContentReader } from '../../core/ipfs/index.ts'

/*
 * `GET /api/v1/images/{cid}`: the library's artwork (posters, backdrops, stills) for signed-in users, the web UI's
 * way to show it on every site. `/ipfs` serves content only under a stream token or a session of this origin, and
 * a CDN node's own pages have neither for a picture; through the node's API proxy this route has the viewer's
 * session. Only the catalog's images answer: it is no way around `/ipfs` to other content.
 */

/** Artwork is immutable like any content, but answered to a signed-in user only: no shared cache keeps it. */
const IMAGE_CACHE = 'private, max-age=29030400, immutable'

export interface ImageRouteComponents {
  images: Pick<MetadataRepository, 'imageByCid'>
  reader: ContentReader
}

/** The artwork route. */
export function imageRoutes ({ images, reader }: ImageRouteComponents): Router {
  return new Router().get('/api/v1/images/:cid', async ctx => {
    let cid: CID
    try {
      cid = CID.parse(ctx.params.cid)
    } catch {
      throw new InvalidCIDError(`${JSON.stringify(ctx.params.cid.slice(0, 100))} is not a CID`)
    }
    const image = await images.imageByCid(cid.toV1().toString())
    if (image == null) throw new ContentNotFoundError(`no image ${cid.toString()} in the library`)
    await sendFile(ctx, reader, cid, 'image', { cacheControl: IMAGE_CACHE, type: image.type })
  })
}
