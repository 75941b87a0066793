import { ProviderError } from '../errors.ts'
import { createProviderHttp } from '../provider-http.ts'
import { MAX_MATCHES, arr, body, compact, num, obj, str, yearOf } from './provider.ts'
import type { ProviderHttpInit } from '../provider-http.ts'
import type { ExternalIds, ItemInfo, Match, SeasonInfo, SeriesInfo } from '../types.ts'
import type { MetadataProvider, ProviderCallOptions } from './provider.ts'
import type { Logger } from '../../logger.ts'

/*
 * TheTVDB API v4: POST /login (key and optional subscriber PIN) gives a bearer token, kept until a 401;
 * /search, /search/remoteid/{id}, /series/{id}/extended, /series/{id}/translations/{lang},
 * /series/{id}/episodes/default, /movies/{id}/extended. Every answer is wrapped as { status, data }.
 */

export interface TvdbInit {
  key: string
  /** Subscriber PIN, for user-supported keys. */
  pin?: string
  /** @default https://api4.thetvdb.com/v4 */
  baseUrl?: string
  /** @default ['artworks.thetvdb.com'] */
  imageHosts?: string[]
  /** Three-letter language of translations. @default eng */
  language?: string
  http?: ProviderHttpInit
}

export const TVDB_URL = 'https://api4.thetvdb.com/v4'
export const TVDB_IMAGE_HOSTS = ['artworks.thetvdb.com']

/** Remote id source names in TVDB answers. */
function remoteIds (value: unknown): ExternalIds {
  const ids: ExternalIds = {}
  for (const r of arr(value)) {
    const o = obj(r)
    const source = (str(o?.sourceName) ?? '').toLowerCase()
    const id = str(o?.id) ?? (num(o?.id) == null ? undefined : String(num(o?.id)))
    if (id == null) continue
    if (source === 'imdb') ids.imdb ??= id
    else if (source.startsWith('themoviedb') || source === 'tmdb') ids.tmdb ??= num(id)
  }
  return compact(ids)
}

