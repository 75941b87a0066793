// The node picker under the player: where the video streams from. This site comes first, once: the main server, or
// the CDN node serving this page, shown as that node. Each CDN node is shown with its DNS name, region, state, free space and
// whether it holds this media (from the content index, this site's node included); the choice is remembered per
// viewer. A node that lacks the media offers "Replicate here" (a live progress bar; playback moves to the node once it
// holds it) or "Stream from fallback" (the nearest online node that holds it, else this site).

import { request } from './api.js'
import { el } from './dom.js'
import { describeError, showError } from './error-banner.js'
import { formatBytes } from './nodes-page.js'
import { fetchPlayUrl, sourceOf } from './play-url.js'
import { canReplicate } from './session.js'
import { isThisOrigin, thisSite } from './this-site.js'

/**
 * @typedef {{ blocksDone: number, bytesDone: number, blocksTotal: number | null, bytesTotal: number | null, percent: number | null }} Progress
 * @typedef {{ cid: string, node: { name: string, label: string, peerId: string, url: string | null, state: string }, state: string, auto?: boolean, reachable: boolean, progress: Progress, reason: string | null }} Location
 * @typedef {{ profile: string, state: string, root: string | null, server: boolean, preparing: unknown, locations: Location[] }} RenditionLocations
 * @typedef {{ name: string, label: string, peerId?: string, dnsName: string | null, url: string, state: string, mode: string | null, region?: string | null, capacity?: { freeBytes?: number, quotaBytes?: number } }} NodeSummary
 * @typedef {'all' | 'some' | 'none'} Holding
 * @typedef {{ node: NodeSummary, holds: Holding, auto?: boolean, replicating: { percent: number | null, bytesDone: number, bytesTotal: number | null } | null, failed: string | null }} NodeStatus
 */

/** The viewer's choice, kept in this browser: a node name, or '' for this site. */
const CHOICE_KEY = 'cidcast.node'
/** Refresh while a replication runs (the node reports every second while busy), and otherwise. */
const BUSY_REFRESH_MS = 1000
const IDLE_REFRESH_MS = 10_000
/** Longest wait for a node's /healthz when looking for the nearest one. */
const PING_TIMEOUT_MS = 2000

/** @returns {string} */
export function rememberedNode () {
  try {
    return localStorage.getItem(CHOICE_KEY) ?? ''
  } catch {
    return ''
  }
}

/** @param {string} name */
function rememberNode (name) {
  try {
    localStorage.setItem(CHOICE_KEY, name)
  } catch {}
}

/**
 * How much of the media's finished renditions a node holds, and what it is doing about the rest.
 * @param {NodeSummary} node
 * @param {RenditionLocations[]} renditions
 * @returns {NodeStatus}
 */
export function nodeStatus (node, renditions) {
  const finished = renditions.filter(r => r.root != null)
  // by peer ID: names need not be unique, and a node not listed to others (local mode) has rows too
  const rows = finished.map(r => r.locations.find(l => node.peerId != null ? l.node.peerId === node.peerId : l.node.name === node.name)).filter(l => l != null)
  const held = rows.filter(l => l.state === 'pinned' && l.reachable).length
  const running = rows.filter(l => l.state === 'queued' || l.state === 'pinning')
  const failed = rows.find(l => l.state === 'failed')
  let replicating = null
  if (running.length > 0) {
    const bytesDone = rows.reduce((sum, l) => sum + (l.state === 'pinned' ? (l.progress.bytesTotal ?? l.progress.bytesDone) : l.progress.bytesDone), 0)
    const known = rows.every(l => l.progress.bytesTotal != null)
    const bytesTotal = known ? rows.reduce((sum, l) => sum + (l.progress.bytesTotal ?? 0), 0) : null
    replicating = { bytesDone, bytesTotal, percent: bytesTotal != null && bytesTotal > 0 ? Math.min(100, Math.floor(100 * bytesDone / bytesTotal)) : null }
  }
  return {
    node,
    holds: finished.length > 0 && held === finished.length ? 'all' : held > 0 ? 'some' : 'none',
    // placed by automatic distribution (it may go again when demand moves), not pinned by someone
    auto: held > 0 && rows.filter(l => l.state === 'pinned').every(l => l.auto === true),
    replicating,
    failed: failed == null ? null : (failed.reason ?? 'failed')
  }
}

