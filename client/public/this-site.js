// Which site this page is on: the main server, or a CDN node (its /healthz names it, with its peer ID). The node
// picker shows this site once, as itself; whether it holds a media comes from the content index like any node's.

/**
 * @typedef {{ role: 'server' }} ServerSite
 * @typedef {{ role: 'node', name: string, peerId: string, mode: string | null, region: string | null, dnsName: string | null, registered: boolean, freeBytes: number | null, server: string | null }} NodeSite
 * @typedef {ServerSite | NodeSite} Site
 */

/**
 * What this site's own /healthz says it is; null when it does not answer or says something else.
 * @param {AbortSignal} signal
 * @returns {Promise<Site | null>}
 */
export async function thisSite (signal) {
  let body
  try {
    const res = await fetch('/healthz', { cache: 'no-store', signal })
    if (!res.ok) return null
    body = await res.json()
  } catch (err) {
    if (signal.aborted) throw err
    return null
  }
  if (body?.role === 'server') return { role: 'server' }
  if (body?.role !== 'node' || typeof body.name !== 'string' || typeof body.peerId !== 'string') return null
  const registration = body.registration ?? {}
  return {
    role: 'node',
    name: body.name,
    peerId: body.peerId,
    mode: typeof body.mode === 'string' ? body.mode : null,
    region: typeof body.region === 'string' ? body.region : null,
    dnsName: typeof registration.dnsName === 'string' ? registration.dnsName : null,
    registered: registration.state === 'registered',
    freeBytes: typeof body.capacity?.freeBytes === 'number' ? body.capacity.freeBytes : null,
    server: webUrl(body.server)
  }
}

/**
 * The main server's address a node names, when it is a web URL (a node may name it by a multiaddr instead).
 * @param {unknown} value
 * @returns {string | null}
 */
function webUrl (value) {
  if (typeof value !== 'string') return null
  try {
    const url = new URL(value)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.origin : null
  } catch {
    return null
  }
}

/**
 * Whether `url` is this page's own origin (how this site is recognised when its /healthz does not answer).
 * @param {string | null} url
 * @returns {boolean}
 */
export function isThisOrigin (url) {
  if (url == null) return false
  try {
    return new URL(url).origin === window.location.origin
  } catch {
    return false
  }
}
