import { sha256 } from 'multiformats/hashes/sha2'
import { hashMatches } from '../ipfs/index.ts'
import type { Logger } from '../logger.ts'
import type { CID } from 'multiformats/cid'
import type { Dispatcher } from 'undici'

/**
 * Blocks for the pinner from the trustless gateways of peers that hold them: `GET {gateway}/ipfs/{cid}?format=raw`
 * (the IPFS Trustless Gateway spec), with `Cache-Control: only-if-cached` so a holder answers from its own blocks
 * or says 412 rather than fetching them elsewhere first. Every answer is hashed against the CID before it is
 * handed on, exactly as a block from bitswap is, so a gateway is trusted for nothing but speed: the same bytes
 * cross loopback at several times the rate of bitswap over the private network (bench r1, r1b), whose PSK stream
 * cipher, noise and yamux all run in JavaScript.
 *
 * A gateway that lacks a block (404, 412) is asked for the next one all the same; one that cannot be reached,
 * fails (5xx, a deadline), sends more than a block or bytes that are not the block is put aside for the rest of
 * the fetch, and the block is asked of the next gateway, then of bitswap (`get` resolves undefined).
 */

export interface GatewayBlocksInit {
  /** Base URLs (http or https) of the holders' gateways. */
  gateways: string[]
  /** One request, headers and body, must finish within this. @default 60000 */
  timeoutMs?: number
  /** A connection not made within this puts the gateway aside. @default 3000 */
  connectTimeoutMs?: number
  /** No byte for this long puts the gateway aside. @default 10000 */
  idleTimeoutMs?: number
  /** Gateways put aside by earlier fetches (a retry does not wait on them again). */
  memory?: GatewayMemory
  /** A larger answer is not a block (bitswap's own limit is 2 MiB; the import profile makes 1 MiB leaves). @default 4194304 */
  maxBlockBytes?: number
  /** Connections kept open to each gateway: as many as blocks in flight. @default 16 */
  connections?: number
}

export interface GatewayBlocksComponents {
  logger: Logger
  /** This node's credential header, which the holders' gateways ask of anyone who is not a viewer with a token. */
  credential?: () => Record<string, string> | undefined
}

/** Where a fetch gets its blocks over HTTP. */
export interface GatewayBlocks {
  /** The verified bytes of `cid` from one of the gateways, or undefined when none of them gave them. */
  get: (cid: CID, signal: AbortSignal) => Promise<Uint8Array | undefined>
  /** Words for error messages: the gateways asked, and why any was put aside. */
  describe: () => string
  /** Closes the kept-alive connections. */
  close: () => void
}

/** Gateways put aside, remembered across fetches for a while (the pinner keeps one for all its pins). */
export interface GatewayMemory {
  /** Why `url` is put aside, while it is. */
  aside: (url: string) => string | undefined
  putAside: (url: string, why: string) => void
}

/** A memory that forgets a gateway `ttlMs` after it was put aside. */
export function gatewayMemory (ttlMs = 5 * 60_000): GatewayMemory {
  const aside = new Map<string, { why: string, until: number }>()
  return {
    aside (url) {
      const entry = aside.get(url)
      if (entry == null) return undefined
      if (entry.until > Date.now()) return entry.why
      aside.delete(url)
      return undefined
    },
    putAside (url, why) {
      aside.set(url, { why, until: Date.now() + ttlMs })
    }
  }
}

const DEFAULT_TIMEOUT_MS = 60_000
const DEFAULT_CONNECT_TIMEOUT_MS = 3000
const DEFAULT_IDLE_TIMEOUT_MS = 10_000
const DEFAULT_MAX_BLOCK_BYTES = 4 * 1024 * 1024

interface Gateway {
  url: string
  inFlight: number
  /** Why it is no longer asked, once it is not. */
  setAside?: string
}

/** What an answer was, when it was no block. */
type Miss = 'lacks' | 'failed'

/** A gateway's base URL as it is asked and remembered (no trailing slash); undefined when it is no http(s) URL. */
export function gatewayBase (url: string): string | undefined {
  let base: URL
  try {
    base = new URL(url)
  } catch {
    return undefined
  }
  if (base.protocol !== 'http:' && base.protocol !== 'https:') return undefined
  return base.href.replace(/\/+$/, '')
}

