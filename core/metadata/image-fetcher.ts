import { lookup as dnsLookup } from 'node:dns/promises'
import { request as httpRequest } from 'node:http'
import { request as httpsRequest } from 'node:https'
import { isIP } from 'node:net'
import { forbiddenAddress } from './address-policy.ts'
import { ImageRefusedError } from './errors.ts'
import type { IncomingMessage } from 'node:http'
import type { LookupAddress } from 'node:dns'

/*
 * Fetches artwork from the configured provider image hosts only, and never from an internal address: the host
 * must be on the allow-list, every address it resolves to must be public (address-policy.ts), and the
 * connection goes to the address that was checked (our own `lookup`, so DNS cannot change its answer between
 * the check and the connect). Redirects are followed by hand and checked the same way. Answers are bounded in
 * size and time and must be JPEG, PNG, WebP or GIF by their bytes (never SVG, which can carry script).
 */

export type ImageType = 'image/jpeg' | 'image/png' | 'image/webp' | 'image/gif'

export interface FetchedImage {
  bytes: Uint8Array
  type: ImageType
  /** The URL the bytes came from, after redirects. */
  url: string
}

export interface ImageFetcherInit {
  /** Hosts (`host` or `host:port`) images may come from. */
  hosts: Iterable<string>
  /** @default 10485760 (10 MiB) */
  maxBytes?: number
  /** Deadline for one image, redirects included. @default 15000 */
  timeoutMs?: number
  /** @default 3 */
  maxRedirects?: number
  /** TEST ONLY: addresses allowed although internal (a stub on 127.0.0.1). Empty in production. */
  allowAddresses?: Iterable<string>
  /** TEST ONLY: allow plain http. @default false */
  allowHttp?: boolean
  /** Resolver, replaceable in tests. @default dns.lookup with all: true */
  resolve?: (host: string) => Promise<LookupAddress[]>
}

export interface ImageFetcher {
  /** Fetches an image or throws ImageRefusedError saying why not. */
  fetch: (url: string, options?: { signal?: AbortSignal }) => Promise<FetchedImage>
  /** Whether `url` names an allowed scheme and host (no network). */
  allowed: (url: string) => boolean
}

const REDIRECTS = new Set([301, 302, 303, 307, 308])

/** The image type of `bytes` by their first bytes, if it is one we keep. */
export function sniffImage (bytes: Uint8Array): ImageType | undefined {
  const b = bytes
  if (b.length >= 3 && b[0] === 0xff && b[1] === 0xd8 && b[2] === 0xff) return 'image/jpeg'
  if (b.length >= 8 && [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a].every((v, i) => b[i] === v)) return 'image/png'
  if (b.length >= 6 && /^GIF8[79]a$/.test(Buffer.from(b.subarray(0, 6)).toString('latin1'))) return 'image/gif'
  if (b.length >= 12 && Buffer.from(b.subarray(0, 4)).toString('latin1') === 'RIFF' && Buffer.from(b.subarray(8, 12)).toString('latin1') === 'WEBP') return 'image/webp'
  return undefined
}

