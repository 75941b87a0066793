import Router from '@koa/router'
import { onlyIfCached, redirectToOrigin, SOURCE_HEADER } from '../media-http.ts'
import { carScope, negotiate } from './ipfs-http.ts'
import { ipfsRoutes, parseIpfsPath } from './ipfs.ts'
import { meterAnswer } from '../served-answer.ts'
import type { ContentNeed, DemandMeter, MissResolver } from '../../core/edge/index.ts'
import type { ContentReader } from '../../core/ipfs/index.ts'
import type { Logger } from '../../core/logger.ts'
import type { Blockstore } from 'interface-blockstore'
import type { Context, Middleware } from 'koa'

/**
 * `/ipfs/{cid}[/path]` on a CDN node: the main server's path and trustless gateway, over a reader that the miss
 * resolver (core/edge/miss-resolver.ts) has made sure holds every block the answer needs: the node's own blocks,
 * or blocks pulled from peers or from a trustless CAR of the origin (each checked against its CID, and kept). Or a
 * redirect. The answer says its source.
 */

export interface NodeIpfsComponents {
  resolver: Pick<MissResolver, 'reader' | 'content'>
  logger: Logger
  /** Counts every answer for the main server's demand scores, under the root CID of its path. */
  served: Pick<DemandMeter, 'record'>
}

const IPFS_PATH = /^\/ipfs\/[^/]+(?:\/.*)?$/

/** What the answer to this request needs, or undefined for a request the gateway refuses by itself. */
function needOf (ctx: Context): ContentNeed | undefined {
  try {
    const { root, segments } = parseIpfsPath(ctx.path)
    const format = negotiate(ctx.query, ctx.get('Accept') || undefined)
    const need: ContentNeed = { root, segments, format: format.kind, path: ctx.path, url: ctx.url }
    if (format.kind === 'car') Object.assign(need, carScope(ctx.query))
    return need
  } catch {
    return undefined
  }
}

/** The node's `/ipfs` routes. */
export function nodeIpfsRoutes ({ resolver, logger, served }: NodeIpfsComponents): Router {
  const gatewayOf = (reader: ContentReader): Middleware => {
    // the gateway reads through `reader`; the blockstore it also takes is only used when no reader is given
    const blockstore: Pick<Blockstore, 'get' | 'has'> = {
      async * get (cid, options) { yield await reader.blocks.get(cid, options) },
      async has (cid, options) { return await reader.blocks.has(cid, options) }
    }
    return ipfsRoutes({ blockstore, reader, logger }).routes() as unknown as Middleware
  }
  const local = gatewayOf(resolver.reader)

  async function handle (ctx: Context, next: () => Promise<unknown>): Promise<void> {
    const need = needOf(ctx)
    // rendition roots are CIDv1; a v0 path names the same root
    if (need != null) meterAnswer(ctx, served, { root: need.root.toV1().toString() })
    const answer = need == null ? { source: 'local' as const, reader: resolver.reader } : await resolver.content(need, { onlyIfCached: onlyIfCached(ctx) })
    if (answer.source === 'redirect') {
      redirectToOrigin(ctx, answer.location)
      return
    }
    ctx.set(SOURCE_HEADER, answer.source)
    await (answer.reader === resolver.reader ? local : gatewayOf(answer.reader))(ctx, next)
  }

  return new Router().get(IPFS_PATH, handle)
}