/** Makes a block source over `init.gateways` (duplicates and non-http(s) URLs are dropped). */
export function gatewayBlocks (components: GatewayBlocksComponents, init: GatewayBlocksInit): GatewayBlocks {
  const log = components.logger.child({ name: 'cidcast:gateway-blocks' })
  const limits: Limits = {
    timeoutMs: init.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    connectTimeoutMs: init.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS,
    idleTimeoutMs: init.idleTimeoutMs ?? DEFAULT_IDLE_TIMEOUT_MS
  }
  const maxBlockBytes = init.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES
  const gateways: Gateway[] = []
  for (const url of init.gateways) {
    const href = gatewayBase(url)
    if (href == null || gateways.some(g => g.url === href)) continue
    const earlier = init.memory?.aside(href)
    gateways.push({ url: href, inFlight: 0, setAside: earlier == null ? undefined : `earlier: ${earlier}` })
  }

  const setAside = (gateway: Gateway, why: string): void => {
    if (gateway.setAside != null) return
    gateway.setAside = why
    init.memory?.putAside(gateway.url, why)
    log.warn({ gateway: gateway.url, why }, 'gateway put aside')
  }

  const agent = lazyAgent(init.connections ?? 16, limits)

  const ask = async (gateway: Gateway, cid: CID, signal: AbortSignal): Promise<Uint8Array | Miss> => {
    const path = `/ipfs/${cid.toString()}?format=raw`
    let answer: Answer
    gateway.inFlight++
    try {
      answer = await getCapped(gateway.url + path, agent.get, signal, limits, maxBlockBytes, components.credential?.())
    } catch (err) {
      signal.throwIfAborted()
      const cause = (err as { code?: string })?.code ?? (err as Error)?.name ?? 'error'
      setAside(gateway, `did not answer ${path} (${cause})`)
      return 'failed'
    } finally {
      gateway.inFlight--
    }
    if (answer.status === 404 || answer.status === 412) return 'lacks'
    if (answer.status !== 200) {
      setAside(gateway, `answered ${answer.status} for ${path}`)
      return 'failed'
    }
    if (answer.body == null) {
      setAside(gateway, `sent more than ${maxBlockBytes} bytes for the block ${cid.toString()}`)
      return 'failed'
    }
    if (await hashMatches(cid, answer.body) !== true) {
      setAside(gateway, `sent bytes that are not the block ${cid.toString()} (they hash to another CID)`)
      return 'failed'
    }
    return answer.body
  }

  return {
    async get (cid, signal) {
      // the import profile hashes every block with sha2-256; anything else is left to bitswap, which knows more hashes
      if (cid.multihash.code !== sha256.code) return undefined
      const tried = new Set<Gateway>()
      for (;;) {
        // the least busy gateway still in use, so the blocks in flight spread over every holder
        let best: Gateway | undefined
        for (const g of gateways) {
          if (g.setAside != null || tried.has(g)) continue
          if (best == null || g.inFlight < best.inFlight) best = g
        }
        if (best == null) return undefined
        tried.add(best)
        const answer = await ask(best, cid, signal)
        if (typeof answer !== 'string') return answer
      }
    },
    describe () {
      if (gateways.length === 0) return 'no gateway'
      return gateways.map(g => g.setAside == null ? g.url : `${g.url} (put aside: ${g.setAside})`).join(', ')
    },
    close () {
      agent.close()
    }
  }
}

interface Answer {
  status: number
  /** The body of a 200 answer; undefined when it was longer than allowed (the rest was not read). */
  body?: Uint8Array
}

interface Limits {
  timeoutMs: number
  connectTimeoutMs: number
  idleTimeoutMs: number
}

function timeout (what: string): Error {
  return Object.assign(new Error(what), { code: 'ETIMEDOUT' })
}

/** undici's HTTP client, loaded on a node's first gateway fetch: an idle node never pays for its code and Wasm parser. */
let undici: Promise<typeof import('undici')> | undefined

/** A dispatcher over kept-alive connections, `connections` per gateway; loads undici on first use. */
function lazyAgent (connections: number, limits: Limits): { get: () => Promise<Dispatcher>, close: () => void } {
  let agent: Promise<Dispatcher> | undefined
  let closed = false
  return {
    get: async () => {
      agent ??= (undici ??= import('undici')).then(u => new u.Agent({
        connections,
        connect: { timeout: limits.connectTimeoutMs },
        // no byte for this long, waiting for the head or between body chunks
        headersTimeout: limits.idleTimeoutMs,
        bodyTimeout: limits.idleTimeoutMs
      }))
      const made = await agent
      if (closed) void made.destroy().catch(() => {})
      return made
    },
    close: () => {
      closed = true
      void agent?.then(async made => { await made.destroy() }).catch(() => {})
    }
  }
}

