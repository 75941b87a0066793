import { NODE_CREDENTIAL_HEADER } from '../core/access/index.ts'
import { SOURCE_HEADER } from './media-http.ts'
import type { StreamAccessState } from './access/stream-access.ts'
import type { DemandMeter, ServedSource } from '../core/edge/index.ts'
import type { Context } from 'koa'
import type { ServerResponse } from 'node:http'

/*
 * The HTTP end of a CDN node's demand meter (core/edge/demand-meter.ts): a content route names what a request is
 * for (a rendition's media and profile, or an `/ipfs` root) before it asks anyone for bytes, and the answer is
 * counted once it is written: the body bytes that really left (a range, a viewer who hung up), where they came from
 * (`X-Cidcast-Source`; a redirect sends none), and who asked. Requests refused (4xx) are not demand; answers that
 * failed (5xx) count as requests. Other nodes fetching blocks with their credential replicate, they do not watch.
 */

/** What a content request is for: an `/ipfs` root, or a `/media` id with its profile (none for the master playlist). */
export interface ServedTarget {
  root?: string
  media?: string
  profile?: string
}

const SOURCES: ReadonlySet<string> = new Set(['local', 'peer', 'origin'])

/** Counts the bytes written to `res` from now on, by wrapping its `write` and `end`. */
function countWritten (res: ServerResponse): () => number {
  let written = 0
  const size = (chunk: unknown, encoding: unknown): number => {
    if (typeof chunk === 'string') return Buffer.byteLength(chunk, typeof encoding === 'string' ? encoding as BufferEncoding : 'utf8')
    return chunk instanceof Uint8Array ? chunk.byteLength : 0
  }
  const write = res.write.bind(res) as (...args: unknown[]) => boolean
  const end = res.end.bind(res) as (...args: unknown[]) => ServerResponse
  // the overloads of write and end take (chunk?, encoding?, callback?): only the chunk is looked at, all is passed on
  res.write = ((...args: unknown[]) => { written += size(args[0], args[1]); return write(...args) }) as ServerResponse['write']
  res.end = ((...args: unknown[]) => { if (typeof args[0] !== 'function') written += size(args[0], args[1]); return end(...args) }) as ServerResponse['end']
  return () => written
}

/** Where the answer's bytes came from, as the route said it, or undefined for a failed answer. */
function sourceOf (ctx: Context): ServedSource | undefined {
  if (ctx.status >= 500) return undefined
  // redirectToOrigin marks a redirect `origin` for the viewer; here it is the request that sent no bytes
  if (ctx.status >= 300 && ctx.status < 400 && ctx.status !== 304) return 'redirect'
  const source = ctx.response.get(SOURCE_HEADER)
  return SOURCES.has(source) ? source as ServedSource : undefined
}

/** Counts this request's answer with `meter` once it is written (or the viewer hangs up). */
export function meterAnswer (ctx: Context, meter: Pick<DemandMeter, 'record'>, target: ServedTarget): void {
  const state = ctx.state as StreamAccessState
  if (state.node != null || ctx.get(NODE_CREDENTIAL_HEADER) !== '') return
  const written = countWritten(ctx.res)
  let done = false
  const finish = (): void => {
    if (done) return
    done = true
    if (ctx.status >= 400 && ctx.status < 500) return
    const source = sourceOf(ctx)
    const viewer = state.userId != null ? `user ${state.userId}` : `address ${ctx.ip}`
    meter.record({ ...target, source, bytes: source == null || source === 'redirect' ? 0 : written(), viewer })
  }
  ctx.res.once('finish', finish)
  ctx.res.once('close', finish)
}
