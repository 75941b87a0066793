import { createHash } from 'node:crypto'
import { Readable } from 'node:stream'
import Router from '@koa/router'
import { CID } from 'multiformats/cid'
import {
  InvalidCIDError, InvalidPathError, InvalidRequestError, NotCachedError
} from '../../core/errors.ts'
import { assertHeldCid, carBlocks, checkSegment, createContentReader, encodeCar, entityRange } from '../../core/ipfs/index.ts'
import { onlyIfCached } from '../media-http.ts'
import { notModified, sendFile } from '../send-file.ts'
import { carScope, contentDisposition, directoryListing, MEDIA_CAR, MEDIA_RAW, negotiate } from './ipfs-http.ts'
import type { Logger } from '../../core/logger.ts'
import type { ContentEntry, ContentReader, ContentReaderInit, DagScope, DirectoryEntry, ResolvedPath } from '../../core/ipfs/index.ts'
import type { Blockstore } from 'interface-blockstore'
import type { Context } from 'koa'

export interface IpfsRouteComponents {
  /** Where blocks live: a Helia node's `blockstore` or any interface-blockstore. */
  blockstore: Pick<Blockstore, 'get' | 'has'>
  logger: Logger
  /** A reader to share (with its block cache) with other routes; built from `blockstore` when absent. */
  reader?: ContentReader
}

/** Cache size, direct block-file reads and offline mode of the reader built when none is given. */
export type IpfsRouteInit = ContentReaderInit

/** Generated listings may change with this code, so they are not cached as immutable. */
const LISTING_CACHE = 'public, max-age=604800'
const DIRECTORY_INDEX = 'index.html'
/** `/ipfs/{cid}` and anything below it; the path is parsed by hand so no decoding happens before checks. */
const IPFS_PATH = /^\/ipfs\/[^/]+(?:\/.*)?$/

const CODEC_TYPES: Readonly<Record<number, string>> = {
  0x70: 'application/vnd.ipld.dag-pb',
  0x71: 'application/vnd.ipld.dag-cbor',
  0x0129: 'application/vnd.ipld.dag-json',
  0x51: 'application/cbor',
  0x0200: 'application/json'
}

interface IpfsRequest {
  root: CID
  segments: string[]
  trailingSlash: boolean
}

