import { Readable } from 'node:stream'
import * as raw from 'multiformats/codecs/raw'
import { ContentNotFoundError } from '../core/errors.ts'
import { IMMUTABLE_CACHE, contentTypeFor, etagMatches, parseRange } from './routes/ipfs-http.ts'
import type { ContentEntry, ContentReader } from '../core/ipfs/index.ts'
import type { Context } from 'koa'
import type { CID } from 'multiformats/cid'

export interface SendFileOptions {
  /** @default the immutable cache of /ipfs */
  cacheControl?: string
  /** Content-Type; guessed from `name` when absent. */
  type?: string
  /** Content-Disposition to set, if any. */
  disposition?: string
}

/** Sets Etag and Cache-Control and answers 304 when the client already holds this representation. */
export function notModified (ctx: Context, etag: string, cacheControl = IMMUTABLE_CACHE): boolean {
  ctx.set('Etag', etag)
  ctx.set('Cache-Control', cacheControl)
  if (!etagMatches(ctx.get('If-None-Match') || undefined, etag)) return false
  ctx.status = 304
  return true
}

async function * prepend (head: Buffer, rest: AsyncGenerator<Buffer>): AsyncGenerator<Buffer> {
  yield head
  yield * rest
}

/**
 * Answers with a UnixFS file (or raw leaf) from the local blocks: Etag = its CID, Range -> 206, HEAD, 304.
 * A file held in one block is written as one Buffer, the fast path for HLS segments (a raw block: read as it is).
 */
export async function sendFile (ctx: Context, reader: ContentReader, file: CID | ContentEntry, name: string, options: SendFileOptions = {}): Promise<void> {
  const entry = 'kind' in file ? file : await reader.stat(file)
  const etag = `"${entry.cid.toString()}"`
  if (notModified(ctx, etag, options.cacheControl)) return
  ctx.type = options.type ?? contentTypeFor(name)
  ctx.set('Accept-Ranges', 'bytes')
  if (options.disposition != null) ctx.set('Content-Disposition', options.disposition)
  const ifRange = ctx.get('If-Range')
  let range: { start: number, end: number } | undefined
  try {
    range = ifRange === '' || ifRange === etag ? parseRange(ctx.get('Range') || undefined, entry.size) : undefined
  } catch (err) {
    // RFC 9110: a 416 says how long the representation is
    ctx.set('Content-Range', `bytes */${entry.size}`)
    throw err
  }
  const start = range?.start ?? 0
  const end = range?.end ?? entry.size
  if (range != null) {
    ctx.status = 206
    ctx.set('Content-Range', `bytes ${start}-${end - 1}/${entry.size}`)
  } else {
    ctx.status = 200
  }
  if (ctx.method === 'HEAD') {
    ctx.length = end - start
    return
  }
  if (entry.cid.code === raw.code) {
    // a file of one raw block (an HLS segment): the block itself, without walking a DAG (a missing one is a 404)
    const block = await reader.blocks.get(entry.cid)
    ctx.body = start === 0 && end === block.byteLength ? block : block.subarray(start, end)
    return
  }
  // a file of several blocks: every block of the range is known good (or read and hashed now) before a status is
  // sent, so a missing or damaged one is a 404 and not a cut-off 200 (a one-block file is read whole just below)
  for await (const slice of reader.slices(entry, start, end)) {
    if (!slice.inline && !await reader.blocks.ready(slice.cid)) throw new ContentNotFoundError(`block ${slice.cid.toString()} of ${entry.cid.toString()} is not available here`)
  }
  const chunks = reader.content(entry, start, end)
  // read the first block before answering, so a missing block is a 404 and not a cut-off 200
  const first = await chunks.next()
  const head = first.done === true ? Buffer.alloc(0) : first.value
  if (head.byteLength === end - start) {
    await chunks.return(undefined)
    ctx.body = head
    return
  }
  ctx.body = Readable.from(prepend(head, chunks), { objectMode: false })
  ctx.length = end - start
}
