import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import type { IncomingMessage, OutgoingHttpHeaders } from 'node:http'

/*
 * HTTP requests on node:http, for what a CDN node asks its main server on its own (server identity, media details,
 * playlists and segments on a miss, its IPNS record). fetch is undici, which Node loads on its first use: its code,
 * its WebAssembly HTTP parser and their compilers' pages were ~3.5 MB of an idle node's memory.
 */

export interface HttpRequestInit {
  /** @default 'GET' */
  method?: string
  headers?: OutgoingHttpHeaders
  body?: Uint8Array
  /** Aborts the request, or the reading of its answer (which then fails with an AbortError). */
  signal?: AbortSignal
}

/** Methods sent again on a new connection when a kept-alive one turns out closed. */
const IDEMPOTENT = new Set(['GET', 'HEAD', 'PUT', 'DELETE', 'OPTIONS'])

/**
 * Sends a request and resolves with the answer once its head arrived, the body unread: read it (`readBody`) or
 * `destroy()` it. Fails with Node's error (`code` ECONNREFUSED, ECONNRESET...) when no answer comes, or an AbortError.
 * An idempotent request that fails on a kept-alive connection the server had just closed (it reset it as this one
 * went out) is sent once more, on a new connection, as Node's documentation advises; fetch does the same.
 */
export async function openHttp (url: string | URL, init: HttpRequestInit = {}): Promise<IncomingMessage> {
  const target = typeof url === 'string' ? new URL(url) : url
  const method = init.method ?? 'GET'
  const first = { reusedSocket: false }
  try {
    return await sendOnce(target, method, init, first)
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code
    if (!first.reusedSocket || !IDEMPOTENT.has(method) || init.signal?.aborted === true || (code !== 'ECONNRESET' && code !== 'EPIPE')) throw err
  }
  return await sendOnce(target, method, init, { reusedSocket: false })
}

/** One attempt; `connection.reusedSocket` tells, once it failed, whether it went out on a kept-alive connection. */
async function sendOnce (target: URL, method: string, init: HttpRequestInit, connection: { reusedSocket: boolean }): Promise<IncomingMessage> {
  const send = target.protocol === 'https:' ? httpsRequest : httpRequest
  return await new Promise<IncomingMessage>((resolve, reject) => {
    const req = send(target, { method, headers: init.headers, signal: init.signal }, resolve)
    req.once('error', err => {
      connection.reusedSocket = req.reusedSocket
      reject(err)
    })
    req.end(init.body)
  })
}

/**
 * Reads an answer's body into one Buffer. `onChunk` sees each chunk's size as it comes (a watchdog's kick) and may
 * throw to stop (a body too large); the answer is destroyed when reading stops early.
 */
export async function readBody (answer: IncomingMessage, onChunk?: (bytes: number) => void): Promise<Buffer> {
  const parts: Buffer[] = []
  let length = 0
  try {
    for await (const chunk of answer as AsyncIterable<Buffer>) {
      onChunk?.(chunk.byteLength)
      length += chunk.byteLength
      parts.push(chunk)
    }
  } finally {
    if (!answer.complete) answer.destroy()
  }
  return Buffer.concat(parts, length)
}
