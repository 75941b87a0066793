import type { ProviderName } from '../config/index.ts'

/*
 * The shapes metadata moves in: external ids, what a path or an NFO file says, what a provider answers.
 * Every field is optional except where a thing cannot exist without it; absent means "not known".
 */

/** Ids of one thing at the metadata providers. */
export interface ExternalIds {
  /** IMDb id, `tt` and digits. */
  imdb?: string
  /** TMDB numeric id (movie, tv or episode, by context). */
  tmdb?: number
  /** TVDB numeric id. */
  tvdb?: number
}

export type MediaKind = 'movie' | 'episode' | 'extra'

export type ExtraType = 'trailer' | 'sample' | 'featurette' | 'behindthescenes' | 'deleted' | 'interview' | 'scene' | 'short' | 'clip' | 'other'

// the provider names are settings' values too: core/config keeps them, so reading the settings loads no metadata code
export type { ProviderName }

/** A series as the path, an NFO file or a provider describes it. */
export interface SeriesInfo {
  title?: string
  originalTitle?: string
  year?: number
  overview?: string
  ids: ExternalIds
  posterUrl?: string
  backdropUrl?: string
  /** Seasons the provider knows (numbers, titles, posters); may be empty. */
  seasons?: SeasonInfo[]
}

export interface SeasonInfo {
  number: number
  title?: string
  overview?: string
  posterUrl?: string
}

/** A movie collection (sequels), e.g. TMDB's `belongs_to_collection`. */
export interface CollectionInfo {
  title?: string
  overview?: string
  ids: ExternalIds
  posterUrl?: string
  backdropUrl?: string
}

/** Everything known about one media item from one source. */
export interface ItemInfo {
  kind?: MediaKind
  /** Movie title, or the episode's own title. */
  title?: string
  originalTitle?: string
  sortTitle?: string
  year?: number
  /** YYYY-MM-DD: release date of a movie, air date of an episode. */
  releaseDate?: string
  overview?: string
  tagline?: string
  ids: ExternalIds
  posterUrl?: string
  backdropUrl?: string
  /** An episode's still. */
  stillUrl?: string
  series?: SeriesInfo
  season?: number
  episode?: number
  /** Last episode of a multi-episode file (S01E02E03 -> 3). */
  episodeEnd?: number
  collection?: CollectionInfo
  extraType?: ExtraType
}

/** A candidate a provider offers for "identify". */
export interface Match {
  provider: ProviderName
  kind: 'movie' | 'series'
  /** The provider's own id, as text. */
  id: string
  title: string
  year?: number
  overview?: string
  posterUrl?: string
  ids: ExternalIds
}
