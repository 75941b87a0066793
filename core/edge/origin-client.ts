import { CarBlockIterator } from '@ipld/car'
import { CidcastError } from '../errors.ts'
import { openHttp, readBody } from '../http-request.ts'
import { verifyBlock } from './block-verify.ts'
import { OriginUnavailableError } from './errors.ts'
import type { VerifiedBlock } from './block-verify.ts'
import type { IncomingHttpHeaders, IncomingMessage } from 'node:http'

/**
 * A CDN node's HTTP client for the main server (the origin): server identity, media details, playlists and
 * segments, and trustless CARs whose blocks are checked on arrival. Every request has a deadline; a server that
 * cannot be reached is an OriginUnavailableError, an error answer becomes an error of the same name. Whole answers
 * (`get`: what an idle node asks, registering) go over node:http (core/http-request.ts); the API passed through for
 * viewers and the CARs of misses over fetch, which Node then loads.
 */

export interface OriginClientInit {
  /** The main server's HTTP URL, e.g. `http://127.0.0.1:8080`. */
  url: string
  /** Deadline for API answers (server identity, media details, passed-through API calls). @default 5000 */
  timeoutMs?: number
  /** Deadline for the headers of a playlist, segment or CAR answer: the main server may be transcoding it. @default 30000 */
  contentTimeoutMs?: number
  /** Largest body read into memory (a segment, a playlist). @default 67108864 */
  maxBodyBytes?: number
  /** A body that receives nothing for this long is abandoned. @default 15000 */
  idleTimeoutMs?: number
}

export interface OriginClientComponents {
  /** Called once per request sent, with what it was for (a counter for `/metrics`). */
  onRequest?: (kind: OriginRequestKind) => void
  /**
   * This node's credential header (core/access/node-credential.ts), once the main server gave one: sent with the
   * node's own requests, never with the API calls it passes through for a viewer.
   */
  credential?: () => Record<string, string> | undefined
}

export type OriginRequestKind = 'server' | 'media' | 'playlist' | 'segment' | 'car' | 'api'

/** `GET /api/v1/server`: what a node needs to dial the main server. */
export interface ServerInfo {
  peerId: string
  /** Multiaddrs, each ending in `/p2p/<peerId>`. */
  addresses: string[]
  zone?: string
  dnsListen?: string
}

/** The part of `GET /api/v1/media/{id}` a node uses. */
export interface OriginMedia {
  id: string
  renditions: Array<{ profile: string, state: string, root: string | null }>
}