/** Creates the TVDB v4 provider. */
export function createTvdbProvider (components: { logger: Logger }, init: TvdbInit): MetadataProvider {
  const http = createProviderHttp(components, 'tvdb', init.http)
  const base = (init.baseUrl ?? TVDB_URL).replace(/\/+$/, '')
  const language = init.language ?? 'eng'
  let token: Promise<string> | undefined

  async function login (options: ProviderCallOptions): Promise<string> {
    const answer = await http.json(new URL(`${base}/login`), { method: 'POST', body: init.pin == null ? { apikey: init.key } : { apikey: init.key, pin: init.pin }, cache: false, signal: options.signal })
    const t = str(obj(body('tvdb', 'login', answer.body).data)?.token)
    if (t == null) throw new ProviderError('tvdb: login: no token in the answer')
    return t
  }

  async function get (path: string, params: Record<string, string | number | undefined> = {}, options: ProviderCallOptions = {}): Promise<unknown> {
    const url = new URL(base + path)
    for (const [k, v] of Object.entries(params)) if (v !== undefined) url.searchParams.set(k, String(v))
    for (let round = 0; round < 2; round++) {
      token ??= login(options).catch(err => { token = undefined; throw err })
      const bearer = await token
      try {
        const answer = await http.json(url, { headers: { Authorization: `Bearer ${bearer}` }, signal: options.signal })
        return answer.status === 404 ? undefined : body('tvdb', path, answer.body).data
      } catch (err) {
        // an expired token: log in again once
        if (round === 0 && err instanceof ProviderError && /HTTP 401/.test(err.message)) {
          token = undefined
          continue
        }
        throw err
      }
    }
    return undefined
  }

  function searchMatch (kind: 'movie' | 'series', r: Record<string, unknown>): Match | undefined {
    const id = num(r.tvdb_id) ?? num(str(r.id)?.replace(/^\D+-/, ''))
    const title = str(obj(r.translations)?.[language]) ?? str(r.name)
    if (id == null || title == null) return undefined
    const ids: ExternalIds = { ...remoteIds(r.remote_ids), ...(kind === 'series' ? { tvdb: id } : {}) }
    return compact<Match>({ provider: 'tvdb', kind, id: String(id), title, year: num(r.year) ?? yearOf(r.first_air_time), overview: str(obj(r.overviews)?.[language]) ?? str(r.overview), posterUrl: str(r.image_url), ids })
  }

  async function search (kind: 'movie' | 'series', query: string, year: number | undefined, options?: ProviderCallOptions): Promise<Match[]> {
    const data = await get('/search', { query, type: kind, year, limit: MAX_MATCHES }, options)
    return arr(data).map(r => searchMatch(kind, obj(r) ?? {})).filter(m => m != null).slice(0, MAX_MATCHES)
  }

  /** The TVDB id of a series (or movie) known by another id. */
  async function find (ids: ExternalIds, kind: 'series' | 'movie', options?: ProviderCallOptions): Promise<number | undefined> {
    if (kind === 'series' && ids.tvdb != null) return ids.tvdb
    const remote = ids.imdb ?? (ids.tmdb != null ? String(ids.tmdb) : undefined)
    if (remote == null) return undefined
    const data = await get(`/search/remoteid/${encodeURIComponent(remote)}`, {}, options)
    for (const r of arr(data)) {
      const hit = obj(obj(r)?.[kind])
      if (hit != null && num(hit.id) != null) return num(hit.id)
    }
    return undefined
  }

  async function translation (kind: 'series' | 'movies', id: number, options?: ProviderCallOptions): Promise<{ name?: string, overview?: string }> {
    const data = obj(await get(`/${kind}/${id}/translations/${language}`, {}, options))
    return { name: str(data?.name), overview: str(data?.overview) }
  }

  return {
    name: 'tvdb',
    imageHosts: init.imageHosts ?? TVDB_IMAGE_HOSTS,

    async searchMovies (query, year, options) { return await search('movie', query, year, options) },
    async searchSeries (query, year, options) { return await search('series', query, year, options) },

    async movie (ids, options) {
      const id = await find(ids, 'movie', options)
      if (id == null) return undefined
      const m = obj(await get(`/movies/${id}/extended`, { short: 'true' }, options))
      if (m == null) return undefined
      const t = await translation('movies', id, options)
      return compact({
        kind: 'movie' as const,
        title: t.name ?? str(m.name),
        year: num(m.year) ?? yearOf(m.first_release),
        overview: t.overview,
        ids: compact({ ...remoteIds(m.remoteIds), ...ids }),
        posterUrl: str(m.image)
      }) satisfies ItemInfo
    },

    async series (ids, options) {
      const id = await find(ids, 'series', options)
      if (id == null) return undefined
      const s = obj(await get(`/series/${id}/extended`, { short: 'true' }, options))
      if (s == null) return undefined
      const t = await translation('series', id, options)
      const seasons: SeasonInfo[] = arr(s.seasons)
        .map(x => obj(x))
        .filter(x => x != null && (str(obj(x.type)?.type) ?? 'official') === 'official' && num(x.number) != null)
        .map(x => compact({ number: num(x?.number) as number, posterUrl: str(x?.image) }))
      return compact({
        title: t.name ?? str(s.name),
        year: num(s.year) ?? yearOf(s.firstAired),
        overview: t.overview ?? str(s.overview),
        ids: compact({ ...remoteIds(s.remoteIds), tvdb: num(s.id) ?? id }),
        posterUrl: str(s.image),
        seasons
      }) satisfies SeriesInfo
    },

    async episode (seriesIds, season, episode, options) {
      const id = await find(seriesIds, 'series', options)
      if (id == null) return undefined
      const data = obj(await get(`/series/${id}/episodes/default`, { page: 0, season, episodeNumber: episode }, options))
      const e = arr(data?.episodes).map(x => obj(x)).find(x => num(x?.seasonNumber) === season && num(x?.number) === episode)
      if (e == null) return undefined
      return compact({
        kind: 'episode' as const,
        title: str(e.name),
        year: yearOf(e.aired),
        releaseDate: str(e.aired),
        overview: str(e.overview),
        ids: { tvdb: num(e.id) },
        stillUrl: str(e.image),
        season,
        episode
      }) satisfies ItemInfo
    }
  }
}
