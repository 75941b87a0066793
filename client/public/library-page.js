// #/: search, the "continue watching" row, then the library: series, collections, other videos (extras and
// anything not identified as a movie or an episode of a series) and movies, each with its count; other videos
// and movies sorted as the viewer chooses and loaded a page at a time.

import { continueWatching, listMedia } from './api.js'
import { collectionCard, seriesCard } from './cards.js'
import { el, formatTime, hueOf, mediaHref } from './dom.js'
import { describeError, showError } from './error-banner.js'
import { mediaShelf } from './media-shelf.js'
import { listCollections, listSeries } from './metadata-api.js'
import { artwork } from './poster.js'
import { isResumable } from './progress.js'
import { searchForm } from './search-page.js'
import { isAdmin } from './session.js'

/**
 * @typedef {import('./api.js').MediaSummary & Partial<import('./metadata-api.js').Metadata>} MediaSummary
 * @typedef {import('./api.js').ProgressItem} ProgressItem
 * @typedef {import('./media-shelf.js').Order} Order
 */

const ORDER_KEY = 'cidcast.libraryOrder'
/** @type {Array<[Order['sort'], string]>} */
const SORTS = [['title', 'Title'], ['year', 'Year'], ['added', 'Date added']]
/** The direction each sort starts in: A to Z, newest first. */
const FIRST_ORDER = { title: 'asc', year: 'desc', added: 'desc' }

/**
 * Renders the library into `root`; resolves to a function that tears it down.
 * @param {HTMLElement} root
 * @param {AbortSignal} signal aborted when the viewer leaves the page
 * @returns {Promise<() => void>}
 */
export async function showLibraryPage (root, signal) {
  document.title = 'cidcast'
  const failed = (/** @type {string} */ what) => (/** @type {unknown} */ err) => { showError(describeError(what, err)) }
  const movies = mediaShelf({ id: 'movies', title: 'Movies', kind: 'movie', count: n => plural(n, 'title'), card: movieCard, signal, onError: failed('Could not load more movies') })
  const others = mediaShelf({ id: 'other', title: 'Other videos', kind: 'other', count: n => plural(n, 'video'), card: otherCard, gridClass: 'grid', signal, onError: failed('Could not load more videos') })
  let order = savedOrder()
  const [all, progress, series, collections, shownMovies, shownOthers] = await Promise.allSettled([
    listMedia({ limit: 0 }, { signal }), continueWatching({ signal }), listSeries({ signal }), listCollections({ signal }),
    movies.show(order), others.show(order)
  ])
  const stop = () => { movies.stop(); others.stop() }
  if (signal.aborted) { stop(); return () => {} }

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

  // the more important failure wins the banner: shown last
  for (const [result, what] of /** @type {const} */ ([[series, 'the series'], [shownOthers, 'the other videos'], [shownMovies, 'the movies'], [all, 'the library']])) {
    if (result.status === 'rejected') showError(describeError(`Could not load ${what}`, result.reason))
  }
  const shows = series.status === 'fulfilled' ? series.value : []
  const empty = all.status === 'fulfilled' && all.value.total === 0 && shows.length === 0
  if (empty) {
    sections.push(el('section', { class: 'shelf', 'aria-labelledby': 'library-heading' },
      el('h2', { id: 'library-heading' }, 'Library'),
      // adding media is for admins
      isAdmin()
        ? el('p', { class: 'empty' }, 'Nothing here yet. Add a video with ', el('code', {}, 'cidcast add <file>'), '.')
        : el('p', { class: 'empty' }, 'Nothing here yet.')
    ))
  } else if (all.status === 'fulfilled') {
    const sort = el('select', { id: 'library-sort' },
      ...SORTS.map(([value, label]) => el('option', { value, selected: value === order.sort }, label)))
    const direction = el('select', { id: 'library-order', 'aria-label': 'Order' },
      el('option', { value: 'asc', selected: order.order === 'asc' }, 'Ascending'),
      el('option', { value: 'desc', selected: order.order === 'desc' }, 'Descending'))
    const reorder = (/** @type {Order} */ next) => {
      order = next
      saveOrder(order)
      movies.show(order).catch(failed('Could not load the movies'))
      others.show(order).catch(failed('Could not load the other videos'))
    }
    sort.addEventListener('change', () => {
      const next = /** @type {Order['sort']} */ (sort.value)
      direction.value = FIRST_ORDER[next]
      reorder({ sort: next, order: /** @type {Order['order']} */ (direction.value) })
    })
    direction.addEventListener('change', () => { reorder({ sort: order.sort, order: /** @type {Order['order']} */ (direction.value) }) })
    sections.push(el('section', { class: 'shelf library-head', 'aria-labelledby': 'library-heading' },
      el('h2', { id: 'library-heading' }, 'Library'),
      el('p', { class: 'meta', id: 'library-total' }, plural(all.value.total, 'video')),
      el('div', { class: 'sort' }, el('label', { for: 'library-sort' }, 'Sort by'), ' ', sort, ' ', direction)
    ))
    if (shows.length > 0) {
      sections.push(el('section', { class: 'shelf', id: 'series', 'aria-labelledby': 'series-heading' },
        el('h2', { id: 'series-heading' }, 'Series ', el('span', { class: 'count', id: 'series-count' }, `${shows.length} series`)),
        el('div', { class: 'grid posters', id: 'series-grid' }, ...shows.map(seriesCard))
      ))
    }
  }
  if (collections.status === 'fulfilled' && collections.value.length > 0) {
    sections.push(el('section', { class: 'shelf', 'aria-labelledby': 'collections-heading' },
      el('h2', { id: 'collections-heading' }, 'Collections'),
      el('div', { class: 'grid posters' }, ...collections.value.map(collectionCard))
    ))
  }
  // the shelves that grow as the viewer scrolls come last, so nothing below them is pushed away while it is read
  if (all.status === 'fulfilled' && !empty) sections.push(others.element, movies.element)
  root.replaceChildren(...sections)
  return stop
}