/** A whole answer. */
export interface OriginBody {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

export interface OriginRequestOptions {
  signal?: AbortSignal
}

export interface OriginClient {
  readonly url: string
  /** Asks another main server of the catalog from now on (the node registered with it: issue 15). */
  moveTo (url: string): void
  serverInfo (options?: OriginRequestOptions): Promise<ServerInfo>
  media (id: string, options?: OriginRequestOptions): Promise<OriginMedia>
  /** GETs `path` (starting with `/`) and reads its whole body; 2xx only, an error answer throws. */
  get (path: string, kind: OriginRequestKind, options?: OriginRequestOptions): Promise<OriginBody>
  /** Sends a request and hands back the answer unread, whatever its status (to pass API answers through). */
  open (path: string, init: { method: string, headers?: Record<string, string>, body?: Uint8Array, signal?: AbortSignal }): Promise<Response>
  /** The blocks of the trustless CAR at `path`, each checked against its CID before it is yielded. */
  car (path: string, options?: OriginRequestOptions): AsyncGenerator<VerifiedBlock>
}

/** Creates a client for the main server at `init.url`. */
export function createOriginClient (components: OriginClientComponents, init: OriginClientInit): OriginClient {
  return new HttpOriginClient(components, init)
}

/** A stand-in for a main server without an HTTP URL (given as a multiaddr): every call is OriginUnavailableError. */
export function unreachableOrigin (reason: string): OriginClient {
  const fail = async (): Promise<never> => { throw new OriginUnavailableError(reason) }
  return {
    url: 'http://origin.invalid',
    moveTo: () => {},
    serverInfo: fail,
    media: fail,
    get: fail,
    open: fail,
    async * car () { throw new OriginUnavailableError(reason) }
  }
}

const DEFAULT_TIMEOUT_MS = 5000
const DEFAULT_CONTENT_TIMEOUT_MS = 30_000
const DEFAULT_MAX_BODY_BYTES = 64 * 1024 * 1024
const DEFAULT_IDLE_TIMEOUT_MS = 15_000

/** A main server's URL as the client joins paths to it; TypeError for one that is not http(s). */
function baseUrl (text: string): string {
  const url = new URL(text)
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new TypeError(`the main server URL must be http(s): ${text}`)
  return url.href.replace(/\/+$/, '')
}

/** An error the main server answered with, kept under its own name and status so a node passes it on as it came. */
function remoteError (name: string, message: string, status?: number): Error {
  const err = new CidcastError(message)
  Object.defineProperty(err, 'name', { value: name, enumerable: false })
  if (status != null) Object.defineProperty(err, 'status', { value: status, enumerable: false })
  return err
}

/** An error name as cidcast writes them (`MediaNotFoundError`): anything else from the origin is not passed on. */
const ERROR_NAME = /^[A-Z][A-Za-z0-9]{0,63}Error$/

/** The error an error answer (`status`, its body as text) stands for. */
function errorFrom (status: number, text: string, path: string): Error {
  let body: { error?: unknown, message?: unknown } | undefined
  try {
    body = JSON.parse(text) as typeof body
  } catch {}
  const name = typeof body?.error === 'string' ? body.error : ''
  const message = typeof body?.message === 'string' ? body.message : `the main server answered ${status} for ${path}`
  // the origin's 4xx travel on with their name and status; anything else from a failing origin is "unavailable"
  if (ERROR_NAME.test(name) && status >= 400 && status < 500) return remoteError(name, message, status)
  if (name === 'TooManySessionsError' || name === 'TranscodeFailedError') return remoteError(name, message)
  if (status === 404) return remoteError('ContentNotFoundError', message)
  return new OriginUnavailableError(`the main server answered ${status} for ${path}`)
}

async function errorOf (response: Response, path: string): Promise<Error> {
  return errorFrom(response.status, await response.text().catch(() => ''), path)
}

/** An error answer's body is a short JSON object; a longer one is not read. */
const ERROR_BODY_BYTES = 64 * 1024

async function errorOfAnswer (answer: IncomingMessage, path: string): Promise<Error> {
  let text = ''
  let read = 0
  try {
    text = (await readBody(answer, bytes => {
      read += bytes
      if (read > ERROR_BODY_BYTES) throw new RangeError('error body too long')
    })).toString('utf8')
  } catch {}
  return errorFrom(answer.statusCode ?? 0, text, path)
}

class HttpOriginClient implements OriginClient {
  url: string
  private readonly timeoutMs: number
  private readonly contentTimeoutMs: number
  private readonly maxBodyBytes: number
  private readonly idleTimeoutMs: number
  private readonly onRequest: (kind: OriginRequestKind) => void
  private readonly credential: () => Record<string, string> | undefined

  constructor (components: OriginClientComponents, init: OriginClientInit) {
    this.url = baseUrl(init.url)
    this.timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS
    this.contentTimeoutMs = init.contentTimeoutMs ?? DEFAULT_CONTENT_TIMEOUT_MS
    this.maxBodyBytes = init.maxBodyBytes ?? DEFAULT_MAX_BODY_BYTES
    this.idleTimeoutMs = init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
    this.onRequest = components.onRequest ?? (() => {})
    this.credential = components.credential ?? (() => undefined)
  }

  moveTo (url: string): void {
    this.url = baseUrl(url)
  }

  async serverInfo (options: OriginRequestOptions = {}): Promise<ServerInfo> {
    const { body } = await this.get('/api/v1/server', 'server', options)
    const info = parseJson(body, '/api/v1/server') as Partial<ServerInfo>
    if (typeof info.peerId !== 'string' || !Array.isArray(info.addresses) || info.addresses.some(a => typeof a !== 'string')) {
      throw new OriginUnavailableError('the main server\'s /api/v1/server answer has no peerId and addresses')
    }
    return { peerId: info.peerId, addresses: info.addresses, zone: info.zone, dnsListen: info.dnsListen }
  }

