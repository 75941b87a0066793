// The metadata part of /api/v1: series, seasons, collections, search, edits, history, identification.

import { request } from './api.js'

/**
 * @typedef {{ cid: string, url: string }} ImageRef
 * @typedef {{ poster: ImageRef | null, backdrop: ImageRef | null, still?: ImageRef | null }} Images
 * @typedef {{ imdb: string | null, tmdb: number | null, tvdb: number | null }} Ids
 * @typedef {{ id: string, title: string, kind: string, year: number | null, overview: string | null, releaseDate: string | null,
 *   season: number | null, episode: number | null, episodeEnd: number | null, durationSeconds: number | null, images: Images }} ItemSummary
 * @typedef {{ number: number, title: string, overview: string | null, poster: ImageRef | null, episodeCount: number }} SeasonView
 * @typedef {{ id: string, title: string, originalTitle: string | null, year: number | null, overview: string | null, ids: Ids,
 *   images: Images, seasons: SeasonView[], episodeCount: number }} SeriesView
 * @typedef {{ id: string, title: string, overview: string | null, ids: Ids, images: Images, itemCount: number }} CollectionView
 * @typedef {{ title: string, kind: string, year: number | null, overview: string | null, originalTitle: string | null,
 *   sortTitle: string | null, releaseDate: string | null, tagline: string | null, ids: Ids,
 *   series: { id: string, title: string } | null, season: number | null, episode: number | null, episodeEnd: number | null,
 *   collection: { id: string, title: string } | null, extraType: string | null, images: Images, locked: string[], metadataSource: string }} Metadata
 * @typedef {{ id: number, at: string, actor: string, action: string, changes: Record<string, { from: unknown, to: unknown }>, reverts: number | null }} AuditEntry
 * @typedef {{ provider: string, kind: 'movie' | 'series', id: string, title: string, year?: number, overview?: string, posterUrl?: string }} Match
 * @typedef {import('./api.js').RequestOptions} RequestOptions
 */

const enc = encodeURIComponent

/**
 * @param {RequestOptions} [options]
 * @returns {Promise<SeriesView[]>}
 */
export async function listSeries (options) {
  return (await request('GET', '/api/v1/series', undefined, options))?.items ?? []
}

/**
 * @param {string} id
 * @param {RequestOptions} [options]
 * @returns {Promise<SeriesView>}
 */
export async function getSeries (id, options) {
  return await request('GET', `/api/v1/series/${enc(id)}`, undefined, options)
}

/**
 * @param {string} id
 * @param {number} number
 * @param {RequestOptions} [options]
 * @returns {Promise<SeasonView & { series: { id: string, title: string }, episodes: ItemSummary[] }>}
 */
export async function getSeason (id, number, options) {
  return await request('GET', `/api/v1/series/${enc(id)}/seasons/${enc(String(number))}`, undefined, options)
}

/**
 * @param {RequestOptions} [options]
 * @returns {Promise<CollectionView[]>}
 */
export async function listCollections (options) {
  return (await request('GET', '/api/v1/collections', undefined, options))?.items ?? []
}

/**
 * @param {string} id
 * @param {RequestOptions} [options]
 * @returns {Promise<CollectionView & { items: ItemSummary[] }>}
 */
export async function getCollection (id, options) {
  return await request('GET', `/api/v1/collections/${enc(id)}`, undefined, options)
}

/**
 * @param {string} q
 * @param {RequestOptions} [options]
 * @returns {Promise<{ media: ItemSummary[], series: SeriesView[], collections: CollectionView[] }>}
 */
export async function search (q, options) {
  return await request('GET', `/api/v1/search?q=${enc(q)}`, undefined, options)
}

/**
 * @param {string} id
 * @param {RequestOptions} [options]
 * @returns {Promise<ItemSummary | null>}
 */
export async function nextItem (id, options) {
  return (await request('GET', `/api/v1/media/${enc(id)}/next`, undefined, options))?.next ?? null
}

/**
 * @param {string} id
 * @param {RequestOptions} [options]
 * @returns {Promise<Metadata>}
 */
export async function getMetadata (id, options) {
  return await request('GET', `/api/v1/media/${enc(id)}/metadata`, undefined, options)
}

/**
 * Saves an edit; every field it names is locked against later identification.
 * @param {string} id
 * @param {Record<string, unknown>} patch
 * @returns {Promise<{ metadata: Metadata, changes: Record<string, unknown>, warnings: string[] }>}
 */
export async function patchMetadata (id, patch) {
  return await request('PATCH', `/api/v1/media/${enc(id)}/metadata`, patch)
}

/**
 * @param {string} id
 * @param {RequestOptions} [options]
 * @returns {Promise<AuditEntry[]>}
 */
export async function metadataHistory (id, options) {
  return (await request('GET', `/api/v1/media/${enc(id)}/metadata/history`, undefined, options))?.items ?? []
}

/**
 * @param {string} id
 * @param {number} entry
 * @returns {Promise<{ metadata: Metadata }>}
 */
export async function revertEntry (id, entry) {
  return await request('POST', `/api/v1/media/${enc(id)}/metadata/history/${enc(String(entry))}/revert`)
}

/**
 * @param {RequestOptions} [options]
 * @returns {Promise<string[]>}
 */
export async function providers (options) {
  return (await request('GET', '/api/v1/metadata/providers', undefined, options))?.providers ?? []
}

/**
 * @param {string} id
 * @param {string | undefined} query
 * @param {RequestOptions} [options]
 * @returns {Promise<{ kind: string, matches: Match[], errors: string[] }>}
 */
export async function matches (id, query, options) {
  return await request('GET', `/api/v1/media/${enc(id)}/matches${query ? `?query=${enc(query)}` : ''}`, undefined, options)
}

/**
 * @param {string} id
 * @param {{ provider: string, kind: string, id: string } | undefined} match
 * @returns {Promise<{ metadata: Metadata, errors: string[] }>}
 */
export async function identify (id, match) {
  return await request('POST', `/api/v1/media/${enc(id)}/identify`, match == null ? undefined : { match })
}
