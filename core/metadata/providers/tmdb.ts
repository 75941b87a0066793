import { createProviderHttp } from '../provider-http.ts'
import { MAX_MATCHES, arr, body, compact, num, obj, str, yearOf } from './provider.ts'
import type { ProviderHttpInit } from '../provider-http.ts'
import type { CollectionInfo, ExternalIds, ItemInfo, Match, SeasonInfo } from '../types.ts'
import type { MetadataProvider, ProviderCallOptions } from './provider.ts'
import type { Logger } from '../../logger.ts'

/*
 * TMDB API v3: search/movie, search/tv, movie/{id}, tv/{id}, tv/{id}/season/{n}/episode/{e}, collection/{id},
 * find/{external id}. A v3 key goes in `api_key`; a v4 read access token (a JWT) in `Authorization: Bearer`.
 */

export interface TmdbInit {
  key: string
  /** @default https://api.themoviedb.org/3 */
  baseUrl?: string
  /** Image base (a size is appended). @default https://image.tmdb.org/t/p */
  imageBaseUrl?: string
  /** @default en-US */
  language?: string
  http?: ProviderHttpInit
}

export const TMDB_URL = 'https://api.themoviedb.org/3'
export const TMDB_IMAGE_URL = 'https://image.tmdb.org/t/p'

