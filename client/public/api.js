// The /api/v1 client the pages use. The browser sends the session cookie (HttpOnly: no script here sees it) with
// every request; an answer of 401 means the session is gone, and the handler set with onAuthRequired (the login
// page) takes over.

/**
 * @typedef {{ profile: string, state: 'pending' | 'partial' | 'complete', root: string | null, width?: number, height?: number }} Rendition
 * @typedef {{ id: string, title: string, durationSeconds: number, createdAt: string, renditions: Rendition[] }} MediaSummary
 * @typedef {{ items: MediaSummary[], total: number }} MediaPage
 * @typedef {'title' | 'year' | 'added'} MediaSort
 * @typedef {{ kind?: 'movie' | 'episode' | 'extra' | 'other', sort?: MediaSort, order?: 'asc' | 'desc', limit?: number, offset?: number }} MediaQuery
 * @typedef {{ width: number, height: number, codec: string }} VideoInfo
 * @typedef {{ codec: string, channels?: number, sampleRate?: number }} AudioInfo
 * @typedef {{ id: string, title: string, durationSeconds: number, sourceCid: string, video: VideoInfo | null, audio: AudioInfo | null, renditions: Rendition[], playlist: string }} Media
 * @typedef {{ mediaId: string, positionSeconds: number, updatedAt: string, title: string, durationSeconds: number }} ProgressItem
 * @typedef {{ signal?: AbortSignal, keepalive?: boolean, loginOn401?: boolean }} RequestOptions `loginOn401: false` leaves a 401 to the caller (a login form's wrong password)
 */

/** An error answer of the API (`{ error, message }`), or a request that never got one. */
export class ApiError extends Error {
  /**
   * @param {string} name the API's error name, e.g. MediaNotFoundError
   * @param {string} message
   * @param {number} status HTTP status, 0 when the request failed before an answer
   * @param {number | null} [retryAfterSeconds] when trying again makes sense (Retry-After of a 429 or 503)
   */
  constructor (name, message, status, retryAfterSeconds = null) {
    super(message)
    this.name = name
    this.status = status
    this.retryAfterSeconds = retryAfterSeconds
  }
}

/** @type {(err: ApiError) => void} */
let authRequired = () => {}

/**
 * Sets what happens when the API answers 401 (the session expired, was ended or never was): the login page.
 * @param {(err: ApiError) => void} handler
 */
export function onAuthRequired (handler) {
  authRequired = handler
}

/**
 * Sends one request and returns the parsed JSON body (undefined for 204).
 * @param {string} method
 * @param {string} path
 * @param {unknown} body
 * @param {RequestOptions} options
 * @returns {Promise<any>} the JSON answer; callers narrow it through the typed functions below
 */
export async function request (method, path, body, options = {}) {
  /** @type {Record<string, string>} */
  const headers = { Accept: 'application/json' }
  if (body !== undefined) headers['Content-Type'] = 'application/json'
  let res
  try {
    res = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: options.signal,
      keepalive: options.keepalive
    })
  } catch (err) {
    if (err instanceof DOMException && err.name === 'AbortError') throw err
    throw new ApiError('NetworkError', `${method} ${path} failed: ${err instanceof Error ? err.message : String(err)}`, 0)
  }
  if (res.status === 204) return undefined
  const text = await res.text()
  /** @type {any} */
  let json
  try {
    json = text === '' ? undefined : JSON.parse(text)
  } catch {
    json = undefined
  }
  if (!res.ok) {
    const name = typeof json?.error === 'string' ? json.error : `HTTP ${res.status}`
    const message = typeof json?.message === 'string' ? json.message : res.statusText
    const retryAfter = Number(res.headers.get('Retry-After'))
    const err = new ApiError(name, message, res.status, Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter : null)
    if (res.status === 401 && options.loginOn401 !== false) authRequired(err)
    throw err
  }
  return json
}

/**
 * A page of the library and how many media match in all.
 * @param {MediaQuery} [query] which media (kind), in what order, which page; the server's defaults otherwise
 * @param {RequestOptions} [options]
 * @returns {Promise<MediaPage>}
 */
export async function listMedia (query = {}, options) {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(query)) if (value != null) params.set(name, String(value))
  const search = params.size > 0 ? `?${params}` : ''
  const body = await request('GET', `/api/v1/media${search}`, undefined, options)
  return { items: body?.items ?? [], total: typeof body?.total === 'number' ? body.total : 0 }
}

/**
 * One media with its renditions and playlist path.
 * @param {string} id
 * @param {RequestOptions} [options]
 * @returns {Promise<Media>}
 */
export async function getMedia (id, options) {
  return await request('GET', `/api/v1/media/${encodeURIComponent(id)}`, undefined, options)
}

/**
 * The signed-in user's saved position in a media, or null.
 * @param {string} id
 * @param {RequestOptions} [options]
 * @returns {Promise<number | null>}
 */
export async function getPosition (id, options) {
  const body = await request('GET', `/api/v1/media/${encodeURIComponent(id)}/progress`, undefined, options)
  return typeof body?.positionSeconds === 'number' ? body.positionSeconds : null
}

/**
 * Saves the signed-in user's position in a media.
 * @param {string} id
 * @param {number} positionSeconds
 * @param {RequestOptions} [options] pass `keepalive: true` when the page may be going away
 * @returns {Promise<void>}
 */
export async function putPosition (id, positionSeconds, options) {
  await request('PUT', `/api/v1/media/${encodeURIComponent(id)}/progress`, { positionSeconds }, options)
}

/**
 * The signed-in user's unfinished media, newest first.
 * @param {RequestOptions} [options]
 * @returns {Promise<ProgressItem[]>}
 */
export async function continueWatching (options) {
  const body = await request('GET', '/api/v1/progress', undefined, options)
  return body?.items ?? []
}
