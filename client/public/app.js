// Entry point: a hash router that shows one page at a time and tears the previous one down. Every page but the
// login page needs a signed-in user: who it is is asked once (and again after a 401 sent them to log in).

import { describeError, clearError, showError } from './error-banner.js'
import { pageFor } from './routes.js'
import { currentUser, loadUser } from './session.js'
import { mountUserMenu } from './user-menu.js'

/** @type {{ controller: AbortController, dispose: Promise<() => void> } | null} */
let current = null

/** Shows the page the hash names (routes.js): `#/` the library, `#/media/{id}` a player, series, collections... */
async function route () {
  const root = document.getElementById('app')
  if (root == null) return
  if (current != null) {
    current.controller.abort()
    const dispose = await current.dispose
    current = null
    dispose()
  }
  clearError()
  root.replaceChildren()
  const controller = new AbortController()
  const page = pageFor(window.location.hash)
  if (page.open !== true && currentUser() == null) {
    try {
      await loadUser(controller.signal)
    } catch (err) {
      // a 401 has sent the page to the login form (session.js), which is the next route
      if (/** @type {{ status?: number }} */ (err)?.status !== 401) showError(describeError('Could not tell who is signed in', err))
      return
    }
  }
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

const menu = document.getElementById('user-menu')
if (menu != null) mountUserMenu(menu)
window.addEventListener('hashchange', navigate)
navigate()
