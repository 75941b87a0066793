// #/password: the signed-in user changes their own password. The server ends every session of theirs when it
// changes, this one included, so the page logs in again with the new password at once.

import { request } from './api.js'
import { el } from './dom.js'
import { describeError } from './error-banner.js'
import { loginFailure } from './login-page.js'
import { currentUser, login, loginHref, mainServerUrl, onNodeSite } from './session.js'

/**
 * Renders the form; resolves to a function that tears it down.
 * @param {HTMLElement} root
 * @returns {Promise<() => void>}
 */
export async function showPasswordPage (root) {
  document.title = 'Change password · cidcast'
  const user = currentUser()
  if (user == null) return () => {}
  if (onNodeSite()) {
    root.replaceChildren(elsewhere('Passwords are changed on the main server', '/#/password'))
    return () => {}
  }
  const current = el('input', { id: 'current-password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024 })
  const next = el('input', { id: 'new-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 1024 })
  const again = el('input', { id: 'repeat-password', type: 'password', autocomplete: 'new-password', required: true, minlength: 8, maxlength: 1024 })
  const submit = el('button', { id: 'password-submit', type: 'submit', class: 'primary' }, 'Change password')
  const status = el('p', { id: 'password-status', role: 'status' })
  const form = el('form', { id: 'password-form', class: 'account-form' },
    el('h1', {}, 'Change password'),
    el('p', { class: 'meta' }, `Signed in as ${user.name}. Every other session of yours ends when the password changes.`),
    el('label', { class: 'field' }, el('span', {}, 'Current password'), current),
    el('label', { class: 'field' }, el('span', {}, 'New password (at least 8 characters)'), next),
    el('label', { class: 'field' }, el('span', {}, 'New password again'), again),
    el('div', { class: 'form-actions' }, submit, status)
  )
  form.addEventListener('submit', event => {
    event.preventDefault()
    if (next.value !== again.value) {
      status.textContent = 'The two new passwords differ.'
      return
    }
    submit.disabled = true
    status.textContent = 'Changing…'
    change(user.name, current.value, next.value).then(message => {
      status.textContent = message
      if (message === CHANGED) form.reset()
    }).finally(() => { submit.disabled = false })
  })
  root.replaceChildren(el('article', { class: 'account-page' }, form))
  return () => {}
}

const CHANGED = 'Password changed.'

/**
 * Changes the password, then logs in with the new one; resolves to what to tell the user.
 * @param {string} name
 * @param {string} current
 * @param {string} password
 * @returns {Promise<string>}
 */
async function change (name, current, password) {
  try {
    await request('PUT', '/api/v1/auth/password', { current, password }, { loginOn401: false })
  } catch (err) {
    const e = /** @type {{ name?: string, status?: number }} */ (err)
    if (e?.name === 'InvalidCredentialsError') return 'The current password is wrong.'
    if (e?.status === 401) window.location.replace(loginHref(window.location.hash))
    if (e?.status === 429) return loginFailure(err)
    return describeError('Could not change the password', err)
  }
  try {
    await login(name, password)
  } catch (err) {
    window.location.replace(loginHref('#/'))
    return describeError('Password changed, but logging in again failed', err)
  }
  return CHANGED
}

/**
 * On a CDN node's site: where this is done instead (the node's API proxy passes no account change).
 * @param {string} what
 * @param {string} path the main server's page, e.g. `/#/admin`
 * @returns {HTMLElement}
 */
export function elsewhere (what, path) {
  const server = mainServerUrl()
  return el('article', { class: 'account-page' },
    el('p', { id: 'main-server-only', class: 'notice' }, what,
      ...(server != null ? [': ', el('a', { href: `${server}${path}` }, `${server}${path}`)] : ['.']))
  )
}