/**
 * How much of the media the main server holds (`server` per finished rendition); what it lacks it transcodes on demand.
 * @param {RenditionLocations[]} renditions
 * @returns {Holding}
 */
export function originHolding (renditions) {
  const finished = renditions.filter(r => r.root != null)
  const held = finished.filter(r => r.server).length
  return finished.length > 0 && held === finished.length ? 'all' : held > 0 ? 'some' : 'none'
}

/**
 * This site as a node of the list: its entry in /api/v1/nodes (by peer ID, else by URL when /healthz did not
 * answer), else (a local node, which the main server lists to nobody) what its own /healthz says.
 * @param {NodeSummary[]} items
 * @param {import('./this-site.js').Site | null} site
 * @returns {NodeSummary | null}
 */
function siteNode (items, site) {
  if (site?.role === 'server') return null
  const listed = site == null ? items.find(n => isThisOrigin(n.url)) : items.find(n => n.peerId === site.peerId)
  // this site plays through relative URLs; its own origin is also where the browser reaches it fastest
  if (listed != null) return { ...listed, url: window.location.origin }
  if (site == null) return null
  const capacity = site.freeBytes == null ? undefined : { freeBytes: site.freeBytes }
  return { name: site.name, label: site.name, peerId: site.peerId, dnsName: site.dnsName, url: window.location.origin, state: site.registered ? 'online' : 'not registered', mode: site.mode, region: site.region, capacity }
}

/**
 * The words for a node's holding, or its replication's progress.
 * @param {NodeStatus} s
 * @returns {string}
 */
function holdsText (s) {
  if (s.replicating != null) return `replicating ${s.replicating.percent ?? 0}%`
  const auto = s.auto === true ? ' (cached automatically)' : ''
  return s.holds === 'all' ? `holds it${auto}` : s.holds === 'some' ? `holds part${auto}` : 'does not hold it'
}

/** What the main server holds, in words: what it does not hold it makes when asked. */
const ORIGIN_HOLDS = { all: 'holds it', some: 'holds part, transcodes the rest on demand', none: 'transcodes it on demand' }

/**
 * A node's URL without its trailing slash, ready for a path.
 * @param {string} url
 * @returns {string}
 */
function base (url) {
  return url.replace(/\/+$/, '')
}

/**
 * The round trip to a node's /healthz in ms, or Infinity when it does not answer in time.
 * @param {string} url
 * @returns {Promise<number>}
 */
async function ping (url) {
  const started = performance.now()
  try {
    const res = await fetch(`${base(url)}/healthz`, { cache: 'no-store', signal: AbortSignal.timeout(PING_TIMEOUT_MS) })
    if (!res.ok) return Infinity
    return performance.now() - started
  } catch {
    return Infinity
  }
}

/**
 * @typedef {object} Source
 * @property {string} src the master playlist URL to load, with its stream token
 * @property {import('./play-url.js').PlayUrl} first the signed play URL it came from
 * @property {() => Promise<import('./play-url.js').PlayUrl>} renew asks for a new play URL of the same place
 */

/**
 * @typedef {object} PickerHooks
 * @property {(source: Source, where: string) => void} onSource playback should (re)start from this source
 */

/**
 * @typedef {object} NodePicker
 * @property {HTMLElement} element
 * @property {() => void} destroy
 */

/**
 * Builds the picker for a media; calls `onSource` once a source is decided, and again whenever it changes.
 * @param {{ id: string, title: string, playlist: string }} media
 * @param {AbortSignal} signal aborted when the viewer leaves the page
 * @param {PickerHooks} hooks
 * @returns {NodePicker}
 */
