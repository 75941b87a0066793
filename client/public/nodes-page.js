// The nodes page (#/nodes): every CDN node the main server knows, with its state, region, space and health; admins can
// revoke one (on the main server's own pages: a node's API proxy passes no revocation).

import { request } from './api.js'
import { el } from './dom.js'
import { clearError, describeError, showError } from './error-banner.js'
import { invitationsPanel } from './node-invites.js'
import { adminHere } from './session.js'

/** How often the page refreshes while open: a node's state changes after missed heartbeats. */
const REFRESH_MS = 5000

/**
 * Bytes in the largest unit that keeps the number readable.
 * @param {number | null | undefined} bytes
 * @returns {string}
 */
export function formatBytes (bytes) {
  if (bytes == null || !Number.isFinite(bytes) || bytes < 0) return '–'
  const units = ['B', 'kB', 'MB', 'GB', 'TB']
  let value = bytes
  let unit = 0
  while (value >= 1000 && unit < units.length - 1) { value /= 1000; unit++ }
  return `${value >= 100 || unit === 0 ? Math.round(value) : value.toFixed(1)} ${units[unit]}`
}

/**
 * A node's tags as the API lists them (none from a server that predates them).
 * @param {any} node
 * @returns {string[]}
 */
export function tagsOf (node) {
  return Array.isArray(node?.tags) ? node.tags.filter((/** @type {unknown} */ t) => typeof t === 'string') : []
}

/**
 * One table row for a node.
 * @param {any} node a node as `GET /api/v1/nodes` lists it
 * @param {((node: any) => HTMLElement) | null} actions the admin's buttons for it, if any
 * @returns {HTMLTableRowElement}
 */
function nodeRow (node, actions) {
  const capacity = node.capacity ?? {}
  const health = node.health ?? {}
  return el('tr', { class: 'node-row', 'data-name': node.name, 'data-state': node.state },
    el('td', {}, el('strong', {}, node.name), el('div', { class: 'muted' }, node.dnsName)),
    el('td', {}, el('span', { class: `state state-${node.state === 'online' ? 'online' : 'offline'}` }, node.state)),
    // the owner is shown to admins, and to the owner on their own node
    el('td', {}, node.mode, node.owner != null ? el('div', { class: 'muted node-owner' }, `owner ${node.owner}`) : null,
      typeof node.version === 'string' ? el('div', { class: 'muted node-version' }, `cidcast ${node.version}`) : null),
    el('td', { class: 'node-region' }, node.region ?? '–', tagsOf(node).length > 0 ? el('div', { class: 'muted node-tags' }, tagsOf(node).join(', ')) : null),
    el('td', {}, `${formatBytes(capacity.freeBytes)} free of ${formatBytes(capacity.quotaBytes)}`, health.full === true ? el('div', { class: 'warn' }, 'full') : null),
    el('td', {}, node.health == null ? 'no heartbeat yet' : `${health.activeStreams} streams, ${formatBytes(health.bytesServed)} served, up ${Math.round(health.uptimeSeconds / 60)} min`),
    el('td', {}, el('a', { href: node.url, rel: 'noopener' }, node.url)),
    el('td', { class: 'mono', title: node.ipns }, node.ipns.slice(0, 12) + '…'),
    actions != null ? el('td', {}, actions(node)) : null
  )
}

/**
 * Shows the node list and refreshes it until the page is left.
 * @param {HTMLElement} root
 * @param {AbortSignal} signal
 * @returns {Promise<() => void>}
 */
export async function showNodesPage (root, signal) {
  document.title = 'Nodes · cidcast'
  const body = el('tbody')
  const empty = el('p', { class: 'muted', hidden: true }, adminHere() ? 'No CDN node has registered yet: invite one below.' : 'No CDN node has registered yet.')
  // invitations are the main server's: a node's API proxy offers no admin pages of the server
  const invites = adminHere() ? invitationsPanel(signal) : null
  root.append(
    el('h1', {}, 'CDN nodes'),
    empty,
    el('table', { class: 'nodes' },
      el('thead', {}, el('tr', {}, ...['Node', 'State', 'Mode', 'Region', 'Space', 'Health', 'Gateway', 'IPNS', ...(adminHere() ? [''] : [])].map(h => el('th', {}, h)))),
      body),
    invites?.element ?? ''
  )
  const load = async () => {
    const answer = await request('GET', '/api/v1/nodes', undefined, { signal })
    const items = Array.isArray(answer?.items) ? answer.items : []
    body.replaceChildren(...items.map(node => nodeRow(node, adminHere() ? revokeButton : null)))
    empty.hidden = items.length > 0
  }
  /** @param {any} node */
  const revokeButton = node => {
    const button = el('button', { type: 'button', class: 'revoke danger' }, 'Revoke')
    button.addEventListener('click', () => {
      if (!window.confirm(`Revoke ${node.name}? Its connections close and it can never register again.`)) return
      button.disabled = true
      clearError()
      // by peer ID when known: names need not be unique
      request('POST', `/api/v1/nodes/${encodeURIComponent(node.peerId ?? node.name)}/revoke`, undefined, { signal })
        .then(load)
        .catch(err => {
          button.disabled = false
          if (!signal.aborted) showError(describeError(`Could not revoke ${node.name}`, err))
        })
    })
    return button
  }
  await Promise.all([load(), invites?.load()])
  const timer = setInterval(() => { load().catch(() => {}) }, REFRESH_MS)
  return () => clearInterval(timer)
}
