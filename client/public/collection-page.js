// #/collection/{id}: a movie collection, its films in release order.

import { el } from './dom.js'
import { itemRow } from './cards.js'
import { getCollection } from './metadata-api.js'
import { header } from './series-page.js'

/**
 * @param {HTMLElement} root
 * @param {string} id
 * @param {AbortSignal} signal
 * @returns {Promise<() => void>}
 */
export async function showCollectionPage (root, id, signal) {
  const collection = await getCollection(id, { signal })
  if (signal.aborted) return () => {}
  document.title = `${collection.title} · cidcast`
  root.replaceChildren(
    el('article', { class: 'detail-page collection-page' },
      el('a', { class: 'back', href: '#/' }, '← Library'),
      header(collection.images.poster, collection.id, collection.title, [`${collection.itemCount} films`], collection.overview),
      el('ol', { class: 'item-list' }, ...collection.items.map(item => el('li', {}, itemRow(item))))
    )
  )
  return () => {}
}