/** Creates the TMDB v3 provider. */
export function createTmdbProvider (components: { logger: Logger }, init: TmdbInit): MetadataProvider {
  const http = createProviderHttp(components, 'tmdb', init.http)
  const base = (init.baseUrl ?? TMDB_URL).replace(/\/+$/, '')
  const imageBase = (init.imageBaseUrl ?? TMDB_IMAGE_URL).replace(/\/+$/, '')
  const language = init.language ?? 'en-US'
  const bearer = init.key.startsWith('eyJ')

  async function get (path: string, params: Record<string, string | number | undefined>, options: ProviderCallOptions = {}): Promise<Record<string, unknown> | undefined> {
    const url = new URL(base + path)
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v))
    url.searchParams.set('language', language)
    if (!bearer) url.searchParams.set('api_key', init.key)
    const answer = await http.json(url, { headers: bearer ? { Authorization: `Bearer ${init.key}` } : {}, secretParams: ['api_key'], signal: options.signal })
    return answer.status === 404 ? undefined : body('tmdb', path, answer.body)
  }

  function image (path: unknown, size: string): string | undefined {
    const p = str(path)
    return p != null && p.startsWith('/') ? `${imageBase}/${size}${p}` : undefined
  }

  function movieMatch (r: Record<string, unknown>): Match | undefined {
    const id = num(r.id)
    const title = str(r.title) ?? str(r.original_title)
    if (id == null || title == null) return undefined
    return compact<Match>({ provider: 'tmdb', kind: 'movie', id: String(id), title, year: yearOf(r.release_date), overview: str(r.overview), posterUrl: image(r.poster_path, 'w342'), ids: { tmdb: id } })
  }

  function seriesMatch (r: Record<string, unknown>): Match | undefined {
    const id = num(r.id)
    const title = str(r.name) ?? str(r.original_name)
    if (id == null || title == null) return undefined
    return compact<Match>({ provider: 'tmdb', kind: 'series', id: String(id), title, year: yearOf(r.first_air_date), overview: str(r.overview), posterUrl: image(r.poster_path, 'w342'), ids: { tmdb: id } })
  }

  /** The TMDB id of a movie or show known by another id. */
  async function find (ids: ExternalIds, kind: 'movie' | 'tv', options?: ProviderCallOptions): Promise<number | undefined> {
    if (ids.tmdb != null) return ids.tmdb
    const external = ids.imdb != null ? { id: ids.imdb, source: 'imdb_id' } : kind === 'tv' && ids.tvdb != null ? { id: String(ids.tvdb), source: 'tvdb_id' } : undefined
    if (external == null) return undefined
    const found = await get(`/find/${encodeURIComponent(external.id)}`, { external_source: external.source }, options)
    const first = obj(arr(found?.[kind === 'movie' ? 'movie_results' : 'tv_results'])[0])
    return num(first?.id)
  }

  return {
    name: 'tmdb',
    imageHosts: [new URL(imageBase).host],

    async searchMovies (query, year, options) {
      const answer = await get('/search/movie', { query, year, include_adult: 'false' }, options)
      return arr(answer?.results).map(r => movieMatch(obj(r) ?? {})).filter(m => m != null).slice(0, MAX_MATCHES)
    },

    async searchSeries (query, year, options) {
      const answer = await get('/search/tv', { query, first_air_date_year: year, include_adult: 'false' }, options)
      return arr(answer?.results).map(r => seriesMatch(obj(r) ?? {})).filter(m => m != null).slice(0, MAX_MATCHES)
    },

    async movie (ids, options) {
      const id = await find(ids, 'movie', options)
      if (id == null) return undefined
      const m = await get(`/movie/${id}`, { append_to_response: 'external_ids' }, options)
      if (m == null) return undefined
      const externals = obj(m.external_ids)
      const set = obj(m.belongs_to_collection)
      const info: ItemInfo = compact({
        kind: 'movie' as const,
        title: str(m.title),
        originalTitle: str(m.original_title),
        year: yearOf(m.release_date),
        releaseDate: str(m.release_date),
        overview: str(m.overview),
        tagline: str(m.tagline),
        ids: compact({ tmdb: num(m.id), imdb: str(m.imdb_id) ?? str(externals?.imdb_id) }),
        posterUrl: image(m.poster_path, 'w500'),
        backdropUrl: image(m.backdrop_path, 'w1280')
      })
      if (set != null && num(set.id) != null) {
        info.collection = compact({ title: str(set.name), ids: { tmdb: num(set.id) }, posterUrl: image(set.poster_path, 'w500'), backdropUrl: image(set.backdrop_path, 'w1280') })
      }
      return info
    },

    async series (ids, options) {
      const id = await find(ids, 'tv', options)
      if (id == null) return undefined
      const s = await get(`/tv/${id}`, { append_to_response: 'external_ids' }, options)
      if (s == null) return undefined
      const externals = obj(s.external_ids)
      const seasons: SeasonInfo[] = arr(s.seasons).map(x => obj(x)).filter(x => x != null && num(x.season_number) != null).map(x => compact({
        number: num(x?.season_number) as number,
        title: str(x?.name),
        overview: str(x?.overview),
        posterUrl: image(x?.poster_path, 'w500')
      }))
      return compact({
        title: str(s.name),
        originalTitle: str(s.original_name),
        year: yearOf(s.first_air_date),
        overview: str(s.overview),
        ids: compact({ tmdb: num(s.id), imdb: str(externals?.imdb_id), tvdb: num(externals?.tvdb_id) }),
        posterUrl: image(s.poster_path, 'w500'),
        backdropUrl: image(s.backdrop_path, 'w1280'),
        seasons
      })
    },

    async episode (seriesIds, season, episode, options) {
      const id = await find(seriesIds, 'tv', options)
      if (id == null) return undefined
      const e = await get(`/tv/${id}/season/${season}/episode/${episode}`, { append_to_response: 'external_ids' }, options)
      if (e == null) return undefined
      const externals = obj(e.external_ids)
      return compact({
        kind: 'episode' as const,
        title: str(e.name),
        year: yearOf(e.air_date),
        releaseDate: str(e.air_date),
        overview: str(e.overview),
        ids: compact({ tmdb: num(e.id), imdb: str(externals?.imdb_id), tvdb: num(externals?.tvdb_id) }),
        stillUrl: image(e.still_path, 'w780'),
        season: num(e.season_number) ?? season,
        episode: num(e.episode_number) ?? episode
      })
    },

    async collection (ids, options): Promise<CollectionInfo | undefined> {
      if (ids.tmdb == null) return undefined
      const c = await get(`/collection/${ids.tmdb}`, {}, options)
      if (c == null) return undefined
      return compact({ title: str(c.name), overview: str(c.overview), ids: { tmdb: num(c.id) ?? ids.tmdb }, posterUrl: image(c.poster_path, 'w500'), backdropUrl: image(c.backdrop_path, 'w1280') })
    }
  }
}
