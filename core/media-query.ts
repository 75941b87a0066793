/*
 * The ways the library can be listed: which media (by kind and by library folder), in which order, which page. Kept
 * at core's top, apart from the catalog and its queries (catalog/media-list.ts), so the CLI and the API client can
 * name them without loading the ORM.
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

/** The part of the library a user may see: a viewer limited to some library folders (Jellyfin's "enabled folders"). */
export interface LibraryScope {
  /**
   * Only media whose source path lies in one of these folders (absolute paths, no trailing slash; see `inFolders`).
   * An empty list: no media. @default every media
   */
  folders?: readonly string[]
}

export interface MediaFilter extends LibraryScope {
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

/** What a folder's paths start with: `/srv/films` -> `/srv/films/` (and `/` stays `/`). */
export function folderPrefix (folder: string): string {
  return folder.endsWith('/') ? folder : `${folder}/`
}

/**
 * Whether a media's source path lies in a library scope: inside one of its folders on a `/` boundary (`/srv/films`
 * covers `/srv/films/a.mkv`, not `/srv/films2/a.mkv`), compared byte for byte. The catalog's SQL says the same
 * (catalog/media-list.ts `pathInFolders`); this is the one rule both follow.
 */
export function inScope (path: string, scope: LibraryScope): boolean {
  const { folders } = scope
  if (folders === undefined) return true
  return folders.some(folder => path === folder || path.startsWith(folderPrefix(folder)))
}
