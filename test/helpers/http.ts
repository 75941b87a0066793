import { Agent, get as httpGet } from 'node:http'
import type { IncomingHttpHeaders } from 'node:http'

/** One complete response: the timed requests of the bench read every body to its end. */
export interface Fetched {
  status: number
  headers: IncomingHttpHeaders
  body: Buffer
}

/** What a request sends besides its URL. */
export interface FetchOptions {
  signal?: AbortSignal
  /** Request headers (the main server reads `/media` and `/ipfs` only with a credential: `bearer(token)`). */
  headers?: Record<string, string>
}

/** GETs `url` with node:http through `agent` (a player's connection pool) and reads the whole body. */
export async function fetchWhole (url: string, agent: Agent, options: FetchOptions = {}): Promise<Fetched> {
  return await new Promise((resolve, reject) => {
    const req = httpGet(url, { agent, signal: options.signal, headers: options.headers }, res => {
      const parts: Buffer[] = []
      res.on('data', (chunk: Buffer) => { parts.push(chunk) })
      res.on('end', () => { resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(parts) }) })
      res.on('error', reject)
    })
    req.on('error', reject)
  })
}

/** Like `fetchWhole`, but a status other than 200 is an error naming the URL. */
export async function fetchOk (url: string, agent: Agent, options: FetchOptions = {}): Promise<Fetched> {
  const res = await fetchWhole(url, agent, options)
  if (res.status !== 200) throw new Error(`GET ${url} answered ${res.status}: ${res.body.toString('utf8', 0, 200)}`)
  return res
}

/** A fresh keep-alive connection pool: what one new player has. */
export function newClient (): Agent {
  return new Agent({ keepAlive: true, maxSockets: 6 })
}

/** Milliseconds taken by `work`. */
export async function timed (work: () => Promise<unknown>): Promise<number> {
  const started = performance.now()
  await work()
  return performance.now() - started
}
