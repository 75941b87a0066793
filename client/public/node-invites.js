// Node invitations on the nodes page (admins, issue 14): invite a node (its join token shown once, for
// `cidcast-node join TOKEN` or the node's setup page), list the invitations and revoke an open one.

import { request } from './api.js'
import { el } from './dom.js'
import { clearError, describeError, showError } from './error-banner.js'
import { shownOnce } from './secret.js'

/** Lifetimes offered, in seconds. */
const LIFETIMES = [['1 hour', 3600], ['1 day', 86400], ['7 days', 7 * 86400], ['30 days', 30 * 86400]]

/**
 * The invite form and the list of invitations.
 * @param {AbortSignal} signal
 * @returns {{ element: HTMLElement, load: () => Promise<void> }}
 */
export function invitationsPanel (signal) {
  const name = el('input', { name: 'name', placeholder: 'its host name', maxlength: 300 })
  const mode = el('select', { name: 'mode' }, el('option', { value: 'shared' }, 'shared'), el('option', { value: 'local' }, 'local (its owner alone)'))
  const owner = el('input', { name: 'owner', placeholder: 'none', maxlength: 64 })
  const expires = el('select', { name: 'expires' }, ...LIFETIMES.map(([label, seconds]) => el('option', { value: String(seconds), selected: seconds === 86400 }, label)))
  const submit = el('button', { type: 'submit' }, 'Invite')
  const shown = el('div', { class: 'invite-token' })
  const rows = el('tbody')
  const form = el('form', { class: 'invite-node' },
    el('label', {}, 'Name ', name), el('label', {}, 'Mode ', mode), el('label', {}, 'Owner ', owner), el('label', {}, 'Valid for ', expires), submit)
  form.addEventListener('submit', event => {
    event.preventDefault()
    submit.disabled = true
    clearError()
    const body = { name: name.value.trim() || undefined, mode: mode.value, owner: owner.value.trim() || undefined, expiresInSeconds: Number(expires.value), url: window.location.origin }
    request('POST', '/api/v1/nodes/invitations', body, { signal })
      .then(made => {
        shown.replaceChildren(shownOnce('join-token', 'Join token: run `cidcast-node join TOKEN` on the node, or paste it into its setup page. It holds the network\'s key: give it only to whoever runs that node', made.token))
        form.reset()
        return load()
      })
      .catch(err => { if (!signal.aborted) showError(describeError('Could not invite a node', err)) })
      .finally(() => { submit.disabled = false })
  })

  const load = async () => {
    const answer = await request('GET', '/api/v1/nodes/invitations', undefined, { signal })
    const items = Array.isArray(answer?.items) ? answer.items : []
    rows.replaceChildren(...items.map(invitationRow))
  }
  /** @param {any} i an invitation as listed */
  const invitationRow = i => el('tr', { class: 'invitation-row', 'data-id': i.id, 'data-state': i.state },
    el('td', { class: 'mono' }, i.id),
    el('td', {}, i.state),
    el('td', {}, i.name ?? '–'),
    el('td', {}, i.mode, i.owner != null ? el('div', { class: 'muted' }, `owner ${i.owner}`) : null),
    el('td', {}, new Date(i.expiresAt).toLocaleString()),
    el('td', {}, i.state === 'open' ? revokeButton(i) : i.spentBy != null ? el('span', { class: 'mono muted', title: i.spentBy }, i.spentBy.slice(0, 12) + '…') : null)
  )
  /** @param {any} i */
  const revokeButton = i => {
    const button = el('button', { type: 'button', class: 'uninvite danger' }, 'Revoke')
    button.addEventListener('click', () => {
      button.disabled = true
      clearError()
      request('DELETE', `/api/v1/nodes/invitations/${encodeURIComponent(i.id)}`, undefined, { signal })
        .then(load)
        .catch(err => {
          button.disabled = false
          if (!signal.aborted) showError(describeError('Could not revoke the invitation', err))
        })
    })
    return button
  }
  const element = el('section', { class: 'invitations' },
    el('h2', {}, 'Invite a node'),
    form,
    shown,
    el('table', { class: 'invitations-list' },
      el('thead', {}, el('tr', {}, ...['Invitation', 'State', 'Name', 'Mode', 'Expires', ''].map(h => el('th', {}, h)))),
      rows))
  return { element, load }
}
