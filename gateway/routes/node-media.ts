import Router from '@koa/router'
import { checkMediaId, checkProfileName, checkRenditionFile, INIT_NAME, MASTER_NAME, PLAYLIST_NAME } from '../../core/hls/index.ts'
import { onlyIfCached, PLAYLIST_CACHE, PLAYLIST_TYPE, redirectToOrigin, SEGMENT_CACHE, SOURCE_HEADER } from '../media-http.ts'
import { sendFile } from '../send-file.ts'
import { meterAnswer } from '../served-answer.ts'
import type { DemandMeter, MissResolver, NodeMetrics, PlaylistAnswer } from '../../core/edge/index.ts'
import type { Context } from 'koa'

/**
 * `/media/{id}/...` on a CDN node, the same paths as on the main server. Id, profile and file name are checked
 * before anything is asked of anyone; where the bytes come from (local blocks, peers, the origin, or a redirect)
 * is the miss resolver's decision (core/edge/miss-resolver.ts). These routes turn its answers into HTTP.
 */

export interface NodeMediaComponents {
  resolver: Pick<MissResolver, 'mediaFile' | 'playlist'>
  metrics: Pick<NodeMetrics, 'segmentsServed'>
  /** Counts every answer for the main server's demand scores, under the rendition root when the node knows it. */
  served: Pick<DemandMeter, 'record'>
}

/** Answers a playlist: its text, or a complete rendition's playlist file. */
async function sendPlaylist (ctx: Context, answer: PlaylistAnswer): Promise<void> {
  ctx.set(SOURCE_HEADER, answer.source)
  if ('file' in answer) {
    await sendFile(ctx, answer.reader, answer.file, PLAYLIST_NAME, { cacheControl: PLAYLIST_CACHE, type: PLAYLIST_TYPE })
    return
  }
  ctx.type = PLAYLIST_TYPE
  ctx.set('Cache-Control', PLAYLIST_CACHE)
  ctx.body = answer.text
}

/** The node's `/media` routes. */
export function nodeMediaRoutes ({ resolver, metrics, served }: NodeMediaComponents): Router {
  const router = new Router({ prefix: '/media/:id' })

  router.get(`/${MASTER_NAME}`, async ctx => {
    const id = checkMediaId(ctx.params.id)
    meterAnswer(ctx, served, { media: id })
    await sendPlaylist(ctx, await resolver.playlist({ id }, { onlyIfCached: onlyIfCached(ctx) }))
  })

  router.get(`/:profile/${PLAYLIST_NAME}`, async ctx => {
    const id = checkMediaId(ctx.params.id)
    const profile = checkProfileName(ctx.params.profile)
    meterAnswer(ctx, served, { media: id, profile })
    await sendPlaylist(ctx, await resolver.playlist({ id, profile }, { onlyIfCached: onlyIfCached(ctx) }))
  })

  router.get('/:profile/:file', async ctx => {
    const id = checkMediaId(ctx.params.id)
    const profile = checkProfileName(ctx.params.profile)
    const file = checkRenditionFile(ctx.params.file)
    meterAnswer(ctx, served, { media: id, profile })
    const answer = await resolver.mediaFile({ id, profile, file }, { onlyIfCached: onlyIfCached(ctx) })
    if (answer.source === 'redirect') {
      redirectToOrigin(ctx, answer.location)
      return
    }
    ctx.set(SOURCE_HEADER, answer.source)
    await sendFile(ctx, answer.reader, answer.file, file, { cacheControl: SEGMENT_CACHE })
    if (file !== INIT_NAME) metrics.segmentsServed.inc({ source: answer.source })
  })

  return router
}
