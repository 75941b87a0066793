// Cards for the poster grid and the lists of series, season, collection and search pages.

import { el, formatTime, mediaHref } from './dom.js'
import { artwork, episodeCode } from './poster.js'

/**
 * @typedef {import('./metadata-api.js').SeriesView} SeriesView
 * @typedef {import('./metadata-api.js').CollectionView} CollectionView
 * @typedef {import('./metadata-api.js').ItemSummary} ItemSummary
 */

/**
 * @param {string} id
 * @returns {string}
 */
export function seriesHref (id) {
  return `#/series/${encodeURIComponent(id)}`
}

/**
 * @param {string} id
 * @param {number} number
 * @returns {string}
 */
export function seasonHref (id, number) {
  return `#/series/${encodeURIComponent(id)}/season/${number}`
}

/**
 * @param {string} id
 * @returns {string}
 */
export function collectionHref (id) {
  return `#/collection/${encodeURIComponent(id)}`
}

/**
 * A series in the poster grid.
 * @param {SeriesView} series
 * @returns {HTMLElement}
 */
export function seriesCard (series) {
  const count = `${series.episodeCount} episode${series.episodeCount === 1 ? '' : 's'}`
  return el('a', { class: 'media-card series-card', 'data-series-id': series.id, href: seriesHref(series.id) },
    artwork(series.images.poster, series.id, { shape: 'poster', label: count }),
    el('div', { class: 'card-body' },
      el('h3', { class: 'card-title', title: series.title }, series.title),
      el('p', { class: 'meta' }, series.year != null ? `${series.year} · series` : 'series')
    )
  )
}

/**
 * A collection in the poster grid.
 * @param {CollectionView} collection
 * @returns {HTMLElement}
 */
export function collectionCard (collection) {
  return el('a', { class: 'media-card collection-card', 'data-collection-id': collection.id, href: collectionHref(collection.id) },
    artwork(collection.images.poster, collection.id, { shape: 'poster', label: `${collection.itemCount} films` }),
    el('div', { class: 'card-body' },
      el('h3', { class: 'card-title', title: collection.title }, collection.title)
    )
  )
}

/**
 * A movie or episode in a list: its still or poster, title, code or year, length and the start of its overview.
 * @param {ItemSummary} item
 * @returns {HTMLElement}
 */
export function itemRow (item) {
  const code = episodeCode(item)
  const facts = [code, item.kind !== 'episode' && item.year != null ? String(item.year) : '', item.durationSeconds != null ? formatTime(item.durationSeconds) : '']
    .filter(s => s !== '').join(' · ')
  return el('a', { class: 'item-row', 'data-id': item.id, href: mediaHref(item.id) },
    artwork(item.images.still ?? item.images.backdrop ?? item.images.poster, item.id),
    el('div', { class: 'item-body' },
      el('h3', { class: 'card-title', title: item.title }, item.title),
      el('p', { class: 'meta' }, facts),
      item.overview != null ? el('p', { class: 'overview clamp' }, item.overview) : null
    )
  )
}
