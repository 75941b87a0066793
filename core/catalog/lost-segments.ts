import { In } from 'typeorm'
import { Rendition, Segment } from './entities.ts'
import type { RunExclusive } from './exclusive.ts'

/*
 * Segments whose block is gone from the main server for good (damaged on disk, and no node had a good copy): their
 * rows go, so the transcoder makes them again when they are asked for, and the renditions that held them are no
 * longer complete (no root) until every segment exists again and the library finishes them anew.
 */

/** Forgets lost segments. */
export interface LostSegmentRepository {
  /** Forgets every segment and init segment recorded with `cid`; the keys of the renditions that held one. */
  forget (cid: string): Promise<string[]>
}

/** The lost segments' store, on the catalog's write queue. */
export function createLostSegmentRepository (exclusive: RunExclusive): LostSegmentRepository {
  return {
    // one transaction: every exclusive call is one
    forget: async cid => await exclusive(async tx => {
      const segments = await tx.getRepository(Segment).find({ select: { renditionKey: true }, where: { cid } })
      const inits = await tx.getRepository(Rendition).find({ select: { key: true }, where: { initCid: cid } })
      const keys = [...new Set([...segments.map(s => s.renditionKey), ...inits.map(r => r.key)])]
      if (keys.length === 0) return []
      await tx.getRepository(Segment).delete({ cid })
      await tx.getRepository(Rendition).update({ initCid: cid }, { initCid: null })
      await tx.getRepository(Rendition).update({ key: In(keys) }, { state: 'partial', root: null, updatedAt: new Date() })
      return keys
    })
  }
}
