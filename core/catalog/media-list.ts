import { Raw } from 'typeorm'
import { Media } from './entities.ts'
import { MediaMetadata } from './metadata-entities.ts'
import { folderPrefix } from '../media-query.ts'
import type { LibraryScope, MediaFilter, MediaSort, SortOrder } from '../media-query.ts'
import type { EntityManager, FindOperator, SelectQueryBuilder } from 'typeorm'

/*
 * Listing the library (the options are in core/media-query.ts): filtering, ordering and counting all happen in one
 * query over the whole table, so page 3 follows page 2 in any order asked. A viewer's library folders are a filter
 * like the kind, so totals and pages count only what they may see.
 */

/** A piece of SQL and its named parameters. */
export interface SqlCondition {
  sql: string
  params: Record<string, string | number>
}

/**
 * SQL that holds when `column` (a media's source path) lies in one of `folders`: the rule of media-query.ts's
 * `inScope` (equal to a folder, or starting with it and a `/`). `substr`, not LIKE, which ignores case in SQLite;
 * its length counts characters, as both SQLite and PostgreSQL do. No folder: nothing holds.
 */
export function pathInFolders (column: string, folders: readonly string[]): SqlCondition {
  if (folders.length === 0) return { sql: '1 = 0', params: {} }
  const params: Record<string, string | number> = {}
  const parts = folders.map((folder, i) => {
    const prefix = folderPrefix(folder)
    params[`lf${i}`] = folder
    params[`lp${i}`] = prefix
    params[`ln${i}`] = [...prefix].length
    return `${column} = :lf${i} OR substr(${column}, 1, :ln${i}) = :lp${i}`
  })
  return { sql: `(${parts.join(' OR ')})`, params }
}

/** SQL that holds when `column` (a media id) names a media that lies in one of `folders`. */
export function mediaInFolders (column: string, folders: readonly string[]): SqlCondition {
  const inside = pathInFolders('scoped.path', folders)
  return { sql: `${column} IN (SELECT scoped.id FROM media scoped WHERE ${inside.sql})`, params: inside.params }
}

/** A scope as a find condition on an entity's `mediaId` (TypeORM `find({ where })`): nothing without folders. */
export function mediaIdInScope (scope: LibraryScope): { mediaId?: FindOperator<string> } {
  const { folders } = scope
  return folders === undefined ? {} : { mediaId: Raw(column => mediaInFolders(column, folders).sql, mediaInFolders('', folders).params) }
}

/** Media (alias `m`, joined to its metadata as `mm`) matching `filter`. */
export function filteredMedia (db: EntityManager, filter: MediaFilter): SelectQueryBuilder<Media> {
  const query = db.getRepository(Media).createQueryBuilder('m')
    .leftJoin(MediaMetadata, 'mm', 'mm.media_id = m.id')
  if (filter.folders !== undefined) {
    const inside = pathInFolders('m.path', filter.folders)
    query.andWhere(inside.sql, inside.params)
  }
  switch (filter.kind) {
    case undefined:
      return query
    case 'other':
      return query.andWhere("(mm.kind IS NULL OR (mm.kind <> 'movie' AND (mm.kind <> 'episode' OR mm.series_id IS NULL OR mm.season_number IS NULL)))")
    default:
      return query.andWhere('mm.kind = :kind', { kind: filter.kind })
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
