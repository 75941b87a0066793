// A user's library folders on the admin page (Jellyfin's "enabled folders"): the cell shows "All folders" or the
// list; a viewer's has an editor, a checkbox for every folder and one path input per folder (with the server's
// watched folders and the folders other viewers have as suggestions), saved whole with PATCH. Admins see every
// folder, which the server insists on, so their cell has no editor.

import { el } from './dom.js'

/** @typedef {import('./session.js').User} User */

/** The id of the page's one datalist of folder suggestions. */
export const FOLDER_SUGGESTIONS = 'library-folder-suggestions'

/**
 * The datalist every folder input suggests from: the folders the server watches and those viewers already have.
 * @param {string[]} libraryFolders
 * @param {User[]} users
 * @returns {HTMLDataListElement}
 */
export function folderSuggestions (libraryFolders, users) {
  const known = new Set([...libraryFolders, ...users.flatMap(user => user.folders ?? [])])
  return el('datalist', { id: FOLDER_SUGGESTIONS }, ...[...known].sort().map(folder => el('option', { value: folder })))
}

/**
 * What a user may see, in words and as a list.
 * @param {User} user
 * @returns {HTMLElement}
 */
function summary (user) {
  if (user.role === 'admin') return el('span', { class: 'muted', title: 'Admins see every folder' }, 'All folders')
  if (user.folders == null) return el('span', {}, 'All folders')
  if (user.folders.length === 0) return el('span', { class: 'muted' }, 'No folders (sees nothing)')
  return el('ul', { class: 'folder-summary' }, ...user.folders.map(folder => el('li', {}, folder)))
}

/**
 * The contents of a user's folders cell; `save` is given null (every folder) or the list, and re-renders the page.
 * @param {User} user
 * @param {(folders: string[] | null) => Promise<void>} save
 * @returns {HTMLElement}
 */
export function foldersCell (user, save) {
  const cell = el('div', { class: 'folders-cell' })
  const show = () => {
    const edit = user.role === 'admin' ? null : el('button', { type: 'button', class: 'edit-folders' }, 'Edit')
    edit?.addEventListener('click', () => { cell.replaceChildren(editor(user, save, show)) })
    cell.replaceChildren(summary(user), edit ?? '')
  }
  show()
  return cell
}

/**
 * The editor of a viewer's folders.
 * @param {User} user
 * @param {(folders: string[] | null) => Promise<void>} save
 * @param {() => void} cancel
 * @returns {HTMLElement}
 */
function editor (user, save, cancel) {
  const all = el('input', { type: 'checkbox', class: 'all-folders', checked: user.folders == null })
  const list = el('div', { class: 'folder-list' })
  /** @param {string} value */
  const addRow = value => {
    const input = el('input', { class: 'folder-path', list: FOLDER_SUGGESTIONS, value, placeholder: '/srv/media/films', autocomplete: 'off', spellcheck: 'false', 'aria-label': `A library folder of ${user.name}` })
    const remove = el('button', { type: 'button', class: 'remove-folder', 'aria-label': 'Remove this folder' }, 'Remove')
    const row = el('div', { class: 'folder-row' }, input, remove)
    remove.addEventListener('click', () => { row.remove() })
    list.append(row)
    return input
  }
  for (const folder of user.folders ?? ['']) addRow(folder)
  const add = el('button', { type: 'button', class: 'add-folder' }, 'Add folder')
  add.addEventListener('click', () => { addRow('').focus() })
  const paths = el('fieldset', { class: 'folder-paths', disabled: user.folders == null }, list, add)
  all.addEventListener('change', () => {
    paths.disabled = all.checked
    if (!all.checked) list.querySelector('input')?.focus()
  })
  const saveButton = el('button', { type: 'submit', class: 'save-folders primary' }, 'Save')
  const cancelButton = el('button', { type: 'button', class: 'cancel-folders' }, 'Cancel')
  cancelButton.addEventListener('click', cancel)
  const form = el('form', { class: 'folders-editor', 'aria-label': `Library folders of ${user.name}` },
    el('label', { class: 'check' }, all, ' All folders'),
    paths,
    el('div', { class: 'actions' }, saveButton, ' ', cancelButton))
  form.addEventListener('submit', event => {
    event.preventDefault()
    const folders = all.checked ? null : [...list.querySelectorAll('input')].map(input => input.value.trim()).filter(path => path !== '')
    saveButton.disabled = true
    void save(folders).finally(() => { saveButton.disabled = false })
  })
  return form
}
