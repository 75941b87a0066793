// A secret shown once (a new password, a new API token): readable, selectable and copyable; the page keeps no copy.

import { el } from './dom.js'

/**
 * The notice that shows `value` once, with a copy button.
 * @param {string} id the notice's element id
 * @param {string} label what it is, e.g. "Password of alice"
 * @param {string} value
 * @returns {HTMLElement}
 */
export function shownOnce (id, label, value) {
  const input = el('input', { class: 'secret-value', readonly: true, value, 'aria-label': label, spellcheck: 'false', size: Math.min(64, value.length + 2) })
  const copy = el('button', { type: 'button', class: 'copy' }, 'Copy')
  const status = el('span', { class: 'copy-status muted', role: 'status' })
  copy.addEventListener('click', () => {
    void copyText(input).then(copied => { status.textContent = copied ? 'Copied' : 'Select it and copy it by hand' })
  })
  return el('div', { id, class: 'secret' },
    el('p', {}, label, el('span', { class: 'muted' }, ' (shown once: keep it now)')),
    el('div', { class: 'secret-row' }, input, copy, status))
}

/**
 * Copies the input's text; resolves to whether it was copied.
 * @param {HTMLInputElement} input
 * @returns {Promise<boolean>}
 */
async function copyText (input) {
  try {
    if (navigator.clipboard != null) {
      await navigator.clipboard.writeText(input.value)
      return true
    }
  } catch {
    // refused (no permission, the page not focused): the selection below may still copy
  }
  // a node's site over plain http on another host is no secure context, so it has no Clipboard API
  input.select()
  try {
    return document.execCommand('copy')
  } catch {
    return false
  }
}
