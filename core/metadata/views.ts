import { parseMediaPath } from './path-parser.ts'
import type { CollectionRecord, MediaRecord, MetadataRepository, SeasonRecord, SeriesRecord, StoredMetadata } from '../catalog/index.ts'
import type { MediaKind } from './types.ts'

/*
 * What the API shows of metadata: the fields every media view carries, and the series / season / collection
 * pages built from the store. Images are CIDs with the /ipfs URL any gateway (a CDN node's included) serves.
 */

export interface ImageRef {
  cid: string
  /** Relative: the main server's artwork route (`/api/v1/images/{cid}`), reached from a node's pages through its API proxy. */
  url: string
}

export interface IdsView { imdb: string | null, tmdb: number | null, tvdb: number | null }

/** The metadata fields of `GET /api/v1/media/{id}` (and every other media view). */
export interface MediaMetadataView {
  title: string
  kind: MediaKind
  year: number | null
  overview: string | null
  originalTitle: string | null
  sortTitle: string | null
  releaseDate: string | null
  tagline: string | null
  ids: IdsView
  /** For an episode: its series. */
  series: { id: string, title: string } | null
  season: number | null
  episode: number | null
  episodeEnd: number | null
  /** For a movie in a collection. */
  collection: { id: string, title: string } | null
  extraType: string | null
  images: { poster: ImageRef | null, backdrop: ImageRef | null, still: ImageRef | null }
  /** Fields a user edited: identification leaves them alone. */
  locked: string[]
  /** 'path' | 'nfo' | 'tmdb' | 'tvdb' | 'omdb' */
  metadataSource: string
}

/** A media in a list (season, collection, search, next). */
export interface ItemSummary {
  id: string
  title: string
  kind: MediaKind
  year: number | null
  overview: string | null
  releaseDate: string | null
  season: number | null
  episode: number | null
  episodeEnd: number | null
  durationSeconds: number | null
  images: MediaMetadataView['images']
}

export interface SeasonView {
  number: number
  title: string
  overview: string | null
  poster: ImageRef | null
  episodeCount: number
}

export interface SeriesView {
  id: string
  title: string
  originalTitle: string | null
  year: number | null
  overview: string | null
  ids: IdsView
  images: { poster: ImageRef | null, backdrop: ImageRef | null }
  seasons: SeasonView[]
  episodeCount: number
}

export interface CollectionView {
  id: string
  title: string
  overview: string | null
  ids: IdsView
  images: { poster: ImageRef | null, backdrop: ImageRef | null }
  itemCount: number
}

/** An image reference for a CID, or null. */
export function imageRef (cid: string | null | undefined): ImageRef | null {
  return cid == null ? null : { cid, url: `/api/v1/images/${cid}` }
}

function ids (source: { imdb?: string | null, tmdb?: number | null, tvdb?: number | null }): IdsView {
  return { imdb: source.imdb ?? null, tmdb: source.tmdb ?? null, tvdb: source.tvdb ?? null }
}

function images (m: Pick<StoredMetadata, 'poster' | 'backdrop' | 'still'>): MediaMetadataView['images'] {
  return { poster: imageRef(m.poster), backdrop: imageRef(m.backdrop), still: imageRef(m.still) }
}

/** The metadata view of a media from its stored metadata (or, before any, from its path). */
export async function mediaView (store: MetadataRepository, media: MediaRecord, stored: StoredMetadata | undefined): Promise<MediaMetadataView> {
  const series = stored?.series == null ? undefined : await store.getSeries(stored.series)
  const collection = stored?.collection == null ? undefined : await store.getCollection(stored.collection)
  return viewOf(media, stored, series, collection)
}

/** The metadata views of a page of media, in their order: three queries for the whole page, not three per media. */
export async function mediaViews (store: MetadataRepository, media: readonly MediaRecord[]): Promise<MediaMetadataView[]> {
  const stored = await store.getMany(media.map(m => m.id))
  const values = [...stored.values()]
  const [series, collections] = await Promise.all([
    store.seriesByIds([...new Set(values.flatMap(m => m.series == null ? [] : [m.series]))]),
    store.collectionsByIds([...new Set(values.flatMap(m => m.collection == null ? [] : [m.collection]))])
  ])
  return media.map(m => {
    const own = stored.get(m.id)
    return viewOf(m, own, own?.series == null ? undefined : series.get(own.series), own?.collection == null ? undefined : collections.get(own.collection))
  })
}

