import Router from '@koa/router'
import { NotCachedError } from '../../core/errors.ts'
import { carBlocks } from '../../core/ipfs/index.ts'
import { isMissing, SOURCE_HEADER } from '../node-content.ts'
import { carScope, entityRange, negotiate } from './ipfs-http.ts'
import { ipfsRoutes, parseIpfsPath } from './ipfs.ts'
import type { OriginClient } from '../../core/edge/index.ts'
import type { ContentReader, DagScope } from '../../core/ipfs/index.ts'
import type { Logger } from '../../core/logger.ts'
import type { FallbackMode, NodeContent } from '../node-content.ts'
import type { Blockstore } from 'interface-blockstore'
import type { Context, Middleware } from 'koa'
import type { CID } from 'multiformats/cid'

/**
 * `/ipfs/{cid}[/path]` on a CDN node: the main server's path and trustless gateway over the node's own blocks
 * when every block the answer needs is here. On a miss the node fetches a trustless CAR of what is needed from
 * the origin (each block checked against its CID as it arrives, and kept), or pulls the blocks from connected
 * peers over bitswap with a deadline, or redirects; then answers from those blocks like a local hit, marked with
 * its source.
 */

export interface NodeIpfsComponents {
  content: NodeContent
  origin: OriginClient
  logger: Logger
}

export interface NodeIpfsInit {
  /** @default 'origin' */
  fallback?: FallbackMode
  /** How long to wait for peers before asking the origin (`fallback: 'peer'`). @default 5000 */
  peerTimeoutMs?: number
}

const IPFS_PATH = /^\/ipfs\/[^/]+(?:\/.*)?$/

/** The node's `/ipfs` routes. */
export function nodeIpfsRoutes (components: NodeIpfsComponents, init: NodeIpfsInit = {}): Router {
  const { content, origin } = components
  const log = components.logger.child({ name: 'cidcast:node-ipfs' })
  const fallback = init.fallback ?? 'origin'
  const peerTimeoutMs = init.peerTimeoutMs ?? 5000
  const gatewayOf = (reader: ContentReader): Middleware => {
    // the gateway reads through `reader`; the blockstore it also takes is only used when no reader is given
    const blockstore: Pick<Blockstore, 'get' | 'has'> = {
      async * get (cid, options) { yield await reader.blocks.get(cid, options) },
      async has (cid, options) { return await reader.blocks.has(cid, options) }
    }
    return ipfsRoutes({ blockstore, reader, logger: components.logger }).routes() as unknown as Middleware
  }
  const local = gatewayOf(content.reader)

  /**
   * Reads (through `reader`) every block the answer will need, so that it can then be written without a miss.
   * With the local reader, file leaves are only checked for presence; with the network reader, reading them is
   * what pulls them from peers. False when a block is missing (or did not come in time).
   */
  async function gather (ctx: Context, reader: ContentReader, signal?: AbortSignal): Promise<boolean> {
    const checkOnly = reader === content.reader
    const fileReady = async (cid: CID): Promise<boolean> => {
      if (checkOnly) return await content.localFile(cid, { signal }) != null
      const entry = await reader.stat(cid, { signal })
      for await (const slice of reader.slices(entry, 0, entry.size, { signal })) await reader.read(slice, { signal })
      return true
    }
    try {
      const request = parseIpfsPath(ctx.path)
      const format = negotiate(ctx.query, ctx.get('Accept') || undefined)
      if (format.kind === 'raw') {
        if (request.segments.length > 0) return true // refused by the gateway itself
        if (checkOnly) return await reader.blocks.has(request.root, { signal })
        await reader.blocks.get(request.root, { signal })
        return true
      }
      const resolved = await reader.resolve(request.root, request.segments, { signal })
      const entry = await reader.stat(resolved.cid, { signal })
      if (format.kind === 'car') {
        const { scope, entityBytes } = carScope(ctx.query)
        let walkScope: DagScope = scope
        let range
        if (entityBytes != null && entry.kind === 'file') {
          range = entityRange(entityBytes, entry.size)
          if (range == null) walkScope = 'block'
        }
        for await (const block of carBlocks(reader, resolved, { scope: walkScope, range, signal })) void block
        return true
      }
      if (entry.kind === 'file') return await fileReady(entry.cid)
      if (entry.kind === 'directory') {
        const index = await reader.child(entry.cid, 'index.html', { signal })
        if (index != null && (await reader.stat(index, { signal })).kind === 'file') return await fileReady(index)
        for await (const child of reader.list(entry.cid, { signal })) void child
      }
      return true
    } catch (err) {
      if (isMissing(err) || (err as Error).name === 'AbortError' || (err as Error).name === 'TimeoutError') return false
      // anything else (a bad CID or path, a path that is not there) is for the gateway itself to answer
      return true
    }
  }

  /** The trustless CAR request that brings what this request needs. */
  function carPath (ctx: Context, scope: DagScope): string {
    const format = negotiate(ctx.query, ctx.get('Accept') || undefined)
    const query = new URLSearchParams({ format: 'car' })
    if (format.kind === 'raw') {
      query.set('dag-scope', 'block')
    } else if (format.kind === 'car') {
      query.set('dag-scope', carScope(ctx.query).scope)
      const bytes = ctx.query['entity-bytes']
      if (typeof bytes === 'string') query.set('entity-bytes', bytes)
    } else {
      query.set('dag-scope', scope)
    }
    return `${ctx.path}?${query.toString()}`
  }

  async function fromOrigin (ctx: Context): Promise<ContentReader> {
    let reader = await content.keep(origin.car(carPath(ctx, 'entity')))
    if (!await gather(ctx, reader)) {
      // a directory listing reads each child's first block: bring the whole directory
      reader = await content.keep(origin.car(carPath(ctx, 'all')))
    }
    return reader
  }

  async function fromPeers (ctx: Context): Promise<boolean> {
    const ready = await gather(ctx, content.network, AbortSignal.timeout(peerTimeoutMs))
    if (!ready) log.debug({ path: ctx.path }, 'no peer had the blocks in time: asking the origin')
    return ready && await gather(ctx, content.reader)
  }

  async function handle (ctx: Context, next: () => Promise<unknown>): Promise<void> {
    if (await gather(ctx, content.reader)) {
      ctx.set(SOURCE_HEADER, 'local')
      await local(ctx, next)
      return
    }
    if (/\bonly-if-cached\b/i.test(ctx.get('Cache-Control'))) throw new NotCachedError(`${ctx.path} is not held by this node`)
    if (fallback === 'redirect') {
      ctx.set(SOURCE_HEADER, 'origin')
      ctx.set('Cache-Control', 'no-store')
      ctx.redirect(origin.url + ctx.url)
      return
    }
    if (fallback === 'peer' && await fromPeers(ctx)) {
      ctx.set(SOURCE_HEADER, 'peer')
      await local(ctx, next)
      return
    }
    const reader = await fromOrigin(ctx)
    ctx.set(SOURCE_HEADER, 'origin')
    await (reader === content.reader ? local : gatewayOf(reader))(ctx, next)
  }

  return new Router().get(IPFS_PATH, handle)
}
