import { ProviderError } from '../errors.ts'
import { createProviderHttp } from '../provider-http.ts'
import { MAX_MATCHES, arr, body, compact, obj, str, yearOf } from './provider.ts'
import type { ProviderHttpInit } from '../provider-http.ts'
import type { ItemInfo, Match, SeriesInfo } from '../types.ts'
import type { MetadataProvider, ProviderCallOptions } from './provider.ts'
import type { Logger } from '../../logger.ts'

/*
 * OMDb (IMDb ids): `?s=` searches, `?i=tt...` looks one up, `?i=<series>&Season=&Episode=` an episode.
 * OMDb answers 200 with { Response: "False", Error } for "not found", and writes "N/A" for missing fields.
 */

export interface OmdbInit {
  key: string
  /** @default https://www.omdbapi.com/ */
  baseUrl?: string
  /** @default ['m.media-amazon.com'] */
  imageHosts?: string[]
  http?: ProviderHttpInit
}

export const OMDB_URL = 'https://www.omdbapi.com/'
export const OMDB_IMAGE_HOSTS = ['m.media-amazon.com']

const MONTHS = ['jan', 'feb', 'mar', 'apr', 'may', 'jun', 'jul', 'aug', 'sep', 'oct', 'nov', 'dec']

/** OMDb's "N/A" is no value. */
function val (value: unknown): string | undefined {
  const s = str(value)
  return s == null || s === 'N/A' ? undefined : s
}

/** "31 Mar 1999" -> "1999-03-31". */
export function omdbDate (value: unknown): string | undefined {
  const match = /^(\d{1,2}) ([A-Za-z]{3}) (\d{4})$/.exec(val(value) ?? '')
  const month = match == null ? -1 : MONTHS.indexOf(match[2].toLowerCase())
  if (match == null || month < 0) return undefined
  return `${match[3]}-${String(month + 1).padStart(2, '0')}-${match[1].padStart(2, '0')}`
}

/** Creates the OMDb provider. */
export function createOmdbProvider (components: { logger: Logger }, init: OmdbInit): MetadataProvider {
  const http = createProviderHttp(components, 'omdb', init.http)
  const base = init.baseUrl ?? OMDB_URL

  async function get (params: Record<string, string | number | undefined>, options: ProviderCallOptions = {}): Promise<Record<string, unknown> | undefined> {
    const url = new URL(base)
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v))
    url.searchParams.set('apikey', init.key)
    const answer = await http.json(url, { secretParams: ['apikey'], signal: options.signal })
    if (answer.status === 404) return undefined
    const o = body('omdb', 'lookup', answer.body)
    if (o.Response === 'False') {
      const error = str(o.Error) ?? 'unknown error'
      if (/not found/i.test(error)) return undefined
      throw new ProviderError(`omdb: ${error.slice(0, 200)}`)
    }
    return o
  }

  async function search (kind: 'movie' | 'series', query: string, year?: number, options?: ProviderCallOptions): Promise<Match[]> {
    const answer = await get({ s: query, y: year, type: kind }, options)
    return arr(answer?.Search).map(x => obj(x)).filter(x => x != null).map(r => {
      const imdb = val(r.imdbID)
      const title = val(r.Title)
      if (imdb == null || title == null) return undefined
      return compact({ provider: 'omdb' as const, kind, id: imdb, title, year: yearOf(r.Year), posterUrl: val(r.Poster), ids: { imdb } })
    }).filter(m => m != null).slice(0, MAX_MATCHES)
  }

  return {
    name: 'omdb',
    imageHosts: init.imageHosts ?? OMDB_IMAGE_HOSTS,
    async searchMovies (query, year, options) { return await search('movie', query, year, options) },
    async searchSeries (query, year, options) { return await search('series', query, year, options) },

    async movie (ids, options) {
      if (ids.imdb == null) return undefined
      const m = await get({ i: ids.imdb, plot: 'full' }, options)
      if (m == null || (val(m.Type) ?? 'movie') !== 'movie') return undefined
      return compact({
        kind: 'movie' as const,
        title: val(m.Title),
        year: yearOf(m.Year),
        releaseDate: omdbDate(m.Released),
        overview: val(m.Plot),
        ids: { imdb: val(m.imdbID) ?? ids.imdb },
        posterUrl: val(m.Poster)
      }) satisfies ItemInfo
    },

    async series (ids, options) {
      if (ids.imdb == null) return undefined
      const s = await get({ i: ids.imdb, plot: 'full' }, options)
      if (s == null || val(s.Type) !== 'series') return undefined
      return compact({ title: val(s.Title), year: yearOf(s.Year), overview: val(s.Plot), ids: { imdb: val(s.imdbID) ?? ids.imdb }, posterUrl: val(s.Poster) }) satisfies SeriesInfo
    },

    async episode (seriesIds, season, episode, options) {
      if (seriesIds.imdb == null) return undefined
      const e = await get({ i: seriesIds.imdb, Season: season, Episode: episode, plot: 'full' }, options)
      if (e == null || val(e.Type) !== 'episode') return undefined
      return compact({
        kind: 'episode' as const,
        title: val(e.Title),
        year: yearOf(e.Year),
        releaseDate: omdbDate(e.Released),
        overview: val(e.Plot),
        ids: compact({ imdb: val(e.imdbID) }),
        stillUrl: val(e.Poster),
        season,
        episode
      }) satisfies ItemInfo
    }
  }
}
