import { ProviderError } from './errors.ts'
import type { Logger } from '../logger.ts'

/*
 * The one way providers talk HTTP: a deadline per attempt, retries with exponential backoff and jitter on
 * network errors and 5xx, 429 honoured through Retry-After (seconds or an HTTP date, capped), bounded answer
 * size, JSON only, and a cache of good answers (and of 404s, for less time) keyed by method, URL and body.
 */

export interface ProviderHttpInit {
  /** Deadline of one attempt. @default 10000 */
  timeoutMs?: number
  /** Attempts after the first. @default 3 */
  retries?: number
  /** First backoff delay, doubled each retry. @default 500 */
  backoffMs?: number
  /** A Retry-After longer than this gives up at once instead of waiting. @default 60000 */
  maxRetryAfterMs?: number
  /** Largest answer read, in bytes. @default 4194304 */
  maxBytes?: number
  /** How long a good answer is reused. @default 86400000 (a day) */
  cacheTtlMs?: number
  /** How long a 404 is reused. @default 3600000 */
  notFoundTtlMs?: number
  /** Most answers kept. @default 2000 */
  cacheEntries?: number
}

export interface JsonRequest {
  method?: 'GET' | 'POST'
  headers?: Record<string, string>
  body?: unknown
  /** false: never cached (logins). @default true */
  cache?: boolean
  /** Secrets in the URL (api keys) are left out of the cache key and logs by naming them here. */
  secretParams?: string[]
  signal?: AbortSignal
}

/** A JSON answer; `body` is undefined for a 404. */
export interface JsonAnswer {
  status: number
  body: unknown
}

export interface ProviderHttp {
  /** Fetches JSON, retrying as configured; a 404 gives `{ status: 404, body: undefined }`; other failures throw ProviderError. */
  json: (url: URL, request?: JsonRequest) => Promise<JsonAnswer>
  /** Forgets every cached answer. */
  clear: () => void
}

interface CacheEntry { expires: number, answer: JsonAnswer }

const RETRYABLE = new Set([408, 425, 429, 500, 502, 503, 504])