  async media (id: string, options: OriginRequestOptions = {}): Promise<OriginMedia> {
    const { body } = await this.get(`/api/v1/media/${encodeURIComponent(id)}`, 'media', options)
    const media = parseJson(body, `/api/v1/media/${id}`) as Partial<OriginMedia>
    if (typeof media.id !== 'string' || !Array.isArray(media.renditions)) throw new OriginUnavailableError(`the main server's answer for media ${id} is not a media`)
    return {
      id: media.id,
      renditions: media.renditions.map(r => ({ profile: String(r.profile), state: String(r.state), root: typeof r.root === 'string' ? r.root : null }))
    }
  }

  async get (path: string, kind: OriginRequestKind, options: OriginRequestOptions = {}): Promise<OriginBody> {
    const api = kind === 'server' || kind === 'media' || kind === 'api'
    const watch = watchdog(api ? this.timeoutMs : this.contentTimeoutMs, options.signal)
    try {
      const answer = await this.request(path, { method: 'GET', signal: watch.signal }, kind)
      const status = answer.statusCode ?? 0
      if (status < 200 || status > 299) throw await errorOfAnswer(answer, path)
      const declared = Number(answer.headers['content-length'] ?? 0)
      if (declared > this.maxBodyBytes) {
        answer.destroy()
        throw new OriginUnavailableError(`${path} is ${declared} bytes, more than this node reads at once`)
      }
      let length = 0
      let body: Buffer
      try {
        body = await readBody(answer, bytes => {
          watch.kick(this.idleTimeoutMs)
          length += bytes
          if (length > this.maxBodyBytes) throw new OriginUnavailableError(`${path} is more than ${this.maxBodyBytes} bytes`)
        })
      } catch (err) {
        throw unavailable(err, path)
      }
      return { status, headers: answer.headers, body }
    } finally {
      watch.stop()
    }
  }

  async open (path: string, init: { method: string, headers?: Record<string, string>, body?: Uint8Array, signal?: AbortSignal }): Promise<Response> {
    // a Uint8Array is a valid fetch body; the DOM-less lib types do not say so
    return await this.send(path, { ...init, body: init.body as RequestInit['body'], signal: this.deadline(init.signal) }, 'api')
  }

  async * car (path: string, options: OriginRequestOptions = {}): AsyncGenerator<VerifiedBlock> {
    const watch = watchdog(this.contentTimeoutMs, options.signal)
    const idleTimeoutMs = this.idleTimeoutMs
    try {
      const response = await this.send(path, { method: 'GET', headers: { Accept: 'application/vnd.ipld.car' }, signal: watch.signal }, 'car')
      if (!response.ok) throw await errorOf(response, path)
      if (response.body == null) throw new OriginUnavailableError(`${path} answered without a body`)
      watch.kick(idleTimeoutMs)
      async function * chunks (): AsyncGenerator<Uint8Array> {
        for await (const chunk of streamOf(response)) {
          watch.kick(idleTimeoutMs)
          yield chunk
        }
      }
      let blocks: CarBlockIterator
      try {
        blocks = await CarBlockIterator.fromIterable(chunks())
      } catch (err) {
        throw unavailable(err, path)
      }
      const iterator = blocks[Symbol.asyncIterator]()
      for (;;) {
        let next: IteratorResult<{ cid: VerifiedBlock['cid'], bytes: Uint8Array }>
        try {
          next = await iterator.next()
        } catch (err) {
          throw unavailable(err, path)
        }
        if (next.done === true) break
        await verifyBlock(next.value.cid, next.value.bytes)
        yield { cid: next.value.cid, bytes: next.value.bytes }
      }
    } finally {
      watch.stop()
    }
  }

  private deadline (signal: AbortSignal | undefined): AbortSignal {
    const timeout = AbortSignal.timeout(this.timeoutMs)
    return signal == null ? timeout : AbortSignal.any([signal, timeout])
  }

