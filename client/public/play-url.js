// Signed play URLs (GET /api/v1/media/{id}/play): what the player plays, on this site or on a CDN node, and their
// renewal. A play URL's token covers every playlist and segment of the media; the gateway carries it into every
// playlist it writes, so hls.js plays it as it is. Before it expires the player asks for a new one and hls.js sends
// the new token with every later request (playback.js), without reloading anything.

import { request } from './api.js'

/**
 * @typedef {{ url: string, expiresAt: string }} PlayUrl
 */

/** Renew once this share of a URL's life has passed, and never later than this long before it ends. */
const RENEW_AT = 0.8
const RENEW_MARGIN_MS = 30_000
/** After a failed renewal, try again this soon (the old token may still have a while to live). */
const RETRY_MS = 5000

const TOKEN = /([?&])token=([^&#]*)/

/**
 * Asks the main server for a signed URL of the media's master playlist.
 * @param {string} mediaId
 * @param {string | undefined} node a node's peer ID or name; undefined for the main server itself
 * @param {AbortSignal} signal
 * @returns {Promise<PlayUrl>}
 */
export async function fetchPlayUrl (mediaId, node, signal) {
  const query = node === undefined ? '' : `?node=${encodeURIComponent(node)}`
  /** @type {PlayUrl} */
  const answer = await request('GET', `/api/v1/media/${encodeURIComponent(mediaId)}/play${query}`, undefined, { signal })
  return answer
}

/**
 * The stream token in a URL's query, or null.
 * @param {string} url
 * @returns {string | null}
 */
export function tokenIn (url) {
  const found = TOKEN.exec(url)
  return found == null ? null : decodeURIComponent(found[2])
}

/**
 * `url` with the stream token it carries replaced by `token`; a URL without one is left alone (another host's, or a
 * request the token is not for).
 * @param {string} url
 * @param {string} token
 * @returns {string}
 */
export function withToken (url, token) {
  return url.replace(TOKEN, (_match, lead) => `${lead}token=${encodeURIComponent(token)}`)
}

/**
 * A play URL as this page should load it: on this site's own origin as a path (the main server's or the node's
 * registered URL may name this site by another address than the browser's), elsewhere as it is.
 * @param {string} url
 * @param {boolean} thisSite
 * @returns {string}
 */
export function sourceOf (url, thisSite) {
  if (!thisSite) return url
  const parsed = new URL(url, window.location.href)
  return `${parsed.pathname}${parsed.search}`
}

/**
 * @typedef {object} Renewal
 * @property {() => string | null} token the newest token (null before the first URL)
 * @property {() => void} stop
 */

/**
 * Keeps a play URL's token fresh: asks `renew` for a new URL before the current one expires, again and again, until
 * stopped; a failed renewal is tried again soon and told to `onError` only once the current URL has expired.
 * @param {PlayUrl} first the URL playback starts with
 * @param {() => Promise<PlayUrl>} renew
 * @param {(err: unknown) => void} onError
 * @returns {Renewal}
 */
export function keepFresh (first, renew, onError) {
  let current = first
  let token = tokenIn(first.url)
  let stopped = false
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  let timer

  const schedule = (/** @type {number} */ delay) => {
    if (!stopped) timer = setTimeout(() => { void refresh() }, Math.max(1000, delay))
  }
  const dueIn = () => {
    const left = Date.parse(current.expiresAt) - Date.now()
    // a short-lived URL (a minute or less) is renewed at its share alone
    return left > 2 * RENEW_MARGIN_MS ? Math.min(left * RENEW_AT, left - RENEW_MARGIN_MS) : left * RENEW_AT
  }
  const refresh = async () => {
    try {
      const next = await renew()
      if (stopped) return
      current = next
      token = tokenIn(next.url) ?? token
      schedule(dueIn())
    } catch (err) {
      if (stopped) return
      if (Date.parse(current.expiresAt) <= Date.now()) onError(err)
      schedule(RETRY_MS)
    }
  }
  schedule(dueIn())
  return {
    token: () => token,
    stop () {
      stopped = true
      clearTimeout(timer)
    }
  }
}
