/** The typed HTTP client for `/api/v1`, used by the CLI (and usable by any Node program). */

import type { NodeView } from '../core/replication/index.ts'
import type { MediaView, RenditionView } from '../core/media/library.ts'

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
export type MediaSummary = Pick<MediaView, 'id' | 'title' | 'durationSeconds' | 'sourceCid' | 'sizeBytes' | 'createdAt' | 'renditions'> & { playlist?: string }

/** A CDN node as `GET /api/v1/nodes` lists it (addresses and pins only with `?all=1`). */
export type NodeSummary = Omit<NodeView, 'addresses' | 'pinned'> & Partial<Pick<NodeView, 'addresses' | 'pinned'>>

/** `GET /api/v1/server`: how to reach the main server's peer and DNS. */
export interface ServerSummary {
  peerId: string
  addresses: string[]
  zone: string
  dnsListen: string | null
}

export interface ApiClient {
  addMedia: (path: string) => Promise<MediaSummary & { created: boolean }>
  listMedia: () => Promise<MediaSummary[]>
  getMedia: (id: string) => Promise<MediaSummary>
  health: () => Promise<{ status: string, peerId: string }>
  /** Shared nodes; with `all` (allowed from the server's machine only) local and revoked ones too. */
  listNodes: (options?: { all?: boolean }) => Promise<NodeSummary[]>
  /** Revokes a node by label, name or peer ID (allowed from the server's machine only). */
  revokeNode: (name: string) => Promise<NodeSummary>
  server: () => Promise<ServerSummary>
  /** Any other `/api/v1` call (path with its query, JSON body); answers the parsed JSON. Used by `cidcast meta`. */
  request: <T>(method: string, path: string, body?: unknown) => Promise<T>
}

/** A client for the server at `baseUrl` (e.g. `http://127.0.0.1:8080`). */
export function createApiClient (baseUrl: string, options: { user?: string, timeoutMs?: number } = {}): ApiClient {
  const base = new URL(baseUrl)
  async function call<T> (method: string, path: string, body?: unknown, timeoutMs = options.timeoutMs ?? 600_000): Promise<T> {
    const headers: Record<string, string> = { Accept: 'application/json' }
    if (body !== undefined) headers['Content-Type'] = 'application/json'
    if (options.user != null) headers['X-Cidcast-User'] = options.user
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
      throw new ApiError(response.status, e?.error ?? `HTTP${response.status}`, e?.message ?? (text.slice(0, 200) || response.statusText))
    }
    return json as T
  }
  return {
    addMedia: async path => await call('POST', '/api/v1/media', { path }),
    listMedia: async () => (await call<{ items: MediaSummary[] }>('GET', '/api/v1/media')).items,
    getMedia: async id => await call('GET', `/api/v1/media/${encodeURIComponent(id)}`),
    health: async () => await call('GET', '/healthz', undefined, 5000),
    listNodes: async (opts = {}) => (await call<{ items: NodeSummary[] }>('GET', `/api/v1/nodes${opts.all === true ? '?all=1' : ''}`, undefined, 30_000)).items,
    revokeNode: async name => await call('POST', `/api/v1/nodes/${encodeURIComponent(name)}/revoke`, undefined, 30_000),
    server: async () => await call('GET', '/api/v1/server', undefined, 10_000),
    request: async <T>(method: string, path: string, body?: unknown) => await call<T>(method, path, body)
  }
}