/**
 * "1 title", "300 titles".
 * @param {number} n
 * @param {string} noun
 * @returns {string}
 */
function plural (n, noun) {
  return `${n} ${noun}${n === 1 ? '' : 's'}`
}

/**
 * The order the viewer chose last (kept in this browser), else titles A to Z.
 * @returns {Order}
 */
function savedOrder () {
  try {
    const saved = JSON.parse(localStorage.getItem(ORDER_KEY) ?? 'null')
    if (SORTS.some(([value]) => value === saved?.sort) && (saved.order === 'asc' || saved.order === 'desc')) return { sort: saved.sort, order: saved.order }
  } catch {
    // unreadable or blocked storage: the default order
  }
  return { sort: 'title', order: 'asc' }
}

/** @param {Order} order */
function saveOrder (order) {
  try {
    localStorage.setItem(ORDER_KEY, JSON.stringify(order))
  } catch {
    // blocked storage: the order lasts as long as the page
  }
}

/**
 * A movie: its poster, title, year and renditions.
 * @param {MediaSummary} media
 * @returns {HTMLElement}
 */
function movieCard (media) {
  return mediaCard(media, 'poster', media.year != null ? String(media.year) : '')
}

/**
 * An extra or unidentified video: a wide picture, its title and what it is.
 * @param {MediaSummary} media
 * @returns {HTMLElement}
 */
function otherCard (media) {
  const what = media.kind === 'extra' ? (media.extraType ?? 'extra') : media.kind === 'episode' ? 'episode' : ''
  return mediaCard(media, 'wide', [what, media.year != null ? String(media.year) : ''].filter(s => s !== '').join(' · '))
}

/**
 * @param {MediaSummary} media
 * @param {'poster' | 'wide'} shape
 * @param {string} meta the line under the title ('' for none)
 * @returns {HTMLElement}
 */
function mediaCard (media, shape, meta) {
  const profiles = media.renditions.map(r =>
    el('span', { class: `chip state-${r.state}`, title: `${r.profile}: ${r.state}` }, r.profile))
  const picture = shape === 'poster' ? media.images?.poster : media.images?.poster ?? media.images?.still ?? media.images?.backdrop
  return el('a', { class: 'media-card', 'data-id': media.id, href: mediaHref(media.id) },
    artwork(picture, media.id, { shape, label: formatTime(media.durationSeconds) }),
    el('div', { class: 'card-body' },
      el('h3', { class: 'card-title', title: media.title }, media.title),
      meta !== '' ? el('p', { class: 'meta' }, meta) : null,
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
