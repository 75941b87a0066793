// #/media/{id}/edit: the metadata edit form, the history with reverts, and "identify" (pick a provider match).

import { describeError, showError } from './error-banner.js'
import { el, mediaHref } from './dom.js'
import { getMetadata, identify, matches, metadataHistory, patchMetadata, providers, revertEntry } from './metadata-api.js'

/**
 * @typedef {import('./metadata-api.js').Metadata} Metadata
 * @typedef {import('./metadata-api.js').AuditEntry} AuditEntry
 * @typedef {{ name: string, label: string, type?: 'text' | 'number' | 'date' | 'textarea', kinds?: string[], value: (m: Metadata) => string | number | null }} FieldSpec
 */

/** @type {FieldSpec[]} */
const FIELDS = [
  { name: 'title', label: 'Title', value: m => m.title },
  { name: 'originalTitle', label: 'Original title', value: m => m.originalTitle },
  { name: 'sortTitle', label: 'Sort title', kinds: ['movie'], value: m => m.sortTitle },
  { name: 'year', label: 'Year', type: 'number', value: m => m.year },
  { name: 'releaseDate', label: 'Released', type: 'date', value: m => m.releaseDate },
  { name: 'season', label: 'Season', type: 'number', kinds: ['episode'], value: m => m.season },
  { name: 'episode', label: 'Episode', type: 'number', kinds: ['episode'], value: m => m.episode },
  { name: 'tagline', label: 'Tagline', kinds: ['movie'], value: m => m.tagline },
  { name: 'overview', label: 'Overview', type: 'textarea', value: m => m.overview },
  { name: 'imdb', label: 'IMDb id', value: m => m.ids.imdb },
  { name: 'tmdb', label: 'TMDB id', type: 'number', value: m => m.ids.tmdb },
  { name: 'tvdb', label: 'TVDB id', type: 'number', value: m => m.ids.tvdb }
]

const NUMERIC = new Set(['year', 'season', 'episode', 'tmdb', 'tvdb'])

/**
 * @param {HTMLElement} root
 * @param {string} id
 * @param {AbortSignal} signal
 * @returns {Promise<() => void>}
 */
export async function showEditPage (root, id, signal) {
  const [metadata, history, enabled] = await Promise.all([getMetadata(id, { signal }), metadataHistory(id, { signal }), providers({ signal }).catch(() => [])])
  if (signal.aborted) return () => {}
  render(root, id, metadata, history, enabled, signal)
  return () => {}
}

/**
 * @param {HTMLElement} root
 * @param {string} id
 * @param {Metadata} metadata
 * @param {AuditEntry[]} history
 * @param {string[]} enabled providers configured on the server
 * @param {AbortSignal} signal
 */
function render (root, id, metadata, history, enabled, signal) {
  document.title = `Edit ${metadata.title} · cidcast`
  const reload = async (/** @type {string} */ message) => {
    const [m, h] = await Promise.all([getMetadata(id, { signal }), metadataHistory(id, { signal })])
    if (signal.aborted) return
    render(root, id, m, h, enabled, signal)
    const status = document.getElementById('edit-status')
    if (status != null) status.textContent = message
  }
  root.replaceChildren(
    el('article', { class: 'detail-page edit-page' },
      el('a', { class: 'back', href: mediaHref(id) }, `← ${metadata.title}`),
      el('h1', { class: 'title' }, 'Edit metadata'),
      form(id, metadata, reload),
      enabled.length > 0 ? identifySection(id, metadata, reload) : null,
      historySection(id, history, reload)
    )
  )
}

/**
 * @param {string} id
 * @param {Metadata} metadata
 * @param {(message: string) => Promise<void>} reload
 * @returns {HTMLElement}
 */
