import { Rendition } from '../catalog/entities.ts'
import type { Catalog } from '../catalog/catalog.ts'

/** `ReplicationComponents.renditionOf` over the catalog: the media and profile whose finished rendition has this root. */
export function renditionOfRoot (catalog: Pick<Catalog, 'exclusive'>): (cid: string) => Promise<{ mediaId: string, profile: string } | undefined> {
  return async cid => {
    const row = await catalog.exclusive(async db => await db.getRepository(Rendition).findOne({ where: { root: cid }, select: { mediaId: true, profile: true } }))
    return row == null ? undefined : { mediaId: row.mediaId, profile: row.profile }
  }
}
