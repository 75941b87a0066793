// #/admin (admins): users (add with a role, reset a password, change a role, set a viewer's library folders, remove) and API tokens (the admin's
// own or everyone's; add, shown once with a copy button; remove). Every refusal shows the server's message, such
// as the last admin who cannot be removed.

import { addToken, addUser, listTokens, listUsers, removeToken, removeUser, resetPassword, setFolders, setRole } from './accounts-api.js'
import { el } from './dom.js'
import { clearError, describeError, showError } from './error-banner.js'
import { folderSuggestions, foldersCell } from './folders-editor.js'
import { elsewhere } from './password-page.js'
import { shownOnce } from './secret.js'
import { currentUser, isAdmin, loadUser, onNodeSite } from './session.js'

/**
 * @typedef {import('./session.js').User} User
 * @typedef {import('./session.js').Role} Role
 * @typedef {import('./accounts-api.js').TokenView} TokenView
 */

/** @type {Role[]} */
const ROLES = ['viewer', 'admin']

/**
 * Renders the admin page; resolves to a function that tears it down.
 * @param {HTMLElement} root
 * @param {AbortSignal} signal
 * @returns {Promise<() => void>}
 */
export async function showAdminPage (root, signal) {
  document.title = 'Users and tokens · cidcast'
  if (!isAdmin()) {
    root.replaceChildren(el('article', { class: 'account-page' }, el('p', { id: 'admins-only', class: 'notice' }, 'This page is for admins.')))
    return () => {}
  }
  if (onNodeSite()) {
    root.replaceChildren(elsewhere('Users and API tokens are managed on the main server', '/#/admin'))
    return () => {}
  }
  const usersBody = el('tbody')
  const tokensBody = el('tbody')
  const userSecret = el('div', { class: 'secret-slot' })
  const tokenSecret = el('div', { class: 'secret-slot' })
  const everyone = el('input', { id: 'all-tokens', type: 'checkbox' })
  const ownerHead = el('th', { hidden: true }, 'Owner')
  const suggestions = el('div', { class: 'suggestions' })
  /** @type {User[]} */
  let users = []

  const load = async () => {
    const [list, tokens] = await Promise.all([listUsers({ signal }), listTokens(everyone.checked, { signal })])
    if (signal.aborted) return
    users = list.users
    suggestions.replaceChildren(folderSuggestions(list.libraryFolders, users))
    usersBody.replaceChildren(...users.map(userRow))
    ownerHead.hidden = !everyone.checked
    const api = tokens.filter(token => token.kind === 'api')
    tokensBody.replaceChildren(...api.map(tokenRow))
    if (api.length === 0) tokensBody.append(el('tr', {}, el('td', { colspan: everyone.checked ? 5 : 4, class: 'muted' }, everyone.checked ? 'No API tokens.' : 'You have no API tokens.')))
  }
  /**
   * Runs a change, then shows the lists as they are now; a refusal shows the server's message.
   * @param {string} what
   * @param {() => Promise<void>} change
   */
  const act = async (what, change) => {
    clearError()
    try {
      await change()
    } catch (err) {
      if (!signal.aborted) showError(describeError(what, err))
    }
    if (!signal.aborted) await load().catch(err => { if (!signal.aborted) showError(describeError('Could not list the users and tokens', err)) })
  }

  /** @param {User} user */
  const userRow = user => {
    const role = el('select', { class: 'role-select', 'aria-label': `Role of ${user.name}` },
      ...ROLES.map(r => el('option', { value: r, selected: r === user.role }, r)))
    role.addEventListener('change', () => {
      const next = /** @type {Role} */ (role.value)
      void act(`Could not make ${user.name} ${next === 'admin' ? 'an admin' : 'a viewer'}`, async () => {
        await setRole(user.name, next)
        // an admin who made themselves a viewer sees the page as a viewer from now on
        if (user.id === currentUser()?.id) {
          await loadUser(signal)
          if (!isAdmin()) window.location.replace('#/')
        }
      })
    })
    const reset = el('button', { type: 'button', class: 'reset-password' }, 'Reset password')
    reset.addEventListener('click', () => {
      if (!window.confirm(`Give ${user.name} a new password? Their sessions end.`)) return
      void act(`Could not reset the password of ${user.name}`, async () => {
        const password = await resetPassword(user.name)
        userSecret.replaceChildren(shownOnce('user-secret', `New password of ${user.name}`, password))
      })
    })
    const remove = el('button', { type: 'button', class: 'remove-user danger' }, 'Remove')
    remove.addEventListener('click', () => {
      if (!window.confirm(`Remove ${user.name}? Their sessions and API tokens end.`)) return
      void act(`Could not remove ${user.name}`, async () => { await removeUser(user.name) })
    })
    const you = user.id === currentUser()?.id ? el('span', { class: 'muted' }, ' (you)') : null
    const folders = foldersCell(user, async next => {
      await act(`Could not set the folders of ${user.name}`, async () => { await setFolders(user.name, next) })
    })
    return el('tr', { class: 'user-row', 'data-name': user.name, 'data-role': user.role },
      el('td', {}, el('strong', {}, user.name), you),
      el('td', {}, role),
      el('td', { class: 'folders' }, folders),
      el('td', {}, formatDate(user.createdAt)),
      el('td', { class: 'row-actions' }, reset, ' ', remove))
  }

  /** @param {TokenView} token */
  const tokenRow = token => {
    const remove = el('button', { type: 'button', class: 'remove-token danger' }, 'Remove')
    remove.addEventListener('click', () => {
      if (!window.confirm(`Remove the token “${token.name ?? token.id}”? Scripts that use it stop working.`)) return
      void act(`Could not remove the token ${token.name ?? token.id}`, async () => { await removeToken(token.id) })
    })
    const owner = users.find(u => u.id === token.userId)?.name ?? token.userId
    return el('tr', { class: 'token-row', 'data-id': token.id, 'data-name': token.name ?? '' },
      el('td', {}, token.name ?? '–'),
      everyone.checked ? el('td', { class: 'token-owner' }, owner) : null,
      el('td', {}, formatDate(token.createdAt)),
      el('td', {}, token.lastUsedAt == null ? 'never' : formatDate(token.lastUsedAt)),
      el('td', { class: 'row-actions' }, remove))
  }

  const newName = el('input', { id: 'new-user-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off', autocapitalize: 'none', spellcheck: 'false', placeholder: 'name' })
  const newRole = el('select', { id: 'new-user-role', 'aria-label': 'Role' }, ...ROLES.map(r => el('option', { value: r }, r)))
  const addUserForm = el('form', { id: 'add-user', class: 'inline-form' },
    el('label', { for: 'new-user-name' }, 'Add a user'), newName, newRole, el('button', { type: 'submit', class: 'primary' }, 'Add'))
  addUserForm.addEventListener('submit', event => {
    event.preventDefault()
    const name = newName.value.trim()
    const role = /** @type {Role} */ (newRole.value)
    void act(`Could not add ${name}`, async () => {
      const made = await addUser(name, role)
      addUserForm.reset()
      userSecret.replaceChildren(shownOnce('user-secret', `Password of ${made.name} (${made.role})`, made.password))
    })
  })

  const tokenName = el('input', { id: 'new-token-name', name: 'name', required: true, maxlength: 64, autocomplete: 'off', placeholder: 'what it is for' })
  const addTokenForm = el('form', { id: 'add-token', class: 'inline-form' },
    el('label', { for: 'new-token-name' }, 'Add a token of yours'), tokenName, el('button', { type: 'submit', class: 'primary' }, 'Add'))
  addTokenForm.addEventListener('submit', event => {
    event.preventDefault()
    const name = tokenName.value.trim()
    void act(`Could not add the token ${name}`, async () => {
      const issued = await addToken(name)
      addTokenForm.reset()
      tokenSecret.replaceChildren(shownOnce('token-secret', `API token “${issued.name ?? name}”: send it as Authorization: Bearer <token>`, issued.token))
    })
  })
  everyone.addEventListener('change', () => { void act('Could not list the tokens', async () => {}) })

  await load()
  if (signal.aborted) return () => {}
  root.replaceChildren(el('article', { class: 'admin-page' },
    el('h1', {}, 'Users and tokens'),
    el('section', { class: 'shelf', id: 'users', 'aria-labelledby': 'users-heading' },
      el('h2', { id: 'users-heading' }, 'Users'),
      userSecret,
      el('table', { class: 'admin-table', id: 'users-table' },
        el('thead', {}, el('tr', {}, ...['Name', 'Role', 'Library folders', 'Added', ''].map(h => el('th', {}, h)))),
        usersBody),
      suggestions,
      addUserForm),
    el('section', { class: 'shelf', id: 'tokens', 'aria-labelledby': 'tokens-heading' },
      el('h2', { id: 'tokens-heading' }, 'API tokens'),
      el('label', { class: 'check' }, everyone, ' Everyone’s tokens'),
      tokenSecret,
      el('table', { class: 'admin-table', id: 'tokens-table' },
        el('thead', {}, el('tr', {}, el('th', {}, 'Name'), ownerHead, el('th', {}, 'Added'), el('th', {}, 'Last used'), el('th', {}, ''))),
        tokensBody),
      addTokenForm)
  ))
  return () => {}
}

/**
 * @param {string} iso
 * @returns {string}
 */
function formatDate (iso) {
  const date = new Date(iso)
  return Number.isNaN(date.getTime()) ? '–' : date.toLocaleString()
}