/** Creates the image fetcher. */
export function createImageFetcher (init: ImageFetcherInit): ImageFetcher {
  const hosts = new Set([...init.hosts].map(h => h.toLowerCase()))
  const allowAddresses = new Set(init.allowAddresses ?? [])
  const maxBytes = init.maxBytes ?? 10 * 1024 * 1024
  const timeoutMs = init.timeoutMs ?? 15_000
  const maxRedirects = init.maxRedirects ?? 3
  const resolve = init.resolve ?? (async (host: string) => await dnsLookup(host, { all: true, verbatim: true }))

  function checkUrl (text: string): URL {
    let url: URL
    try {
      url = new URL(text)
    } catch {
      throw new ImageRefusedError('the image URL does not parse')
    }
    if (url.protocol !== 'https:' && !(init.allowHttp === true && url.protocol === 'http:')) throw new ImageRefusedError(`scheme ${url.protocol} is not allowed for images`)
    if (url.username !== '' || url.password !== '') throw new ImageRefusedError('credentials in an image URL are not allowed')
    // url.host carries the port only when it is not the scheme's default: a bare configured host allows only that
    const host = url.host.toLowerCase()
    if (!hosts.has(host)) throw new ImageRefusedError(`host ${host} is not a configured image host`)
    return url
  }

  function checkAddress (address: string, host: string): void {
    if (allowAddresses.has(address)) return
    const reason = forbiddenAddress(address)
    if (reason != null) throw new ImageRefusedError(`${host} resolves to ${address} (${reason}); refused`)
  }

  /** Resolves `host`, refuses it if any of its addresses is internal, and returns the addresses to connect to. */
  async function addressesOf (hostname: string): Promise<LookupAddress[]> {
    const bare = hostname.replace(/^\[|\]$/g, '')
    if (isIP(bare) !== 0) {
      checkAddress(bare, hostname)
      return [{ address: bare, family: isIP(bare) }]
    }
    let addresses: LookupAddress[]
    try {
      addresses = await resolve(bare)
    } catch (err) {
      throw new ImageRefusedError(`cannot resolve ${hostname}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    if (addresses.length === 0) throw new ImageRefusedError(`${hostname} has no addresses`)
    for (const a of addresses) checkAddress(a.address, hostname)
    return addresses
  }

  async function get (url: URL, addresses: LookupAddress[], signal: AbortSignal): Promise<IncomingMessage> {
    const request = url.protocol === 'https:' ? httpsRequest : httpRequest
    return await new Promise((resolve, reject) => {
      const req = request(url, {
        method: 'GET',
        headers: { Accept: 'image/webp,image/png,image/jpeg,image/gif;q=0.9', 'User-Agent': 'cidcast' },
        signal,
        agent: false,
        // connect only to the addresses checked above, whatever DNS would say now
        lookup: (_host, options, callback) => {
          const all = (options as { all?: boolean }).all === true
          if (all) (callback as unknown as (err: null, list: LookupAddress[]) => void)(null, addresses)
          else callback(null, addresses[0].address, addresses[0].family)
        }
      }, resolve)
      req.on('error', reject)
      req.end()
    })
  }

  async function read (response: IncomingMessage, url: URL): Promise<Uint8Array> {
    const declared = Number(response.headers['content-length'])
    if (Number.isFinite(declared) && declared > maxBytes) {
      response.destroy()
      throw new ImageRefusedError(`${url.host}: image of ${declared} bytes is over the ${maxBytes}-byte limit`)
    }
    const chunks: Buffer[] = []
    let total = 0
    for await (const chunk of response) {
      total += (chunk as Buffer).length
      if (total > maxBytes) {
        response.destroy()
        throw new ImageRefusedError(`${url.host}: image is over the ${maxBytes}-byte limit`)
      }
      chunks.push(chunk as Buffer)
    }
    return new Uint8Array(Buffer.concat(chunks))
  }

  return {
    allowed (url) {
      try {
        checkUrl(url)
        return true
      } catch {
        return false
      }
    },

    async fetch (text, options = {}) {
      const deadline = AbortSignal.timeout(timeoutMs)
      const signal = options.signal == null ? deadline : AbortSignal.any([options.signal, deadline])
      let url = checkUrl(text)
      try {
        for (let redirects = 0; ; redirects++) {
          const response = await get(url, await addressesOf(url.hostname), signal)
          const status = response.statusCode ?? 0
          if (REDIRECTS.has(status)) {
            response.resume()
            const location = response.headers.location
            if (location == null) throw new ImageRefusedError(`${url.host}: redirect without a Location`)
            if (redirects >= maxRedirects) throw new ImageRefusedError(`more than ${maxRedirects} redirects`)
            url = checkUrl(new URL(location, url).toString())
            continue
          }
          if (status !== 200) {
            response.resume()
            throw new ImageRefusedError(`${url.host}: HTTP ${status}`)
          }
          const declaredType = String(response.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase()
          if (declaredType !== '' && !declaredType.startsWith('image/') && declaredType !== 'application/octet-stream') {
            response.destroy()
            throw new ImageRefusedError(`${url.host}: content type ${declaredType} is not an image`)
          }
          if (declaredType === 'image/svg+xml') {
            response.destroy()
            throw new ImageRefusedError(`${url.host}: SVG images are not kept`)
          }
          const bytes = await read(response, url)
          const type = sniffImage(bytes)
          if (type == null) throw new ImageRefusedError(`${url.host}: the bytes are not a JPEG, PNG, WebP or GIF image`)
          return { bytes, type, url: url.toString() }
        }
      } catch (err) {
        if (err instanceof ImageRefusedError) throw err
        if (deadline.aborted) throw new ImageRefusedError(`${url.host}: no image within ${timeoutMs} ms`)
        if (options.signal?.aborted === true) throw err
        throw new ImageRefusedError(`${url.host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
      }
    }
  }
}