/** The path and trustless gateway at `/ipfs/{cid}[/path]`: UnixFS files, directories, raw blocks and CARs. */
export function ipfsRoutes (components: IpfsRouteComponents, init: IpfsRouteInit = {}): Router {
  const log = components.logger.child({ name: 'cidcast:gateway:ipfs' })
  const reader = components.reader ?? createContentReader({ blockstore: components.blockstore, logger: log }, init)

  async function handle (ctx: Context): Promise<void> {
    const request = parseIpfsPath(ctx.path)
    const format = negotiate(ctx.query, ctx.get('Accept') || undefined)
    ctx.set('X-Ipfs-Path', ctx.path)
    ctx.vary('Accept')
    if (onlyIfCached(ctx) && !(await reader.blocks.has(request.root))) {
      throw new NotCachedError(`${request.root.toString()} is not held by this node`)
    }
    if (format.kind === 'raw') {
      await serveBlock(ctx, request)
      return
    }
    const resolved = await reader.resolve(request.root, request.segments)
    ctx.set('X-Ipfs-Roots', resolved.roots.map(cid => cid.toString()).join(','))
    if (format.kind === 'car') {
      await serveCar(ctx, resolved, format.duplicates)
      return
    }
    const entry = await reader.stat(resolved.cid)
    if (entry.kind === 'directory') {
      await serveDirectory(ctx, request, resolved, entry)
    } else if (entry.kind === 'file') {
      await serveFile(ctx, entry, request.segments.at(-1) ?? '')
    } else {
      await serveObject(ctx, entry)
    }
  }

  async function serveBlock (ctx: Context, request: IpfsRequest): Promise<void> {
    if (request.segments.length > 0) throw new InvalidRequestError('a raw block is only served for /ipfs/{cid}, without a path')
    const cid = request.root
    ctx.set('X-Ipfs-Roots', cid.toString())
    const block = await reader.blocks.get(cid)
    if (notModified(ctx, `"${cid.toString()}.raw"`)) return
    ctx.set('X-Content-Type-Options', 'nosniff')
    ctx.set('Content-Disposition', contentDisposition('attachment', filenameParam(ctx) ?? `${cid.toString()}.bin`))
    ctx.type = MEDIA_RAW
    ctx.status = 200
    if (ctx.method === 'HEAD') ctx.length = block.byteLength
    else ctx.body = block
  }

  async function serveCar (ctx: Context, resolved: ResolvedPath, duplicates: boolean): Promise<void> {
    const { scope: requested, entityBytes } = carScope(ctx.query)
    const entry = await reader.stat(resolved.cid) // the terminal block must be here before a 200 is sent
    let scope: DagScope = requested
    let range: { start: number, end: number } | undefined
    if (entityBytes != null && entry.kind === 'file') {
      range = entityRange(entityBytes, entry.size)
      if (range == null) scope = 'block'
    }
    const variant = `${scope}|${ctx.query['entity-bytes']?.toString() ?? ''}|dfs|${duplicates ? 'y' : 'n'}`
    const tag = createHash('sha256').update(variant).digest('hex').slice(0, 16)
    if (notModified(ctx, `W/"${resolved.cid.toString()}.car.${tag}"`)) return
    ctx.set('X-Content-Type-Options', 'nosniff')
    ctx.set('Accept-Ranges', 'none')
    ctx.set('Content-Disposition', contentDisposition('attachment', filenameParam(ctx) ?? `${resolved.cid.toString()}.car`))
    ctx.type = `${MEDIA_CAR}; version=1; order=dfs; dups=${duplicates ? 'y' : 'n'}`
    ctx.status = 200
    if (ctx.method === 'HEAD') return
    const blocks = carBlocks(reader, resolved, { scope, range, duplicates })
    ctx.body = Readable.from(encodeCar(resolved.cid, blocks), { objectMode: false })
  }

  async function serveDirectory (ctx: Context, request: IpfsRequest, resolved: ResolvedPath, dir: ContentEntry): Promise<void> {
    if (!request.trailingSlash) {
      ctx.status = 301
      ctx.set('Location', `${ctx.path}/${ctx.search}`)
      return
    }
    const index = await reader.child(dir.cid, DIRECTORY_INDEX)
    if (index != null) {
      const entry = await reader.stat(index)
      if (entry.kind === 'file') {
        await serveFile(ctx, entry, DIRECTORY_INDEX)
        return
      }
    }
    if (notModified(ctx, `W/"DirIndex-1_CID-${dir.cid.toString()}"`, LISTING_CACHE)) return
    const entries: DirectoryEntry[] = []
    for await (const entry of reader.list(dir.cid)) entries.push(entry)
    entries.sort((a, b) => a.name.localeCompare(b.name))
    ctx.status = 200
    ctx.type = 'text/html; charset=utf-8'
    ctx.body = directoryListing(ctx.path, resolved.cid.toString(), entries)
  }

  async function serveFile (ctx: Context, file: ContentEntry, name: string): Promise<void> {
    const filename = filenameParam(ctx)
    const kind = ctx.query.download === 'true' ? 'attachment' : 'inline'
    const disposition = filename != null || ctx.query.download === 'true' ? contentDisposition(kind, filename ?? (name || file.cid.toString())) : undefined
    await sendFile(ctx, reader, file, filename ?? name, { disposition })
  }

  async function serveObject (ctx: Context, entry: ContentEntry): Promise<void> {
    if (notModified(ctx, `"${entry.cid.toString()}"`)) return
    const block = await reader.blocks.get(entry.cid)
    ctx.type = CODEC_TYPES[entry.cid.code] ?? 'application/octet-stream'
    ctx.status = 200
    if (ctx.method === 'HEAD') ctx.length = block.byteLength
    else ctx.body = block
  }

  return new Router().get(IPFS_PATH, handle)
}

/**
 * Splits `/ipfs/{cid}/a/b` from the raw (still percent-encoded) path, decoding each segment only after
 * the separators are known, and refuses anything that could step outside the DAG.
 */
export function parseIpfsPath (rawPath: string): IpfsRequest {
  if (/\\|%5c|%00|\0/i.test(rawPath)) throw new InvalidPathError('backslashes and NUL are not allowed in a path')
  const [, , cidText, ...rest] = rawPath.split('/')
  const trailingSlash = rest.length > 0 && rest[rest.length - 1] === ''
  const parts = trailingSlash ? rest.slice(0, -1) : rest
  const segments = parts.map(part => {
    let name: string
    try {
      name = decodeURIComponent(part)
    } catch {
      throw new InvalidPathError(`malformed percent-encoding in ${JSON.stringify(part)}`)
    }
    checkSegment(name)
    return name
  })
  let root: CID
  try {
    root = CID.parse(cidText)
  } catch (err: unknown) {
    throw new InvalidCIDError(`invalid CID ${JSON.stringify(cidText)}: ${(err as Error).message}`)
  }
  // an identity CID is content written into the URL, held by nobody: served, any page made up by whoever writes
  // the link would run on this origin (the web UI's, with its session cookie)
  assertHeldCid(root)
  return { root, segments, trailingSlash }
}

function filenameParam (ctx: Context): string | undefined {
  const name = ctx.query.filename
  const value = Array.isArray(name) ? name[0] : name
  return value != null && value !== '' ? value : undefined
}
