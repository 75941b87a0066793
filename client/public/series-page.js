// #/series/{id}: a series with its seasons; #/series/{id}/season/{n}: a season's episodes in order.

import { el } from './dom.js'
import { itemRow, seasonHref, seriesHref } from './cards.js'
import { getSeason, getSeries } from './metadata-api.js'
import { artwork } from './poster.js'

/**
 * @param {HTMLElement} root
 * @param {string} id
 * @param {AbortSignal} signal
 * @returns {Promise<() => void>}
 */
export async function showSeriesPage (root, id, signal) {
  const series = await getSeries(id, { signal })
  if (signal.aborted) return () => {}
  document.title = `${series.title} · cidcast`
  const seasons = series.seasons.map(season =>
    el('a', { class: 'media-card season-card', 'data-season': season.number, href: seasonHref(series.id, season.number) },
      artwork(season.poster ?? series.images.poster, `${series.id}/${season.number}`, { shape: 'poster', label: `${season.episodeCount} ep.` }),
      el('div', { class: 'card-body' }, el('h3', { class: 'card-title', title: season.title }, season.title))
    ))
  root.replaceChildren(
    el('article', { class: 'detail-page series-page' },
      el('a', { class: 'back', href: '#/' }, '← Library'),
      header(series.images.poster, series.id, series.title, [series.year != null ? String(series.year) : '', `${series.episodeCount} episodes`], series.overview),
      el('section', { class: 'shelf', 'aria-labelledby': 'seasons-heading' },
        el('h2', { id: 'seasons-heading' }, 'Seasons'),
        el('div', { class: 'grid posters' }, ...seasons)
      )
    )
  )
  return () => {}
}

/**
 * @param {HTMLElement} root
 * @param {string} id
 * @param {number} number
 * @param {AbortSignal} signal
 * @returns {Promise<() => void>}
 */
export async function showSeasonPage (root, id, number, signal) {
  const season = await getSeason(id, number, { signal })
  if (signal.aborted) return () => {}
  document.title = `${season.series.title} · ${season.title} · cidcast`
  root.replaceChildren(
    el('article', { class: 'detail-page season-page' },
      el('a', { class: 'back', href: seriesHref(season.series.id) }, `← ${season.series.title}`),
      header(season.poster, `${id}/${number}`, season.title, [season.series.title, `${season.episodeCount} episodes`], season.overview),
      el('ol', { class: 'item-list episodes' }, ...season.episodes.map(item => el('li', {}, itemRow(item))))
    )
  )
  return () => {}
}

/**
 * The top of a detail page: poster, title, facts, overview.
 * @param {import('./metadata-api.js').ImageRef | null} poster
 * @param {string} seed
 * @param {string} title
 * @param {string[]} facts
 * @param {string | null} overview
 * @returns {HTMLElement}
 */
export function header (poster, seed, title, facts, overview) {
  return el('header', { class: 'detail-header' },
    artwork(poster, seed, { shape: 'poster' }),
    el('div', { class: 'detail-text' },
      el('h1', { class: 'title' }, title),
      el('p', { class: 'meta' }, facts.filter(f => f !== '').join(' · ')),
      overview != null ? el('p', { class: 'overview' }, overview) : null
    )
  )
}
