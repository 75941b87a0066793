// Entry point: a hash router that shows one page at a time and tears the previous one down.

import { describeError, clearError, showError } from './error-banner.js'
import { showLibraryPage } from './library-page.js'
import { showPlayerPage } from './player-page.js'

const MEDIA_ROUTE = /^#\/media\/([^/?#]+)$/

/** @type {{ controller: AbortController, dispose: Promise<() => void> } | null} */
let current = null

/** Shows the page the hash names: `#/` the library, `#/media/{id}` a player. */
async function route () {
  const root = document.getElementById('app')
  if (root == null) return
  if (current != null) {
    current.controller.abort()
    const dispose = await current.dispose
    dispose()
  }
  clearError()
  root.replaceChildren()
  const controller = new AbortController()
  const match = MEDIA_ROUTE.exec(window.location.hash)
  const dispose = match != null
    ? showPlayerPage(root, decodeURIComponent(match[1]), controller.signal)
    : showLibraryPage(root, controller.signal)
  const guarded = dispose.catch(err => {
    if (!controller.signal.aborted) showError(describeError(match != null ? 'Could not open the media' : 'Could not load the library', err))
    return () => {}
  })
  current = { controller, dispose: guarded }
}

/** @type {Promise<void>} */
let queue = Promise.resolve()

/** Routes one change at a time, so a quick double navigation never shows two pages. */
function navigate () {
  queue = queue.then(route).catch(err => showError(describeError('Navigation failed', err)))
}

window.addEventListener('hashchange', navigate)
navigate()