/** undici's timeouts in the words the others use (`code` ETIMEDOUT), so why a gateway was put aside reads the same. */
function named (err: Error, limits: Limits): Error {
  const code = (err as { code?: string }).code
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return timeout(`no connection within ${limits.connectTimeoutMs} ms`)
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return timeout(`nothing for ${limits.idleTimeoutMs} ms`)
  if (code === 'UND_ERR_SOCKET') return Object.assign(new Error('the connection closed before the answer was whole'), { code: 'ECONNRESET' })
  return err
}

/**
 * One GET with undici's dispatcher over kept-alive connections, the body read into a buffer of its announced length
 * (the caller hashes it, as every block is hashed: block-hash.ts). undici hands each chunk straight to the handler:
 * node:http's client took 1.7 times the CPU per block (a parser copy and a readable stream per answer), most of the
 * pinner's event loop (bench r1). Deadlines and the
 * caller's signal are one timer and one listener: a fresh `AbortSignal.any`/`AbortSignal.timeout` per block showed
 * in profiles as garbage collection. Any answer but a 200 is not read: the request is aborted, which closes its
 * connection (a body trickling forever cannot hold it).
 */
async function getCapped (url: string, agent: () => Promise<Dispatcher>, signal: AbortSignal, limits: Limits, max: number, credential?: Record<string, string>): Promise<Answer> {
  signal.throwIfAborted()
  const target = new URL(url)
  const dispatcher = await agent()
  signal.throwIfAborted()
  const { promise, resolve, reject } = Promise.withResolvers<Answer>()
  // settles once; whatever comes later (an error after an abort) is ignored
  let settled = false
  let controller: Dispatcher.DispatchController | undefined
  let stop: Error | undefined
  const done = (answer: Answer | Error): void => {
    if (settled) return
    settled = true
    if (answer instanceof Error) reject(answer)
    else resolve(answer)
  }
  const abort = (reason: Error, answer: Answer | Error = reason): void => {
    done(answer)
    stop ??= reason
    controller?.abort(reason)
  }
  let status = 0
  let whole: Buffer<ArrayBuffer> | undefined
  const parts: Buffer[] = []
  let length = 0
  const handler: Dispatcher.DispatchHandler = {
    onRequestStart (c) {
      controller = c
      if (stop != null) c.abort(stop)
    },
    onResponseStart (_c, statusCode, headers) {
      status = statusCode
      const declared = Number(headers['content-length'] ?? Number.NaN)
      if (status !== 200 || declared > max) {
        abort(new Error('not read'), { status })
        return
      }
      // one buffer of the announced size (outside the shared pool); without a length, the parts are joined at the end
      if (Number.isSafeInteger(declared)) whole = Buffer.allocUnsafeSlow(declared)
    },
    onResponseData (_c, chunk) {
      if (settled) return
      if (length + chunk.byteLength > (whole?.byteLength ?? max)) {
        abort(new Error('too long'), { status })
        return
      }
      if (whole != null) chunk.copy(whole, length)
      else parts.push(chunk)
      length += chunk.byteLength
    },
    onResponseEnd () {
      if (settled) return
      if (whole != null && length !== whole.byteLength) {
        done(new Error(`the answer was cut short at ${length} of ${whole.byteLength} bytes`))
        return
      }
      done({ status, body: whole ?? Buffer.concat(parts, length) })
    },
    onResponseError (_c, err) {
      done(named(err, limits))
    }
  }
  try {
    dispatcher.dispatch({
      origin: target.origin,
      path: target.pathname + target.search,
      method: 'GET',
      headers: { accept: 'application/vnd.ipld.raw', 'cache-control': 'only-if-cached', ...credential }
    }, handler)
  } catch (err) {
    done(named(err as Error, limits))
  }
  const deadline = setTimeout(() => { abort(timeout(`no whole answer within ${limits.timeoutMs} ms`)) }, limits.timeoutMs)
  const onAbort = (): void => { abort(signal.reason as Error) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await promise
  } finally {
    clearTimeout(deadline)
    signal.removeEventListener('abort', onAbort)
  }
}
