import { posix } from 'node:path'
import { NfoError, itemNfoPaths, readNfoFile, seriesNfoPath } from './nfo.ts'
import { parseMediaPath } from './path-parser.ts'
import { sanitizeInfo, sanitizeSeries } from './sanitize.ts'
import { normalTitle } from '../catalog/index.ts'
import type { NfoDocument } from './nfo.ts'
import type { PathInfo } from './path-parser.ts'
import type { MetadataProvider } from './providers/provider.ts'
import type { CollectionInfo, ExternalIds, ItemInfo, Match, MediaKind, ProviderName, SeriesInfo } from './types.ts'
import type { Logger } from '../logger.ts'

/*
 * Gathering what is known about one media file, strongest source first: its NFO sidecar (and tvshow.nfo for
 * an episode), then the providers in their configured order, then its path. Ids in the NFO or the path go to
 * the providers as they are (no search); without ids, the first provider whose search gives a plausible match
 * names the item. Each source fills only what the stronger ones left open. Failures never throw: each is
 * logged and listed in `errors`, and the item is described from what remains.
 */

/** Which source described an item best. */
export type Source = 'nfo' | ProviderName | 'path'

export interface Gathered {
  kind: MediaKind
  path: PathInfo
  /** The item, merged: NFO > providers > path. */
  item: ItemInfo
  /** For an episode: its series, merged the same way. */
  series?: SeriesInfo
  /** For a movie in a collection. */
  collection?: CollectionInfo
  source: Source
  /** The provider that identified the item, if any. */
  provider?: ProviderName
  /** Series folder (episodes) or the item's folder. */
  folder: string
  /** Why a source was not used: unreadable NFO, provider failures, dropped fields. */
  errors: string[]
}

export interface GatherOptions {
  providers: readonly MetadataProvider[]
  /** Skip providers entirely (identification at add time runs them later, in the background). */
  local?: boolean
  /** A match picked by a user: its ids name the item (or, for an episode, its series). */
  match?: Pick<Match, 'provider' | 'kind' | 'id'>
  signal?: AbortSignal
}

/** Fills fields of `base` that are undefined from `extra` (ids merged the same way). */
function fill<T extends { ids?: ExternalIds }> (base: T, extra: Partial<T> | undefined): T {
  if (extra == null) return base
  const out: Record<string, unknown> = { ...base }
  for (const [key, value] of Object.entries(extra)) {
    if (value === undefined) continue
    if (key === 'ids') out.ids = { ...(value as ExternalIds), ...base.ids }
    else if (out[key] === undefined) out[key] = value
  }
  return out as T
}

/** Ids a match names. */
export function matchIds (match: Pick<Match, 'provider' | 'id'>): ExternalIds {
  if (match.provider === 'omdb') return /^tt\d+$/.test(match.id) ? { imdb: match.id } : {}
  const n = Number(match.id)
  if (!Number.isSafeInteger(n) || n < 1) return {}
  return match.provider === 'tmdb' ? { tmdb: n } : { tvdb: n }
}

function words (title: string): Set<string> {
  return new Set(normalTitle(title).split(' ').filter(w => w !== ''))
}

/** How alike two titles read: 1 for the same words, 0 for none in common (Jaccard on words). */
export function titleSimilarity (a: string, b: string): number {
  const x = words(a)
  const y = words(b)
  if (x.size === 0 || y.size === 0) return 0
  let common = 0
  for (const w of x) if (y.has(w)) common++
  return common / (x.size + y.size - common)
}

/** The search result that plausibly is the item: a close title, and the same year (give or take one) when known. */
export function bestMatch (matches: Match[], title: string, year?: number): Match | undefined {
  const scored = matches
    .map((m, rank) => ({ m, rank, similarity: titleSimilarity(m.title, title), yearOff: year == null || m.year == null ? 0 : Math.abs(m.year - year) }))
    .filter(s => s.similarity >= 0.5 && s.yearOff <= 1)
  scored.sort((a, b) => (a.yearOff - b.yearOff) || (b.similarity - a.similarity) || (a.rank - b.rank))
  return scored[0]?.m
}

async function readNfo (paths: string[], log: Logger, errors: string[]): Promise<NfoDocument | undefined> {
  for (const path of paths) {
    try {
      const doc = await readNfoFile(path, (field, reason) => {
        log.info({ path, field, reason }, 'NFO field ignored')
        errors.push(`${posix.basename(path)}: ${field} ignored: ${reason}`)
      })
      if (doc != null) return doc
    } catch (err) {
      const reason = err instanceof NfoError ? err.message : (err as Error).message
      log.warn({ path, reason }, 'NFO file ignored')
      errors.push(`${posix.basename(path)} ignored: ${reason}`)
    }
  }
  return undefined
}

