import { Media } from './entities.ts'
import { MediaMetadata } from './metadata-entities.ts'
import type { MediaFilter, MediaSort, SortOrder } from '../media-query.ts'
import type { EntityManager, SelectQueryBuilder } from 'typeorm'

/*
 * Listing the library (the options are in core/media-query.ts): filtering, ordering and counting all happen in one
 * query over the whole table, so page 3 follows page 2 in any order asked.
 */

/** Media (alias `m`, joined to its metadata as `mm`) matching `filter`. */
export function filteredMedia (db: EntityManager, filter: MediaFilter): SelectQueryBuilder<Media> {
  const query = db.getRepository(Media).createQueryBuilder('m')
    .leftJoin(MediaMetadata, 'mm', 'mm.media_id = m.id')
  switch (filter.kind) {
    case undefined:
      return query
    case 'other':
      return query.where("(mm.kind IS NULL OR (mm.kind <> 'movie' AND (mm.kind <> 'episode' OR mm.series_id IS NULL OR mm.season_number IS NULL)))")
    default:
      return query.where('mm.kind = :kind', { kind: filter.kind })
  }
}

/** Orders a query from `filteredMedia`; ties fall back to the title, then the id, so pages never overlap. */
export function orderedMedia (query: SelectQueryBuilder<Media>, sort: MediaSort, order: SortOrder): SelectQueryBuilder<Media> {
  const dir = order === 'asc' ? 'ASC' : 'DESC'
  switch (sort) {
    case 'title':
      return query.orderBy('m.sort_key', dir).addOrderBy('m.id', dir)
    case 'year':
      // media of unknown year come last either way
      return query.orderBy('CASE WHEN mm.year IS NULL THEN 1 ELSE 0 END', 'ASC').addOrderBy('mm.year', dir)
        .addOrderBy('m.sort_key', 'ASC').addOrderBy('m.id', 'ASC')
    case 'added':
      return query.orderBy('m.created_at', dir).addOrderBy('m.id', dir)
  }
}