/** Creates the HTTP client for the provider named `provider` (used in logs and errors). */
export function createProviderHttp (components: { logger: Logger }, provider: string, init: ProviderHttpInit = {}): ProviderHttp {
  const log = components.logger.child({ name: `cidcast:metadata:${provider}` })
  const timeoutMs = init.timeoutMs ?? 10_000
  const retries = init.retries ?? 3
  const backoffMs = init.backoffMs ?? 500
  const maxRetryAfterMs = init.maxRetryAfterMs ?? 60_000
  const maxBytes = init.maxBytes ?? 4 * 1024 * 1024
  const cacheTtlMs = init.cacheTtlMs ?? 86_400_000
  const notFoundTtlMs = init.notFoundTtlMs ?? 3_600_000
  const cacheEntries = init.cacheEntries ?? 2000
  const cache = new Map<string, CacheEntry>()
  const inflight = new Map<string, Promise<JsonAnswer>>()

  function redact (url: URL, secrets: string[]): string {
    const copy = new URL(url)
    for (const name of secrets) if (copy.searchParams.has(name)) copy.searchParams.set(name, 'x')
    return copy.toString()
  }

  function remember (key: string, answer: JsonAnswer): void {
    const ttl = answer.status === 404 ? notFoundTtlMs : cacheTtlMs
    if (ttl <= 0) return
    cache.delete(key)
    cache.set(key, { expires: Date.now() + ttl, answer })
    // Map keeps insertion order: the first key is the least recently stored
    while (cache.size > cacheEntries) cache.delete(cache.keys().next().value as string)
  }

  async function once (url: URL, request: JsonRequest, shown: string): Promise<Response> {
    const signal = request.signal == null ? AbortSignal.timeout(timeoutMs) : AbortSignal.any([request.signal, AbortSignal.timeout(timeoutMs)])
    const headers: Record<string, string> = { Accept: 'application/json', ...request.headers }
    if (request.body !== undefined) headers['Content-Type'] = 'application/json'
    try {
      return await fetch(url, { method: request.method ?? 'GET', headers, body: request.body === undefined ? undefined : JSON.stringify(request.body), signal, redirect: 'follow' })
    } catch (err) {
      if (request.signal?.aborted === true) throw err
      const e = err as Error & { cause?: { code?: string } }
      const reason = e.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (e.cause?.code ?? e.message)
      throw new RetryableError(`${provider}: ${shown}: ${reason}`)
    }
  }

  /** Reads at most maxBytes of the body, within the attempt's deadline. */
  async function readBody (response: Response, shown: string): Promise<string> {
    const declared = Number(response.headers.get('content-length'))
    if (Number.isFinite(declared) && declared > maxBytes) {
      await response.body?.cancel()
      throw new ProviderError(`${provider}: ${shown}: answer of ${declared} bytes is over the ${maxBytes}-byte limit`)
    }
    const reader = response.body?.getReader()
    if (reader == null) return ''
    const chunks: Uint8Array[] = []
    let total = 0
    try {
      for (;;) {
        const { done, value } = await reader.read()
        if (done) break
        total += value.byteLength
        if (total > maxBytes) {
          await reader.cancel()
          throw new ProviderError(`${provider}: ${shown}: answer is over the ${maxBytes}-byte limit`)
        }
        chunks.push(value)
      }
    } catch (err) {
      if (err instanceof ProviderError) throw err
      throw new RetryableError(`${provider}: ${shown}: answer cut off (${(err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : (err as Error).message})`)
    }
    return Buffer.concat(chunks).toString('utf8')
  }

  async function attempt (url: URL, request: JsonRequest, shown: string): Promise<JsonAnswer> {
    let lastError: Error | undefined
    for (let n = 0; n <= retries; n++) {
      let wait = Math.min(backoffMs * 2 ** n, maxRetryAfterMs) * (0.75 + Math.random() * 0.5)
      try {
        const response = await once(url, request, shown)
        if (response.status === 404) {
          await response.body?.cancel()
          return { status: 404, body: undefined }
        }
        if (RETRYABLE.has(response.status)) {
          await response.body?.cancel()
          const after = retryAfterMs(response.headers.get('retry-after'))
          if (after != null) {
            if (after > maxRetryAfterMs) throw new ProviderError(`${provider}: ${shown}: HTTP ${response.status}, Retry-After ${Math.ceil(after / 1000)} s is longer than we wait`)
            wait = after
          }
          throw new RetryableError(`${provider}: ${shown}: HTTP ${response.status}`)
        }
        const text = await readBody(response, shown)
        if (!response.ok) throw new ProviderError(`${provider}: ${shown}: HTTP ${response.status}${describeError(text)}`)
        try {
          return { status: response.status, body: JSON.parse(text) }
        } catch {
          throw new ProviderError(`${provider}: ${shown}: the answer is not JSON`)
        }
      } catch (err) {
        if (!(err instanceof RetryableError)) throw err
        lastError = err
        if (n === retries) break
        log.debug({ url: shown, attempt: n + 1, waitMs: Math.round(wait), reason: err.message }, 'retrying')
        await delay(wait, request.signal)
      }
    }
    throw new ProviderError(lastError?.message ?? `${provider}: ${shown}: failed`)
  }

  return {
    async json (url, request = {}) {
      const shown = redact(url, request.secretParams ?? [])
      const key = `${request.method ?? 'GET'} ${shown} ${request.body === undefined ? '' : JSON.stringify(request.body)} ${JSON.stringify(request.headers ?? {})}`
      const useCache = request.cache !== false
      if (useCache) {
        const hit = cache.get(key)
        if (hit != null && hit.expires > Date.now()) return hit.answer
        const running = inflight.get(key)
        if (running != null) return await running
      }
      const run = attempt(url, request, shown)
      if (useCache) inflight.set(key, run)
      try {
        const answer = await run
        if (useCache) remember(key, answer)
        return answer
      } finally {
        if (useCache) inflight.delete(key)
      }
    },
    clear () { cache.clear() }
  }
}

class RetryableError extends Error {
  override readonly name = 'RetryableError'
}

/** Retry-After as milliseconds: delta-seconds or an HTTP date; undefined when absent or unreadable. */
export function retryAfterMs (value: string | null, now = Date.now()): number | undefined {
  if (value == null || value.trim() === '') return undefined
  if (/^\s*\d+\s*$/.test(value)) return Number(value) * 1000
  const date = Date.parse(value)
  return Number.isNaN(date) ? undefined : Math.max(0, date - now)
}

function describeError (text: string): string {
  try {
    const body = JSON.parse(text) as Record<string, unknown>
    const message = body.status_message ?? body.message ?? body.Error
    return typeof message === 'string' ? `: ${message.slice(0, 200)}` : ''
  } catch {
    return ''
  }
}

async function delay (ms: number, signal?: AbortSignal): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => { signal?.removeEventListener('abort', onAbort); resolve() }, ms)
    const onAbort = (): void => { clearTimeout(timer); reject(signal?.reason) }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