/** Gathers everything known about the media file at `mediaPath`. */
export async function gather (log: Logger, mediaPath: string, options: GatherOptions): Promise<Gathered> {
  const errors: string[] = []
  const named = parseMediaPath(mediaPath)
  // an extra's name is a guess; its own NFO (`<file>.nfo`, never the main feature's movie.nfo) says what it is
  const nfo = await readNfo(itemNfoPaths(mediaPath, named.kind), log, errors)
  const nfoItem = nfo?.kind === 'movie' || nfo?.kind === 'episode' ? nfo.info : undefined
  const path = named.kind === 'extra' && nfoItem != null ? parseMediaPath(mediaPath, { extras: false }) : named
  const kind: MediaKind = nfoItem?.kind ?? path.kind
  const pathItem: ItemInfo = sanitizeInfo({ kind, title: path.title, year: path.year, ids: path.ids, season: path.season, episode: path.episode, episodeEnd: path.episodeEnd, extraType: path.extraType }, () => {})
  const folder = path.series?.folder ?? path.folder

  let series: SeriesInfo | undefined
  let localSeries: SeriesInfo | undefined
  let pathSeries: SeriesInfo | undefined
  if (kind === 'episode') {
    const doc = path.series?.ownFolder === true ? await readNfo([seriesNfoPath(folder)], log, errors) : undefined
    localSeries = fill(doc?.kind === 'tvshow' ? doc.series : { ids: {} }, nfoItem?.series)
    pathSeries = sanitizeSeries({ title: path.series?.title, year: path.series?.year, ids: path.series?.ids ?? {} }, () => {})
    series = fill(localSeries, pathSeries)
  }

  let remote: ItemInfo | undefined
  let remoteSeries: SeriesInfo | undefined
  let provider: ProviderName | undefined
  const drop = (who: string) => (field: string, reason: string) => {
    log.info({ provider: who, field, reason }, 'provider field ignored')
  }
  const attempt = async <T>(p: MetadataProvider, what: string, work: () => Promise<T>): Promise<T | undefined> => {
    try {
      return await work()
    } catch (err) {
      if (options.signal?.aborted === true) throw err
      log.warn({ provider: p.name, what, reason: (err as Error).message }, 'provider failed')
      errors.push(`${p.name}: ${what}: ${(err as Error).message}`)
      return undefined
    }
  }

  if (options.local !== true && kind !== 'extra' && options.providers.length > 0) {
    const picked = options.match == null ? undefined : matchIds(options.match)
    if (kind === 'movie') {
      const local = fill(nfoItem ?? { ids: {} }, pathItem)
      let ids: ExternalIds = picked ?? local.ids
      if (Object.keys(ids).length === 0 && local.title != null) {
        for (const p of options.providers) {
          const found = await attempt(p, 'search', async () => await p.searchMovies(local.title as string, local.year, options))
          const best = found == null ? undefined : bestMatch(found, local.title, local.year)
          if (best != null) { ids = best.ids; break }
        }
      }
      for (const p of Object.keys(ids).length === 0 ? [] : options.providers) {
        const info = await attempt(p, 'movie', async () => await p.movie(ids, options))
        if (info == null) continue
        const clean = sanitizeInfo(info, drop(p.name))
        provider ??= p.name
        remote = fill(remote ?? { ids: {} }, clean)
        ids = { ...clean.ids, ...ids }
      }
      if (remote?.collection?.ids.tmdb != null) {
        for (const p of options.providers) {
          if (p.collection == null) continue
          const info = await attempt(p, 'collection', async () => await p.collection?.(remote?.collection?.ids ?? {}, options))
          if (info != null) remote.collection = fill(remote.collection, sanitizeInfo({ ids: {}, collection: info }, drop(p.name)).collection)
        }
      }
    } else if (series != null) {
      let ids: ExternalIds = picked ?? series.ids
      if (Object.keys(ids).length === 0 && series.title != null) {
        for (const p of options.providers) {
          const found = await attempt(p, 'search', async () => await p.searchSeries(series?.title as string, series?.year, options))
          const best = found == null ? undefined : bestMatch(found, series.title, series.year)
          if (best != null) { ids = best.ids; break }
        }
      }
      for (const p of Object.keys(ids).length === 0 ? [] : options.providers) {
        const info = await attempt(p, 'series', async () => await p.series(ids, options))
        if (info == null) continue
        const clean = sanitizeSeries(info, drop(p.name))
        remoteSeries = fill(remoteSeries ?? { ids: {} }, clean)
        ids = { ...clean.ids, ...ids }
      }
      const season = nfoItem?.season ?? pathItem.season
      const episode = nfoItem?.episode ?? pathItem.episode
      if (Object.keys(ids).length > 0 && season != null && episode != null) {
        for (const p of options.providers) {
          const info = await attempt(p, 'episode', async () => await p.episode(ids, season, episode, options))
          if (info == null) continue
          provider ??= p.name
          remote = fill(remote ?? { ids: {} }, sanitizeInfo(info, drop(p.name)))
        }
      }
      if (remoteSeries != null) {
        series = picked != null ? fill(fill(remoteSeries, localSeries), pathSeries) : fill(fill(localSeries ?? { ids: {} }, remoteSeries), pathSeries)
      }
    }
  }

  // NFO > providers > path, except that a match a user picked outranks the NFO
  const item = options.match != null && remote != null
    ? fill(fill(remote, nfoItem), pathItem)
    : fill(fill(nfoItem ?? { ids: {} }, remote), pathItem)
  item.kind = kind
  return {
    kind,
    path,
    item,
    series,
    collection: item.collection,
    source: nfoItem != null ? 'nfo' : provider ?? 'path',
    provider,
    folder,
    errors
  }
}
