import { Raw } from 'typeorm'
import { Media } from './entities.ts'
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

/** A year's place in the year order, newest first (`media.year_rank`): the unknown last. */
export const UNKNOWN_YEAR_RANK = 10000

/** What `media` keeps of its metadata to be listed by: its kind, whether it is `other`, its year's rank. */
export interface ListColumns {
  kind: string | null
  other: boolean
  yearRank: number
}

/**
 * The list columns of a media with this metadata (none: nothing identified it yet). `other` is what neither the movie
 * grid nor a series page reaches: no metadata, an extra, or an episode without its series or season.
 */
export function listColumns (metadata?: { kind: string, year: number | null, series: string | null, season: number | null }): ListColumns {
  if (metadata == null) return { kind: null, other: true, yearRank: UNKNOWN_YEAR_RANK }
  const { kind, year, series, season } = metadata
  const shown = kind === 'movie' || (kind === 'episode' && series != null && season != null)
  const known = year != null && Number.isInteger(year) && year >= 0 && year < UNKNOWN_YEAR_RANK
  return { kind, other: !shown, yearRank: known ? UNKNOWN_YEAR_RANK - 1 - year : UNKNOWN_YEAR_RANK }
}

/**
 * Media (alias `m`) matching `filter`, on `media`'s own columns: the kind and `other` are kept there in step with the
 * metadata (metadata-repository.ts), so no join is needed and each order is an index walk.
 */
export function filteredMedia (db: EntityManager, filter: MediaFilter): SelectQueryBuilder<Media> {
  const query = db.getRepository(Media).createQueryBuilder('m')
  if (filter.folders !== undefined) {
    const inside = pathInFolders('m.path', filter.folders)
    query.andWhere(inside.sql, inside.params)
  }
  switch (filter.kind) {
    case undefined:
      return query
    case 'other':
      // TRUE: SQLite's 1 and PostgreSQL's true alike
      return query.andWhere('m.other = TRUE')
    default:
      return query.andWhere('m.kind = :kind', { kind: filter.kind })
  }
}

/**
 * Orders a query from `filteredMedia`; ties fall back to the title, then the id, so pages never overlap. Every order
 * but the year's ascending one follows an index of `media` (entities.ts) from its start.
 */
export function orderedMedia (query: SelectQueryBuilder<Media>, sort: MediaSort, order: SortOrder): SelectQueryBuilder<Media> {
  const dir = order === 'asc' ? 'ASC' : 'DESC'
  switch (sort) {
    case 'title':
      return query.orderBy('m.sort_key', dir).addOrderBy('m.id', dir)
    case 'year':
      // newest first is the rank's own order; oldest first still puts the unknown years last
      if (order === 'desc') return query.orderBy('m.year_rank', 'ASC').addOrderBy('m.sort_key', 'ASC').addOrderBy('m.id', 'ASC')
      return query.orderBy(`CASE WHEN m.year_rank = ${UNKNOWN_YEAR_RANK} THEN 1 ELSE 0 END`, 'ASC').addOrderBy('m.year_rank', 'DESC')
        .addOrderBy('m.sort_key', 'ASC').addOrderBy('m.id', 'ASC')
    case 'added':
      return query.orderBy('m.created_at', dir).addOrderBy('m.id', dir)
  }
}
