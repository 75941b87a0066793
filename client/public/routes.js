// Which page a hash names, and what to say when it cannot be shown.

import { showCollectionPage } from './collection-page.js'
import { showEditPage } from './edit-page.js'
import { showLibraryPage } from './library-page.js'
import { showNodesPage } from './nodes-page.js'
import { showPlayerPage } from './player-page.js'
import { showSearchPage } from './search-page.js'
import { showSeasonPage, showSeriesPage } from './series-page.js'

/**
 * @typedef {(root: HTMLElement, signal: AbortSignal) => Promise<() => void>} Show
 * @typedef {{ show: Show, failure: string }} Page
 */

/** @type {Array<[RegExp, (m: string[]) => Show, string]>} */
const ROUTES = [
  [/^#\/media\/([^/?#]+)\/edit$/, m => (root, signal) => showEditPage(root, m[1], signal), 'Could not open the editor'],
  [/^#\/media\/([^/?#]+)$/, m => (root, signal) => showPlayerPage(root, m[1], signal), 'Could not open the media'],
  [/^#\/series\/([^/?#]+)\/season\/(\d{1,4})$/, m => (root, signal) => showSeasonPage(root, m[1], Number(m[2]), signal), 'Could not open the season'],
  [/^#\/series\/([^/?#]+)$/, m => (root, signal) => showSeriesPage(root, m[1], signal), 'Could not open the series'],
  [/^#\/collection\/([^/?#]+)$/, m => (root, signal) => showCollectionPage(root, m[1], signal), 'Could not open the collection'],
  [/^#\/nodes$/, () => (root, signal) => showNodesPage(root, signal), 'Could not list the nodes'],
  [/^#\/search\/(.+)$/, m => (root, signal) => showSearchPage(root, m[1], signal), 'Could not search']
]

/**
 * The page for a location hash (the library for anything unknown); parts are URI-decoded.
 * @param {string} hash
 * @returns {Page}
 */
export function pageFor (hash) {
  for (const [pattern, make, failure] of ROUTES) {
    const match = pattern.exec(hash)
    if (match == null) continue
    try {
      return { show: make(match.map(part => decodeURIComponent(part ?? ''))), failure }
    } catch {
      // malformed percent-encoding: fall through to the library
      break
    }
  }
  return { show: showLibraryPage, failure: 'Could not load the library' }
}
