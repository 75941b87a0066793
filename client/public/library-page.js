// #/: search, the "continue watching" row, the poster grid (movies and series) and the collections.

import { continueWatching, listMedia } from './api.js'
import { collectionCard, seriesCard } from './cards.js'
import { el, formatTime, hueOf, mediaHref } from './dom.js'
import { describeError, showError } from './error-banner.js'
import { listCollections, listSeries } from './metadata-api.js'
import { artwork } from './poster.js'
import { isResumable } from './progress.js'
import { searchForm } from './search-page.js'

/**
 * @typedef {import('./api.js').MediaSummary & Partial<import('./metadata-api.js').Metadata>} MediaSummary
 * @typedef {import('./api.js').ProgressItem} ProgressItem
 */

/**
 * Renders the library into `root`; resolves to a function that tears it down.
 * @param {HTMLElement} root
 * @param {AbortSignal} signal aborted when the viewer leaves the page
 * @returns {Promise<() => void>}
 */
export async function showLibraryPage (root, signal) {
  document.title = 'cidcast'
  const [media, progress, series, collections] = await Promise.allSettled([
    listMedia({ signal }), continueWatching({ signal }), listSeries({ signal }), listCollections({ signal })
  ])
  if (signal.aborted) return () => {}

  const sections = [searchForm()]
  if (progress.status === 'rejected') {
    showError(describeError('Could not load "continue watching"', progress.reason))
  } else {
    const items = progress.value.filter(item => isResumable(item.positionSeconds, item.durationSeconds))
    if (items.length > 0) {
      sections.push(el('section', { class: 'shelf', 'aria-labelledby': 'continue-heading' },
        el('h2', { id: 'continue-heading' }, 'Continue watching'),
        el('div', { class: 'continue-row' }, ...items.map(continueCard))
      ))
    }
  }

  if (media.status === 'rejected') {
    // the more important failure wins the banner
    showError(describeError('Could not load the library', media.reason))
  } else {
    // episodes live on their series' pages and extras with what they belong to (when the series list loads)
    const shows = series.status === 'fulfilled' ? series.value : []
    const items = series.status === 'fulfilled' ? media.value.filter(m => m.kind !== 'episode' && m.kind !== 'extra') : media.value
    sections.push(el('section', { class: 'shelf', 'aria-labelledby': 'library-heading' },
      el('h2', { id: 'library-heading' }, 'Library'),
      items.length + shows.length === 0
        ? el('p', { class: 'empty' }, 'Nothing here yet. Add a video with ', el('code', {}, 'cidcast add <file>'), '.')
        : el('div', { class: 'grid posters' }, ...shows.map(seriesCard), ...items.map(mediaCard))
    ))
  }
  if (collections.status === 'fulfilled' && collections.value.length > 0) {
    sections.push(el('section', { class: 'shelf', 'aria-labelledby': 'collections-heading' },
      el('h2', { id: 'collections-heading' }, 'Collections'),
      el('div', { class: 'grid posters' }, ...collections.value.map(collectionCard))
    ))
  }
  root.replaceChildren(...sections)
  return () => {}
}

/**
 * @param {MediaSummary} media
 * @returns {HTMLElement}
 */
function mediaCard (media) {
  const profiles = media.renditions.map(r =>
    el('span', { class: `chip state-${r.state}`, title: `${r.profile}: ${r.state}` }, r.profile))
  return el('a', { class: 'media-card', 'data-id': media.id, href: mediaHref(media.id) },
    artwork(media.images?.poster, media.id, { shape: 'poster', label: formatTime(media.durationSeconds) }),
    el('div', { class: 'card-body' },
      el('h3', { class: 'card-title', title: media.title }, media.title),
      media.year != null ? el('p', { class: 'meta' }, String(media.year)) : null,
      el('div', { class: 'chips' }, ...profiles)
    )
  )
}

/**
 * @param {ProgressItem} item
 * @returns {HTMLElement}
 */
function continueCard (item) {
  const fraction = Math.min(1, Math.max(0, item.positionSeconds / item.durationSeconds))
  const fill = el('div', { class: 'bar-fill' })
  fill.style.width = `${(fraction * 100).toFixed(1)}%`
  return el('a', { class: 'continue-card', 'data-id': item.mediaId, href: mediaHref(item.mediaId) },
    thumb(item.mediaId, `${formatTime(item.durationSeconds - item.positionSeconds)} left`),
    el('div', { class: 'card-body' },
      el('h3', { class: 'card-title', title: item.title }, item.title),
      el('div', {
        class: 'bar',
        role: 'progressbar',
        'aria-label': 'Watched',
        'aria-valuemin': 0,
        'aria-valuemax': Math.round(item.durationSeconds),
        'aria-valuenow': Math.round(item.positionSeconds)
      }, fill),
      el('p', { class: 'meta' }, `${formatTime(item.positionSeconds)} / ${formatTime(item.durationSeconds)}`)
    )
  )
}

/**
 * A placeholder picture: a gradient coloured by the id, a play mark and a corner label.
 * @param {string} id
 * @param {string} label
 * @returns {HTMLElement}
 */
function thumb (id, label) {
  const node = el('div', { class: 'thumb', 'aria-hidden': 'true' }, el('span', { class: 'badge' }, label))
  node.style.setProperty('--hue', String(hueOf(id)))
  return node
}
