/*
 * The ways the library can be listed: which media (by kind), in which order, which page. Kept at core's top, apart
 * from the catalog and its queries (catalog/media-list.ts), so the CLI and the API client can name them without
 * loading the ORM.
 */

/** The orders the library can be listed in: natural title order (sort-key.ts), year, date added. */
export const MEDIA_SORTS = ['title', 'year', 'added'] as const
export type MediaSort = typeof MEDIA_SORTS[number]

export const SORT_ORDERS = ['asc', 'desc'] as const
export type SortOrder = typeof SORT_ORDERS[number]

/**
 * What part of the library to list. `other` is everything the movie grid and the series pages do not reach:
 * extras, media with no metadata yet, and episodes that belong to no series or season.
 */
export const MEDIA_KINDS = ['movie', 'episode', 'extra', 'other'] as const
export type MediaKindFilter = typeof MEDIA_KINDS[number]

export interface MediaFilter {
  /** @default every media */
  kind?: MediaKindFilter
}

export interface MediaListOptions extends MediaFilter {
  /** @default 'added' */
  sort?: MediaSort
  /** @default 'asc' for title, 'desc' for year and added (newest first) */
  order?: SortOrder
  /** @default 100 */
  limit?: number
  /** @default 0 */
  offset?: number
}

/** The order a sort takes when none is asked for. */
export function defaultOrder (sort: MediaSort): SortOrder {
  return sort === 'title' ? 'asc' : 'desc'
}
