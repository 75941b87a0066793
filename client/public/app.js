// Entry point: a hash router that shows one page at a time and tears the previous one down.

import { describeError, clearError, showError } from './error-banner.js'
import { pageFor } from './routes.js'

/** @type {{ controller: AbortController, dispose: Promise<() => void> } | null} */
let current = null

/** Shows the page the hash names (routes.js): `#/` the library, `#/media/{id}` a player, series, collections... */
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
  const page = pageFor(window.location.hash)
  const dispose = page.show(root, controller.signal)
  const guarded = dispose.catch(err => {
    if (!controller.signal.aborted) showError(describeError(page.failure, err))
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