function viewOf (media: MediaRecord, stored: StoredMetadata | undefined, series: SeriesRecord | undefined, collection: CollectionRecord | undefined): MediaMetadataView {
  if (stored == null) {
    const path = parseMediaPath(media.path)
    return {
      title: media.title,
      kind: path.kind,
      year: path.year ?? null,
      overview: null,
      originalTitle: null,
      sortTitle: null,
      releaseDate: null,
      tagline: null,
      ids: ids(path.ids),
      series: null,
      season: path.season ?? null,
      episode: path.episode ?? null,
      episodeEnd: path.episodeEnd ?? null,
      collection: null,
      extraType: path.extraType ?? null,
      images: { poster: null, backdrop: null, still: null },
      locked: [],
      metadataSource: 'path'
    }
  }
  return {
    title: stored.title,
    kind: stored.kind,
    year: stored.year,
    overview: stored.overview,
    originalTitle: stored.originalTitle,
    sortTitle: stored.sortTitle,
    releaseDate: stored.releaseDate,
    tagline: stored.tagline,
    ids: ids(stored),
    series: series == null ? null : { id: series.id, title: series.title },
    season: stored.season,
    episode: stored.episode,
    episodeEnd: stored.episodeEnd,
    collection: collection == null ? null : { id: collection.id, title: collection.title },
    extraType: stored.extraType,
    images: images(stored),
    locked: stored.locked,
    metadataSource: stored.source
  }
}

/** A stored item as a list entry. */
export function itemSummary (m: StoredMetadata, durationSeconds: number | null): ItemSummary {
  return {
    id: m.mediaId,
    title: m.title,
    kind: m.kind,
    year: m.year,
    overview: m.overview,
    releaseDate: m.releaseDate,
    season: m.season,
    episode: m.episode,
    episodeEnd: m.episodeEnd,
    durationSeconds,
    images: images(m)
  }
}

/** The name of a season: its own, or "Specials" / "Season N". */
export function seasonTitle (number: number, title: string | null | undefined): string {
  return title ?? (number === 0 ? 'Specials' : `Season ${number}`)
}

/** A series with its seasons (each with its episode count). */
export function seriesView (series: SeriesRecord, seasons: SeasonRecord[], episodes: ReadonlyArray<Pick<StoredMetadata, 'season'>>): SeriesView {
  const counts = new Map<number, number>()
  for (const e of episodes) if (e.season != null) counts.set(e.season, (counts.get(e.season) ?? 0) + 1)
  const numbers = [...new Set([...counts.keys()])].sort((a, b) => (a === 0 ? 1 : b === 0 ? -1 : a - b))
  const byNumber = new Map(seasons.map(s => [s.number, s]))
  return {
    id: series.id,
    title: series.title,
    originalTitle: series.originalTitle,
    year: series.year,
    overview: series.overview,
    ids: ids(series.ids),
    images: { poster: imageRef(series.poster), backdrop: imageRef(series.backdrop) },
    // seasons we hold episodes of, specials last, as Jellyfin and Kodi list them
    seasons: numbers.map(n => ({ number: n, title: seasonTitle(n, byNumber.get(n)?.title), overview: byNumber.get(n)?.overview ?? null, poster: imageRef(byNumber.get(n)?.poster), episodeCount: counts.get(n) ?? 0 })),
    episodeCount: episodes.length
  }
}

/** A collection with the number of its movies held here. */
export function collectionView (collection: CollectionRecord, itemCount: number): CollectionView {
  return {
    id: collection.id,
    title: collection.title,
    overview: collection.overview,
    ids: ids({ tmdb: collection.tmdb }),
    images: { poster: imageRef(collection.poster), backdrop: imageRef(collection.backdrop) },
    itemCount
  }
}

/**
 * What to watch after `current`: the next episode of its series in aired order (specials only after a
 * special), or the next movie of its collection by release. Null at the end, or for anything else.
 */
export function nextOf (current: StoredMetadata, siblings: StoredMetadata[]): StoredMetadata | undefined {
  if (current.kind === 'episode') {
    const special = current.season === 0
    const after = (m: StoredMetadata): boolean => {
      const s = m.season ?? 0
      const cs = current.season ?? 0
      if (s !== cs) return s > cs
      return (m.episode ?? 0) > (current.episodeEnd ?? current.episode ?? 0)
    }
    return siblings.find(m => m.mediaId !== current.mediaId && (m.season === 0) === special && after(m))
  }
  const index = siblings.findIndex(m => m.mediaId === current.mediaId)
  return index < 0 ? undefined : siblings[index + 1]
}