export function createNodePicker (media, signal, hooks) {
  const list = el('div', { class: 'node-choices', role: 'radiogroup', 'aria-label': 'Play from' })
  const playingFrom = el('p', { id: 'playing-from', class: 'muted' }, 'Finding the nodes…')
  const missingText = el('p', { class: 'missing-text' })
  // ordering replication is for admins, and for viewers where the server's viewerReplication says so (/auth/me's
  // canReplicate); anyone else's "Stream from fallback" still plays it
  const replicate = el('button', { id: 'replicate-here', type: 'button', class: 'primary', hidden: !canReplicate() }, 'Replicate here')
  const fallback = el('button', { id: 'stream-fallback', type: 'button' }, 'Stream from fallback')
  const bar = el('progress', { id: 'replicate-progress', max: 100, hidden: true })
  const barText = el('span', { id: 'replicate-status', class: 'muted' })
  const missing = el('div', { id: 'node-missing', class: 'node-missing', hidden: true }, missingText, el('div', { class: 'actions' }, replicate, fallback), el('div', { class: 'replicate' }, bar, ' ', barText))
  const element = el('section', { class: 'node-picker' }, el('h2', {}, 'Play from'), list, missing, playingFrom)

  /** The other nodes, this site's excepted. */
  /** @type {NodeStatus[]} */
  let statuses = []
  /** This site when it is a CDN node (null on the main server): choice '' like any "this site". */
  /** @type {NodeStatus | null} */
  let siteStatus = null
  /** @type {import('./this-site.js').Site | null} */
  let site = null
  /** @type {Holding} */
  let originHolds = 'none'
  let chosen = rememberedNode()
  /** The source now playing: '' this site, a node name, or null before anything plays. */
  /** @type {string | null} */
  let playing = null
  /** The choice a replication was asked for ('' this site's node; playback moves there when it completes). */
  /** @type {string | null} */
  let replicatingTo = null
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer

  const here = window.location.host

  /** @param {string} key '' for this site, else a node name @returns {NodeStatus | null} */
  const statusFor = key => key === '' ? siteStatus : statuses.find(s => s.node.name === key) ?? null

  /** Counts the choices played, so a play URL that arrives after a later choice is dropped. */
  let plays = 0
  /** @param {string} name @param {string} where */
  const play = (name, where) => {
    const status = statusFor(name)
    const here = name === '' || status == null
    playing = name
    playingFrom.textContent = where
    // this site plays from its own origin whatever it is; a token names the media, not the node, so the main
    // server signs it without one (this site's node may be unregistered). Another node is named, so the main
    // server refuses one that is revoked or not this user's.
    const node = here ? undefined : status.node.peerId ?? status.node.name
    const renew = async () => await fetchPlayUrl(media.id, node, signal)
    const seq = ++plays
    renew().then(first => {
      if (signal.aborted || seq !== plays) return
      hooks.onSource({ src: sourceOf(first.url, here), first, renew }, where)
    }, err => {
      if (signal.aborted || seq !== plays) return
      showError(describeError('Could not get a play URL', err))
    })
  }

  const render = () => {
    const buttons = [siteStatus != null
      ? choiceButton('', `${siteStatus.node.name} (this site)`, siteStatus.node.dnsName ?? here, siteStatus.node.region ?? null, siteStatus.node.state, siteStatus.node.capacity?.freeBytes ?? null, holdsText(siteStatus), chosen === '')
      // a site that did not say what it is (its /healthz failed) is not claimed to hold anything
      : site?.role === 'server'
        ? choiceButton('', 'Main server (this site)', here, null, 'online', null, ORIGIN_HOLDS[originHolds], chosen === '')
        : choiceButton('', 'This site', here, null, 'online', null, '', chosen === '')]
    for (const s of statuses) {
      buttons.push(choiceButton(s.node.name, s.node.name, s.node.dnsName ?? '', s.node.region ?? null, s.node.state, s.node.capacity?.freeBytes ?? null, holdsText(s), chosen === s.node.name))
    }
    list.replaceChildren(...buttons)
  }

  /**
   * @param {string} name
   * @param {string} title
   * @param {string} dns
   * @param {string | null} region where the node says it is, if it says
   * @param {string} state
   * @param {number | null} free
   * @param {string} holds
   * @param {boolean} selected
   */
  const choiceButton = (name, title, dns, region, state, free, holds, selected) => {
    const button = el('button', { type: 'button', class: 'node-choice', role: 'radio', 'data-node': name, 'data-state': state, 'aria-checked': selected ? 'true' : 'false' },
      el('strong', {}, title),
      el('span', { class: 'muted dns' }, dns),
      el('span', { class: `state state-${state === 'online' ? 'online' : 'offline'}` }, state),
      region != null ? el('span', { class: 'muted region' }, `region ${region}`) : null,
      el('span', { class: 'free' }, free == null ? '' : `${formatBytes(free)} free`),
      el('span', { class: 'holds' }, holds))
    if (name === '') button.dataset.thisSite = 'true'
    button.addEventListener('click', () => choose(name))
    return button
  }

  /** Applies the viewer's choice: play from it when it holds the media, else offer the two ways. */
  const decide = () => {
    const status = statusFor(chosen)
    if (chosen === '' || status == null) {
      if (playing !== '') play('', `Playing from this site (${here})`)
      // this site's node without the media still plays it (through its own fallback); it can be replicated here
      missing.hidden = status == null || status.holds === 'all'
      if (status == null || status.holds === 'all') return
      missingText.textContent = `${status.node.name} (this site) does not hold “${media.title}” yet: it streams it through its fallback meanwhile.`
      fallback.hidden = true
      replicate.disabled = status.node.state !== 'online' || replicatingTo === ''
      showProgress(status, '')
      return
    }
    fallback.hidden = false
    const label = `${status.node.name} (${status.node.dnsName ?? status.node.url})`
    if (status.holds === 'all' && status.node.state === 'online') {
      missing.hidden = true
      if (playing !== status.node.name) play(status.node.name, `Playing from ${label}`)
      return
    }
    missing.hidden = false
    missingText.textContent = status.node.state !== 'online'
      ? `${status.node.name} is ${status.node.state}: it cannot serve now.`
      : `${status.node.name} does not hold “${media.title}” yet.`
    replicate.disabled = status.node.state !== 'online' || replicatingTo === status.node.name
    showProgress(status, status.node.name)
  }

  /** @param {NodeStatus} status @param {string} key */
  const showProgress = (status, key) => {
    if (status.replicating == null && replicatingTo !== key) {
      bar.hidden = true
      barText.textContent = status.failed != null ? `Last replication failed: ${status.failed}` : ''
      return
    }
    bar.hidden = false
    const r = status.replicating
    bar.value = r?.percent ?? 0
    barText.textContent = r == null
      ? (status.failed != null ? `Replication failed: ${status.failed}` : 'Replication ordered…')
      : `${r.percent ?? 0}% (${formatBytes(r.bytesDone)}${r.bytesTotal != null ? ` of ${formatBytes(r.bytesTotal)}` : ''})`
  }

  /** @param {string} name */
  const choose = name => {
    chosen = name
    rememberNode(name)
    render()
    decide()
  }

  const refresh = async () => {
    // without the node list (a server without nodes, an API that failed) this site still plays
    const [nodes, locations, me] = await Promise.all([
      request('GET', '/api/v1/nodes', undefined, { signal }).catch(err => { if (signal.aborted) throw err; return { items: [] } }),
      request('GET', `/api/v1/media/${encodeURIComponent(media.id)}/locations`, undefined, { signal }).catch(err => { if (signal.aborted) throw err; return { renditions: [] } }),
      thisSite(signal)
    ])
    /** @type {NodeSummary[]} */
    const items = Array.isArray(nodes?.items) ? nodes.items.filter((/** @type {NodeSummary} */ n) => n.url != null) : []
    /** @type {RenditionLocations[]} */
    const renditions = Array.isArray(locations?.renditions) ? locations.renditions : []
    site = me ?? site
    const self = siteNode(items, site)
    siteStatus = self == null ? null : nodeStatus(self, renditions)
    statuses = items.filter(n => self == null || (self.peerId != null ? n.peerId !== self.peerId : n.name !== self.name)).map(node => nodeStatus(node, renditions))
    originHolds = originHolding(renditions)
    // this site's node chosen by its name (before it was recognised) is this site
    if (self != null && chosen === self.name) chosen = ''
    if (replicatingTo != null) {
      const key = replicatingTo
      const target = statusFor(key)
      if (target != null && target.holds === 'all') {
        // done: the node holds it now; playback moves there if the viewer still wants that node (this site plays on)
        replicatingTo = null
        if (key !== '' && chosen === key) play(key, `Playing from ${target.node.name} (${target.node.dnsName ?? target.node.url})`)
      } else if (target?.failed != null && target.replicating == null) {
        replicatingTo = null
      }
    }
    render()
    decide()
  }

  const loop = async () => {
    try {
      await refresh()
    } catch (err) {
      if (signal.aborted) return
      showError(describeError('Could not list the nodes', err))
    }
    if (signal.aborted) return
    const busy = replicatingTo != null || statuses.some(s => s.replicating != null) || siteStatus?.replicating != null
    timer = setTimeout(() => { void loop() }, busy ? BUSY_REFRESH_MS : IDLE_REFRESH_MS)
  }

  replicate.addEventListener('click', () => {
    const target = chosen
    const node = statusFor(target)?.node
    if (node == null) return
    replicatingTo = target
    replicate.disabled = true
    bar.hidden = false
    bar.value = 0
    barText.textContent = 'Replication ordered…'
    // by peer ID when known: names need not be unique
    request('POST', '/api/v1/replications', { media: media.id, node: node.peerId ?? node.name }, { signal })
      .then(() => { clearTimeout(timer); return loop() })
      .catch(err => {
        if (signal.aborted) return
        replicatingTo = null
        replicate.disabled = false
        barText.textContent = describeError('Could not replicate', err)
      })
  })

  fallback.addEventListener('click', () => {
    fallback.disabled = true
    const holders = [siteStatus, ...statuses].filter(s => s != null && s.holds === 'all' && s.node.state === 'online' && s.node.name !== chosen)
    nearestHolder(/** @type {NodeStatus[]} */ (holders))
      .then(best => {
        if (signal.aborted) return
        if (best == null || best === siteStatus) play('', `Streaming from fallback: this site (${here})`)
        else play(best.node.name, `Streaming from fallback: ${best.node.name} (${best.node.dnsName ?? best.node.url})`)
      })
      .finally(() => { fallback.disabled = false })
  })

  addStyles()
  void loop()
  return {
    element,
    destroy () { clearTimeout(timer) }
  }
}

/**
 * The holder that answers fastest, or null when none answers.
 * @param {NodeStatus[]} holders
 * @returns {Promise<NodeStatus | null>}
 */
async function nearestHolder (holders) {
  const times = await Promise.all(holders.map(async s => ({ s, ms: await ping(s.node.url) })))
  const reachable = times.filter(t => Number.isFinite(t.ms)).sort((a, b) => a.ms - b.ms)
  return reachable[0]?.s ?? null
}

/** The picker's stylesheet, linked once (the page's own stylesheet is shared by every page). */
function addStyles () {
  if (document.getElementById('node-picker-css') != null) return
  document.head.append(el('link', { id: 'node-picker-css', rel: 'stylesheet', href: 'node-picker.css' }))
}
