// Which page a hash names, and what to say when it cannot be shown.

import { showAdminPage } from './admin-page.js'
import { showCollectionPage } from './collection-page.js'
import { showEditPage } from './edit-page.js'
import { showLibraryPage } from './library-page.js'
import { showLoginPage } from './login-page.js'
import { showNodesPage } from './nodes-page.js'
import { showPasswordPage } from './password-page.js'
import { showPlayerPage } from './player-page.js'
import { showSearchPage } from './search-page.js'
import { showSeasonPage, showSeriesPage } from './series-page.js'

/**
 * @typedef {(root: HTMLElement, signal: AbortSignal) => Promise<() => void>} Show
 * @typedef {{ show: Show, failure: string, open?: boolean }} Page `open`: shown without signing in (the login page)
 */

/** @type {Array<[RegExp, (m: string[]) => Show, string]>} */
const ROUTES = [
  [/^#\/media\/([^/?#]+)\/edit$/, m => (root, signal) => showEditPage(root, m[1], signal), 'Could not open the editor'],
  [/^#\/media\/([^/?#]+)$/, m => (root, signal) => showPlayerPage(root, m[1], signal), 'Could not open the media'],
  [/^#\/series\/([^/?#]+)\/season\/(\d{1,4})$/, m => (root, signal) => showSeasonPage(root, m[1], Number(m[2]), signal), 'Could not open the season'],
  [/^#\/series\/([^/?#]+)$/, m => (root, signal) => showSeriesPage(root, m[1], signal), 'Could not open the series'],
  [/^#\/collection\/([^/?#]+)$/, m => (root, signal) => showCollectionPage(root, m[1], signal), 'Could not open the collection'],
  [/^#\/nodes$/, () => (root, signal) => showNodesPage(root, signal), 'Could not list the nodes'],
  [/^#\/search\/(.+)$/, m => (root, signal) => showSearchPage(root, m[1], signal), 'Could not search'],
  [/^#\/password$/, () => root => showPasswordPage(root), 'Could not show the password form'],
  [/^#\/admin$/, () => (root, signal) => showAdminPage(root, signal), 'Could not list the users and tokens']
]

/** The login page, and the page to return to after it (`#/login?next=<hash>`). */
const LOGIN = /^#\/login(?:\?next=(.*))?$/

/**
 * The page for a location hash (the library for anything unknown; the login page is the one open to everyone);
 * parts are URI-decoded.
 * @param {string} hash
 * @returns {Page}
 */
export function pageFor (hash) {
  const login = LOGIN.exec(hash)
  if (login != null) {
    let next
    try {
      next = login[1] == null ? undefined : decodeURIComponent(login[1])
    } catch {
      // malformed percent-encoding: back to the library afterwards
    }
    return { show: root => showLoginPage(root, next), failure: 'Could not show the login page', open: true }
  }
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