function form (id, metadata, reload) {
  const fields = FIELDS.filter(f => f.kinds == null || f.kinds.includes(metadata.kind))
  /** @type {Map<string, HTMLInputElement | HTMLTextAreaElement>} */
  const inputs = new Map()
  const rows = fields.map(f => {
    const value = f.value(metadata)
    const attrs = { id: `field-${f.name}`, name: f.name, value: value == null ? '' : String(value) }
    const input = f.type === 'textarea'
      ? el('textarea', { id: attrs.id, name: f.name, rows: 5, maxlength: 20000 })
      : el('input', { ...attrs, type: f.type ?? 'text', maxlength: f.type == null ? 400 : null, required: f.name === 'title' })
    input.value = value == null ? '' : String(value)
    inputs.set(f.name, input)
    const locked = metadata.locked.includes(f.name) ? el('span', { class: 'lock', title: 'Edited by hand: identification leaves it alone' }, 'locked') : null
    return el('label', { class: 'field' }, el('span', {}, f.label, locked ?? ''), input)
  })
  const unlocks = metadata.locked.map(name => el('label', { class: 'check' }, el('input', { type: 'checkbox', name: 'keep-lock', value: name, checked: true }), ` ${name}`))
  const status = el('p', { id: 'edit-status', role: 'status' })
  const save = el('button', { id: 'save', type: 'submit', class: 'primary' }, 'Save')
  const node = el('form', { id: 'metadata-form', class: 'edit-form' },
    ...rows,
    unlocks.length > 0 ? el('fieldset', { class: 'locks' }, el('legend', {}, 'Locked fields (untick to let identification change them)'), ...unlocks) : null,
    el('div', { class: 'form-actions' }, save, status)
  )
  node.addEventListener('submit', event => {
    event.preventDefault()
    /** @type {Record<string, unknown>} */
    const patch = {}
    for (const f of fields) {
      const input = inputs.get(f.name)
      if (input == null) continue
      const before = f.value(metadata)
      const text = input.value.trim()
      if (text === (before == null ? '' : String(before))) continue
      patch[f.name] = text === '' ? null : NUMERIC.has(f.name) ? Number(text) : text
    }
    const boxes = /** @type {HTMLInputElement[]} */ ([...node.querySelectorAll('input[name="keep-lock"]')])
    const unlock = boxes.filter(box => !box.checked).map(box => box.value)
    if (unlock.length > 0) patch.unlock = unlock
    if (Object.keys(patch).length === 0) {
      status.textContent = 'Nothing changed'
      return
    }
    save.disabled = true
    status.textContent = 'Saving…'
    patchMetadata(id, patch).then(async result => {
      for (const warning of result.warnings) showError(warning)
      await reload('Saved')
    }, err => {
      save.disabled = false
      status.textContent = ''
      showError(describeError('Could not save', err))
    })
  })
  return node
}

/**
 * "Identify": search the providers and pick a match; every unlocked field follows the match.
 * @param {string} id
 * @param {Metadata} metadata
 * @param {(message: string) => Promise<void>} reload
 * @returns {HTMLElement}
 */
function identifySection (id, metadata, reload) {
  const query = el('input', { id: 'identify-query', type: 'search', 'aria-label': 'Title to look for', value: metadata.series?.title ?? metadata.title, maxlength: 200 })
  const list = el('ol', { id: 'matches', class: 'matches' })
  const find = el('button', { id: 'find-matches', type: 'button' }, 'Find matches')
  find.addEventListener('click', () => {
    list.replaceChildren(el('li', { class: 'meta' }, 'Looking…'))
    matches(id, query.value.trim() || undefined).then(found => {
      for (const e of found.errors) showError(e)
      list.replaceChildren(...found.matches.map(m => {
        const use = el('button', { type: 'button', class: 'use-match' }, 'Use this')
        use.addEventListener('click', () => {
          use.disabled = true
          identify(id, { provider: m.provider, kind: m.kind, id: m.id }).then(async () => { await reload(`Identified as ${m.title}`) }, err => {
            use.disabled = false
            showError(describeError('Could not identify', err))
          })
        })
        return el('li', { 'data-provider': m.provider, 'data-match-id': m.id },
          el('span', { class: 'match-title' }, m.year != null ? `${m.title} (${m.year})` : m.title), ' ',
          el('span', { class: 'meta' }, `${m.provider} ${m.kind} ${m.id}`), ' ', use)
      }))
      if (found.matches.length === 0) list.replaceChildren(el('li', { class: 'meta' }, 'No matches'))
    }, err => {
      list.replaceChildren()
      showError(describeError('Could not search the providers', err))
    })
  })
  return el('section', { class: 'shelf identify' }, el('h2', {}, 'Identify'), el('div', { class: 'search' }, query, find), list)
}

/**
 * @param {string} id
 * @param {AuditEntry[]} history
 * @param {(message: string) => Promise<void>} reload
 * @returns {HTMLElement}
 */
function historySection (id, history, reload) {
  const rows = [...history].reverse().map(entry => {
    const revert = el('button', { type: 'button', class: 'revert', 'data-entry': entry.id }, 'Revert')
    revert.addEventListener('click', () => {
      revert.disabled = true
      revertEntry(id, entry.id).then(async () => { await reload(`Reverted change ${entry.id}`) }, err => {
        revert.disabled = false
        showError(describeError('Could not revert', err))
      })
    })
    const fields = Object.entries(entry.changes).filter(([name]) => name !== 'locked')
      .map(([name, c]) => `${name}: ${show(c.from)} → ${show(c.to)}`).join('; ')
    return el('tr', { 'data-entry': entry.id },
      el('td', {}, new Date(entry.at).toLocaleString()),
      el('td', {}, `${entry.action}${entry.reverts != null ? ` of ${entry.reverts}` : ''} by ${entry.actor}`),
      el('td', { class: 'changes' }, fields || 'locks'),
      el('td', {}, revert))
  })
  return el('section', { class: 'shelf' }, el('h2', {}, 'History'),
    el('table', { class: 'renditions history' }, el('tbody', {}, ...rows)))
}

/**
 * @param {unknown} value
 * @returns {string}
 */
function show (value) {
  if (value == null) return '–'
  const text = typeof value === 'string' ? value : JSON.stringify(value)
  return text.length > 60 ? `${text.slice(0, 57)}…` : text
}
