import http from 'node:http'
import https from 'node:https'
import { equals } from 'uint8arrays/equals'
import { sha256 } from 'multiformats/hashes/sha2'
import type { Logger } from '../logger.ts'
import type { CID } from 'multiformats/cid'

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
  /** One request, headers and body, must finish within this. @default 15000 */
  timeoutMs?: number
  /** A larger answer is not a block (bitswap's own limit is 2 MiB; the import profile makes 1 MiB leaves). @default 4194304 */
  maxBlockBytes?: number
  /** Connections kept open to each gateway: as many as blocks in flight. @default 16 */
  connections?: number
}

export interface GatewayBlocksComponents {
  logger: Logger
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

const DEFAULT_TIMEOUT_MS = 15_000
const DEFAULT_MAX_BLOCK_BYTES = 4 * 1024 * 1024

interface Gateway {
  url: string
  inFlight: number
  /** Why it is no longer asked, once it is not. */
  setAside?: string
}

/** What an answer was, when it was no block. */
type Miss = 'lacks' | 'failed'

/** Makes a block source over `init.gateways` (duplicates and non-http(s) URLs are dropped). */
export function gatewayBlocks (components: GatewayBlocksComponents, init: GatewayBlocksInit): GatewayBlocks {
  const log = components.logger.child({ name: 'cidcast:gateway-blocks' })
  const timeoutMs = init.timeoutMs ?? DEFAULT_TIMEOUT_MS
  const maxBlockBytes = init.maxBlockBytes ?? DEFAULT_MAX_BLOCK_BYTES
  const gateways: Gateway[] = []
  for (const url of init.gateways) {
    let base: URL
    try {
      base = new URL(url)
    } catch {
      continue
    }
    if (base.protocol !== 'http:' && base.protocol !== 'https:') continue
    const href = base.href.replace(/\/+$/, '')
    if (!gateways.some(g => g.url === href)) gateways.push({ url: href, inFlight: 0 })
  }

  const setAside = (gateway: Gateway, why: string): void => {
    if (gateway.setAside != null) return
    gateway.setAside = why
    log.warn({ gateway: gateway.url, why }, 'gateway put aside for this fetch')
  }

  const agents = { http: new http.Agent({ keepAlive: true, maxSockets: init.connections ?? 16 }), https: new https.Agent({ keepAlive: true, maxSockets: init.connections ?? 16 }) }

  const ask = async (gateway: Gateway, cid: CID, signal: AbortSignal): Promise<Uint8Array | Miss> => {
    const path = `/ipfs/${cid.toString()}?format=raw`
    let answer: Answer
    gateway.inFlight++
    try {
      answer = await getCapped(gateway.url + path, agents, signal, timeoutMs, maxBlockBytes)
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
    // get() asks only for sha2-256 blocks
    if (answer.sha256 == null || !equals(answer.sha256, cid.multihash.digest)) {
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
      agents.http.destroy()
      agents.https.destroy()
    }
  }
}

interface Answer {
  status: number
  /** The body of a 200 answer; undefined when it was longer than allowed (the rest was not read). */
  body?: Uint8Array
  /** Its sha2-256 digest. */
  sha256?: Uint8Array
}

/**
 * One GET with node's own HTTP client over kept-alive connections, the body read into a buffer of its announced
 * length and hashed. Deadlines and the caller's signal are a plain timer and one listener: a fresh
 * `AbortSignal.any`/`AbortSignal.timeout` per block showed in profiles as garbage collection and cost a third of the
 * throughput (bench r1); `fetch` adds web streams that hand a body over in many small promises.
 */
async function getCapped (url: string, agents: { http: http.Agent, https: https.Agent }, signal: AbortSignal, timeoutMs: number, max: number): Promise<Answer> {
  signal.throwIfAborted()
  const secure = url.startsWith('https:')
  const { promise, resolve, reject } = Promise.withResolvers<Answer>()
  const request = (secure ? https : http).get(url, {
    agent: secure ? agents.https : agents.http,
    headers: { Accept: 'application/vnd.ipld.raw', 'Cache-Control': 'only-if-cached' }
  }, response => {
    const status = response.statusCode ?? 0
    if (status !== 200) {
      response.resume()
      resolve({ status })
      return
    }
    const declared = Number(response.headers['content-length'] ?? Number.NaN)
    if (declared > max) {
      request.destroy()
      resolve({ status })
      return
    }
    // one buffer of the announced size; without a length, the parts are joined at the end
    const whole = Number.isSafeInteger(declared) ? Buffer.allocUnsafe(declared) : undefined
    const parts: Buffer[] = []
    let length = 0
    response.on('data', (chunk: Buffer) => {
      if (length + chunk.byteLength > (whole?.byteLength ?? max)) {
        request.destroy()
        resolve({ status })
        return
      }
      if (whole != null) chunk.copy(whole, length)
      else parts.push(chunk)
      length += chunk.byteLength
    })
    response.once('end', () => {
      if (whole != null && length !== whole.byteLength) {
        reject(new Error(`the answer was cut short at ${length} of ${whole.byteLength} bytes`))
        return
      }
      const body = whole ?? Buffer.concat(parts, length)
      // WebCrypto hashes on libuv's thread pool: the event loop, which every block's HTTP goes through, is the
      // bottleneck of a fetch, not the CPU as a whole (bench r1: ~10% faster than hashing chunk by chunk here)
      globalThis.crypto.subtle.digest('SHA-256', body).then(digest => { resolve({ status, body, sha256: new Uint8Array(digest) }) }, reject)
    })
    response.once('error', reject)
  })
  request.once('error', reject)
  const timer = setTimeout(() => { request.destroy(Object.assign(new Error(`no whole answer within ${timeoutMs} ms`), { code: 'ETIMEDOUT' })) }, timeoutMs)
  const onAbort = (): void => { request.destroy(signal.reason) }
  signal.addEventListener('abort', onAbort, { once: true })
  try {
    return await promise
  } finally {
    clearTimeout(timer)
    signal.removeEventListener('abort', onAbort)
  }
}