  private async send (path: string, init: RequestInit, kind: OriginRequestKind): Promise<Response> {
    const headers = this.headersFor(path, kind, init.headers as Record<string, string> | undefined)
    try {
      return await fetch(this.url + path, { ...init, headers, redirect: 'manual' })
    } catch (err) {
      throw noAnswer(err, path, init.signal)
    }
  }

  /** As `send`, over node:http: the answer's head, its body unread. */
  private async request (path: string, init: { method: string, signal: AbortSignal }, kind: OriginRequestKind): Promise<IncomingMessage> {
    const headers = this.headersFor(path, kind, undefined)
    try {
      return await openHttp(this.url + path, { method: init.method, headers, signal: init.signal })
    } catch (err) {
      throw noAnswer(err, path, init.signal)
    }
  }

  /** Counts the request and gives its headers: the node's credential with its own requests. */
  private headersFor (path: string, kind: OriginRequestKind, headers: Record<string, string> | undefined): Record<string, string> | undefined {
    if (!path.startsWith('/')) throw new TypeError(`origin paths start with /: ${path}`)
    this.onRequest(kind)
    // the node's own requests speak for the node; what it passes on for a viewer ('api') speaks for the viewer only
    const credential = kind === 'api' ? undefined : this.credential()
    return credential == null ? headers : { ...headers, ...credential }
  }
}

/**
 * A request that got no answer: OriginUnavailableError, `silent` (no reply at all, not even a status line: refused,
 * reset, or nothing before the deadline) unless the caller went away. A miss resolver may take a silent one as "the
 * main server is away".
 */
function noAnswer (err: unknown, path: string, signal: AbortSignal | null | undefined): Error {
  const error = unavailable(err, path)
  if (error instanceof OriginUnavailableError && (signal?.aborted !== true || isTimeout(signal))) error.silent = true
  return error
}

/** A signal that aborts when `ms` pass without a `kick` (or when `parent` aborts); `stop` releases the timer. */
function watchdog (ms: number, parent?: AbortSignal): { signal: AbortSignal, kick: (ms: number) => void, stop: () => void } {
  const controller = new AbortController()
  const expire = (): void => { controller.abort(new DOMException('the main server stopped answering', 'TimeoutError')) }
  let timer = setTimeout(expire, ms)
  return {
    signal: parent == null ? controller.signal : AbortSignal.any([parent, controller.signal]),
    kick (next) {
      clearTimeout(timer)
      timer = setTimeout(expire, next)
    },
    stop () {
      clearTimeout(timer)
      // a body left unread (a consumer that stopped early) is cancelled, not left open
      controller.abort(new DOMException('done', 'AbortError'))
    }
  }
}

/** Whether a request's signal ended by a deadline (the watchdog's), not by its caller going away. */
function isTimeout (signal: AbortSignal | null | undefined): boolean {
  return (signal?.reason as { name?: string } | undefined)?.name === 'TimeoutError'
}

/** Network failures and deadlines become OriginUnavailableError; our own errors pass through. */
function unavailable (err: unknown, path: string): Error {
  if (err instanceof CidcastError) return err
  // fetch puts the socket's error under `cause`, node:http throws it as it is, and either aborts with the deadline's
  // TimeoutError (node:http under an AbortError's `cause`); a DOMException's numeric `code` says nothing
  const failure = err as { code?: unknown, name?: string, cause?: { code?: unknown, name?: string } } | undefined
  const code = [failure?.cause?.code, failure?.code].find(c => typeof c === 'string' && c !== 'ABORT_ERR')
  const cause = code ?? failure?.cause?.name ?? failure?.name ?? 'error'
  return new OriginUnavailableError(`the main server did not answer ${path} (${cause})`)
}

/** The body of an answer as chunks (web streams are async iterable in Node; the lib types here do not say so). */
function streamOf (response: Response): AsyncIterable<Uint8Array> {
  return (response.body ?? []) as unknown as AsyncIterable<Uint8Array>
}

function parseJson (body: Buffer, path: string): unknown {
  try {
    return JSON.parse(body.toString('utf8'))
  } catch {
    throw new OriginUnavailableError(`the main server's answer for ${path} is not JSON`)
  }
}
