// Search by title: the form on the library page and #/search/{text}, the results.

import { el } from './dom.js'
import { collectionCard, itemRow, seriesCard } from './cards.js'
import { search } from './metadata-api.js'

/**
 * @param {string} text
 * @returns {string}
 */
export function searchHref (text) {
  return `#/search/${encodeURIComponent(text)}`
}

/**
 * A search box that navigates to the results.
 * @param {string} [initial]
 * @returns {HTMLFormElement}
 */
export function searchForm (initial = '') {
  const input = el('input', { id: 'search-input', type: 'search', name: 'q', placeholder: 'Search by title', 'aria-label': 'Search by title', maxlength: 200, value: initial })
  const form = el('form', { class: 'search', role: 'search' }, input, el('button', { type: 'submit' }, 'Search'))
  form.addEventListener('submit', event => {
    event.preventDefault()
    const text = input.value.trim()
    if (text !== '') window.location.hash = searchHref(text)
  })
  return form
}

/**
 * @param {HTMLElement} root
 * @param {string} text
 * @param {AbortSignal} signal
 * @returns {Promise<() => void>}
 */
export async function showSearchPage (root, text, signal) {
  document.title = `${text} · search · cidcast`
  const found = await search(text, { signal })
  if (signal.aborted) return () => {}
  const sections = []
  if (found.series.length > 0 || found.collections.length > 0) {
    sections.push(el('section', { class: 'shelf' }, el('h2', {}, 'Series and collections'),
      el('div', { class: 'grid posters' }, ...found.series.map(seriesCard), ...found.collections.map(collectionCard))))
  }
  if (found.media.length > 0) {
    sections.push(el('section', { class: 'shelf' }, el('h2', {}, 'Movies and episodes'),
      el('ol', { class: 'item-list search-results' }, ...found.media.map(item => el('li', {}, itemRow(item))))))
  }
  if (sections.length === 0) sections.push(el('p', { class: 'empty' }, 'Nothing matches ', el('q', {}, text), '.'))
  root.replaceChildren(el('article', { class: 'detail-page search-page' },
    el('a', { class: 'back', href: '#/' }, '← Library'),
    searchForm(text),
    ...sections))
  return () => {}
}
