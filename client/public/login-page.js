// #/login[?next=#/...]: the login form. Shown whenever the API answers 401; after logging in the person is back
// on the page they were on.

import { el } from './dom.js'
import { describeError } from './error-banner.js'
import { login, returnTo } from './session.js'

/**
 * What to tell someone whose login failed.
 * @param {unknown} err
 * @returns {string}
 */
export function loginFailure (err) {
  const e = /** @type {{ name?: string, status?: number, retryAfterSeconds?: number | null }} */ (err)
  if (e?.status === 401) return 'Wrong user name or password.'
  if (e?.status === 429) return e.retryAfterSeconds != null ? `Too many attempts, try again in ${e.retryAfterSeconds} s.` : 'Too many attempts, try again later.'
  return describeError('Could not log in', err)
}

/**
 * Renders the login form; resolves to a function that tears it down.
 * @param {HTMLElement} root
 * @param {string | undefined} next the page to return to (a location hash)
 * @returns {Promise<() => void>}
 */
export async function showLoginPage (root, next) {
  document.title = 'Log in · cidcast'
  const username = el('input', { id: 'login-username', name: 'username', autocomplete: 'username', required: true, maxlength: 64, autocapitalize: 'none', spellcheck: 'false' })
  const password = el('input', { id: 'login-password', name: 'password', type: 'password', autocomplete: 'current-password', required: true, maxlength: 1024 })
  const submit = el('button', { id: 'login-submit', type: 'submit', class: 'primary' }, 'Log in')
  const failure = el('p', { id: 'login-error', class: 'form-error', role: 'alert', hidden: true })
  const form = el('form', { id: 'login-form', class: 'account-form login-form' },
    el('h1', {}, 'Log in'),
    el('label', { class: 'field' }, el('span', {}, 'User name'), username),
    el('label', { class: 'field' }, el('span', {}, 'Password'), password),
    failure,
    el('div', { class: 'form-actions' }, submit)
  )
  form.addEventListener('submit', event => {
    event.preventDefault()
    submit.disabled = true
    failure.hidden = true
    login(username.value.trim(), password.value).then(() => {
      // replace: the login page is not a step to go back to
      window.location.replace(returnTo(next))
    }, err => {
      submit.disabled = false
      password.value = ''
      failure.textContent = loginFailure(err)
      failure.hidden = false
      password.focus()
    })
  })
  root.replaceChildren(el('article', { class: 'account-page' }, form))
  username.focus()
  return () => {}
}
