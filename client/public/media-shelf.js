/* global IntersectionObserver */
// A shelf of the library that fills itself page by page from GET /api/v1/media: the first page at once, the
// next when "Load more" is pressed or scrolls near the viewport, until every media of its kind is shown.

import { listMedia } from './api.js'
import { el } from './dom.js'

/**
 * @typedef {import('./api.js').MediaSummary} MediaSummary
 * @typedef {import('./api.js').MediaQuery} MediaQuery
 * @typedef {{ sort: import('./api.js').MediaSort, order: 'asc' | 'desc' }} Order
 * @typedef {{
 *   element: HTMLElement,
 *   total: () => number,
 *   show: (order: Order) => Promise<number>,
 *   more: () => Promise<void>,
 *   stop: () => void
 * }} MediaShelf
 */

/** Media per request: the API's default page. */
export const PAGE_SIZE = 100
/** Start loading the next page this far before "Load more" scrolls into view. */
const PREFETCH_MARGIN = '800px'

/**
 * A titled grid of one kind of media, loaded a page at a time.
 * @param {{ id: string, title: string, kind: MediaQuery['kind'], count: (n: number) => string, card: (m: MediaSummary) => HTMLElement,
 *   gridClass?: string, signal: AbortSignal, onError: (err: unknown) => void }} options
 * @returns {MediaShelf}
 */
export function mediaShelf (options) {
  const { id, title, kind, count, card, signal, onError } = options
  const counter = el('span', { class: 'count', id: `${id}-count` })
  const grid = el('div', { class: options.gridClass ?? 'grid posters', id: `${id}-grid` })
  const button = el('button', { type: 'button', class: 'load-more', id: `${id}-more`, hidden: true }, 'Load more')
  const element = el('section', { class: 'shelf', id, 'aria-labelledby': `${id}-heading`, hidden: true },
    el('h2', { id: `${id}-heading` }, title, ' ', counter), grid, button)

  /** Ids already on the shelf: a media added while paging shifts the pages, and must not show twice. */
  let shown = new Set()
  let total = 0
  let offset = 0
  /** @type {Order} */
  let order = { sort: 'title', order: 'asc' }
  /** Bumped by every new order, so a page that arrives for an older one is dropped. */
  let generation = 0
  /** @type {Promise<void> | undefined} */
  let loading

  /** Loads the next page of the current order, once at a time. */
  function more () {
    if (loading != null || offset >= total || signal.aborted) return loading ?? Promise.resolve()
    const asked = generation
    button.disabled = true
    loading = listMedia({ kind, ...order, limit: PAGE_SIZE, offset }, { signal })
      .then(page => { if (asked === generation) append(page.items, page.total) })
      .catch(err => { if (!signal.aborted) onError(err) })
      .finally(() => {
        if (asked !== generation) return
        loading = undefined
        button.disabled = false
        watch()
      })
    return loading
  }

  /**
   * @param {MediaSummary[]} items
   * @param {number} all
   */
  function append (items, all) {
    offset += items.length
    // a short page is the last one, even when media were removed while paging and `all` says otherwise
    total = items.length < PAGE_SIZE ? offset : all
    grid.append(...items.filter(m => !shown.has(m.id)).map(m => { shown.add(m.id); return card(m) }))
    update()
  }

  function update () {
    counter.textContent = count(total)
    element.hidden = total === 0
    button.hidden = offset >= total
    button.textContent = `Load more (${offset} of ${total} shown)`
  }

  // the observer reports a change of visibility only: watching again after each page asks it where the button is now
  const observer = new IntersectionObserver(entries => {
    if (entries.some(e => e.isIntersecting)) void more()
  }, { rootMargin: PREFETCH_MARGIN })
  function watch () {
    observer.unobserve(button)
    if (!button.hidden && !signal.aborted) observer.observe(button)
  }
  button.addEventListener('click', () => { void more() })

  return {
    element,
    total: () => total,
    /** Empties the shelf and loads the first page in `next` order; resolves to the number of media in all. */
    async show (next) {
      generation++
      order = next
      loading = undefined
      button.disabled = false
      shown = new Set()
      offset = 0
      const asked = generation
      const page = await listMedia({ kind, ...order, limit: PAGE_SIZE, offset: 0 }, { signal })
      if (asked !== generation) return total
      grid.replaceChildren()
      total = page.total
      append(page.items, page.total)
      watch()
      return total
    },
    more,
    stop: () => { observer.disconnect() }
  }
}
