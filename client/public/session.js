// Who is signed in (GET /api/v1/auth/me), logging in and out, and the way back from the login page. Also which
// site this page is on: a CDN node's API proxy passes reads, progress, replication orders, login and logout to the
// main server, but no admin edit, so account and catalog changes are made on the main server's own pages.

import { onAuthRequired, request } from './api.js'
import { thisSite } from './this-site.js'

/**
 * @typedef {'admin' | 'viewer'} Role
 * @typedef {{ id: string, name: string, role: Role, folders: string[] | null, createdAt: string }} User
 * @typedef {User & { canReplicate?: boolean }} Me the signed-in user as /api/v1/auth/me (and a login) answers
 */

/** The login page's hash; `?next=` carries the page to return to. */
export const LOGIN_HASH = '#/login'

/** @type {Me | null} */
let user = null
/** @type {import('./this-site.js').Site | null | undefined} undefined until asked */
let site
/** @type {Set<(user: Me | null) => void>} */
const listeners = new Set()

/** @param {Me | null} next */
function setUser (next) {
  user = next
  for (const listener of listeners) listener(user)
}

/** @returns {Me | null} the signed-in user, null before loadUser() or after a 401 */
export function currentUser () {
  return user
}

/** @returns {boolean} whether the signed-in user is an admin */
export function isAdmin () {
  return user?.role === 'admin'
}

/** @returns {boolean} whether the signed-in user may order "Replicate here": admins, and viewers where the server allows it */
export function canReplicate () {
  return user?.canReplicate === true
}

/** @returns {boolean} whether admin edits can be made from this page: an admin, on the main server's own site */
export function adminHere () {
  return isAdmin() && site?.role !== 'node'
}

/** @returns {string | null} the main server's origin when this page is a CDN node's and the node names it by URL */
export function mainServerUrl () {
  return site?.role === 'node' ? site.server : null
}

/** @returns {boolean} whether this page is a CDN node's own site */
export function onNodeSite () {
  return site?.role === 'node'
}

/**
 * Calls `listener` whenever the signed-in user changes (login, logout, a 401); returns the way to stop.
 * @param {(user: Me | null) => void} listener
 * @returns {() => void}
 */
export function onUserChange (listener) {
  listeners.add(listener)
  return () => { listeners.delete(listener) }
}

/**
 * Asks the server who is signed in (and, once, what this site is); a 401 sends the page to the login form.
 * @param {AbortSignal} [signal]
 * @returns {Promise<Me>}
 */
export async function loadUser (signal) {
  const [me, here] = await Promise.all([
    request('GET', '/api/v1/auth/me', undefined, { signal }),
    site !== undefined ? site : thisSite(signal ?? new AbortController().signal)
  ])
  site = here
  setUser(me)
  return me
}

/**
 * Logs in: the server sets the HttpOnly session cookie; the token in its answer is not kept by the page.
 * @param {string} username
 * @param {string} password
 * @returns {Promise<Me>} a wrong name or password rejects with the API's 401, too many attempts with its 429
 */
export async function login (username, password) {
  if (site === undefined) site = await thisSite(new AbortController().signal)
  const session = await request('POST', '/api/v1/auth/login', { username, password }, { loginOn401: false })
  setUser(session.user)
  return session.user
}

/** Ends the session (the server clears the cookie) and shows the login page. */
export async function logout () {
  try {
    await request('POST', '/api/v1/auth/logout', undefined, { loginOn401: false })
  } catch (err) {
    // a session that had already ended is logged out all the same
    if (/** @type {{ status?: number }} */ (err)?.status !== 401) throw err
  }
  setUser(null)
  window.location.replace(LOGIN_HASH)
}

/**
 * The login page's hash for returning to `next` afterwards.
 * @param {string} next a location hash
 * @returns {string}
 */
export function loginHref (next) {
  const back = returnTo(next)
  return back === '#/' ? LOGIN_HASH : `${LOGIN_HASH}?next=${encodeURIComponent(back)}`
}

/**
 * Where to go after logging in: a page of this app (a hash route other than the login page), else the library.
 * @param {string | null | undefined} next
 * @returns {string}
 */
export function returnTo (next) {
  if (typeof next !== 'string' || !next.startsWith('#/') || next.startsWith(LOGIN_HASH)) return '#/'
  return next
}

// any 401 of the API (a session that expired or was ended elsewhere) leads to the login page, and back afterwards
onAuthRequired(() => {
  setUser(null)
  const here = window.location.hash
  if (here.startsWith(LOGIN_HASH)) return
  window.location.replace(loginHref(here))
})
