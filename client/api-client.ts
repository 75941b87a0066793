/** The typed HTTP client for `/api/v1`, used by the CLI (and usable by any Node program). */

import type { MediaListOptions } from '../core/media-query.ts'
import type { NodeView } from '../core/replication/index.ts'
import type { MediaView, RenditionView } from '../core/media/index.ts'

/** An error the server answered with: its `error` name, message and HTTP status. */
export class ApiError extends Error {
  readonly status: number
  readonly code: string
  constructor (status: number, code: string, message: string) {
    super(message)
    this.status = status
    this.code = code
    this.name = code
  }
}

/** A rendition as `GET /api/v1/media/{id}` shows it. */
export type RenditionSummary = RenditionView

/** A media as `GET /api/v1/media` lists it, and where its master playlist is. */
export type MediaSummary = Pick<MediaView, 'id' | 'title' | 'durationSeconds' | 'sourceCid' | 'sizeBytes' | 'createdAt' | 'renditions' | 'kind' | 'year'> & { playlist?: string }

/** Which media `GET /api/v1/media` lists, in what order; the server's defaults (newest first, all kinds) otherwise. */
export type MediaQuery = Pick<MediaListOptions, 'kind' | 'sort' | 'order'>

/** One page of `GET /api/v1/media`, and how many media match in all. */
export interface MediaPage {
  items: MediaSummary[]
  total: number
}

/** Media asked per page when listing the whole library: the API's largest page. */
const LIST_PAGE_SIZE = 1000

/** A CDN node as `GET /api/v1/nodes` lists it (addresses and pins only with `?all=1`). */
export type NodeSummary = Omit<NodeView, 'addresses' | 'pinned' | 'ownerId'> & Partial<Pick<NodeView, 'addresses' | 'pinned' | 'ownerId'>> & {
  /** Its owner's user name: shown to admins, and to the owner; null for none (or a removed user). */
  owner?: string | null
}

/** `GET /api/v1/server`: how to reach the main server's peer and DNS. */
export interface ServerSummary {
  peerId: string
  addresses: string[]
  zone: string
  dnsListen: string | null
}

export interface ApiClient {
  addMedia: (path: string) => Promise<MediaSummary & { created: boolean }>
  /** Every media that matches, fetched page by page (`pageSize`, at most 1000). */
  listMedia: (query?: MediaQuery, options?: { pageSize?: number }) => Promise<MediaSummary[]>
  /** One page of the media that matches, and their total. */
  listMediaPage: (query?: MediaQuery & { limit?: number, offset?: number }) => Promise<MediaPage>
  getMedia: (id: string) => Promise<MediaSummary>
  health: () => Promise<{ status: string, peerId: string }>
  /** Shared nodes; with `all` (admins) local and revoked ones too. */
  listNodes: (options?: { all?: boolean }) => Promise<NodeSummary[]>
  /** Revokes a node by label, name or peer ID (admins). */
  revokeNode: (name: string) => Promise<NodeSummary>
  server: () => Promise<ServerSummary>
  /** Any other `/api/v1` call (path with its query, JSON body); answers the parsed JSON. Used by `cidcast meta`. */
  request: <T>(method: string, path: string, body?: unknown) => Promise<T>
}

/** Finds the bearer token for a server (by its origin); the CLI sets one that reads `cidcast login`'s file. */
export type TokenResolver = (origin: string) => Promise<string | undefined>

let defaultTokens: TokenResolver = async () => {
  const token = process.env.CIDCAST_TOKEN
  return token != null && token !== '' ? token : undefined
}

/** Sets how clients made without a `token` find theirs (by default: `CIDCAST_TOKEN`). */
export function setTokenResolver (resolver: TokenResolver): void {
  defaultTokens = resolver
}

/** A client for the server at `baseUrl` (e.g. `http://127.0.0.1:8080`), with a token or the resolver's. */
export function createApiClient (baseUrl: string, options: { token?: string, timeoutMs?: number } = {}): ApiClient {
  const base = new URL(baseUrl)
  let token: Promise<string | undefined> | undefined
  async function call<T> (method: string, path: string, body?: unknown, timeoutMs = options.timeoutMs ?? 600_000): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    token ??= options.token != null ? Promise.resolve(options.token) : defaultTokens(base.origin)
    const bearer = await token
    if (bearer != null && bearer !== '') headers.Authorization = `Bearer ${bearer}`
    let response: Response
    try {
      response = await fetch(new URL(path, base), { method, headers, body: body === undefined ? undefined : JSON.stringify(body), signal: AbortSignal.timeout(timeoutMs) })
    } catch (err) {
      const cause = (err as { cause?: { code?: string, errors?: Array<{ code?: string }> } }).cause
      const reason = cause?.code ?? cause?.errors?.[0]?.code ?? (err as Error).message
      throw new ApiError(0, 'ServerUnreachableError', `cannot reach ${base.origin} (${reason})`)
    }
    const text = await response.text()
    let json: unknown
    try { json = text === '' ? undefined : JSON.parse(text) } catch { json = undefined }
    if (!response.ok) {
      const e = json as { error?: string, message?: string } | undefined
      if (e?.error === 'AuthenticationRequiredError' && (bearer == null || bearer === '')) throw new ApiError(401, e.error, `log in first: cidcast login --server ${base.origin}`)
      throw new ApiError(response.status, e?.error ?? `HTTP${response.status}`, e?.message ?? (text.slice(0, 200) || response.statusText))
    }
    return json as T
  }
  const listMediaPage = async (query: MediaQuery & { limit?: number, offset?: number } = {}): Promise<MediaPage> => {
    const params = new URLSearchParams()
    for (const [name, value] of Object.entries(query)) if (value != null) params.set(name, String(value))
    const search = params.size > 0 ? `?${params}` : ''
    const page = await call<{ items: MediaSummary[], total?: number }>('GET', `/api/v1/media${search}`)
    return { items: page.items, total: page.total ?? page.items.length }
  }
  return {
    addMedia: async path => await call('POST', '/api/v1/media', { path }),
    listMedia: async (query = {}, opts = {}) => {
      const limit = opts.pageSize ?? LIST_PAGE_SIZE
      const seen = new Set<string>()
      const all: MediaSummary[] = []
      for (let offset = 0; ; offset += limit) {
        const page = await listMediaPage({ ...query, limit, offset })
        // a media added while paging shifts later pages by one: it may come twice, never as two entries
        for (const m of page.items) if (!seen.has(m.id)) { seen.add(m.id); all.push(m) }
        if (page.items.length < limit || offset + limit >= page.total) return all
      }
    },
    listMediaPage,
    getMedia: async id => await call('GET', `/api/v1/media/${encodeURIComponent(id)}`),
    health: async () => await call('GET', '/healthz', undefined, 5000),
    listNodes: async (opts = {}) => (await call<{ items: NodeSummary[] }>('GET', `/api/v1/nodes${opts.all === true ? '?all=1' : ''}`, undefined, 30_000)).items,
    revokeNode: async name => await call('POST', `/api/v1/nodes/${encodeURIComponent(name)}/revoke`, undefined, 30_000),
    server: async () => await call('GET', '/api/v1/server', undefined, 10_000),
    request: async <T>(method: string, path: string, body?: unknown) => await call<T>(method, path, body)
  }
}
